"""Task output files: what a task list may name for fetch to bring home.

A task runs in the workdir (its job's --chdir), the folder every task of the plan
shares, so an output is a path relative to it.  The schema (`output_path` in
schemas/task_list.schema.json) holds the form: relative, normalized, no '..', no
control characters, bounded.  What it cannot say is checked here, at compile and
again when a plan file is loaded: no output may be one of slurmplan's own files in
the workdir, and no file may be named twice, nor inside another output, within a
task or across tasks (two tasks writing one file in the shared workdir overwrite
each other, and fetch would bring one task's file home as the other's).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from slurmplan.compiler import layout
from slurmplan.compiler.errors import show

# slurmplan's own names in the workdir (layout.py): the tasks' stdout and stderr under
# tasks/, and job-NNNNNN.<anything> (script, logs, lane status files, done marker and
# the .part it is written as); the index may outgrow six digits.
_OWN = re.compile(rf"{layout.TASKS_SUBDIR}|job-[0-9]{{6,}}\..*", re.DOTALL)

OWN_FILES = (
    "'outputs' must not name slurmplan's own files in the workdir (tasks/..., "
    "job-NNNNNN.*: scripts, logs, lane status files, done markers)"
)
TWICE = (
    "'outputs' must name each file once, in one task: two tasks writing one file "
    "overwrite each other"
)


def is_own(path: str) -> bool:
    """Is `path` (relative to the workdir) one of slurmplan's files, or below one?"""
    return _OWN.fullmatch(path.partition("/")[0]) is not None


def output_problems(
    outputs: Sequence[Sequence[str | None]], where: Callable[[int, int], str]
) -> Iterator[tuple[int, int, str]]:
    """(position of the task, position of the output, message) for each output that
    names slurmplan's own files, a file named before, or a file inside another output;
    `outputs` holds each task's paths (of the schema's form; None for one the schema
    refused, passes/prune.py), in order, and `where(task, output)` is the JSON pointer
    an earlier output is named by."""
    first: dict[str, tuple[int, int]] = {}
    for t, paths in enumerate(outputs):
        for o, path in enumerate(paths):
            if path is not None and path not in first:
                first[path] = (t, o)
    for t, paths in enumerate(outputs):
        for o, path in enumerate(paths):
            if path is None:
                continue
            if is_own(path):
                yield t, o, f"{OWN_FILES} (got {show(path)})"
            elif first[path] != (t, o):
                at = first[path]
                yield t, o, f"{TWICE} (got {show(path)}, already at {where(*at)})"
            elif (inside := _folder_that_is_an_output(path, first)) is not None:
                message = (
                    f"'outputs' must not be inside another output file (got {show(path)}, "
                    f"and {show(inside)} is at {where(*first[inside])})"
                )
                yield t, o, message


def _folder_that_is_an_output(path: str, named: dict[str, tuple[int, int]]) -> str | None:
    """The first of `path`'s folders that is itself named as an output, if any."""
    end = path.find("/")
    while end != -1:
        if path[:end] in named:
            return path[:end]
        end = path.find("/", end + 1)
    return None
