"""compiler.runtime.settle: job and task states from squeue, done markers and lane files."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import lane_oracle as oracle
import pytest
from fake_slurm import lane_file
from settle_plan import three_job_plan

from slurmplan.compiler import Plan
from slurmplan.compiler.runtime.journal_state import (
    JournalState,
    cancelled_event,
    fold,
    header_event,
    intent_event,
    refused_event,
    submitted_event,
)
from slurmplan.compiler.runtime.settle import (
    LOST,
    NEVER_SENT,
    NOT_SUBMITTED,
    JobView,
    TaskResult,
    TaskResults,
    all_settled,
    all_succeeded,
    done_files_present,
    gone_means_empty,
    ids_to_poll,
    is_final,
    job_views,
    lane_files_present,
    markers_wanted,
    scontrol_forgot,
    summary_counts,
    this_runs_lines,
    this_runs_markers,
    to_confirm,
)
from slurmplan.compiler.slurm.parsers import (
    LaneFile,
    parse_done_markers,
    parse_lane_files,
    parse_squeue,
)
from slurmplan.compiler.slurm.states import RunState, SlurmState

RUN = "5f2a9c1e"


def _state(plan: Plan, *events: dict[str, Any]) -> JournalState:
    return fold([header_event(plan.plan_id, plan.name, RUN), *events])


def _files(plan: Plan, text: str, run: str = RUN) -> list[LaneFile]:
    """`text`'s lane lines as the lane files their jobs' scripts write, read by one cat:
    a file per Slurm job id the lines name, in the order first named, each headed by
    its job and `run`."""
    job_of = {t: job.index for job in plan.jobs for t in job.tasks}
    files: dict[str, list[str]] = {}
    for line in text.splitlines(keepends=True):
        files.setdefault(line.split(" ")[2], []).append(line)
    return parse_lane_files("".join(
        lane_file(job_of[lines[0].split(" ")[0]], job_id, f"x.{run}", "".join(lines))
        for job_id, lines in files.items()
    ))  # fmt: skip


def _marker(text: str) -> str:
    """Done marker lines `slurmplan-done job=J slurm_job=ID tasks=N failed=K` as this
    run's script writes them."""
    return text.replace(" tasks=", f" run={RUN} tasks=")


def _lines(plan: Plan, state: JournalState, codes: dict[str, int]) -> str:
    """Lane status lines of tasks that ran 7 s each, in the job the journal holds for
    each task's job (this run's lines)."""
    job_of = {t: job.index for job in plan.jobs for t in job.tasks}
    return "".join(f"{t} {c} {state.submitted[job_of[t]]} 1000 1007\n" for t, c in codes.items())


def _results(
    plan: Plan,
    state: JournalState,
    views: Sequence[JobView],
    text: str,
    read: Collection[int] | None = None,
) -> TaskResults:
    """Per-task results as a poll builds them (effects/observe.py, Observer.results):
    the lane text of the jobs `read` (default: the settled ones, as a poll reads) checked
    by parse_lane_lines, this run's lines kept by this_runs_lines, and TaskResults over
    them with those jobs final."""
    jobs = sorted(v.index for v in views if v.settled) if read is None else sorted(read)
    lines = this_runs_lines(plan, state, _files(plan, text), jobs)
    assert len(lines) == text.count("\n")  # every line given counts: none lost to the check
    return TaskResults(plan, views, lines, final=set(jobs), store={})


def test_states_from_squeue_markers_and_the_journal() -> None:
    plan = three_job_plan()
    state = _state(plan, submitted_event(0, "10", "sbatch"), submitted_event(1, "11", "sbatch"))
    rows = parse_squeue(f"10 RUNNING {plan.jobs[0].name}\n")
    markers = {
        m.job: m
        for m in parse_done_markers(_marker("slurmplan-done job=1 slurm_job=11 tasks=2 failed=1\n"))
    }
    views = job_views(plan, state, rows, markers)
    assert [(v.state, v.settled) for v in views] == [
        ("RUNNING", False),  # squeue knows it
        ("FAILED", True),  # gone from squeue: its marker counts one failed task
        (NOT_SUBMITTED, False),
    ]
    assert views[1].failed_tasks == 1 and views[1].job_id == "11"
    assert not all_settled(views)
    assert summary_counts(views) == {"FAILED": 1, NOT_SUBMITTED: 1, "RUNNING": 1}


