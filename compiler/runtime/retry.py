"""What a failed command means, and how long to wait before trying again.

A command that failed is either TRANSIENT (the controller or the connection was
briefly unavailable, or the command was killed before it answered: trying again
later can succeed) or FATAL (trying again gives the same answer: a refused sudo
rule, a bad host key, an invalid option).
Retries are bounded by a count and by a total time; the delays double.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from slurmplan.compiler.slurm.signals import killed_by_signal


class Verdict(StrEnum):
    TRANSIENT = "transient"
    FATAL = "fatal"


# Slurm's messages when slurmctld is down, restarting, overloaded or slow.
SLURM_TRANSIENT = (
    "Socket timed out",
    "Unable to contact slurm controller",
    "Slurm temporarily unable to accept job",
    "Zero Bytes were transmitted or received",
    "Slurm backup controller in standby mode",
)

# ssh exits 255 for its own failures; these ones will not go away by retrying.
SSH_FATAL = (
    "Permission denied",
    "Host key verification failed",
    "REMOTE HOST IDENTIFICATION HAS CHANGED",
    "No matching host key",
    "Could not resolve hostname",
    "Bad configuration option",
    "command-line line",
    "Bad owner or permissions",
    "UNPROTECTED PRIVATE KEY FILE",
    "Too many authentication failures",
    "too long for Unix domain socket",  # the ControlPath
    "unix_listener: cannot bind",  # the ControlPath's folder is missing or not ours
)
SSH_FAILED = 255

# sudo refusing to run the command as the user: never transient.
SUDO_FATAL = ("is not allowed to execute", "a password is required", "unknown user")


# flock(1)'s own failures (sysexits.h): called wrongly (64), the lock file not opened or
# created (66; 73: a read-only or full file system), not locked (65, 71: a file system
# without flock, such as an NFS mount with `nolock`).  Slurm's commands exit 1.
FLOCK_EXITS = frozenset({64, 65, 66, 71, 73})
# What shells say of a program not on the PATH (bash, dash, zsh, tcsh), exit 127.
_FLOCK_MISSING = re.compile(r"^.*\bflock\b.*not found|^.*not found.*\bflock\b", re.I | re.M)


def _is_ssh(argv: Sequence[str]) -> bool:
    return bool(argv) and posixpath.basename(argv[0]) == "ssh"


def lock_failure(argv: Sequence[str], exit_code: int | None, stderr: str) -> str | None:
    """Why a command over ssh run under the cluster lock (`flock LOCKFILE ...`,
    compiler.runtime.commands.under_cluster_lock) could not take it, or None: flock is
    not installed on the cluster, or could not open or lock the file.  Fatal: the
    command did not run, and trying again gives the same answer."""
    if not _is_ssh(argv) or not argv[-1].startswith("flock "):
        return None
    lock = argv[-1].split(" ", 2)[1]
    if exit_code == 127 and _FLOCK_MISSING.search(stderr):
        return (
            "flock is not installed on the cluster (util-linux): over ssh every submit "
            f"round and look-up by name holds the lock file ~/{lock} with it, so that a "
            "round still running there is never missed and its jobs sent again; "
            "install flock on the login node"
        )
    if exit_code in FLOCK_EXITS:
        return (
            f"flock could not take the lock file ~/{lock} on the cluster (exit {exit_code}): "
            "over ssh every submit round and look-up by name holds it; the user's home "
            "must be writable and its file system must support flock"
        )
    return None


def killed(argv: Sequence[str], exit_code: int | None) -> bool:
    """The command ended without its own answer: at its time limit (None), by a signal
    here (subprocess's -n; sudo dies of its command's signal), or over ssh by a signal
    under the remote shell (its 128 + n).  What it did is unknown: an sbatch killed
    after slurmctld took the job leaves a job in Slurm and no id."""
    if exit_code is None or exit_code < 0:
        return True
    return _is_ssh(argv) and killed_by_signal(exit_code)


def classify(argv: Sequence[str], exit_code: int | None, stderr: str) -> Verdict:
    """Whether a command that failed (`exit_code` != 0) is worth running again.

    `exit_code` None means the command did not finish in its time limit.  A command
    killed (`killed`) is transient: whatever killed it says nothing of what it
    asked, and `submit` must not take a killed sbatch for a refusal.
    """
    if killed(argv, exit_code):
        return Verdict.TRANSIENT
    if lock_failure(argv, exit_code, stderr) is not None:
        return Verdict.FATAL
    if any(marker in stderr for marker in SUDO_FATAL):
        return Verdict.FATAL
    if any(marker in stderr for marker in SLURM_TRANSIENT):
        return Verdict.TRANSIENT
    if _is_ssh(argv) and exit_code == SSH_FAILED:
        if any(marker in stderr for marker in SSH_FATAL):
            return Verdict.FATAL
        return Verdict.TRANSIENT  # refused, reset, timed out, closed by the remote host
    return Verdict.FATAL


# One wait (a command's time limit, a sleep between retries or polls) at most this long:
# Python's subprocess and Event timeouts overflow past about 24 days (2**31 ms).  Budgets
# (the retries' total, wait's timeout) are only compared with a clock.
MAX_WAIT_S, MAX_BUDGET_S = 1_000_000.0, 1_000_000_000.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """At most `retries` more attempts after the first, within `max_seconds` in all."""

    retries: int = 5
    first_delay: float = 1.0
    max_delay: float = 30.0
    max_seconds: float = 300.0

    def __post_init__(self) -> None:
        # Written so that NaN fails each test (it compares false with every bound).
        if not (self.retries >= 0 and 0 <= self.first_delay <= self.max_delay <= MAX_WAIT_S):
            raise ValueError(
                "RetryPolicy needs retries >= 0 and "
                f"0 <= first_delay <= max_delay <= {MAX_WAIT_S:,.0f} "
                f"(got retries={self.retries}, first_delay={self.first_delay}, "
                f"max_delay={self.max_delay})"
            )
        if not 0 <= self.max_seconds <= MAX_BUDGET_S:
            raise ValueError(
                f"RetryPolicy needs 0 <= max_seconds <= {MAX_BUDGET_S:,.0f} "
                f"(got {self.max_seconds})"
            )


def retry_delay(policy: RetryPolicy, failures: int, elapsed: float) -> float | None:
    """Seconds to wait after the `failures`-th failure (1, 2, ...), or None: give up.

    Delays double from `first_delay` up to `max_delay`; the last one is cut so
    that the whole operation stays within `max_seconds` of its start.
    """
    if failures < 1:
        raise ValueError(f"failures counts from 1 (got {failures})")
    if failures > policy.retries:
        return None
    remaining = policy.max_seconds - elapsed
    if remaining <= 0:
        return None
    delay = min(policy.max_delay, policy.first_delay * 2.0 ** (failures - 1))
    return min(delay, remaining)


@dataclass(frozen=True, slots=True, kw_only=True)
class PollPolicy:
    """Polls start `first` seconds apart and slow down by `factor` up to `max` while
    nothing changes; any change brings them back to `first`."""

    first: float = 1.0
    factor: float = 1.5
    max: float = 30.0

    def __post_init__(self) -> None:
        if not (0 < self.first <= self.max <= MAX_WAIT_S and 1 <= self.factor < float("inf")):
            raise ValueError(
                f"PollPolicy needs 0 < first <= max <= {MAX_WAIT_S:,.0f} and a finite "
                "factor >= 1 "
                f"(got first={self.first}, max={self.max}, factor={self.factor})"
            )


def next_poll_delay(policy: PollPolicy, previous: float | None, changed: bool) -> float:
    """The wait before the next poll, given the last wait and whether anything changed."""
    if previous is None or changed:
        return policy.first
    return min(policy.max, previous * policy.factor)


def stderr_tail(text: str, max_lines: int = 20, max_chars: int = 2000) -> str:
    """The end of a command's stderr: what an error message quotes."""
    lines = text.rstrip("\n").splitlines()[-max_lines:]
    tail = "\n".join(lines)
    if len(tail) > max_chars:
        tail = "..." + tail[-(max_chars - 3) :]
    return tail
