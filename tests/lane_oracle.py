"""How a poll reads lane status files, written out plainly, for tests to hold the fast
production path (parse_lane_files, this_runs_lines, settle.TaskResults) to: a line at a
time, a result per task, nothing built lazily or shared
(property_tests/test_lane_lines_props.py, tests/test_decisions_settle.py).

It restates the rules of docs/effects.md and compiler.runtime.settle's docstrings rather
than calling the code under test; only the messages (settle.NO_LINE) and the result type
are shared.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from slurmplan.compiler.plan import Plan
from slurmplan.compiler.runtime.journal_state import JournalState
from slurmplan.compiler.runtime.settle import NO_LINE, JobView, TaskResult
from slurmplan.compiler.slurm.parsers import ParseError
from slurmplan.compiler.slurm.states import RunState

_LINE = re.compile(r"(\S+) ([0-9]{1,3}) ([0-9]{1,20}) ([0-9]{1,20}) ([0-9]{1,20})")
_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

# The job states of a job Slurm killed: a task a signal killed takes its job's state.
_KILLED = {"TIMEOUT", "OUT_OF_MEMORY", "CANCELLED", "NODE_FAIL", "PREEMPTED"}


@dataclass(frozen=True)
class Entry:
    """One lane status line `<task id> <exit code> <slurm job id> <start> <end>`."""

    task_id: str
    exit_code: int
    job_id: str
    started: int
    ended: int


def parse(text: str) -> list[Entry]:
    """Every line of a lane status text; blank lines skipped, a last line without its
    newline (a write cut off) ignored, any other line not of the form refused."""
    out = []
    for line in text.split("\n")[:-1]:
        if not line:
            continue
        match = _LINE.fullmatch(line)
        if match is None or _ID.fullmatch(match.group(1)) is None:
            raise ParseError(line)
        task, code, job_id, start, end = match.groups()
        out.append(Entry(task, int(code), job_id, int(start), int(end)))
    return out


@dataclass(frozen=True)
class File:
    """One lane status file: the job, Slurm job id and run its first line names, and
    its lines."""

    job: int
    job_id: str
    run: str
    entries: list[Entry]


def this_runs(
    plan: Plan, state: JournalState, files: Iterable[File], jobs: Iterable[int]
) -> dict[str, Entry]:
    """Per task of `jobs`: its last line that names the Slurm job id the journal holds
    for the task's job (a requeued job ran it again: the later line wins), in a file
    whose first line names this run and the journal's Slurm job id for its job."""
    out: dict[str, Entry] = {}
    for f in files:
        if f.run != state.run or state.submitted.get(f.job) != f.job_id:
            continue
        for entry in f.entries:
            for j in jobs:
                job = plan.jobs[j]
                if entry.task_id in job.tasks and state.submitted.get(j) == entry.job_id:
                    out[entry.task_id] = entry
    return out


def results(
    plan: Plan, views: Sequence[JobView], lines: Mapping[str, Entry]
) -> dict[str, TaskResult]:
    """Every task's result, in plan order, from its line in `lines` (if any) and its
    job's view."""
    out = {}
    for job, view in zip(plan.jobs, views, strict=True):
        for task_id in job.tasks:
            entry = lines.get(task_id)
            code = None if entry is None else entry.exit_code
            state = _state(view, code)
            if state == RunState.LOST and view.state != RunState.LOST:
                reason = NO_LINE
            elif state in (RunState.LOST, RunState.REFUSED):
                reason = view.reason
            else:
                reason = None
            out[task_id] = TaskResult(
                task_id=task_id,
                job=view.index,
                job_id=view.job_id or "",
                exit_code=code,
                state=state,
                stdout=posixpath.join(plan.workdir, "tasks", f"{task_id}.out"),
                stderr=posixpath.join(plan.workdir, "tasks", f"{task_id}.err"),
                started=None if entry is None else entry.started,
                ended=None if entry is None else entry.ended,
                reason=reason,
            )
    return out


def _state(view: JobView, code: int | None) -> RunState:
    if code is None:
        # No line: the job's state, but a job that ended COMPLETED lost the task.
        if view.settled and view.state == RunState.COMPLETED:
            return RunState.LOST
        return view.state
    if code == 0:
        return RunState.COMPLETED
    if 129 <= code <= 192 and view.state in _KILLED:  # 128 + a signal number
        return view.state
    return RunState.FAILED
