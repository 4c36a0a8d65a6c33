"""Errors of the effects layer: a command that failed, quoted so a person can rerun it."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from slurmplan.compiler.errors import SlurmplanError
from slurmplan.compiler.slurm.signals import signal_name


class ExecutionError(SlurmplanError):
    """A command failed for good (fatal, or transient and out of retries).

    Carries the exact argv, the exit code (None: it timed out) and the tail of
    its stderr; str() is one message quoting the command as a person would type it.
    """

    def __init__(
        self,
        argv: Sequence[str],
        exit_code: int | None,
        stderr_tail: str,
        *,
        attempts: int = 1,
        reason: str = "",
    ) -> None:
        self.argv: tuple[str, ...] = tuple(argv)
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail
        self.attempts = attempts
        self.reason = reason
        super().__init__(self.message())

    def message(self) -> str:
        if self.exit_code is None:
            how = "timed out"
        elif self.exit_code < 0:  # subprocess's word for a command a signal killed
            how = f"killed by {signal_name(-self.exit_code)}"
        else:
            how = f"exit {self.exit_code}"
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        head = f"command failed ({how}){tries}: {shlex.join(self.argv)}"
        if self.reason:
            head += f"\n  {self.reason}"
        if not self.stderr_tail:
            return head + "\n  (no stderr)"
        body = "\n".join("  | " + line for line in self.stderr_tail.splitlines())
        return f"{head}\n  stderr:\n{body}"


class NotEnded(SlurmplanError, LookupError):
    """Run.read of a task that has not ended in this run: its file on the cluster, if
    any, may be an earlier run's (the same rule as fetch's not_ended)."""

    def __init__(self, task_id: str, state: str) -> None:
        self.task_id = task_id
        self.state = state
        super().__init__(
            f"task {task_id} has not ended in this run ({state}): its files on the cluster "
            "may be an earlier run's; read them once it has ended"
        )


class Interrupted(SlurmplanError):
    """The work stopped on purpose (the plan was cancelled); the message says what to do."""


class JournalLost(Interrupted):
    """The journal file was deleted, replaced or cut short under a running command."""


class JobsInSlurm(Interrupted):
    """Jobs of the plan the journal does not record are still queued or running."""
