"""An sbatch killed before it answered: by a signal here (subprocess's -9), on the login node
under ssh's remote `sh -c` (the shell's 128 + 9 = 137), or at the runner's time limit (None).
Slurm may have taken the job, so its outcome is unknown: the job stays an intent, looked up
by this run's name before it is sent again, and is never journaled `refused` (a later
`submit` would send a refused job again: twice in Slurm).  Against the fake Slurm."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_slurm import Reply
from test_effects_with_fake_slurm import Bench

from slurmplan.compiler.slurm.states import RunState
from slurmplan.effects.errors import ExecutionError
from slurmplan.effects.journal import read_state
from slurmplan.effects.observe import Observer

KILLED = [
    ("local", -9),
    ("local", None),
    ("sudo", -9),  # sudo kills itself with its command's signal
    ("sudo", None),
    ("ssh", 137),  # the remote `sh -c` of the round: 128 + SIGKILL
    ("ssh", -9),  # ssh itself killed here
    ("ssh", None),
]


def _killed(exit_code: int | None, *, created: bool = True) -> Reply:
    return Reply(exit_code=exit_code, stdout="", stderr="", creates_job=created)


@pytest.mark.parametrize(("transport", "exit_code"), KILLED)
def test_a_job_whose_sbatch_was_killed_after_slurm_took_it_is_found_not_sent_again(
    tmp_path: Path, transport: str, exit_code: int | None
) -> None:
    bench = Bench(tmp_path, transport, 2)
    bench.slurm.replies = [_killed(exit_code)]  # job 0 was created; sbatch never said so
    report = bench.submit()
    assert "refused" not in [event["event"] for event in bench.events()]
    assert (report.found, report.submitted) == (1, 1)
    assert [bench.copies(j) for j in range(2)] == [1, 1]
    (job_0,) = bench.slurm.jobs_of(bench.plan.jobs[0].name)
    assert bench.ids()[0] == job_0.job_id
    assert bench.clock.slept == [1.0]  # the back-off, then a look-up by name
    bench.submit()  # and a later submit sends nothing
    assert len(bench.slurm.jobs) == 2


@pytest.mark.parametrize(("transport", "exit_code"), KILLED)
def test_a_killed_sbatch_whose_job_never_reached_slurm_is_sent_again_once(
    tmp_path: Path, transport: str, exit_code: int | None
) -> None:
    bench = Bench(tmp_path, transport, 2)
    bench.slurm.replies = [_killed(exit_code, created=False)]
    report = bench.submit()
    assert "refused" not in [event["event"] for event in bench.events()]
    assert (report.found, report.submitted) == (0, 2)
    assert [bench.copies(j) for j in range(2)] == [1, 1]


def test_without_retries_the_killed_job_stays_an_intent_shown_not_submitted_then_is_found(
    tmp_path: Path,
) -> None:
    bench = Bench(tmp_path, "local", 1)
    bench.slurm.replies = [_killed(-9)]
    with pytest.raises(ExecutionError):
        bench.submit(retries=0)
    state = read_state(bench.journal, bench.plan)
    assert (state.cut_off, dict(state.refused)) == ({0}, {})
    (created,) = bench.slurm.jobs.values()
    created.timeline = ["COMPLETED"]  # it ran, to the end
    (view,) = Observer(bench.plan, bench.journal, bench.executor()).observe()
    assert view.state is RunState.NOT_SUBMITTED  # not REFUSED: sbatch said nothing
    report = bench.submit(retries=0)
    assert (report.found, report.submitted) == (1, 0)
    assert len(bench.slurm.jobs) == 1 and bench.ids() == {0: created.job_id}
