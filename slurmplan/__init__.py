"""slurmplan: compile (runner config, user profile, task list) into a SLURM submission
plan, and carry it out locally, through sudo or over ssh.

    import slurmplan
    plan = slurmplan.compile_plan(config, profile, task_list)   # CompileError on bad input
    run = slurmplan.Run(plan, journal="plan.journal")           # one run of the plan
    run.submit()                                                # resumable, never twice
    snap = run.wait(timeout=600, on_change=print)               # a Snapshot
    snap.tasks["img_0001"].state == "COMPLETED"

`__all__` is the API; everything else (slurmplan.compiler, slurmplan.effects) is private.
"""

from slurmplan.compiler import (
    CompileError,
    Plan,
    Problem,
    SlurmplanError,
    compile_plan,
    plan_from_json,
)
from slurmplan.compiler.runtime.retry import PollPolicy, RetryPolicy
from slurmplan.compiler.runtime.settle import JobView, TaskResult
from slurmplan.compiler.slurm.states import RunState
from slurmplan.effects.errors import (
    ExecutionError,
    Interrupted,
    JobsInSlurm,
    JournalLost,
    NotEnded,
)
from slurmplan.effects.fetch import FetchIncomplete
from slurmplan.effects.observe import NotSubmitted
from slurmplan.effects.run import Run, Snapshot
from slurmplan.effects.submit import SubmitReport

__all__ = [
    "CompileError",
    "ExecutionError",
    "FetchIncomplete",
    "Interrupted",
    "JobView",
    "JobsInSlurm",
    "JournalLost",
    "NotEnded",
    "NotSubmitted",
    "Plan",
    "PollPolicy",
    "Problem",
    "RetryPolicy",
    "Run",
    "RunState",
    "SlurmplanError",
    "Snapshot",
    "SubmitReport",
    "TaskResult",
    "compile_plan",
    "plan_from_json",
]
