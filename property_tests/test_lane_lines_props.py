"""The fast way a poll reads lane status files agrees with the plain one.

`parse_lane_lines` (one regex pass over the whole text), `this_runs_lines` (the job id
check against one dict of every task's job id) and `TaskResults` (each result built when
looked up) must say exactly what tests/lane_oracle.py (a line, then a task, at a time)
says: the same lines accepted, the same lines refused (ParseError), the same lines
counted for this run, the same results.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from property_tests.strategies import examples
from slurmplan.compiler.runtime.journal_state import JournalState, fold, header_event
from slurmplan.compiler.runtime.journal_state import submitted_event as submitted
from slurmplan.compiler.runtime.settle import TaskResults, job_views, this_runs_lines
from slurmplan.compiler.slurm.parsers import (
    LANE_FILE_MARK,
    ParseError,
    QueuedJob,
    parse_lane_files,
    parse_lane_lines,
)
from slurmplan.compiler.slurm.states import SlurmState
from tests import lane_oracle as oracle
from tests.settle_plan import TASKS, three_job_plan


def _entry(line: str) -> oracle.Entry:
    """A line parse_lane_lines kept, as the oracle's entry (its five fields)."""
    task, code, job_id, start, end = line.split(" ")
    return oracle.Entry(task, int(code), job_id, int(start), int(end))


_JOB_IDS = ["10", "11", "12", "7"]  # 7: no job of this run
_NUMBER = st.integers(0, 10**12).map(str)
_GARBAGE = st.sampled_from([
    "", " ", "\t", "\r", "x", "0", "=", "٣", "²", "a b", "  ", "-1", "1000", "9" * 21, "é",
    "slurmplan-done job=0 slurm_job=10 tasks=2 failed=0",
])  # fmt: skip


@st.composite
def lines(draw: st.DrawFn) -> str:
    fields = [
        draw(st.sampled_from([*TASKS, "b", "x" * 128, "x" * 129, "c.2_x-3"])),
        str(draw(st.sampled_from([0, 0, 143]) | st.integers(0, 999))),  # mostly 0, as run
        draw(st.sampled_from(_JOB_IDS)),
        draw(_NUMBER),
        draw(_NUMBER),
    ]
    if draw(st.integers(0, 9)) == 0:  # one field spoiled, or one added or taken away
        k = draw(st.integers(0, 4))
        how = draw(st.sampled_from(["replace", "append", "drop", "glue"]))
        if how == "replace":
            fields[k] = draw(_GARBAGE)
        elif how == "append":
            fields.insert(k, draw(_GARBAGE))
        elif how == "drop":
            del fields[k]
        else:
            fields[k] += draw(_GARBAGE)
    return " ".join(fields)


@st.composite
def lane_texts(draw: st.DrawFn) -> str:
    body = "".join(line + "\n" for line in draw(st.lists(lines(), max_size=12)))
    return body + draw(st.sampled_from(["", "a0 0 1", "a1", "\n"]))  # a write cut off


@examples(500)
@given(lane_texts())
def test_parse_lane_lines_accepts_and_refuses_what_the_line_by_line_parser_does(
    text: str,
) -> None:
    try:
        expected = oracle.parse(text)
    except ParseError:
        with pytest.raises(ParseError, match="unexpected lane status line"):
            parse_lane_lines(text)
        return
    got = parse_lane_lines(text)
    assert [(t, j) for _, t, j in got] == [(e.task_id, e.job_id) for e in expected]
    assert [_entry(line) for line, _, _ in got] == expected


RUN = "5f2a9c1e"
_STATES = st.sampled_from([None, "PENDING", "RUNNING", "COMPLETED", "FAILED", "TIMEOUT"])


def _state(jobs: list[int]) -> JournalState:
    plan = three_job_plan()
    events = [submitted(j, _JOB_IDS[j], "sbatch") for j in jobs]
    return fold([header_event(plan.plan_id, plan.name, RUN), *events])


