"""Job states as closed enums: Slurm's own (squeue's %T, scontrol's JobState), and
where a job or task of a run stands, which adds slurmplan's own words to Slurm's."""

from __future__ import annotations

from enum import StrEnum


class SlurmState(StrEnum):
    BOOT_FAIL = "BOOT_FAIL"
    CANCELLED = "CANCELLED"
    COMPLETED = "COMPLETED"
    COMPLETING = "COMPLETING"
    CONFIGURING = "CONFIGURING"
    DEADLINE = "DEADLINE"
    FAILED = "FAILED"
    NODE_FAIL = "NODE_FAIL"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    PENDING = "PENDING"
    PREEMPTED = "PREEMPTED"
    REQUEUED = "REQUEUED"
    REQUEUE_FED = "REQUEUE_FED"
    REQUEUE_HOLD = "REQUEUE_HOLD"
    RESIZING = "RESIZING"
    RESV_DEL_HOLD = "RESV_DEL_HOLD"
    REVOKED = "REVOKED"
    RUNNING = "RUNNING"
    SIGNALING = "SIGNALING"
    SPECIAL_EXIT = "SPECIAL_EXIT"
    STAGE_OUT = "STAGE_OUT"
    STOPPED = "STOPPED"
    SUSPENDED = "SUSPENDED"
    TIMEOUT = "TIMEOUT"

    @property
    def terminal(self) -> bool:
        """The job will not run (again) by itself."""
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {
        SlurmState.COMPLETED,
        SlurmState.FAILED,
        SlurmState.CANCELLED,
        SlurmState.TIMEOUT,
        SlurmState.OUT_OF_MEMORY,
        SlurmState.NODE_FAIL,
        SlurmState.BOOT_FAIL,
        SlurmState.DEADLINE,
        SlurmState.PREEMPTED,
        SlurmState.REVOKED,
        SlurmState.SPECIAL_EXIT,
    }
)


class RunState(StrEnum):
    """Where a job or task of a run stands: a Slurm state, or one of slurmplan's own.

    NOT_SUBMITTED: the journal shows no job id for it (yet).
    REFUSED: sbatch refused the job for good (the journal's last word on it is
    "refused", e.g. an invalid partition): it is not in Slurm and will not run
    unless `submit` is run again; settled, and its tasks are REFUSED too.
    LOST: gone from squeue without a done marker, or a task without a status line
    in a job that ended COMPLETED.

    A task takes its job's state when it has no exit code, or when Slurm killed the
    job (TIMEOUT, OUT_OF_MEMORY, CANCELLED, NODE_FAIL, PREEMPTED) and the task's
    exit code says a signal killed it (compiler.runtime.settle.task_state).
    """

    # Slurm's states again, by name: an enum cannot extend one with members, and a
    # functional Enum would hide the members from mypy (tests/test_states.py holds
    # this list equal to SlurmState's).
    BOOT_FAIL = "BOOT_FAIL"
    CANCELLED = "CANCELLED"
    COMPLETED = "COMPLETED"
    COMPLETING = "COMPLETING"
    CONFIGURING = "CONFIGURING"
    DEADLINE = "DEADLINE"
    FAILED = "FAILED"
    NODE_FAIL = "NODE_FAIL"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    PENDING = "PENDING"
    PREEMPTED = "PREEMPTED"
    REQUEUED = "REQUEUED"
    REQUEUE_FED = "REQUEUE_FED"
    REQUEUE_HOLD = "REQUEUE_HOLD"
    RESIZING = "RESIZING"
    RESV_DEL_HOLD = "RESV_DEL_HOLD"
    REVOKED = "REVOKED"
    RUNNING = "RUNNING"
    SIGNALING = "SIGNALING"
    SPECIAL_EXIT = "SPECIAL_EXIT"
    STAGE_OUT = "STAGE_OUT"
    STOPPED = "STOPPED"
    SUSPENDED = "SUSPENDED"
    TIMEOUT = "TIMEOUT"
    NOT_SUBMITTED = "NOT_SUBMITTED"
    REFUSED = "REFUSED"
    LOST = "LOST"

    @classmethod
    def of(cls, state: SlurmState) -> RunState:
        return cls(state.value)
