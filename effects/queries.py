"""The read-only commands: squeue and scontrol (as the runner), ls and cat (as the user).

Each runs the exact argv of compiler.runtime.commands and hands its output to a pure
parser; long lists of ids, names or paths are cut into chunks (compiler.runtime.commands
.chunked, read_chunks), so a plan of any size is polled with one squeue whenever the
ids fit in one.
"""

from __future__ import annotations

from collections.abc import Sequence

from slurmplan.compiler import Plan
from slurmplan.compiler.layout import run_job_name
from slurmplan.compiler.runtime.commands import (
    chunked,
    list_workdir_argv,
    lookup_by_name_argv,
    poll_argv,
    read_chunks,
    read_files_argv,
    show_job_argv,
    user_jobs_argv,
)
from slurmplan.compiler.runtime.resume import missing_directory, parse_listing
from slurmplan.compiler.runtime.settle import gone_means_empty, scontrol_forgot
from slurmplan.compiler.slurm.parsers import QueuedJob, parse_scontrol_row, parse_squeue
from slurmplan.effects.execute import Completed, Executor


def poll(plan: Plan, executor: Executor, job_ids: Sequence[str]) -> tuple[QueuedJob, ...]:
    """squeue's rows for `job_ids` (one call per chunk; none for no ids)."""
    rows: list[QueuedJob] = []
    for chunk in chunked(job_ids):

        def gone(done: Completed, chunk: Sequence[str] = chunk) -> bool:
            return gone_means_empty(chunk, done.exit_code, done.stderr)

        done = executor.run(poll_argv(plan, chunk), accept=gone)
        if done.ok:
            rows.extend(parse_squeue(done.stdout))
    return tuple(rows)


def show_job(plan: Plan, executor: Executor, job_id: str) -> QueuedJob | None:
    """The job's id, state and name by `scontrol show job` (None: Slurm has forgotten
    the job)."""

    def forgot(done: Completed) -> bool:
        return scontrol_forgot(done.exit_code, done.stderr)

    done = executor.run(show_job_argv(plan, job_id), accept=forgot)
    return parse_scontrol_row(done.stdout, job_id) if done.ok else None


def lookup_by_name(
    plan: Plan, executor: Executor, jobs: Sequence[int], run: str
) -> tuple[QueuedJob, ...]:
    """squeue's rows (any state) of the user's jobs of these names in run `run`."""
    rows: list[QueuedJob] = []
    names = [run_job_name(plan.jobs[j].name, run) for j in jobs]
    for chunk in chunked(names):  # the same cut as the argv's --name= list
        done = executor.run(lookup_by_name_argv(plan, jobs[: len(chunk)], run))
        jobs = jobs[len(chunk) :]
        rows.extend(parse_squeue(done.stdout))
    return tuple(rows)


def user_jobs(plan: Plan, executor: Executor) -> tuple[QueuedJob, ...]:
    """squeue's rows (any state) of every job of the plan's user."""
    return parse_squeue(executor.run(user_jobs_argv(plan)).stdout)


def list_workdir(plan: Plan, executor: Executor) -> tuple[str, ...] | None:
    """The names in the workdir, or None when it does not exist (yet)."""

    def missing(done: Completed) -> bool:
        return missing_directory(done.exit_code, done.stderr)

    done = executor.run(list_workdir_argv(plan), accept=missing)
    return parse_listing(done.stdout) if done.ok else None


def read_files(plan: Plan, executor: Executor, paths: Sequence[str]) -> str:
    """The files' contents, concatenated in order (pass only files `ls` showed)."""
    runs = read_chunks(paths)
    return "".join(executor.run(read_files_argv(plan, chunk)).stdout for chunk in runs)
