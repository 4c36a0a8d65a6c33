"""Bringing task outputs home (Run.fetch): which files, and the commands that read them.

Over ssh one `tar` on the cluster streams every requested file back: the list of
names goes in on its standard input (no argument-length limit, one round trip),
files that do not exist are left out with a warning instead of failing the whole
stream (`--ignore-failed-read`), and what the archive lacks is reported per task.
Through sudo the only reading command allowed is `cat`, one file per command.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from slurmplan.compiler import layout
from slurmplan.compiler.plan import Plan
from slurmplan.compiler.transport import as_user


@dataclass(frozen=True, slots=True)
class Wanted:
    """One file to bring home: its task, its path on the cluster, its name under dest."""

    task_id: str
    remote: str
    relative: str  # relative to the workdir, and to dest: tasks/<id>.out


def wanted_files(plan: Plan, task_ids: Iterable[str] | None = None) -> tuple[Wanted, ...]:
    """The stdout and stderr of `task_ids` (default: every task of the plan), in plan
    order; ValueError naming an id the plan does not have."""
    known = [task for job in plan.jobs for task in job.tasks]
    chosen = known if task_ids is None else list(dict.fromkeys(task_ids))
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise ValueError(f"no task {unknown[0]!r} in plan {plan.plan_id} ({len(unknown)} unknown)")
    return tuple(
        Wanted(task_id, layout.join(plan.workdir, relative), relative)
        for task_id in chosen
        for relative in (layout.task_output(task_id, "out"), layout.task_output(task_id, "err"))
    )


def tar_argv(plan: Plan) -> tuple[str, ...]:
    """One `tar` as the user writing the files named on stdin (NUL-separated, relative
    to the workdir) to its stdout; a missing file is skipped with a warning."""
    return as_user(plan.transport, (
        "tar", "-c", "-f", "-", "--ignore-failed-read", "-C", plan.workdir, "--null", "-T", "-",
    ))  # fmt: skip


def tar_names(files: Sequence[Wanted]) -> bytes:
    """tar_argv's standard input: the names, NUL-separated."""
    return b"".join(f.relative.encode() + b"\0" for f in files)


def missing_by_task(files: Sequence[Wanted], got: Iterable[str]) -> dict[str, list[str]]:
    """The requested files not brought home (their cluster paths), by task."""
    have = set(got)
    out: dict[str, list[str]] = {}
    for f in files:
        if f.relative not in have:
            out.setdefault(f.task_id, []).append(f.remote)
    return out