def test_gone_without_a_marker_is_lost_and_a_terminal_squeue_state_is_settled() -> None:
    plan = three_job_plan()
    state = _state(
        plan,
        submitted_event(0, "10", "sbatch"),
        submitted_event(1, "11", "sbatch"),
        submitted_event(2, "12", "sbatch"),
    )
    rows = parse_squeue(f"11 CANCELLED {plan.jobs[1].name}\n12 COMPLETED {plan.jobs[2].name}\n")
    assert to_confirm(state, rows, ["10", "11", "12"], {}) == ("10",)
    views = job_views(plan, state, rows, {}, shown={"10": None})  # scontrol forgot it too
    assert [(v.state, v.settled) for v in views] == [
        (LOST, True),
        ("CANCELLED", True),
        ("COMPLETED", True),
    ]
    assert all_settled(views)
    assert views[0].reason is not None and "scontrol no longer knows it" in views[0].reason
    assert views[1].reason is None and views[2].reason is None
    results = _results(plan, state, views, _lines(plan, state, {"a4": 0}))  # a5: no line
    assert results["a0"].reason == views[0].reason  # a task of a LOST job: the job's why
    assert results["a5"].state == LOST and results["a5"].reason is not None
    assert "left no status line of this run" in results["a5"].reason
    assert results["a4"].reason is None


def test_squeue_silence_alone_never_settles_a_job_scontrol_decides() -> None:
    """Issue 8, observation 6: squeue printed nothing (exit 0) for a running job."""
    plan = three_job_plan()
    state = _state(plan, submitted_event(0, "10", "sbatch"), submitted_event(1, "11", "sbatch"))
    running = parse_squeue(f"10 RUNNING {plan.jobs[0].name}\n11 RUNNING {plan.jobs[1].name}\n")
    known = {v.index: v for v in job_views(plan, state, running, {})}
    rows = parse_squeue(f"11 RUNNING {plan.jobs[1].name}\n")  # silent about 10
    unconfirmed = job_views(plan, state, rows, {}, known)[0]
    assert (unconfirmed.state, unconfirmed.settled) == ("RUNNING", False)  # as last seen
    silent = job_views(plan, state, rows, {})[0]
    assert (silent.state, silent.settled) == (LOST, False)  # not settled: no proof yet
    assert silent.reason is not None and "scontrol is asked" in silent.reason
    for shown, expected in [
        (SlurmState.RUNNING, ("RUNNING", False)),  # poll again
        (SlurmState.COMPLETING, ("COMPLETING", False)),
        (SlurmState.CANCELLED, ("CANCELLED", True)),  # a terminal state settles it
        (SlurmState.COMPLETED, ("COMPLETED", True)),
        (None, (LOST, True)),  # Slurm forgot it: as before
    ]:
        view = job_views(plan, state, rows, {}, known, shown={"10": shown})[0]
        assert (view.state, view.settled) == expected, shown
    # a done marker settles a job gone from squeue without asking scontrol
    markers = {
        0: parse_done_markers(_marker("slurmplan-done job=0 slurm_job=10 tasks=2 failed=0\n"))[0]
    }
    assert to_confirm(state, rows, ["10", "11"], markers) == ()
    assert to_confirm(state, rows, ["10", "11"], {}) == ("10",)
    assert to_confirm(state, rows, ["11"], {}) == ()  # 10 not asked about: not gone
    assert to_confirm(state, running, ["10", "11"], {}) == ()


def test_scontrol_of_a_forgotten_job_fails_with_invalid_job_id() -> None:
    err = "slurm_load_jobs error: Invalid job id specified\n"  # the testbed's Slurm 22.05.8
    assert scontrol_forgot(1, err)
    assert not scontrol_forgot(1, "slurm_load_jobs error: Unable to contact slurm controller")
    assert not scontrol_forgot(0, err)


