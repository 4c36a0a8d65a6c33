"""compiler.runtime.rounds.round_result and the queue room (compiler.runtime.resume):
what `submit` does after a round's command, and when it counts the queue again."""

from __future__ import annotations

import pytest
from sample_inputs import one_task_per_job_config, profile, tasks

from slurmplan.compiler import Plan, SubmitStep, compile_plan
from slurmplan.compiler.runtime.resume import needs_queue_count, room_after
from slurmplan.compiler.runtime.retry import Verdict, classify
from slurmplan.compiler.runtime.rounds import RoundResult, SubmitRound, next_round, round_result
from slurmplan.compiler.slurm.parsers import Submitted

FATAL, TRANSIENT = Verdict.FATAL, Verdict.TRANSIENT


def _round(transport: str, n_jobs: int) -> SubmitRound:
    extra: dict[str, object] = {"transport": transport}
    if transport == "ssh":
        extra["ssh"] = {"host": "login", "key_path": "/k", "known_hosts_path": "/kh"}
    plan: Plan = compile_plan(one_task_per_job_config(n_jobs), profile(**extra), tasks(n_jobs))
    steps = [s for s in plan.steps if isinstance(s, SubmitStep)]
    return next_round(plan, steps, None, "5f2a9c1e")


def _result(
    submitted: tuple[tuple[int, Submitted], ...] = (),
    refused: int | None = None,
    bad_output: str | None = None,
    failed: bool = False,
) -> RoundResult:
    return RoundResult(
        submitted=submitted,
        refused=refused,
        bad_output=bad_output,
        progress=bool(submitted),
        failed=failed,
    )


def test_one_job_submitted_is_progress() -> None:
    one = _round("local", 1)
    assert round_result(one, 0, "42\n", None) == _result(
        ((0, Submitted(job_id="42", cluster=None)),)
    )


def test_one_job_refused_for_good_or_failing_transiently() -> None:
    one = _round("local", 1)
    assert round_result(one, 1, "", FATAL) == _result(refused=0, failed=True)
    assert round_result(one, 1, "", TRANSIENT) == _result(failed=True)  # may exist: look up
    assert round_result(one, None, "", TRANSIENT) == _result(failed=True)  # timed out


def test_a_killed_sbatch_refuses_nothing_on_any_transport() -> None:
    # its job may be in Slurm: it stays an intent, looked up by this run's name
    one = _round("local", 1)
    for exit_code in (-9, None):
        verdict = classify(one.argv, exit_code, "")
        assert round_result(one, exit_code, "", verdict) == _result(failed=True)
    chain = _round("ssh", 3)
    result = round_result(chain, 137, ":locked\n7\n:0\n", classify(chain.argv, 137, ""))
    assert result == _result(((0, Submitted(job_id="7", cluster=None)),), failed=True)


def test_output_that_is_not_an_id_is_bad_output_only_when_the_command_succeeded() -> None:
    one = _round("local", 1)
    bad = round_result(one, 0, "Submitted batch job 42\n", None)
    assert bad.bad_output is not None and "expected '<job id>[;<cluster>]'" in bad.bad_output
    assert (bad.submitted, bad.refused, bad.progress, bad.failed) == ((), None, False, False)


def test_an_ssh_round_that_stops_at_a_fatal_sbatch_refuses_that_job_only() -> None:
    chain = _round("ssh", 3)
    result = round_result(chain, 1, ":locked\n7\n:0\n", FATAL)
    assert result == _result(((0, Submitted(job_id="7", cluster=None)),), refused=1, failed=True)
    # ssh itself failed (255): nobody knows which jobs ran, so none is refused
    assert round_result(chain, 255, ":locked\n7\n:0\n", TRANSIENT).refused is None


@pytest.mark.parametrize(
    ("exit_code", "stderr"),
    [
        (127, "bash: line 1: flock: command not found\n"),  # flock missing on the cluster
        (66, "flock: cannot open lock file .slurmplan-x.lock: Permission denied\n"),
        (255, "ssh: connect to host login port 22: Connection refused\n"),
        (None, ""),  # timed out waiting for the lock
    ],
)
def test_an_ssh_round_that_never_took_the_cluster_lock_refuses_nothing(
    exit_code: int | None, stderr: str
) -> None:
    # no `:locked` line: no sbatch ran, so none failed; the jobs stay intents
    chain = _round("ssh", 2)
    verdict = classify(chain.argv, exit_code, stderr)
    assert round_result(chain, exit_code, "", verdict) == _result(failed=True)


def test_an_ssh_round_with_a_missing_id_is_bad_output() -> None:
    chain = _round("ssh", 2)
    result = round_result(chain, 0, ":locked\n7\n:0\n", None)
    assert result.bad_output == "1 of 2 jobs printed no id"
    assert result.progress and not result.failed


@pytest.mark.parametrize(
    ("limit", "room", "count"),
    [(None, None, False), (None, 0, False), (5, None, True), (5, 0, True), (5, 2, False)],
)
def test_the_queue_is_counted_with_a_limit_and_no_room_left(
    limit: int | None, room: int | None, count: bool
) -> None:
    assert needs_queue_count(limit, room) is count


def test_each_submitted_job_takes_one_place_of_room() -> None:
    assert room_after(3, 2) == 1
    assert room_after(1, 1) == 0
    assert room_after(None, 5) is None