@st.composite
def lane_files(draw: st.DrawFn) -> tuple[str, list[oracle.File]]:
    """Lane status files read by one cat: their text, and the files a poll can name a
    run for (the oracle's).  A file's last line may be cut off mid-write; a file's first
    line may be cut off too (its lane killed as it began: nothing after it), or not
    slurmplan's."""
    text, files = "", []
    for _ in range(draw(st.integers(0, 4))):
        job, job_id = draw(st.integers(0, 2)), draw(st.sampled_from(_JOB_IDS))
        run = draw(st.sampled_from([RUN, RUN, "0" * 8, ""]))
        head = f"{LANE_FILE_MARK}job={job} slurm_job={job_id} run={run}"
        damage = draw(st.sampled_from(["none"] * 6 + ["cut", "foreign"]))
        if damage == "cut":
            text += head[: draw(st.integers(0, len(head)))]
            continue
        body = draw(lane_texts())
        try:
            entries = oracle.parse(body)
        except ParseError:  # refused whole (test above): not what this test is about
            body, entries = "", []
        if damage == "foreign":
            text += f"{LANE_FILE_MARK}job={job} slurm_job={job_id}\n{body}"
            continue
        text += f"{head}\n{body}"
        files.append(oracle.File(job, job_id, run, entries))
    return text, files


def test_a_file_cut_mid_line_never_joins_the_next_example() -> None:
    """The case the lane file's first line is for: without it, "a1 0 1" + "0 0 10 ..."
    read as one line for task "a1 0 10"... of another task."""
    text = f"{LANE_FILE_MARK}job=0 slurm_job=10 run={RUN}\na1 0 1"
    text += f"{LANE_FILE_MARK}job=0 slurm_job=10 run={RUN}\n0 0 10 1000 1007\n"
    assert [[t for _, t, _ in f.lines] for f in parse_lane_files(text)] == [[], ["0"]]


@examples(300)
@given(
    read_files=lane_files(),
    submitted_jobs=st.sets(st.integers(0, 2)),
    read=st.sets(st.integers(0, 2)),
    shown=st.lists(_STATES, min_size=3, max_size=3),
)
def test_lines_and_lazy_results_agree_with_the_oracle(
    read_files: tuple[str, list[oracle.File]],
    submitted_jobs: set[int],
    read: set[int],
    shown: list[str | None],
) -> None:
    text, files = read_files
    parsed = parse_lane_files(text)
    assert [(f.job, f.job_id, f.run) for f in parsed] == [(f.job, f.job_id, f.run) for f in files]
    assert [[_entry(line) for line, _, _ in f.lines] for f in parsed] == [f.entries for f in files]
    plan, state = three_job_plan(), _state(sorted(submitted_jobs))
    kept = this_runs_lines(plan, state, parsed, sorted(read))
    records = oracle.this_runs(plan, state, files, sorted(read))
    assert {t: _entry(line) for t, line in kept.items()} == records
    assert list(kept) == list(records)  # a later line for a task wins in both
    rows = [
        QueuedJob(job_id=_JOB_IDS[j], state=SlurmState(s), name="x")
        for j, s in enumerate(shown)
        if s is not None
    ]
    views = job_views(plan, state, rows, {})
    expected = oracle.results(plan, views, records)
    lazy = TaskResults(plan, views, kept, final=read, store={})
    assert list(lazy) == list(expected) == [t for job in plan.jobs for t in job.tasks]
    assert len(lazy) == len(expected) and "a0" in lazy and "zz" not in lazy
    assert dict(lazy.items()) == expected
    assert lazy["a0"] is lazy["a0"]  # built once
    # Lines of jobs not read yet do not count (a snapshot stays what it was).
    unread = TaskResults(plan, views, kept, final=(), store={})
    assert dict(unread) == oracle.results(plan, views, {})
    # has_ended says what the built result's end says, without building it.
    for results in (TaskResults(plan, views, kept, final=read, store={}), unread):
        ended = {t: results.has_ended(t) for t in results}  # asked before any is built
        assert ended == {t: r.ended is not None for t, r in results.items()}
