"""wait's answer stays true to the journal (review round 2, tests/test_adv2_concurrency.py):
a job refused and then sent by a later submit is looked at again, a job a cancelled run
never submitted is settled CANCELLED, and a cancelled wait_async stops polling."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest
from fake_slurm import ACCEPT, CRASH_BEFORE_SBATCH, FATAL, Crash
from test_effects_with_fake_slurm import Bench, Cli, _finish, end_jobs

import slurmplan
from slurmplan.compiler.runtime.commands import task_outputs
from slurmplan.compiler.runtime.retry import PollPolicy
from slurmplan.effects.errors import ExecutionError

NEVER_SENT = "the run was cancelled before this job was submitted"


def test_a_run_that_saw_a_job_refused_sees_it_again_once_a_later_submit_sent_it(
    tmp_path: Path,
) -> None:
    bench = Bench(tmp_path, "local", 2)
    run = slurmplan.Run(bench.plan, bench.journal, executor=bench.executor())
    bench.slurm.replies = [ACCEPT, FATAL]
    with pytest.raises(ExecutionError, match="Invalid partition"):
        run.submit()
    first = run.poll()
    assert (first.jobs[1].state, first.jobs[1].settled) == ("REFUSED", True)
    assert first.tasks["t1"].state == "REFUSED"
    assert run.submit().submitted == 1  # docs: a later submit tries a refused job again
    job_id = bench.ids()[1]
    snap = run.poll()
    assert (snap.jobs[1].job_id, snap.jobs[1].state) == (job_id, "PENDING")
    assert not snap.done and snap.tasks["t1"].state == "PENDING"
    assert first.tasks["t1"].state == "REFUSED"  # an earlier snapshot stays what it was
    end_jobs(bench)
    snap = run.wait(timeout=600)
    assert snap.done and snap.succeeded, snap.jobs
    assert (snap.tasks["t1"].job_id, snap.tasks["t1"].exit_code) == (job_id, 0)


def test_cli_wait_running_while_a_refused_job_is_resubmitted_reports_its_real_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = Bench(tmp_path, "local", 2)
    bench.slurm.replies = [ACCEPT, FATAL]
    with pytest.raises(ExecutionError):
        bench.submit()
    bench.slurm.jobs[bench.ids()[0]].timeline = ["RUNNING", "RUNNING", "COMPLETED"]
    cli = Cli(bench, monkeypatch, capsys)
    resubmitted: list[bool] = []
    real_sleep = bench.clock.sleep

    def sleep(seconds: float) -> None:  # between wait's polls another shell resubmits
        real_sleep(seconds)
        if not resubmitted:
            resubmitted.append(True)
            bench.submit()
            end_jobs(bench, [1])
            _finish(bench, 0, [0])

    bench.clock.sleep = sleep  # type: ignore[method-assign]
    code, out, err = cli("wait")
    assert resubmitted
    assert code == 0, (code, out, err)
    assert "2/2 tasks succeeded" in out


def test_wait_on_a_run_cancelled_part_way_through_submit_settles_the_jobs_never_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """submit stopped after job 0, then cancel: jobs 1 and 2 will never run (submit
    refuses a cancelled plan), so wait answers rather than asking for a submit."""
    bench = Bench(tmp_path, "local", 3)
    cli = Cli(bench, monkeypatch, capsys)
    bench.slurm.replies = [ACCEPT, CRASH_BEFORE_SBATCH]
    with pytest.raises(Crash):
        bench.submit()
    code, out, _ = cli("cancel")
    assert code == 0 and "cancelled 1 job(s)" in out
    code, out, err = cli("wait")
    assert code == 1, (code, out, err)
    assert "0/3 tasks succeeded" in out
    assert f"task t2: CANCELLED (job 2: {NEVER_SENT})" in err
    code, out, _ = cli("status", "--json")
    jobs = json.loads(out)["jobs"]
    assert [(j["state"], j["settled"]) for j in jobs] == [("CANCELLED", True)] * 3
    assert [j["job_id"] for j in jobs][1:] == [None, None]
    assert [j["reason"] for j in jobs] == [None, NEVER_SENT, NEVER_SENT]
    code, out, _ = cli("collect", "--json")
    t2 = json.loads(out)["tasks"]["t2"]
    assert (t2["state"], t2["exit_code"], t2["job_id"]) == ("CANCELLED", None, "")
    assert t2["reason"] == NEVER_SENT


def test_a_cancelled_wait_async_stops_polling(tmp_path: Path) -> None:
    """Cancelling the awaiting task (here wait_for's timeout) stops wait's worker thread:
    no squeue after it, and the thread ends (asyncio.run joins it at exit)."""
    bench = Bench(tmp_path, "local", 1)
    run = slurmplan.Run(
        bench.plan, bench.journal, runner=bench.slurm, poll=PollPolicy(first=0.02, max=0.02)
    )
    run.submit()
    before = set(threading.enumerate())

    async def main() -> None:
        with pytest.raises((asyncio.TimeoutError, TimeoutError)):
            await asyncio.wait_for(run.wait_async(), 0.2)

    # asyncio.run joins wait's worker thread at exit: in a thread of its own, so that a
    # worker that never stops fails the test rather than hanging it.
    loop = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    loop.start()
    loop.join(5)
    try:
        assert not loop.is_alive(), "asyncio.run still waits for wait's worker thread"
        polled = len(bench.slurm.named("squeue"))
        assert polled > 1
        time.sleep(0.2)
        assert len(bench.slurm.named("squeue")) == polled, "still polling after cancellation"
        assert set(threading.enumerate()) <= before
    finally:
        run.cancel()  # an unstopped worker sees its job CANCELLED and returns


def test_read_of_a_task_a_later_submit_sent_after_this_run_saw_it_refused_reads_its_log(
    tmp_path: Path,
) -> None:
    """read() looks at the journal again (a local file, no command): a job this Run saw
    REFUSED that another submit has since sent and that ended is read, not NotEnded."""
    bench = Bench(tmp_path, "local", 2)
    run = slurmplan.Run(bench.plan, bench.journal, executor=bench.executor())
    bench.slurm.replies = [ACCEPT, FATAL]
    with pytest.raises(ExecutionError, match="Invalid partition"):
        run.submit()
    assert run.poll().tasks["t1"].state == "REFUSED"
    bench.submit()  # another process: the refused job is sent, and it ends
    end_jobs(bench, [1])
    _finish(bench, 1, [0])
    stdout, _ = task_outputs(bench.plan, "t1")
    bench.slurm.files[stdout] = "t1 ran\n"
    assert run.read("t1") == b"t1 ran\n"
