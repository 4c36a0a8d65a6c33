"""effects.execute with real processes: exact argv, no shell, bounded retries, clear errors."""

from __future__ import annotations

import io
import shlex
import signal
import time
from pathlib import Path

import pytest

from slurmplan.compiler.runtime.retry import RetryPolicy
from slurmplan.effects import ExecutionError
from slurmplan.effects.cli.progress import Progress
from slurmplan.effects.execute import Executor, run_once


def test_argv_reaches_the_program_unchanged_without_a_shell() -> None:
    args = ["a b", "$(id)", "`x`", "'q'", '"d"', "*", ""]
    done = run_once(["printf", "%s\\n", *args])
    assert done.ok and done.stdout == "".join(f"{a}\n" for a in args)


def test_stdin_is_fed_or_closed() -> None:
    assert run_once(["cat"], stdin=b"payload").stdout == "payload"
    assert run_once(["cat"]).stdout == ""  # /dev/null, never the terminal


def test_a_missing_program_is_exit_127_not_an_exception() -> None:
    done = run_once(["/nonexistent/sbatch", "x"])
    assert done.exit_code == 127 and "No such file" in done.stderr


def test_a_command_past_its_time_limit_is_killed_and_reported() -> None:
    done = run_once(["sleep", "5"], timeout=0.2)
    assert done.exit_code is None and "killed" in done.stderr


def test_umask_applies_to_what_the_command_creates(tmp_path: Path) -> None:
    run_once(["mkdir", "-p", "--", str(tmp_path / "d")], umask=0o077)
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o700
    run_once(["mkdir", "-p", "--", str(tmp_path / "e")], umask=0o022)
    assert (tmp_path / "e").stat().st_mode & 0o777 == 0o755


class Pieces(list[bytes]):
    """A sink that keeps what it is handed."""

    def __call__(self, piece: bytes) -> None:
        self.append(piece)


def test_a_sink_gets_stdout_as_it_arrives_while_stdin_is_still_being_fed() -> None:
    """`cat` writes while it reads: 8 MiB in each direction, more than a pipe holds,
    stall unless stdin is fed while stdout is read."""
    data = bytes(range(256)) * (8 * 4096)
    pieces = Pieces()
    done = run_once(["cat"], stdin=data, sink=pieces)
    assert done.ok and done.stdout == "" and done.data == b""
    assert b"".join(pieces) == data and len(pieces) > 1


def test_a_streamed_command_keeps_its_stderr_and_exit_code() -> None:
    pieces = Pieces()
    script = "printf out; printf 'err\\n' >&2; head -c 300000 /dev/zero >&2; exit 3"
    done = run_once(["sh", "-c", script], sink=pieces)
    assert done.exit_code == 3 and b"".join(pieces) == b"out"
    assert done.stderr.startswith("err\n") and len(done.stderr) == 4 + 300000


def test_a_streamed_command_past_its_time_limit_is_killed_and_reported() -> None:
    pieces = Pieces()
    done = run_once(["sh", "-c", "printf a; exec sleep 5"], timeout=0.3, sink=pieces)
    assert done.exit_code is None and "killed" in done.stderr and pieces == [b"a"]


def test_what_the_sink_raises_stops_the_command_and_is_raised(tmp_path: Path) -> None:
    def refuse(piece: bytes) -> None:
        raise OSError(28, "No space left on device")

    marker = tmp_path / "after"
    script = f"printf a; sleep 2; touch {shlex.quote(str(marker))}"
    with pytest.raises(OSError, match="No space left"):
        run_once(["sh", "-c", script], sink=refuse)
    assert not marker.exists()  # killed before its next line: it did not finish


def test_a_missing_program_streamed_is_exit_127_not_an_exception() -> None:
    done = run_once(["/nonexistent/tar", "-c"], sink=Pieces())
    assert done.exit_code == 127 and "No such file" in done.stderr


