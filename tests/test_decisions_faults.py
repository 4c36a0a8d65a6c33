"""compiler.runtime.retry: which failures are transient, and the bounded back-off."""

from __future__ import annotations

import math

import pytest

from slurmplan.compiler.runtime.retry import (
    PollPolicy,
    RetryPolicy,
    Verdict,
    classify,
    lock_failure,
    next_poll_delay,
    retry_delay,
    stderr_tail,
)

SSH = ("ssh", "-o", "BatchMode=yes", "-p", "2222", "alice@127.0.0.1", "--", "sbatch --parsable x")
SUDO = ("sudo", "--set-home", "--non-interactive", "-u", "alice",
        "sbatch", "--parsable", "/s/job.sbatch")  # fmt: skip


@pytest.mark.parametrize(
    "stderr",
    [
        "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation",
        "squeue: error: Unable to contact slurm controller (connect failure)",
        "slurm_load_jobs error: Unable to contact slurm controller (connect failure)",
        "sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying",
        "sbatch: error: Batch job submission failed: Zero Bytes were transmitted or received",
    ],
)
def test_slurm_controller_trouble_is_transient_on_every_transport(stderr: str) -> None:
    for argv in (("sbatch", "--parsable", "x"), SUDO, SSH):
        assert classify(argv, 1, stderr) is Verdict.TRANSIENT


@pytest.mark.parametrize(
    "stderr",
    [
        "ssh: connect to host 127.0.0.1 port 2222: Connection refused",
        "Connection closed by 127.0.0.1 port 2222",
        "kex_exchange_identification: read: Connection reset by peer",
        "ssh: connect to host login port 22: Connection timed out",
        "",
    ],
)
def test_ssh_connection_failures_are_transient(stderr: str) -> None:
    assert classify(SSH, 255, stderr) is Verdict.TRANSIENT


@pytest.mark.parametrize(
    "stderr",
    [
        "alice@127.0.0.1: Permission denied (publickey).",
        "Host key verification failed.",
        "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @",
        "ssh: Could not resolve hostname nohost: Name or service not known",
        "command-line line 0: Bad configuration option: batchmod",
        'unix_listener: path "/long/cm-7a42.l8qtdKHy" too long for Unix domain socket',
    ],
)
def test_ssh_authentication_and_config_failures_are_fatal(stderr: str) -> None:
    assert classify(SSH, 255, stderr) is Verdict.FATAL


def test_exit_255_of_another_program_is_not_an_ssh_failure() -> None:
    assert classify(("sbatch", "x"), 255, "boom") is Verdict.FATAL


def test_ssh_with_a_full_path_is_still_ssh() -> None:
    assert classify(("/usr/bin/ssh", "h", "--", "ls"), 255, "Connection refused") is (
        Verdict.TRANSIENT
    )


@pytest.mark.parametrize(
    "stderr",
    [
        "Sorry, user runner is not allowed to execute '/usr/bin/touch x' as alice on vm.",
        "sudo: a password is required",
        "sudo: unknown user nosuchuser",
    ],
)
def test_sudo_refusals_are_fatal(stderr: str) -> None:
    assert classify(SUDO, 1, stderr) is Verdict.FATAL


def test_sudo_refusal_wins_over_a_transient_looking_text() -> None:
    stderr = "Sorry, user runner is not allowed to execute 'Socket timed out' as alice"
    assert classify(SUDO, 1, stderr) is Verdict.FATAL


def test_plain_errors_are_fatal() -> None:
    stderr = "sbatch: error: invalid partition specified: nosuch"
    assert classify(("sbatch", "x"), 1, stderr) is Verdict.FATAL


def test_a_command_that_timed_out_is_transient() -> None:
    assert classify(("squeue",), None, "") is Verdict.TRANSIENT


@pytest.mark.parametrize("argv", [("sbatch", "--parsable", "x"), SUDO, SSH, ("squeue",)])
def test_a_command_killed_by_a_signal_is_transient(argv: tuple[str, ...]) -> None:
    # subprocess's -n: the command gave no answer (sbatch may have had its job taken)
    for exit_code in (-9, -15, -1):
        assert classify(argv, exit_code, "") is Verdict.TRANSIENT


def test_over_ssh_the_remote_shells_128_plus_a_signal_is_a_kill() -> None:
    for exit_code in (129, 137, 143, 192):
        assert classify(SSH, exit_code, "Killed") is Verdict.TRANSIENT
    for exit_code in (1, 2, 127, 128, 193):
        assert classify(SSH, exit_code, "") is Verdict.FATAL
    # sbatch's own refusal over ssh stays fatal: the job was not taken
    refused = "sbatch: error: Batch job submission failed: Invalid partition name specified"
    assert classify(SSH, 1, refused) is Verdict.FATAL


def test_retry_delays_double_up_to_the_cap_then_stop_after_the_count() -> None:
    policy = RetryPolicy(retries=6, first_delay=1.0, max_delay=5.0, max_seconds=1000)
    delays = [retry_delay(policy, n, elapsed=0.0) for n in range(1, 8)]
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0, None]