def test_a_marker_an_earlier_run_left_says_nothing_about_this_runs_job() -> None:
    plan = three_job_plan()
    state = _state(plan, submitted_event(0, "10", "sbatch"), submitted_event(1, "11", "sbatch"))
    text = (
        "slurmplan-done job=0 slurm_job=7 tasks=2 failed=0\n"  # job 0's, of an earlier run
        "slurmplan-done job=1 slurm_job=11 tasks=2 failed=0\n"
        "slurmplan-done job=2 slurm_job=12 tasks=2 failed=0\n"  # job 2 is not submitted
    )
    markers = this_runs_markers(state, parse_done_markers(_marker(text)))
    assert sorted(markers) == [1]
    stale = {m.job: m for m in parse_done_markers(_marker(text))}  # job_views checks them too
    views = job_views(plan, state, (), stale)
    assert [(v.state, v.settled) for v in views[:2]] == [(LOST, False), ("COMPLETED", True)]
    assert views[0].failed_tasks is None
    assert to_confirm(state, (), ["10", "11"], markers) == ("10",)


def test_lane_lines_count_only_for_the_journals_job_id() -> None:
    plan = three_job_plan()
    state = _state(plan, submitted_event(0, "10", "sbatch"), submitted_event(1, "11", "sbatch"))
    entries = _files(
        plan,
        "a0 0 7 900 901\n"  # an earlier run's job 7
        "a1 0 10 1000 1005\n"
        "a2 1 11 1000 1002\n"
        "a2 0 11 1003 1009\n"  # a requeued job ran it again: the later line wins
        "a4 0 12 1000 1001\n",  # job 2 is not submitted in this run
    )
    records = this_runs_lines(plan, state, entries, [0, 1, 2])
    assert records == {"a1": "a1 0 10 1000 1005", "a2": "a2 0 11 1003 1009"}
    results = TaskResults(plan, job_views(plan, state, (), {}), records, final={0, 1, 2})
    assert {t: (results[t].exit_code, results[t].started, results[t].ended) for t in records} == {
        "a1": (0, 1000, 1005),
        "a2": (0, 1003, 1009),
    }
    assert this_runs_lines(plan, state, entries, [1]).keys() == {"a2"}


def test_what_an_earlier_run_left_under_the_same_job_ids_is_not_this_runs() -> None:
    """Slurm numbers jobs again after its state is lost, or past MaxJobId: an earlier run's
    marker and lane file can name this run's very job id.  Only the run they name tells
    them apart: the job is LOST (scontrol forgot it), not COMPLETED, and its tasks have
    no result."""
    plan = three_job_plan()
    state = _state(plan, submitted_event(0, "10", "sbatch"))
    earlier = "0" * 8
    text = f"slurmplan-done job=0 slurm_job=10 run={earlier} tasks=2 failed=0\n"
    assert this_runs_markers(state, parse_done_markers(text)) == {}
    stale = {m.job: m for m in parse_done_markers(text)}
    views = job_views(plan, state, (), stale, shown={"10": None})
    assert (views[0].state, views[0].settled) == (LOST, True)
    files = _files(plan, "a0 0 10 1000 1005\na1 0 10 1000 1006\n", run=earlier)
    assert this_runs_lines(plan, state, files, [0]) == {}
    results = TaskResults(plan, views, {}, final={0}, store={})
    assert (results["a0"].state, results["a0"].exit_code) == (LOST, None)


