"""Linux's signal names by number: a task's exit code 128 + n says signal n killed it.

The table is Linux's (x86-64 and arm64 alike), not the runner's own `signal` module:
the tasks run on the cluster's nodes, whatever system slurmplan itself runs on.
"""

from __future__ import annotations

_NAMES = (
    "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
    "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM",
    "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU",
    "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR",
    "SIGSYS",
)  # fmt: skip
_RTMIN, _RTMAX = 34, 64


def signal_name(number: int) -> str:
    """`SIGTERM` for 15; `SIGRTMIN+2` for 36; `signal 32` for a number without a name."""
    if 1 <= number <= len(_NAMES):
        return _NAMES[number - 1]
    if number == _RTMIN:
        return "SIGRTMIN"
    if _RTMIN < number <= _RTMAX:
        return f"SIGRTMIN+{number - _RTMIN}"
    return f"signal {number}"


def killed_by_signal(exit_code: int) -> bool:
    """The exit code a shell gives a command a signal killed: 128 + the signal's
    number (1-64 on Linux), e.g. 143 for SIGTERM, 137 for SIGKILL."""
    return 128 < exit_code <= 128 + 64
