"""Runs of one plan never take each other's jobs or results (docs/effects.md, "Runs").

Issue 8, observations 1 and 2, reproduced against the fake Slurm: a second run of
a finished plan (a new journal, in the same workdir) whose jobs are cancelled before
they start must not report the first run's results; a cut-off intent of the second
run must not be bound to the first run's job of the same plan job.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_slurm import CRASH_BEFORE_SBATCH, TRANSIENT_BUT_CREATED, Crash
from test_effects_with_fake_slurm import TRANSPORTS, Bench, _finish

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