def test_a_line_cut_off_at_the_end_of_one_lane_file_never_joins_the_next() -> None:
    """Lane files read by one cat: a last line cut mid-write ("a1 0 1", no newline) is
    dropped with its file, and the next file's first line starts a file of its own."""
    plan = three_job_plan()
    state = _state(plan, submitted_event(0, "10", "sbatch"))
    name = f"x.{RUN}"
    text = (
        lane_file(0, "10", name, "a0 0 10 1000 1005\na1 0 1")
        + lane_file(0, "10", name, "0 0 10 1000 1007\n")  # a task "a1 0 10..." if joined
        + "# slurmplan-lane job=0 slurm_j"  # a lane killed as it began: no run named
        + lane_file(0, "10", name, "a1 3 10 1000 1002\n")
    )
    files = parse_lane_files(text)
    assert [[line for line, _, _ in f.lines] for f in files] == [
        ["a0 0 10 1000 1005"],
        ["0 0 10 1000 1007"],
        ["a1 3 10 1000 1002"],
    ]
    assert this_runs_lines(plan, state, files, [0]) == {
        "a0": "a0 0 10 1000 1005",
        "a1": "a1 3 10 1000 1002",
    }


def test_settled_views_are_kept_and_not_polled_again() -> None:
    plan = three_job_plan()
    state = _state(plan, submitted_event(0, "10", "sbatch"), submitted_event(1, "11", "sbatch"))
    rows = parse_squeue(f"10 COMPLETED {plan.jobs[0].name}\n11 RUNNING {plan.jobs[1].name}\n")
    first = job_views(plan, state, rows, {})
    known = {v.index: v for v in first}
    assert ids_to_poll(state, [i for i, v in known.items() if v.settled]) == ("11",)
    # squeue no longer lists job 10 (it aged out): still COMPLETED, not LOST
    second = job_views(plan, state, parse_squeue("11 RUNNING x\n"), {}, known)
    assert second[0].state == "COMPLETED" and second[1].state == "RUNNING"


def test_markers_wanted_for_ended_gone_and_unseen_jobs() -> None:
    plan = three_job_plan()
    state = _state(plan, submitted_event(0, "10", "sbatch"), submitted_event(1, "11", "sbatch"))
    rows = parse_squeue("11 PENDING x\n")
    assert markers_wanted(state, rows, ["10", "11"]) == (0,)  # 10 is gone
    assert markers_wanted(state, rows, ["11"]) == ()  # 10 not asked about: not gone
    assert markers_wanted(state, rows, ["10", "11"], skip=[0]) == ()
    assert markers_wanted(state, parse_squeue("11 FAILED x\n"), ["11"]) == (1,)  # ended


def test_squeue_of_one_forgotten_id_means_no_rows() -> None:
    err = "slurm_load_jobs error: Invalid job id specified"
    assert gone_means_empty(["10"], 1, err)
    assert not gone_means_empty(["10", "11"], 1, err)  # several ids never fail like that
    assert not gone_means_empty(["10"], 1, "Unable to contact slurm controller")


def test_files_present_are_the_listed_ones_of_the_chosen_jobs() -> None:
    plan = three_job_plan()
    listed = ["job-000000.lane-00.status", "job-000000.lane-01.status", "job-000001.lane-00.status",
              "job-000001.done", "tasks"]  # fmt: skip
    lanes = lane_files_present(plan, listed, [0, 1])
    assert [p.rsplit("/", 1)[1] for p in lanes] == listed[:3]
    assert all(p.startswith(plan.workdir + "/") for p in lanes)
    assert lane_files_present(plan, listed, [1]) == (lanes[2],)
    assert done_files_present(plan, listed, [0, 1]) == (plan.jobs[1].done_path,)


