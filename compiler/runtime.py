"""Exact command lines for run-time work, as pure functions of a plan and job ids.

Polling asks squeue once for all jobs; cancelling is one scancel for all.  Files
are read with `cat`/`ls` as the user (the only reading commands sudo allows).
"""

from __future__ import annotations

from collections.abc import Sequence

from compiler import layout
from compiler.parsers import SQUEUE_FORMAT
from compiler.plan import Plan
from compiler.transport import as_runner, as_user


def poll_argv(plan: Plan, job_ids: Sequence[str]) -> tuple[str, ...]:
    """One squeue call for all `job_ids` (finished jobs too, while Slurm remembers them)."""
    return as_runner(plan.transport, (
        "squeue", "--noheader", "--states=all", f"--jobs={','.join(job_ids)}",
        f"--format={SQUEUE_FORMAT}",
    ))  # fmt: skip


def lookup_by_name_argv(plan: Plan, job_indices: Sequence[int]) -> tuple[str, ...]:
    """One squeue call finding the user's jobs of this plan by their unique names."""
    names = ",".join(plan.jobs[i].name for i in job_indices)
    return as_runner(plan.transport, (
        "squeue", "--noheader", "--states=all", f"--user={plan.transport.user}",
        f"--name={names}", f"--format={SQUEUE_FORMAT}",
    ))  # fmt: skip


def cancel_argv(plan: Plan, job_ids: Sequence[str]) -> tuple[str, ...]:
    """One scancel for all `job_ids`, as the user who owns them."""
    return as_user(plan.transport, ("scancel", *job_ids))


def list_workdir_argv(plan: Plan) -> tuple[str, ...]:
    """`ls -1` of the workdir, as the user: which status files and markers exist."""
    return as_user(plan.transport, ("ls", "-1", "--", plan.workdir))


def read_files_argv(plan: Plan, paths: Sequence[str]) -> tuple[str, ...]:
    """`cat` of files, as the user; callers pass only files `ls` showed exist."""
    return as_user(plan.transport, ("cat", "--", *paths))


def task_outputs(plan: Plan, task_id: str) -> tuple[str, str]:
    """(stdout, stderr) paths of one task."""
    return (
        layout.join(plan.workdir, layout.task_output(task_id, "out")),
        layout.join(plan.workdir, layout.task_output(task_id, "err")),
    )