def test_a_stream_retried_after_a_transient_failure_starts_again_with_a_new_sink(
    tmp_path: Path,
) -> None:
    sinks: list[Pieces] = []

    def new_sink() -> Pieces:
        sinks.append(Pieces())
        return sinks[-1]

    executor = Executor(policy=RetryPolicy(retries=3, first_delay=0.01), sleep=lambda s: None)
    argv = _flaky(tmp_path / "n", 1, "squeue: error: Socket timed out on send/recv operation")
    done, sink = executor.stream(argv, sink=new_sink)
    assert done.ok and sink is sinks[1] and b"".join(sink) == b"ok\n"
    assert len(sinks) == 2 and executor.commands_run == 2


def _flaky(counter: Path, failures: int, message: str) -> list[str]:
    """A real program that fails `failures` times with `message`, then prints 'ok'."""
    script = (
        f"n=$(cat {shlex.quote(str(counter))} 2>/dev/null || echo 0); "
        f"echo $((n + 1)) > {shlex.quote(str(counter))}; "
        f'if [ "$n" -lt {failures} ]; then echo {shlex.quote(message)} >&2; exit 1; fi; echo ok'
    )
    return ["sh", "-c", script]


def test_transient_failures_are_retried_with_back_off_then_succeed(tmp_path: Path) -> None:
    slept: list[float] = []
    notes: list[str] = []
    executor = Executor(
        policy=RetryPolicy(retries=3, first_delay=0.5, max_delay=10, max_seconds=60),
        report=notes.append,
        sleep=slept.append,
    )
    argv = _flaky(tmp_path / "n", 2, "squeue: error: Socket timed out on send/recv operation")
    done = executor.run(argv)
    assert done.stdout == "ok\n"
    assert slept == [0.5, 1.0] and executor.commands_run == 3
    assert "retry 1/3 in 0.5 s" in notes[0] and "Socket timed out" in notes[0]


def test_a_transient_failure_that_persists_ends_in_one_clear_error(tmp_path: Path) -> None:
    executor = Executor(policy=RetryPolicy(retries=2, first_delay=0.01), sleep=lambda s: None)
    argv = _flaky(tmp_path / "n", 99, "Unable to contact slurm controller (connect failure)")
    with pytest.raises(ExecutionError) as caught:
        executor.run(argv)
    error = caught.value
    assert error.argv == tuple(argv) and error.exit_code == 1 and error.attempts == 3
    assert error.stderr_tail == "Unable to contact slurm controller (connect failure)"
    text = str(error)
    assert text.startswith(f"command failed (exit 1) after 3 attempts: {shlex.join(argv)}\n")
    assert "gave up after 3 attempts" in text
    assert "  | Unable to contact slurm controller (connect failure)" in text


def test_a_fatal_failure_is_not_retried(tmp_path: Path) -> None:
    executor = Executor(policy=RetryPolicy(retries=5), sleep=lambda s: None)
    argv = _flaky(tmp_path / "n", 99, "sbatch: error: invalid partition specified: x")
    with pytest.raises(ExecutionError) as caught:
        executor.run(argv)
    assert caught.value.attempts == 1 and executor.commands_run == 1
    assert str(caught.value).startswith("command failed (exit 1): sh -c ")


def test_an_accepted_failure_is_an_answer() -> None:
    executor = Executor(sleep=lambda s: None)
    done = executor.run(["ls", "/nonexistent-dir"], accept=lambda d: d.exit_code == 2)
    assert done.exit_code == 2 and executor.commands_run == 1


def test_progress_prints_plain_lines_when_not_on_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(2, "submit", stream)
    progress.advance("job 0 -> 11")
    progress.note("a retry")
    progress.advance("job 1 -> 12")
    progress.close()
    assert stream.getvalue() == "[1/2] job 0 -> 11\na retry\n[2/2] job 1 -> 12\n"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_a_bar_in_place_on_a_terminal() -> None:
    stream = _Tty()
    progress = Progress(4, "submit", stream)
    progress.advance("job 0")
    progress.advance("job 1")
    progress.close()
    out = stream.getvalue()
    assert out.count("\r") == 2 and out.endswith("\n") and out.count("\n") == 1
    assert "[###############...............] 2/4" in out