def test_task_results_from_lane_files_then_job_states() -> None:
    plan = three_job_plan()
    state = _state(
        plan,
        submitted_event(0, "10", "sbatch"),
        submitted_event(1, "11", "sbatch"),
        submitted_event(2, "12", "sbatch"),
    )
    rows = parse_squeue(
        f"10 COMPLETED {plan.jobs[0].name}\n11 TIMEOUT {plan.jobs[1].name}\n"
        f"12 PENDING {plan.jobs[2].name}\n"
    )
    views = job_views(plan, state, rows, {})
    # a1 never wrote its line; a3 was killed
    results = _results(plan, state, views, "a0 0 10 5 9\na2 3 11 5 6\n")
    assert {t: (r.exit_code, r.state, r.job_id) for t, r in results.items()} == {
        "a0": (0, "COMPLETED", "10"),
        "a1": (None, LOST, "10"),  # job COMPLETED, but no line for it
        "a2": (3, "FAILED", "11"),
        "a3": (None, "TIMEOUT", "11"),
        "a4": (None, "PENDING", "12"),
        "a5": (None, "PENDING", "12"),
    }
    assert results["a2"].stdout == f"{plan.workdir}/tasks/a2.out"
    assert results["a2"].stderr == f"{plan.workdir}/tasks/a2.err"
    assert results["a0"].to_json() == {
        "exit_code": 0,
        "signal": None,
        "state": "COMPLETED",
        "job_id": "10",
        "started": 5,
        "ended": 9,
        "seconds": 4,
        "reason": None,
        "stdout": f"{plan.workdir}/tasks/a0.out",
        "stderr": f"{plan.workdir}/tasks/a0.err",
    }
    assert results["a1"].to_json()["started"] is None and results["a1"].seconds is None
    assert not all_succeeded(results)


def test_all_succeeded_needs_every_task_at_exit_0() -> None:
    plan = three_job_plan()
    state = _state(plan, *(submitted_event(j, str(20 + j), "sbatch") for j in range(3)))
    views = job_views(plan, state, (), {})
    codes = {f"a{i}": 0 for i in range(6)}
    every = range(3)  # not settled (squeue's silence alone), but their lines are given
    assert all_succeeded(_results(plan, state, views, _lines(plan, state, codes), every))
    codes["a5"] = 1
    assert not all_succeeded(_results(plan, state, views, _lines(plan, state, codes), every))
    assert not all_succeeded({})


def test_a_job_sbatch_refused_for_good_is_refused_and_settled_with_its_tasks() -> None:
    plan = three_job_plan()
    state = _state(
        plan,
        submitted_event(0, "10", "sbatch"),
        intent_event(1, plan.jobs[1].name),
        refused_event(1, "sbatch: error: Invalid partition name specified"),
    )
    rows = parse_squeue(f"10 COMPLETED {plan.jobs[0].name}\n")
    views = job_views(plan, state, rows, {})
    assert [(v.state, v.settled, v.job_id) for v in views] == [
        (RunState.COMPLETED, True, "10"),
        (RunState.REFUSED, True, None),
        (NOT_SUBMITTED, False, None),  # never tried: not submitted yet
    ]
    assert ids_to_poll(state, []) == ("10",)  # a refused job has no id to ask about
    assert markers_wanted(state, rows, ["10"]) == (0,)
    results = _results(plan, state, views, _lines(plan, state, {"a0": 0, "a1": 0}))
    assert {t: (r.exit_code, r.state, r.job_id) for t, r in results.items()} == {
        "a0": (0, RunState.COMPLETED, "10"),
        "a1": (0, RunState.COMPLETED, "10"),
        "a2": (None, RunState.REFUSED, ""),
        "a3": (None, RunState.REFUSED, ""),
        "a4": (None, NOT_SUBMITTED, ""),
        "a5": (None, NOT_SUBMITTED, ""),
    }
    assert results["a2"].to_json()["exit_code"] is None  # JSON says null
    said = "sbatch refused it: sbatch: error: Invalid partition name specified"
    assert views[1].reason == said == results["a2"].reason == results["a3"].to_json()["reason"]
    assert results["a0"].reason is None and results["a4"].reason is None
    # Submitted again later (another `submit`): it is no longer refused.
    again = _state(plan, refused_event(1, "no"), intent_event(1, plan.jobs[1].name),
                   submitted_event(1, "11", "sbatch"))  # fmt: skip
    assert job_views(plan, again, parse_squeue("11 RUNNING x\n"), {})[1].state == "RUNNING"


KILLED_BY = [
    RunState.TIMEOUT,
    RunState.OUT_OF_MEMORY,
    RunState.CANCELLED,
    RunState.NODE_FAIL,
    RunState.PREEMPTED,
]


