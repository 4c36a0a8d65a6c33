"""`cancel`: one scancel for every job of the plan, including ones cut off mid-submission.

Under the journal's lock, cut-off jobs, and jobs of this run a journal cut short no
longer records, are looked up by name (so none is left behind) and a "cancelled" line
is appended: a `submit` running at the same time
stops before its next job, and a later `submit` refuses to continue the plan.
"""

from __future__ import annotations

from slurmplan.compiler import Plan
from slurmplan.compiler.runtime.commands import cancel_argv, chunked
from slurmplan.compiler.runtime.journal_state import cancelled_event
from slurmplan.effects.errors import ExecutionError
from slurmplan.effects.execute import Executor
from slurmplan.effects.journal import Journal
from slurmplan.effects.submit import Progress, look_up_cut_off, look_up_unrecorded


def cancel(
    plan: Plan, journal_path: str, executor: Executor, progress: Progress
) -> tuple[str, ...]:
    """Cancel every job the journal knows of; returns their ids."""
    with Journal(journal_path, plan) as journal, journal.locked():
        failed: ExecutionError | None = None
        try:
            look_up_cut_off(plan, journal, executor, progress)
            look_up_unrecorded(plan, journal, executor, progress)
        except ExecutionError as error:
            # The jobs the journal records are cancelled all the same (over ssh a
            # look-up that failed on the cluster lock left them all running): then
            # the failure is raised, the cut-off jobs not looked up.
            failed = error
        ids = journal.state.job_ids
        journal.append(cancelled_event(ids))
        # scancel of a finished or forgotten id is not an error: all ids go in one call.
        for chunk in chunked(ids):
            executor.run(cancel_argv(plan, chunk))
        if failed is not None:
            raise failed
    return ids