def test_retry_delay_is_cut_to_the_time_left_and_none_when_none_is_left() -> None:
    policy = RetryPolicy(retries=10, first_delay=4.0, max_delay=4.0, max_seconds=10.0)
    assert retry_delay(policy, 1, elapsed=7.5) == 2.5
    assert retry_delay(policy, 1, elapsed=10.0) is None


def test_zero_retries_means_give_up_at_once() -> None:
    assert retry_delay(RetryPolicy(retries=0), 1, elapsed=0.0) is None


def test_retry_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="retries"):
        RetryPolicy(retries=-1)
    with pytest.raises(ValueError, match="first_delay"):
        RetryPolicy(first_delay=5, max_delay=1)
    with pytest.raises(ValueError, match="counts from 1"):
        retry_delay(RetryPolicy(), 0, 0.0)


def test_poll_delay_grows_while_nothing_changes_and_resets_on_change() -> None:
    policy = PollPolicy(first=1.0, factor=2.0, max=5.0)
    delay = next_poll_delay(policy, None, changed=False)
    seen = [delay]
    for _ in range(4):
        delay = next_poll_delay(policy, delay, changed=False)
        seen.append(delay)
    assert seen == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert next_poll_delay(policy, 5.0, changed=True) == 1.0


def test_poll_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        PollPolicy(first=0)
    with pytest.raises(ValueError):
        PollPolicy(first=2, max=1)


@pytest.mark.parametrize(
    "fields",
    [
        {"first_delay": math.nan},
        {"max_delay": math.inf},
        {"first_delay": 2e6, "max_delay": 2e6},  # a sleep Python cannot time (2**31 ms)
        {"max_seconds": math.nan},
        {"max_seconds": math.inf},
    ],
)
def test_retry_policy_refuses_what_the_command_line_refuses(fields: dict[str, float]) -> None:
    """A library caller's policy is held to the command line's limits (docs/effects.md,
    Commands): NaN compared false with every bound and reached the retry loop."""
    with pytest.raises(ValueError, match="RetryPolicy needs"):
        RetryPolicy(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fields",
    [
        {"first": math.nan},
        {"first": math.inf, "max": math.inf},
        {"first": 1.0, "max": 2e6},
        {"factor": math.nan},
        {"factor": math.inf},
    ],
)
def test_poll_policy_refuses_what_the_command_line_refuses(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="PollPolicy needs"):
        PollPolicy(**fields)


def test_stderr_tail_keeps_the_last_lines_and_bounds_the_size() -> None:
    text = "".join(f"line {i}\n" for i in range(100))
    assert stderr_tail(text, max_lines=2) == "line 98\nline 99"
    long = "x" * 5000
    tail = stderr_tail(long, max_chars=100)
    assert len(tail) == 100 and tail.startswith("...")


LOCKED = (*SSH[:-1], "flock .slurmplan-rt-0123456789ab.lock squeue --noheader --user=alice")


@pytest.mark.parametrize(
    "stderr",
    [
        "bash: line 1: flock: command not found",
        "sh: 1: flock: not found",
        "zsh:1: command not found: flock",
        "flock: Command not found.",
    ],
)
def test_flock_missing_on_the_cluster_is_fatal_and_named(stderr: str) -> None:
    assert classify(LOCKED, 127, stderr) is Verdict.FATAL
    reason = lock_failure(LOCKED, 127, stderr)
    assert reason is not None and reason.startswith("flock is not installed on the cluster")
    assert "~/.slurmplan-rt-0123456789ab.lock" in reason


@pytest.mark.parametrize("exit_code", [64, 65, 66, 71, 73])
def test_flock_failing_to_take_the_lock_file_is_fatal_and_named(exit_code: int) -> None:
    stderr = "flock: cannot open lock file .slurmplan-rt-0123456789ab.lock: Read-only file system"
    assert classify(LOCKED, exit_code, stderr) is Verdict.FATAL
    reason = lock_failure(LOCKED, exit_code, stderr)
    assert reason is not None and "could not take the lock file" in reason


def test_other_failures_under_the_lock_are_not_the_locks() -> None:
    # the command under flock failed (flock passes its status through), or was killed
    assert lock_failure(LOCKED, 1, "slurm_load_jobs error: Socket timed out") is None
    assert classify(LOCKED, 1, "slurm_load_jobs error: Socket timed out") is Verdict.TRANSIENT
    assert lock_failure(LOCKED, 127, "sh: 1: sbatch: not found") is None
    assert classify(LOCKED, 137, "") is Verdict.TRANSIENT  # 128 + SIGKILL, through flock
    assert lock_failure(LOCKED, 255, "ssh: connect to host h: Connection refused") is None
    # not over ssh, or not under flock: never the lock's
    assert lock_failure(SSH, 66, "") is None
    assert lock_failure(("flock", "x", "squeue"), 66, "") is None
