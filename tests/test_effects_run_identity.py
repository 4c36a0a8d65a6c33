"""Runs of one plan never take each other's jobs or results (docs/effects.md, "Runs").

Issue 8, observations 1 and 2, reproduced against the fake Slurm: a second run of
a finished plan (a new journal, in the same workdir) whose jobs are cancelled before
they start must not report the first run's results; a cut-off intent of the second
run must not be bound to the first run's job of the same plan job.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fake_slurm import (
    CRASH_BEFORE_SBATCH,
    TRANSIENT_BUT_CREATED,
    Crash,
    FakeJob,
    FakeSlurm,
    lane_file,
)
from sample_inputs import config, profile
from test_effects_with_fake_slurm import TRANSPORTS, Bench, _finish

import slurmplan
from slurmplan.compiler import compile_plan
from slurmplan.compiler.runtime.retry import PollPolicy
from slurmplan.compiler.slurm.states import RunState
from slurmplan.effects.journal import read_state
from slurmplan.effects.observe import Observer, wait


def _run_to_the_end(bench: Bench) -> None:
    """One complete run: submitted, every task exited 0, its files written."""
    bench.submit()
    for job, job_id in bench.ids().items():
        bench.slurm.jobs[job_id].timeline = ["COMPLETED"]
        _finish(bench, job, [0])


def _new_run(bench: Bench, tmp_path: Path, name: str) -> None:
    bench.journal = str(tmp_path / name)


@pytest.mark.parametrize("forgotten", [False, True], ids=["squeue-shows-cancelled", "forgotten"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_second_run_cancelled_before_it_started_does_not_report_the_first_runs_success(
    tmp_path: Path, transport: str, forgotten: bool
) -> None:
    bench = Bench(tmp_path, transport, 2)
    _run_to_the_end(bench)
    _new_run(bench, tmp_path, "second.journal")
    bench.submit()
    second = bench.ids()
    assert len(second) == 2 and len(bench.slurm.jobs) == 4  # the plan ran again
    for job_id in second.values():  # cancelled while pending: the script never ran
        bench.slurm.jobs[job_id].timeline = ["CANCELLED", None] if forgotten else ["CANCELLED"]
    observer = Observer(bench.plan, bench.journal, bench.executor())
    views = wait(observer, PollPolicy(), lambda _: None)
    assert views is not None
    assert all(v.state != RunState.COMPLETED for v in views), views
    results = observer.results()
    assert {r.state for r in results.values()} <= {RunState.CANCELLED, RunState.LOST}, results
    assert all(r.exit_code is None for r in results.values()), results


@pytest.mark.parametrize("transport", ["local", "sudo"])
def test_a_cut_off_intent_of_a_new_run_is_not_bound_to_an_earlier_runs_job(
    tmp_path: Path, transport: str
) -> None:
    bench = Bench(tmp_path, transport, 2)
    _run_to_the_end(bench)  # its jobs are still in squeue, COMPLETED
    first = set(bench.slurm.jobs)
    _new_run(bench, tmp_path, "second.journal")
    bench.slurm.replies = [CRASH_BEFORE_SBATCH]  # job 0's intent; it never reached Slurm
    with pytest.raises(Crash):
        bench.submit()
    assert read_state(bench.journal, bench.plan).cut_off == {0}
    report = bench.submit()
    assert (report.submitted, report.found) == (2, 0)
    second = bench.ids()
    assert not set(second.values()) & first


def test_an_earlier_runs_job_output_does_not_count_as_this_run_having_run(
    tmp_path: Path,
) -> None:
    bench = Bench(tmp_path, "local", 2)
    _run_to_the_end(bench)
    for job in bench.slurm.jobs.values():  # Slurm forgot the first run's jobs
        job.timeline = [None]
    first = set(bench.slurm.jobs)
    _new_run(bench, tmp_path, "second.journal")
    bench.slurm.replies = [CRASH_BEFORE_SBATCH]
    with pytest.raises(Crash):
        bench.submit()
    bench.submit()
    state = read_state(bench.journal, bench.plan)
    assert sorted(state.submitted) == [0, 1]
    assert not set(state.submitted.values()) & first


def test_a_cut_off_job_with_no_trace_is_looked_up_once_then_submitted(tmp_path: Path) -> None:
    bench = Bench(tmp_path, "local", 2)
    bench.slurm.replies = [CRASH_BEFORE_SBATCH]
    with pytest.raises(Crash):
        bench.submit()
    before = len(bench.slurm.named("squeue"))
    report = bench.submit()
    assert report.submitted == 2
    lookups = [c for c in bench.slurm.named("squeue")[before:] if "--name=" in " ".join(c)]
    assert len(lookups) == 1, lookups  # not again before its own round


def test_a_traced_job_whose_new_sbatch_fails_transiently_is_looked_up_again(
    tmp_path: Path,
) -> None:
    """The job looked up once (no trace) gets a new intent; its sbatch then times out
    though Slurm took it: it must be looked up again, not sent a second time."""
    bench = Bench(tmp_path, "local", 1)
    bench.slurm.replies = [CRASH_BEFORE_SBATCH]
    with pytest.raises(Crash):
        bench.submit()
    bench.slurm.replies = [TRANSIENT_BUT_CREATED]
    report = bench.submit()
    assert (report.submitted, report.found) == (0, 1)
    assert bench.copies(0) == 1


@pytest.mark.parametrize("gone", ["cancelled", "vanished"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_second_run_given_the_first_runs_job_ids_again_does_not_report_its_success(
    tmp_path: Path, transport: str, gone: str
) -> None:
    """Slurm lost its saved state (or passed MaxJobId) and numbers jobs from 100 again:
    the second run's jobs have the first run's ids, and the first run's markers and lane
    files name them.  They never ran: CANCELLED or LOST, no exit code, never COMPLETED.
    Before markers and lane files named the run, every task was COMPLETED with exit 0."""
    bench = Bench(tmp_path, transport, 2)
    _run_to_the_end(bench)
    first = sorted(bench.ids().values())
    bench.slurm.jobs.clear()
    bench.slurm.next_id = 100
    _new_run(bench, tmp_path, "second.journal")
    bench.submit()
    assert sorted(bench.ids().values()) == first  # the same ids, this run's jobs
    for job_id in first:  # cancelled while pending, or killed and forgotten unseen
        bench.slurm.jobs[job_id].timeline = ["CANCELLED"] if gone == "cancelled" else [None]
    observer = Observer(bench.plan, bench.journal, bench.executor())
    views = wait(observer, PollPolicy(), lambda _: None)
    assert {v.state for v in views} <= {RunState.CANCELLED, RunState.LOST}, views
    results = observer.results()
    assert all(r.exit_code is None and r.state != RunState.COMPLETED for r in results.values())


def test_a_lane_line_cut_off_mid_write_never_joins_the_next_lane_files_first_line(
    tmp_path: Path,
) -> None:
    """A job killed at its time limit: lane 0's last write was cut off after "1" (task
    "1"), and lane 1's first task "0" exited 0.  Read with one cat, "1" + "0 0 ..." was a
    line for task "10", which never ran (and task "0" lost its result)."""
    c = config()
    c["batching_config"].update(target_num_jobs=1, max_num_jobs=1)
    ids = ["1", "0", "10", "2"]
    bench = Bench(tmp_path, "local", 1)
    listed = {"name": "n", "tasks": [{"id": i, "command": ["true"]} for i in ids]}
    bench.plan = compile_plan(c, profile(str(tmp_path / "project")), listed)
    bench.slurm = FakeSlurm(bench.plan)
    os.makedirs(os.path.dirname(bench.plan.jobs[0].script_path), exist_ok=True)
    bench.submit()
    (job_id,) = bench.ids().values()
    job = bench.slurm.jobs[job_id]
    job.timeline = ["TIMEOUT"]
    lanes = ["1", f"0 0 {job_id} 1000 1007\n", "", ""]
    for path, lines in zip(bench.plan.jobs[0].lane_status_paths, lanes, strict=True):
        bench.slurm.files[path] = lane_file(0, job_id, job.name, lines)
    observer = Observer(bench.plan, bench.journal, bench.executor())
    wait(observer, PollPolicy(), lambda _: None)
    results = observer.results()
    assert (results["0"].state, results["0"].exit_code) == (RunState.COMPLETED, 0)
    assert {(results[t].state, results[t].exit_code) for t in ("1", "10", "2")} == {
        (RunState.TIMEOUT, None)
    }


def test_a_run_whose_journal_now_holds_another_run_says_so_rather_than_mix_them(
    tmp_path: Path,
) -> None:
    """A Run watched run 1 (job 0 settled COMPLETED); its journal was removed and the plan
    submitted again on the same path.  Its next poll said run 2's id with run 1's job 0
    and run 2's job 1: `succeeded` though run 2's job 0 failed.  It now refuses; a new Run
    says run 2's truth."""
    bench = Bench(tmp_path, "local", 2)
    watcher = slurmplan.Run(bench.plan, bench.journal, executor=bench.executor())
    watcher.submit()
    first = bench.ids()
    bench.slurm.jobs[first[0]].timeline = ["COMPLETED"]
    bench.slurm.jobs[first[1]].timeline = ["RUNNING"]
    _finish(bench, 0, [0])
    assert [v.settled for v in watcher.poll().jobs] == [True, False]
    bench.slurm.jobs[first[1]].timeline = [None]  # cancelled by hand, forgotten
    os.unlink(bench.journal)
    slurmplan.Run(bench.plan, bench.journal, executor=bench.executor()).submit()
    second = bench.ids()
    bench.slurm.jobs[second[0]].timeline = ["FAILED"]
    bench.slurm.jobs[second[1]].timeline = ["COMPLETED"]
    _finish(bench, 0, [1])
    _finish(bench, 1, [0])
    with pytest.raises(slurmplan.SlurmplanError, match=r"holds run [0-9a-f]{8}, not run"):
        watcher.wait(timeout=600)
    snap = slurmplan.Run(bench.plan, bench.journal, executor=bench.executor()).wait(timeout=600)
    assert [v.job_id for v in snap.jobs] == [second[0], second[1]]
    assert snap.done and not snap.succeeded
    os.unlink(bench.journal)
    with pytest.raises(slurmplan.SlurmplanError, match="is gone or empty"):
        watcher.poll()


