"""Bringing task outputs home (Run.fetch): which files, and the commands that read them.

Over ssh one `tar` on the cluster streams every requested file back: the list of
names goes in on its standard input (no argument-length limit, one round trip),
files that do not exist are left out with a warning instead of failing the whole
stream (`--ignore-failed-read`), and what the archive lacks is reported per task.
Through sudo the only reading command allowed is `cat`, many files per command
(compiler.runtime.cat_batches).
Only tasks that ended in this run are fetched (not_ended): the workdir is shared by
every run of a plan, and an earlier run's files must not pass for this run's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from slurmplan.compiler import layout
from slurmplan.compiler.errors import Refused, show
from slurmplan.compiler.plan import Plan
from slurmplan.compiler.runtime.settle import TaskResults
from slurmplan.compiler.transport import as_user

OUTPUTS_SUFFIX = ".outputs"  # dest/tasks/<task id>.outputs/<path>: a task's output files


class Wanted(NamedTuple):
    """One file to bring home: its task, its path on the cluster, its path relative to
    the workdir (the name tar streams it under) and relative to dest.  A NamedTuple:
    a fetch of 100,000 tasks makes 200,000 of them, and a frozen dataclass costs
    several times as much to build."""

    task_id: str
    remote: str
    relative: str  # tasks/<id>.out, or an output's path as the task list names it
    local: str  # tasks/<id>.out, or tasks/<id>.outputs/<path>


def chosen_tasks(plan: Plan, task_ids: Iterable[str] | None = None) -> list[str]:
    """`task_ids` once each (default: every task of the plan, in plan order); ValueError
    naming the first id given that the plan does not have (in JSON words: null, 0);
    TypeError for one str, whose letters would pass for the ids."""
    if isinstance(task_ids, str):
        raise TypeError(f"task_ids must be a list of task ids, not one str (got {task_ids!r})")
    known = [task for job in plan.jobs for task in job.tasks]
    chosen = known if task_ids is None else list(dict.fromkeys(task_ids))
    known_ids = set(known)
    # in the order given, not sorted: a caller's ids may be None or numbers, not comparable
    unknown = [task for task in chosen if task not in known_ids]
    if unknown:
        raise Refused(f"no task {show(unknown[0])} in plan {plan.plan_id} ({len(unknown)} unknown)")
    return chosen


def not_ended(results: TaskResults, chosen: Iterable[str]) -> dict[str, str]:
    """The chosen tasks that did not end in this run, with their states: no lane line
    naming this run's Slurm job (never started, still running, killed, or in a job
    that was refused or lost).  Their files are not fetched: whatever is on the cluster
    under their names may be an earlier run's, and would pass for this run's result."""
    return {task: str(results[task].state) for task in chosen if not results.has_ended(task)}


def wanted_files(plan: Plan, task_ids: Iterable[str] | None = None) -> tuple[Wanted, ...]:
    """The stdout, stderr and output files of `task_ids` (default: every task of the
    plan), in order; ValueError naming an id the plan does not have."""
    return files_of(plan, chosen_tasks(plan, task_ids))


def files_of(plan: Plan, tasks: Iterable[str]) -> tuple[Wanted, ...]:
    """wanted_files of `tasks` that chosen_tasks already checked (each once, all the
    plan's); ValueError for an output path that is not plain.

    A task's outputs come home in tasks/<id>.outputs/, beside its logs, and not in
    tasks/<id>/: ids may hold dots and be "." or "..", so task "a.out"'s folder would be
    task "a"'s stdout file, and task ".."'s would be dest itself.  No "<id>.outputs"
    is another task's "<id>.out", ".err" or ".outputs", and none is "." or ".."."""
    outputs = dict(plan.outputs)
    workdir = layout.join(plan.workdir, "")  # with its one trailing slash, joined once
    files: list[Wanted] = []
    for task_id in tasks:
        for stream in ("out", "err"):
            relative = layout.task_output(task_id, stream)
            files.append(Wanted(task_id, workdir + relative, relative, relative))
        for path in outputs.get(task_id, ()):
            if {"", ".", ".."} & set(path.split("/")):  # also an absolute path: "" first
                # compile and plan_from_json refuse it; a Plan made in Python is checked here
                raise ValueError(f"output {path!r} of task {task_id}: not a plain relative path")
            local = f"{layout.TASKS_SUBDIR}/{task_id}{OUTPUTS_SUFFIX}/{path}"
            files.append(Wanted(task_id, layout.join(plan.workdir, path), path, local))
    return tuple(files)


def tar_argv(plan: Plan) -> tuple[str, ...]:
    """One `tar` as the user writing the files named on stdin (NUL-separated, relative
    to the workdir) to its stdout; a missing file is skipped with a warning, and a
    folder named where a file was expected is not walked (--no-recursion: a task that
    made `result.json` a folder of a million files streams none of them).  A file with
    two names asked for comes as a file under each (--hard-dereference): tar would send
    the second as a link to the first, which fetch does not take."""
    return as_user(plan.transport, (
        "tar", "-c", "-f", "-", "--ignore-failed-read", "--no-recursion", "--hard-dereference",
        "-C", plan.workdir, "--null", "-T", "-",
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


# GNU tar's words for a file that changed while it read it: a member cut to the size its
# header gave (it grew: exit 1) or padded with NULs to it (it shrank: exit 0 with
# --ignore-failed-read).  Either way the member is not the file.
_CHANGED = re.compile(r"tar: (.+): (?:File shrank by [0-9]+ bytes; padding with zeros|"
                      r"file changed as we read it)")  # fmt: skip


def changed_while_read(stderr: str) -> tuple[str, ...]:
    """The names tar says changed while it read them (as tar wrote them)."""
    return tuple(m.group(1) for m in map(_CHANGED.fullmatch, stderr.splitlines()) if m)


def spoiled_by_change(
    files: Sequence[Wanted], got: Iterable[str], changed: Sequence[str]
) -> list[Wanted]:
    """The files written from a tar stream that must not stay: those tar named as
    changed while it read them, or every file written when a name is not one asked for
    as it stands (tar quotes unusual names: which file it meant is then unknown)."""
    if not changed:
        return []
    by_name = {f.relative: f for f in files}
    if all(name in by_name for name in changed):
        return [by_name[name] for name in changed]
    written = set(got)
    return [f for f in files if f.relative in written]
