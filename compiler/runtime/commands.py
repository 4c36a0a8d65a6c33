"""Exact command lines for run-time work, as pure functions of a plan and job ids.

Polling asks squeue once for all jobs (and scontrol about a job squeue was silent
about, one job at a time: rare); cancelling is one scancel for all.  Files
are read with `cat`/`ls` as the user (the only reading commands sudo allows).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence

from slurmplan.compiler import layout
from slurmplan.compiler.plan import Plan, script_bytes, script_on_stdin, submit_words
from slurmplan.compiler.slurm.parsers import SQUEUE_FORMAT
from slurmplan.compiler.transport import TransportKind, as_runner, as_user

_JOB_ID = re.compile(r"[0-9]+")


def poll_argv(plan: Plan, job_ids: Sequence[str]) -> tuple[str, ...]:
    """One squeue call for all `job_ids` (finished jobs too, while Slurm remembers them)."""
    if not job_ids:
        raise ValueError(
            "poll_argv needs at least one job id (squeue --jobs= would list every job)"
        )
    return as_runner(plan.transport, (
        "squeue", "--noheader", "--states=all", f"--jobs={','.join(job_ids)}",
        f"--format={SQUEUE_FORMAT}",
    ))  # fmt: skip


def show_job_argv(plan: Plan, job_id: str) -> tuple[str, ...]:
    """One `scontrol -o show job ID` (as the runner, like squeue): a second source on a
    job squeue was silent about (one line with its JobState=, or, once Slurm forgot
    the job, exit 1 and `Invalid job id specified`)."""
    if _JOB_ID.fullmatch(job_id) is None:
        raise ValueError(f"show_job_argv needs one job id (got {job_id!r})")
    return as_runner(plan.transport, ("scontrol", "-o", "show", "job", job_id))


def sbatch_words(plan: Plan, job: int, run: str) -> tuple[str, ...]:
    """The sbatch command of one job in one run: the plan's submit step (`sbatch
    --parsable SCRIPT`; through sudo without SCRIPT, see sbatch_stdin) with the run's
    name for the job (`--job-name`, which overrides the script's #SBATCH line), so that
    squeue by name finds only this run's job."""
    name = layout.run_job_name(plan.jobs[job].name, run)
    head, *script = submit_words(plan.transport, plan.jobs[job])[1:]
    return ("sbatch", head, f"--job-name={name}", *script)


def sbatch_stdin(plan: Plan, job: int) -> bytes | None:
    """What sbatch reads on its standard input: through sudo the job's script (no file
    of the runner's for the user to read, or anyone else to swap), else nothing."""
    return script_bytes(plan.jobs[job].script) if script_on_stdin(plan.transport) else None


def sbatch_argv(plan: Plan, job: int, run: str) -> tuple[str, ...]:
    """sbatch_words as the user who owns the job (one sbatch per command)."""
    return as_user(plan.transport, sbatch_words(plan, job, run))


def under_cluster_lock(plan: Plan, argv: Sequence[str]) -> tuple[str, ...]:
    """Over ssh, `argv` run under `flock` of the plan's lock file on the cluster
    (layout.cluster_lock_file; flock waits for the lock, creates the file if need be,
    and exits with the command's status, 128 + n for a signal); elsewhere `argv`.

    A submit round holds it on the cluster for as long as it runs there, even when the
    process that sent it is gone (killed, or its ssh killed at --command-timeout: the
    remote command goes on), and each look-up whose answer decides whether a cut-off or
    unrecorded job is sent again takes it first: it waits until such a round has
    ended, so the round's jobs are in squeue when it looks.  Locally and through sudo
    the sbatch holds the journal's own lock instead (Executor.once's `hold`)."""
    if plan.transport.kind is not TransportKind.SSH:
        return tuple(argv)
    return ("flock", layout.cluster_lock_file(plan.name, plan.plan_id), *argv)


def lookup_by_name_argv(plan: Plan, job_indices: Sequence[int], run: str) -> tuple[str, ...]:
    """One squeue call finding the user's jobs of this plan by this run's names of them
    (over ssh under the cluster lock: under_cluster_lock)."""
    names = ",".join(layout.run_job_name(plan.jobs[i].name, run) for i in job_indices)
    return _user_squeue(plan, f"--name={names}")


def user_jobs_argv(plan: Plan) -> tuple[str, ...]:
    """One squeue call listing every job of the user Slurm knows: jobs of this plan
    from any run are among them (their names start with the plan's job names; a run's
    id, not known here, ends them; over ssh under the cluster lock)."""
    return _user_squeue(plan)


def _user_squeue(plan: Plan, *only: str) -> tuple[str, ...]:
    """squeue of the user's jobs in any state Slurm still knows, narrowed by `only`:
    a look-up that decides what is sent again, so under the cluster lock."""
    return as_runner(plan.transport, under_cluster_lock(plan, (
        "squeue", "--noheader", "--states=all", f"--user={plan.transport.user}", *only,
        f"--format={SQUEUE_FORMAT}",
    )))  # fmt: skip


def cancel_argv(plan: Plan, job_ids: Sequence[str]) -> tuple[str, ...]:
    """One scancel for all `job_ids`, as the user who owns them."""
    if not job_ids:
        raise ValueError("cancel_argv needs at least one job id")
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


def queue_count_argv(plan: Plan) -> tuple[str, ...]:
    """One squeue listing the user's jobs still in the queue (pending, running, ...),
    one id per line: what a per-user cap (submission.max_jobs_in_queue) counts."""
    return as_runner(plan.transport, (
        "squeue", "--noheader", f"--user={plan.transport.user}", "--format=%i",
    ))  # fmt: skip


# Linux refuses any single argument over 128 KiB (MAX_ARG_STRLEN), and over ssh the
# whole remote command is one argument: lists of ids or paths are cut below that.
ARGV_CHUNK_CHARS = 60_000


def chunked(
    items: Sequence[str], max_chars: int = ARGV_CHUNK_CHARS, cost: Callable[[str], int] = len
) -> tuple[tuple[str, ...], ...]:
    """`items` in consecutive runs whose lengths (`cost`, plus a separator each) stay
    within `max_chars`; one run whenever they fit, none for no items."""
    runs: list[tuple[str, ...]] = []
    run: list[str] = []
    size = 0
    for item in items:
        length = cost(item)
        if run and size + length + 1 > max_chars:
            runs.append(tuple(run))
            run, size = [], 0
        run.append(item)
        size += length + 1
    if run:
        runs.append(tuple(run))
    return tuple(runs)


# A `cat` of many paths is cut by what the paths cost as sent: over ssh the remote
# command is one argument (MAX_ARG_STRLEN: 131,072 bytes, its NUL included) holding each
# path quoted (shlex.quote) in UTF-8; 120,000 leaves room for `cat -- `.  A cold poll of
# 1,000 jobs reads its markers, then its lane files, with one `cat` each instead of two.
READ_CHUNK_BYTES = 120_000


def read_chunks(paths: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """`paths` cut into runs for read_files_argv (chunked by quoted UTF-8 length)."""
    return chunked(paths, READ_CHUNK_BYTES, cost=_quoted_bytes)


def _quoted_bytes(path: str) -> int:
    return len(shlex.quote(path).encode())
