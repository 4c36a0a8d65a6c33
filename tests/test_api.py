"""The public API, `import slurmplan` (README, "As a library"): Run's submit, poll, wait,
wait_async, cancel from another thread and read, against the fake Slurm of
tests/fake_slurm.py on every transport."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from test_effects_with_fake_slurm import TRANSPORTS, Bench, _finish

import slurmplan
from compiler.runtime.retry import PollPolicy


def _run(bench: Bench) -> slurmplan.Run:
    return slurmplan.Run(bench.plan, bench.journal, executor=bench.executor())


def test_the_api_is_exactly_what_all_names() -> None:
    for name in slurmplan.__all__:
        assert getattr(slurmplan, name) is not None
    assert issubclass(slurmplan.CompileError, slurmplan.SlurmplanError)
    assert issubclass(slurmplan.ExecutionError, slurmplan.SlurmplanError)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_submit_poll_wait_as_a_library(tmp_path: Path, transport: str) -> None:
    bench = Bench(tmp_path, transport, 2)
    run = _run(bench)
    assert run.run_id is None  # nothing submitted yet
    report = run.submit()
    assert (report.submitted, report.total) == (2, 2)
    assert run.submit().already == 2  # resumable: nothing twice
    ids = bench.ids()
    first = run.poll()
    assert first.run == run.run_id and not first.done
    assert {t: r.state for t, r in first.tasks.items()} == {"t0": "PENDING", "t1": "PENDING"}

    bench.slurm.jobs[ids[0]].timeline = ["RUNNING", "COMPLETED"]
    bench.slurm.jobs[ids[1]].timeline = ["RUNNING", "FAILED"]
    _finish(bench, 0, [0])
    _finish(bench, 1, [3])
    seen: list[slurmplan.Snapshot] = []
    snap = run.wait(timeout=600, on_change=seen.append)
    assert snap.done and not snap.succeeded
    t0, t1 = snap.tasks["t0"], snap.tasks["t1"]
    assert (t0.state, t0.exit_code, t0.job_id) == ("COMPLETED", 0, ids[0])
    assert (t1.state, t1.exit_code) == ("FAILED", 3)
    assert (t0.started, t0.ended, t0.seconds) == (1000, 1007, 7)
    assert t0.stdout.endswith("/tasks/t0.out") and t1.stderr.endswith("/tasks/t1.err")
    assert seen[0].tasks["t0"].state == "RUNNING" and seen[-1].done


def test_wait_returns_the_last_snapshot_at_its_timeout(tmp_path: Path) -> None:
    bench = Bench(tmp_path, "local", 1)
    run = slurmplan.Run(
        bench.plan, bench.journal, executor=bench.executor(), poll=PollPolicy(first=5, max=5)
    )
    run.submit()
    snap = run.wait(timeout=12)
    assert not snap.done and snap.tasks["t0"].state == "PENDING"
    assert bench.clock.slept == [5.0, 5.0]


def test_wait_async_leaves_the_event_loop_free(tmp_path: Path) -> None:
    bench = Bench(tmp_path, "local", 1)
    run = _run(bench)
    run.submit()
    (job_id,) = bench.ids().values()
    bench.slurm.jobs[job_id].timeline = ["RUNNING", "COMPLETED"]
    _finish(bench, 0, [0])

    async def main() -> tuple[slurmplan.Snapshot, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        snap = await run.wait_async(timeout=600)
        task.cancel()
        return snap, ticks

    snap, ticks = asyncio.run(main())
    assert snap.done and snap.tasks["t0"].state == "COMPLETED"
    assert ticks > 0  # the loop ran while wait polled in its thread


def test_cancel_from_another_thread_wakes_wait_with_the_cancelled_states(
    tmp_path: Path,
) -> None:
    bench = Bench(tmp_path, "local", 2)
    # The Run's own sleep (which cancel() wakes), a long poll interval, the fake Slurm.
    run = slurmplan.Run(
        bench.plan, bench.journal, runner=bench.slurm, poll=PollPolicy(first=30, max=30)
    )
    run.submit()
    result: list[slurmplan.Snapshot] = []
    waiter = threading.Thread(target=lambda: result.append(run.wait(timeout=600)))
    start = time.monotonic()
    waiter.start()
    while bench.slurm.named("squeue") == [] or len(bench.slurm.named("squeue")) < 2:
        time.sleep(0.01)  # wait() polled once and sleeps its 30 s
    cancelled = run.cancel()
    waiter.join(timeout=20)
    assert not waiter.is_alive(), "wait() did not return after cancel()"
    assert time.monotonic() - start < 20  # well before its 30 s poll interval
    (snap,) = result
    assert sorted(cancelled) == sorted(bench.ids().values())
    assert snap.done and {t.state for t in snap.tasks.values()} == {"CANCELLED"}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_read_returns_a_tasks_output_as_bytes_through_the_transport(
    tmp_path: Path, transport: str
) -> None:
    bench = Bench(tmp_path, transport, 1)
    run = _run(bench)
    run.submit()
    stderr = bench.plan.workdir + "/tasks/t0.err"
    bench.slurm.files[stderr] = "line one\nline two\n"
    assert run.read("t0", "stderr") == b"line one\nline two\n"
    assert run.read("t0", "stderr", limit=4) == b"line"
    cats = bench.slurm.named("cat")
    assert cats[-2:] == [("cat", "--", stderr)] * 2  # as the user, through the transport
    with pytest.raises(KeyError, match="no task 'nope'"):
        run.read("nope")
    with pytest.raises(ValueError, match="stream must be one of stdout, stderr"):
        run.read("t0", "stdin")
    with pytest.raises(slurmplan.ExecutionError, match="No such file"):
        run.read("t0", "stdout")  # never written: cat says so