def test_a_command_killed_by_a_signal_is_said_so_by_the_signals_name() -> None:
    """subprocess reports a command a signal killed as -n: the message names the signal
    (an sbatch killed after slurmctld took the job, out of retries, is not 'exit -9')."""
    error = ExecutionError(("sbatch", "--parsable", "job.sbatch"), -9, "")
    assert error.message().startswith("command failed (killed by SIGKILL): sbatch --parsable")
    assert ExecutionError(("squeue",), None, "").message().startswith("command failed (timed out)")
    assert ExecutionError(("squeue",), 1, "x").message().startswith("command failed (exit 1)")


def test_a_command_past_its_time_limit_returns_though_a_process_it_left_holds_its_pipes() -> None:
    """--command-timeout bounds a command even when something outlives it with its stdout
    or stderr: over ssh the ControlMaster holds the client's stderr until the remote
    command ends (on the testbed a mux client killed at a 2 s limit returned after 25 s,
    the remote `sleep 25`), and through sudo the user's process keeps both when SIGKILL
    stopped sudo alone.  Reading to the end of the pipes after the kill waited for them;
    `wait` or `submit` hung past every time limit (found by review adv4)."""
    started = time.monotonic()
    # sh exits at SIGTERM; the `sleep` it left in the background keeps both pipes.
    done = run_once(["sh", "-c", "sleep 30 & echo before; exec sleep 30"], timeout=0.5)
    took = time.monotonic() - started
    assert done.exit_code is None and "killed" in done.stderr
    assert done.stdout == "before\n"  # what came before the limit is kept
    assert took < 10, f"returned after {took:.1f} s"


def test_a_command_that_ignores_sigterm_is_killed_and_returns_though_its_pipes_stay_open() -> None:
    started = time.monotonic()
    script = "trap '' TERM; sleep 30 & while :; do sleep 0.1; done"
    done = run_once(["sh", "-c", script], timeout=0.5)
    took = time.monotonic() - started
    assert done.exit_code is None and "killed" in done.stderr
    assert took < 12, f"returned after {took:.1f} s"


def test_an_interrupted_command_gets_sigterm_first(tmp_path: Path) -> None:
    """Ctrl-C (KeyboardInterrupt) while a command runs stops it as its time limit does,
    SIGTERM first: through sudo, SIGKILL stops sudo alone, and alice's sbatch went on
    after `submit` said "interrupted; run the same command again", whose look-up could
    find no trace of its job yet and send it again (review adv4)."""
    said = tmp_path / "said"
    script = (
        f"trap 'echo TERM >{shlex.quote(str(said))}; exit 143' TERM; while :; do sleep 0.05; done"
    )

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(KeyboardInterrupt):
            run_once(["sh", "-c", script], timeout=30)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert said.read_text() == "TERM\n"


@pytest.mark.parametrize("held", ["stdout", "stderr"])
def test_a_streamed_command_past_its_time_limit_returns_though_its_pipes_stay_open(
    held: str,
) -> None:
    """A fetch's stream is bounded by --command-timeout as run_once is: over ssh the
    ControlMaster keeps the killed client's stderr until the remote `tar` ends, and
    through sudo alice's `cat` (a hung file system) keeps stdout once SIGKILL stopped sudo
    alone; the stream was read, and stderr's reader joined, until they closed (review
    adv4)."""
    pieces = Pieces()
    redirect = ">/dev/null" if held == "stderr" else "2>/dev/null"
    script = f"sleep 20 {redirect} & printf a; exec sleep 20"
    started = time.monotonic()
    done = run_once(["sh", "-c", script], timeout=0.5, sink=pieces)
    took = time.monotonic() - started
    assert done.exit_code is None and "killed" in done.stderr and pieces == [b"a"]
    assert took < 10, f"returned after {took:.1f} s"