@pytest.mark.parametrize("foreign", ["RUNNING", "COMPLETED"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_job_id_slurm_gave_to_another_job_is_not_this_runs_job(
    tmp_path: Path, transport: str, foreign: str
) -> None:
    """Slurm numbers jobs again after its saved state is lost, or past MaxJobId: squeue
    and scontrol of this run's job id then show another job, under another name.  Its
    state is not this run's job's (review adv3: a RUNNING stranger kept `wait` waiting
    on it, a COMPLETED one settled this run's job COMPLETED): this run's job is gone
    from Slurm without a marker, LOST."""
    bench = Bench(tmp_path, transport, 2)
    bench.submit()
    ids = bench.ids()
    bench.slurm.jobs[ids[0]].timeline = ["RUNNING"]  # job 0 is this run's, still running
    bench.slurm.jobs[ids[1]] = FakeJob(ids[1], "someone.elses.job", [foreign])
    snap = slurmplan.Run(bench.plan, bench.journal, executor=bench.executor()).poll()
    assert [(v.state, v.settled) for v in snap.jobs] == [
        (RunState.RUNNING, False),
        (RunState.LOST, True),
    ], snap.jobs
    (task,) = bench.plan.jobs[1].tasks
    assert snap.tasks[task].state == RunState.LOST
