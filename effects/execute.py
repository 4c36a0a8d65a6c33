"""Running one exact argv: no shell, stdin closed or fed, output captured or streamed
to a sink as it arrives, retried.

Whether a failure is worth retrying and how long to wait are decided by
compiler.runtime.retry; this module only runs, sleeps and counts.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import select
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Protocol, TypeVar

from slurmplan.compiler.plan import Plan
from slurmplan.compiler.runtime.retry import (
    RetryPolicy,
    Verdict,
    classify,
    lock_failure,
    retry_delay,
    stderr_tail,
)
from slurmplan.compiler.transport import control_socket_folder
from slurmplan.effects.errors import ExecutionError

DEFAULT_TIMEOUT_S = 300.0
SinkT = TypeVar("SinkT", bound=Callable[[bytes], None])


@dataclass(frozen=True, slots=True)
class Completed:
    argv: tuple[str, ...]
    exit_code: int | None  # None: killed at the time limit
    stdout: str  # decoded for people (bytes that are not UTF-8 shown as \xNN)
    stderr: str
    # stdout's exact bytes, when the runner kept them (b"": it went to a sink)
    data: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def stdout_bytes(self) -> bytes:
        """stdout as the command wrote it (a file read with `cat` is returned exact)."""
        return self.data if self.data is not None else self.stdout.encode()


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="backslashreplace")


def _not_started(command: tuple[str, ...], error: OSError) -> Completed:
    """A program not found or not executable: exit 127, like a shell's 127/126."""
    return Completed(command, 127, "", f"{command[0]}: {error.strerror or error}")


def _killed(timeout: float) -> str:
    return f"\nslurmplan: no answer after {timeout:g} s; the command was killed"


Sink = Callable[[bytes], None]  # takes a command's stdout piece by piece


def run_once(
    argv: Sequence[str],
    *,
    stdin: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    umask: int | None = None,
    sink: Sink | None = None,
    pass_fds: Sequence[int] = (),
) -> Completed:
    """Run `argv` once, from `/` (every path in a plan is absolute).  With a `sink`,
    stdout goes to it as it arrives rather than into the result; `pass_fds` stay open
    in the process (Executor.once's `hold`)."""
    command = tuple(argv)
    if sink is not None:
        return _streamed(command, stdin, timeout, umask, sink)
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd="/",
            umask=-1 if umask is None else umask,
            pass_fds=tuple(pass_fds),
        )
    except OSError as error:
        return _not_started(command, error)
    with process:
        try:
            out, err = process.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            out, err = _stop(process)
            return Completed(command, None, _text(out), _text(err) + _killed(timeout))
        except BaseException:  # Ctrl-C: stopped as at the time limit, SIGTERM first
            try:
                _stop(process)
            except BaseException:
                process.kill()
                raise
            raise
    return Completed(command, process.returncode, _text(out), _text(err), data=out)


_GRACE_S = 5.0  # from SIGTERM to SIGKILL for a command past its time limit
_DRAIN_S = 0.5  # after the command ended, for what its pipes still hold