@pytest.mark.parametrize("job_state", KILLED_BY)
@pytest.mark.parametrize("code", [143, 137, 129, 192])  # 128 + a signal number (1-64)
def test_a_task_killed_by_a_signal_takes_the_state_of_its_job_that_was_killed(
    job_state: RunState, code: int
) -> None:
    plan = three_job_plan()
    state = _state(plan, submitted_event(0, "10", "sbatch"))
    rows = parse_squeue(f"10 {job_state} {plan.jobs[0].name}\n")
    views = job_views(plan, state, rows, {})
    results = _results(plan, state, views, _lines(plan, state, {"a0": code, "a1": 0}))
    assert (results["a0"].state, results["a0"].exit_code) == (job_state, code)
    expected = {143: "SIGTERM", 137: "SIGKILL", 129: "SIGHUP", 192: "SIGRTMIN+30"}[code]
    assert results["a0"].signal == expected == results["a0"].to_json()["signal"]
    assert (results["a1"].state, results["a1"].exit_code) == (RunState.COMPLETED, 0)
    assert results["a1"].signal is None
    assert not all_succeeded(results)


@pytest.mark.parametrize("job_state", KILLED_BY)
@pytest.mark.parametrize("code", [1, 3, 127, 128, 193, 255])  # 255: exit(-1), no signal
def test_a_task_that_exited_on_its_own_is_failed_whatever_its_job_became(
    job_state: RunState, code: int
) -> None:
    plan = three_job_plan()
    state = _state(plan, submitted_event(0, "10", "sbatch"))
    rows = parse_squeue(f"10 {job_state} {plan.jobs[0].name}\n")
    views = job_views(plan, state, rows, {})
    results = _results(plan, state, views, _lines(plan, state, {"a0": code}))
    assert (results["a0"].state, results["a0"].exit_code) == (RunState.FAILED, code)
    assert results["a0"].signal is None


@pytest.mark.parametrize("job_state", ["FAILED", "COMPLETED", "BOOT_FAIL"])
def test_a_task_killed_by_a_signal_in_a_job_slurm_did_not_kill_is_failed(job_state: str) -> None:
    plan = three_job_plan()
    state = _state(plan, submitted_event(0, "10", "sbatch"))
    rows = parse_squeue(f"10 {job_state} {plan.jobs[0].name}\n")
    views = job_views(plan, state, rows, {})
    results = _results(plan, state, views, _lines(plan, state, {"a0": 143}))
    assert (results["a0"].state, results["a0"].exit_code) == (RunState.FAILED, 143)


def test_a_task_killed_by_a_signal_in_a_job_gone_from_squeue_is_failed() -> None:
    plan = three_job_plan()
    state = _state(plan, submitted_event(0, "10", "sbatch"))
    markers = {
        0: parse_done_markers(_marker("slurmplan-done job=0 slurm_job=10 tasks=2 failed=1\n"))[0]
    }
    views = job_views(plan, state, (), markers)
    results = _results(plan, state, views, _lines(plan, state, {"a0": 143, "a1": 0}))
    assert (results["a0"].state, results["a0"].exit_code) == (RunState.FAILED, 143)


def test_known_results_of_settled_jobs_are_taken_as_they_are() -> None:
    plan = three_job_plan()
    state = _state(plan, *(submitted_event(j, str(20 + j), "sbatch") for j in range(3)))
    views = job_views(plan, state, (), {})
    text = _lines(plan, state, {"a0": 0, "a1": 0})
    store: dict[str, TaskResult] = {}  # job 0's results, once it is final
    lines = this_runs_lines(plan, state, _files(plan, text), [0])
    first = TaskResults(plan, views, lines, final={0}, store=store)
    assert first["a0"].exit_code == 0 and first["a1"].exit_code == 0
    again = TaskResults(plan, views, {}, final={0}, store=store)  # no lines now: the store's
    assert again["a0"] is first["a0"] and again["a1"] is first["a1"]
    assert list(again) == [f"a{i}" for i in range(6)]  # plan order kept
    assert again["a2"].exit_code is None


