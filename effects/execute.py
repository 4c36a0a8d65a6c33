"""Running one exact argv: no shell, stdin closed or fed, output captured, retried.

Whether a failure is worth retrying and how long to wait are decided by
compiler.runtime.retry; this module only runs, sleeps and counts.
"""

from __future__ import annotations

import os
import pwd
import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from slurmplan.compiler.plan import Plan
from slurmplan.compiler.runtime.retry import (
    RetryPolicy,
    Verdict,
    classify,
    retry_delay,
    stderr_tail,
)
from slurmplan.compiler.transport import control_socket_folder
from slurmplan.effects.errors import ExecutionError

DEFAULT_TIMEOUT_S = 300.0


@dataclass(frozen=True, slots=True)
class Completed:
    argv: tuple[str, ...]
    exit_code: int | None  # None: killed at the time limit
    stdout: str  # decoded for people (bytes that are not UTF-8 shown as \xNN)
    stderr: str
    data: bytes | None = None  # stdout's exact bytes, when the runner kept them

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def stdout_bytes(self) -> bytes:
        """stdout as the command wrote it (a file read with `cat` is returned exact)."""
        return self.data if self.data is not None else self.stdout.encode()


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="backslashreplace")


def run_once(
    argv: Sequence[str],
    *,
    stdin: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    umask: int | None = None,
) -> Completed:
    """Run `argv` once, from `/` (every path in a plan is absolute)."""
    command = tuple(argv)
    try:
        done = subprocess.run(
            command,
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            timeout=timeout,
            cwd="/",
            umask=-1 if umask is None else umask,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        note = f"\nslurmplan: no answer after {timeout:g} s; the command was killed"
        return Completed(command, None, _text(expired.stdout), _text(expired.stderr) + note)
    except OSError as error:  # not found, not executable: like a shell's 127/126
        return Completed(command, 127, "", f"{command[0]}: {error.strerror or error}")
    return Completed(
        command, done.returncode, _text(done.stdout), _text(done.stderr), data=done.stdout
    )


class Runner(Protocol):
    """What runs one argv once: `run_once`, or a stand-in for Slurm in tests."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        umask: int | None = None,
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
        self, argv: Sequence[str], *, stdin: bytes | None = None, umask: int | None = None
    ) -> Completed:
        self.commands_run += 1
        return self.runner(argv, stdin=stdin, timeout=self.timeout, umask=umask)

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
        start = self.clock()
        failures = 0
        while True:
            done = self.once(argv, stdin=stdin, umask=umask)
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
            reason = ""
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