def _stop(process: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """Stop a command past its time limit: SIGTERM first, which sudo passes on to the
    user's process (the runner cannot signal it, and SIGKILL would stop sudo alone,
    leaving an sbatch to create its job later); SIGKILL after a grace period.

    Waits for the command to end, not for its pipes to close: a process it leaves may
    hold them (over ssh the ControlMaster keeps the client's stderr until the remote
    command ends; through sudo the user's process keeps both), and reading them to
    their end hung past every time limit (review adv4).  Returns what came."""
    process.terminate()
    done, partial = _read_until_ended(process, _GRACE_S)
    if done is not None:
        return done
    if process.poll() is None:
        process.kill()
        done, partial = _read_until_ended(process, _GRACE_S)
        if done is not None:
            return done
    return partial


def _read_until_ended(
    process: subprocess.Popen[bytes], seconds: float
) -> tuple[tuple[bytes, bytes] | None, tuple[bytes, bytes]]:
    """communicate() for up to `seconds`, and no longer than _DRAIN_S once the process
    has ended: (its whole output, or None when the pipes are still open), and what came
    so far."""
    deadline = time.monotonic() + seconds
    ended_at: float | None = None
    while True:
        now = time.monotonic()
        if ended_at is None and process.poll() is not None:
            ended_at = now
        until = deadline if ended_at is None else min(deadline, ended_at + _DRAIN_S)
        try:
            out, err = process.communicate(timeout=max(0.0, min(0.1, until - now)))
            return (out, err), (out, err)
        except subprocess.TimeoutExpired as expired:
            partial = (_bytes(expired.output), _bytes(expired.stderr))
            if time.monotonic() >= until:
                return None, partial


def _bytes(data: bytes | str | None) -> bytes:
    if data is None:
        return b""
    return data if isinstance(data, bytes) else data.encode()


_PIECE = 1 << 20  # a read from the pipe: a pipe holds 64 KiB, ssh writes 32 KiB at once


def _streamed(
    command: tuple[str, ...], stdin: bytes | None, timeout: float, umask: int | None, sink: Sink
) -> Completed:
    """run_once with stdout handed to `sink` as it arrives (a fetch writes files while
    the rest of the stream is on its way).  stdin is written and stderr read by threads
    of their own, so a command that reads its input while it writes never waits on us.
    Whatever the sink raises kills the command and is raised.

    Past its time limit the command is stopped as run_once stops it (SIGTERM, SIGKILL
    after a grace period), and once it has ended its pipes are read for _DRAIN_S more,
    not to their end: a process it left may hold them (_stop)."""
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd="/",
            umask=-1 if umask is None else umask,
        )
    except OSError as error:
        return _not_started(command, error)
    assert process.stdout is not None and process.stderr is not None
    errors: list[bytes] = []
    helpers: list[threading.Thread] = []
    if process.stdin is not None and stdin is not None:
        helpers.append(threading.Thread(target=_feed, args=(process.stdin, stdin)))
    killed = threading.Event()

    def stop() -> None:
        killed.set()
        process.terminate()
        grace = threading.Timer(_GRACE_S, _kill_if_running, args=(process,))
        grace.daemon = True
        grace.start()

    timer = threading.Timer(timeout, stop)
    for thread in (*helpers, timer):
        thread.daemon = True
        thread.start()
    try:
        _read_streams(process, sink, errors)
    except BaseException:
        process.kill()
        raise
    finally:
        process.wait()
        timer.cancel()
        for thread in helpers:  # it ends when stdin closes, unless a process the
            thread.join(timeout=_DRAIN_S)  # command left holds it: not waited for then
        process.stdout.close()
        process.stderr.close()
    stderr = _text(b"".join(errors))
    if killed.is_set():
        return Completed(command, None, "", stderr + _killed(timeout), data=b"")
    return Completed(command, process.returncode, "", stderr, data=b"")


def _read_streams(process: subprocess.Popen[bytes], sink: Sink, errors: list[bytes]) -> None:
    """stdout into `sink` and stderr into `errors` as they arrive, until both are closed,
    or the command has ended and nothing came for _DRAIN_S (a process it left holds
    them)."""
    assert process.stdout is not None and process.stderr is not None
    out, err = process.stdout.fileno(), process.stderr.fileno()
    poller = select.poll()  # not select(): a server may hold descriptors past 1,024
    for fd in (out, err):
        poller.register(fd, select.POLLIN)
    open_fds = {out, err}
    ended_at: float | None = None
    while open_fds:
        ready = [fd for fd, _ in poller.poll(100)]
        for fd in ready:
            piece = os.read(fd, _PIECE)
            if not piece:
                open_fds.discard(fd)
                poller.unregister(fd)
            elif fd == out:
                sink(piece)
            else:
                errors.append(piece)
        if ready or process.poll() is None:
            continue
        ended_at = ended_at if ended_at is not None else time.monotonic()
        if time.monotonic() - ended_at >= _DRAIN_S:
            return