def test_lazy_results_stay_the_observation_they_were_made_from() -> None:
    """Run.poll's TaskResults: a snapshot keeps its results when later polls read more
    lines; a final result is built once per run and shared through the store."""
    plan = three_job_plan()
    state = _state(plan, *(submitted_event(j, str(10 + j), "sbatch") for j in range(3)))
    lines: dict[str, str] = {}
    store: dict[str, TaskResult] = {}
    running = job_views(plan, state, parse_squeue("10 RUNNING x\n"), {})
    before = TaskResults(plan, running, lines, final=set(), store=store)
    done = job_views(plan, state, parse_squeue("10 COMPLETED x\n"), {})
    text = "a0 0 10 5 9\na1 2 10 5 9\na2 0 7 5 9\n"  # a2: an earlier run's job 7
    lines.update(this_runs_lines(plan, state, _files(plan, text), [0, 1]))
    assert sorted(lines) == ["a0", "a1"]
    after = TaskResults(plan, done, lines, final={0}, store=store)
    assert (after["a0"].state, after["a1"].state, after["a1"].exit_code) == (
        "COMPLETED",
        "FAILED",
        2,
    )
    assert (after["a0"].started, after["a0"].ended, after["a2"].exit_code) == (5, 9, None)
    assert store["a0"] is after["a0"]
    assert (before["a0"].state, before["a0"].exit_code) == ("RUNNING", None)
    again = TaskResults(plan, done, lines, final={0}, store=store)
    assert again["a0"] is after["a0"]
    files = [
        oracle.File(
            f.job, f.job_id, f.run, [oracle.parse(line + "\n")[0] for line, _, _ in f.lines]
        )
        for f in _files(plan, text)
    ]
    expected = oracle.this_runs(plan, state, files, [0])
    assert dict(again) == oracle.results(plan, done, expected)
    with pytest.raises(KeyError):
        after["nope"]
    assert repr(after) == "<TaskResults of 6 tasks in 3 jobs>"


def test_a_refused_view_is_final_only_while_the_journal_still_says_refused() -> None:
    """A later submit tries a refused job again (docs/effects.md): its intent, then its id,
    make the kept REFUSED view no longer final, and the job is looked at again."""
    plan = three_job_plan()
    refused = (intent_event(1, plan.jobs[1].name), refused_event(1, "sbatch: error: no"))
    state = _state(plan, submitted_event(0, "10", "sbatch"), *refused)
    known = {v.index: v for v in job_views(plan, state, parse_squeue("10 RUNNING x\n"), {})}
    assert known[1].state == RunState.REFUSED and is_final(known[1], state)
    trying = _state(plan, submitted_event(0, "10", "sbatch"), *refused, intent_event(1, "x"))
    assert not is_final(known[1], trying)
    sent = _state(
        plan, submitted_event(0, "10", "sbatch"), *refused, intent_event(1, plan.jobs[1].name),
        submitted_event(1, "11", "sbatch"),
    )  # fmt: skip
    assert not is_final(known[1], sent)
    views = job_views(plan, sent, parse_squeue("10 RUNNING x\n11 PENDING x\n"), {}, known)
    assert (views[1].state, views[1].settled, views[1].job_id) == ("PENDING", False, "11")


def test_a_job_a_cancelled_run_never_submitted_is_cancelled_and_settled() -> None:
    plan = three_job_plan()
    state = _state(plan, submitted_event(0, "10", "sbatch"), cancelled_event(["10"]))
    views = job_views(plan, state, parse_squeue("10 CANCELLED x\n"), {})
    assert [(v.state, v.settled, v.job_id, v.reason) for v in views] == [
        (RunState.CANCELLED, True, "10", None),
        (RunState.CANCELLED, True, None, NEVER_SENT),
        (RunState.CANCELLED, True, None, NEVER_SENT),
    ]
    assert all(is_final(v, state) for v in views)
    results = _results(plan, state, views, "")
    assert (results["a2"].state, results["a2"].reason, results["a2"].job_id) == (
        RunState.CANCELLED, NEVER_SENT, "",
    )  # fmt: skip