def _kill_if_running(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()


def _feed(pipe: IO[bytes], data: bytes) -> None:
    """Write all of `data` to the command's stdin and close it (it may stop reading)."""
    with contextlib.suppress(BrokenPipeError):
        pipe.write(data)
    with contextlib.suppress(BrokenPipeError):
        pipe.close()


class Runner(Protocol):
    """What runs one argv once: `run_once`, or a stand-in for Slurm in tests.  Given a
    `sink`, it hands stdout to it (in any pieces) rather than returning it."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        umask: int | None = None,
        sink: Sink | None = None,
    ) -> Completed: ...


Reporter = Callable[[str], None]


def short_command(argv: Sequence[str], limit: int = 160) -> str:
    """The command as typed, its middle elided when long (progress lines stay short)."""
    text = shlex.join(argv)
    if len(text) <= limit:
        return text
    return text[: limit // 3] + " ... " + text[-(2 * limit // 3) :]


@dataclass
class Executor:
    """Runs commands with the bounded retries of `policy` for transient failures.

    `runner` runs one argv (real processes by default), `clock` and `sleep` are the
    time the retries and polls see: tests hand in a fake Slurm and a fake clock.
    """

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = DEFAULT_TIMEOUT_S
    report: Reporter = lambda message: None
    sleep: Callable[[float], None] = time.sleep
    commands_run: int = 0
    runner: Runner = run_once
    clock: Callable[[], float] = time.monotonic

    def once(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        umask: int | None = None,
        sink: Sink | None = None,
        hold: int | None = None,
    ) -> Completed:
        """Run `argv` once.  `hold`: a file descriptor (the journal's, locked) the
        process keeps open, so its lock lasts as long as the process, should this one be
        killed meanwhile (the real processes only: a stand-in for Slurm has none)."""
        self.commands_run += 1
        if hold is not None and self.runner is run_once:
            return run_once(argv, stdin=stdin, timeout=self.timeout, umask=umask, pass_fds=[hold])
        if sink is None:  # stand-ins for Slurm need not know of sinks
            return self.runner(argv, stdin=stdin, timeout=self.timeout, umask=umask)
        return self.runner(argv, stdin=stdin, timeout=self.timeout, umask=umask, sink=sink)

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        umask: int | None = None,
        accept: Callable[[Completed], bool] | None = None,
    ) -> Completed:
        """Run until it succeeds (or `accept` takes the failure as an answer); retry
        transient failures within the policy; raise ExecutionError otherwise."""
        return self._retried(lambda: self.once(argv, stdin=stdin, umask=umask), accept)

    def stream(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        sink: Callable[[], SinkT],
        accept: Callable[[Completed], bool] | None = None,
    ) -> tuple[Completed, SinkT]:
        """`run`, with stdout handed as it arrives to a sink made by `sink()` for each
        attempt (an attempt that failed half way is started again from nothing); the
        result and the sink of the attempt that succeeded (or that `accept` took)."""
        takers: list[SinkT] = []

        def attempt() -> Completed:
            takers.append(sink())
            return self.once(argv, stdin=stdin, sink=takers[-1])

        return self._retried(attempt, accept), takers[-1]

    def _retried(
        self, attempt: Callable[[], Completed], accept: Callable[[Completed], bool] | None
    ) -> Completed:
        """`attempt()` until it succeeds or `accept` takes its failure; in between, the
        policy's wait (wait_or_raise)."""
        start = self.clock()
        failures = 0
        while True:
            done = attempt()
            if done.ok or (accept is not None and accept(done)):
                return done
            failures += 1
            self.wait_or_raise(done, failures, self.clock() - start)

    def wait_or_raise(self, done: Completed, failures: int, elapsed: float) -> None:
        """After a failure: sleep before the next attempt, or raise ExecutionError."""
        verdict = classify(done.argv, done.exit_code, done.stderr)
        transient = verdict is Verdict.TRANSIENT
        delay = retry_delay(self.policy, failures, elapsed) if transient else None
        if delay is None:
            reason = lock_failure(done.argv, done.exit_code, done.stderr) or ""
            if transient:
                reason = (
                    f"a transient failure that persisted: gave up after {failures} attempts "
                    f"in {elapsed:.1f} s (--retries {self.policy.retries}, "
                    f"--retry-max-seconds {self.policy.max_seconds:g})"
                )
            raise ExecutionError(
                done.argv,
                done.exit_code,
                stderr_tail(done.stderr),
                attempts=failures,
                reason=reason,
            )
        how = "timed out" if done.exit_code is None else f"exit {done.exit_code}"
        last = stderr_tail(done.stderr, max_lines=1, max_chars=200)
        self.report(
            f"transient failure ({how}: {last}) of {short_command(done.argv)}; "
            f"retry {failures}/{self.policy.retries} in {delay:.1f} s"
        )
        self.sleep(delay)


def prepare_transport(plan: Plan) -> None:
    """Make the folder of the ssh ControlMaster socket (0700) if it is missing.

    ssh expands `~` from the password database, not from $HOME, so we do too.
    """
    folder = control_socket_folder(plan.transport)
    if folder is None:
        return
    if folder == "~" or folder.startswith("~/"):
        folder = pwd.getpwuid(os.getuid()).pw_dir + folder[1:]
    os.makedirs(folder, mode=0o700, exist_ok=True)
