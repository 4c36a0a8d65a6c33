"""The public API, `import slurmplan` (README, "As a library"): Run's submit, poll, wait,
wait_async, cancel from another thread and read, against the fake Slurm of
tests/fake_slurm.py on every transport."""

from __future__ import annotations

import asyncio
import io
import posixpath
import shlex
import tarfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from fake_slurm import FakeSlurm, in_pieces
from test_effects_with_fake_slurm import TRANSPORTS, Bench, Cli, _finish, end_jobs

import slurmplan
from slurmplan.compiler.runtime.retry import PollPolicy
from slurmplan.effects.execute import Completed, Sink


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
    assert bench.clock.slept == [5.0, 5.0, 2.0]  # the last poll at the timeout


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
    bench.slurm.files[stderr] = "an earlier run's\n"
    with pytest.raises(slurmplan.NotEnded, match=r"task t0 has not ended in this run \(PENDING\)"):
        run.read("t0", "stderr")  # the file may be an earlier run's: not read
    assert ("cat", "--", stderr) not in bench.slurm.named("cat")
    end_jobs(bench)
    bench.slurm.files[stderr] = "line one\nline two\n"
    assert run.read("t0", "stderr") == b"line one\nline two\n"
    commands = len(bench.slurm.commands)
    assert run.read("t0", "stderr", limit=4) == b"line"
    lanes = bench.plan.jobs[0].lane_status_paths
    # settled: no squeue; the lane file read again (a later run may have rewritten it)
    assert bench.slurm.commands[commands:] == [("cat", "--", *lanes), ("cat", "--", stderr)]
    assert bench.slurm.named("cat")[-1] == ("cat", "--", stderr)  # as the user, through it
    with pytest.raises(KeyError, match="no task 'nope'"):
        run.read("nope")
    with pytest.raises(ValueError, match="stream must be one of stdout, stderr"):
        run.read("t0", "stdin")
    with pytest.raises(slurmplan.ExecutionError, match="No such file"):
        run.read("t0", "stdout")  # never written: cat says so


class TarOnTheCluster:
    """The fake Slurm, plus the `tar -c ... -C DIR --null -T -` fetch runs over ssh:
    the named files of its in-memory file system as a tar stream (missing ones left out
    with a warning, as --ignore-failed-read does)."""

    def __init__(self, slurm: FakeSlurm) -> None:
        self.slurm = slurm
        self.tars: list[tuple[str, ...]] = []

    def __call__(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        timeout: float = 300.0,
        umask: int | None = None,
        sink: Sink | None = None,
    ) -> Completed:
        remote = shlex.split(argv[-1]) if argv[0] == "ssh" else list(argv)
        if remote[0] != "tar" or "-c" not in remote:
            return self.slurm(argv, stdin=stdin, timeout=timeout, umask=umask, sink=sink)
        self.tars.append(tuple(argv))
        folder = remote[remote.index("-C") + 1]
        buffer, warnings = io.BytesIO(), ""
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name in filter(None, (stdin or b"").decode().split("\0")):
                text = self.slurm.files.get(posixpath.join(folder, name))
                if text is None:
                    warnings += f"tar: {name}: Warning: Cannot stat: No such file or directory\n"
                    continue
                info = tarfile.TarInfo(name)
                info.size = len(text.encode())
                tar.addfile(info, io.BytesIO(text.encode()))
        data = buffer.getvalue()
        done = Completed(tuple(argv), 0, data.decode("latin-1"), warnings, data=data)
        return done if sink is None else in_pieces(done, sink)


def _outputs(bench: Bench, tasks: Sequence[str], local: bool) -> None:
    """Each task's stdout and stderr, where the fake cluster (or, locally, the disk) has them."""
    for task in tasks:
        for ext in ("out", "err"):
            path = f"{bench.plan.workdir}/tasks/{task}.{ext}"
            if local:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                Path(path).write_text(f"{task} {ext}\n")
            else:
                bench.slurm.files[path] = f"{task} {ext}\n"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_fetch_brings_every_tasks_stdout_and_stderr_home(tmp_path: Path, transport: str) -> None:
    bench = Bench(tmp_path, transport, 3)
    runner = TarOnTheCluster(bench.slurm)
    run = slurmplan.Run(bench.plan, bench.journal, runner=runner)
    run.submit()
    end_jobs(bench, [0, 1, 2])
    _outputs(bench, ["t0", "t1", "t2"], local=transport == "local")
    run.poll()  # what fetch's own poll runs is not counted below
    before = len(bench.slurm.commands) + 2  # nor its ls and cat of the lane files
    fetched = run.fetch(tmp_path / "home")
    assert [c[0] for c in bench.slurm.commands[before - 2 : before]] == ["ls", "cat"]
    assert len(fetched) == 6
    for remote, local in fetched.items():
        assert local == tmp_path / "home" / "tasks" / Path(remote).name
        task, ext = Path(remote).stem, Path(remote).suffix[1:]
        assert local.read_text() == f"{task} {ext}\n"
    commands = len(bench.slurm.commands) - before
    if transport == "ssh":
        assert len(runner.tars) == 1 and commands == 0  # one tar stream for every file
    elif transport == "sudo":
        # one cat as the user for the 6 files (compiler/runtime/cat_batches.py)
        assert commands == 1 and bench.slurm.commands[before][0] == "cat"
    else:
        assert commands == 0  # copied


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_fetch_reports_missing_files_per_task_after_fetching_the_rest(
    tmp_path: Path, transport: str
) -> None:
    bench = Bench(tmp_path, transport, 3)
    run = slurmplan.Run(bench.plan, bench.journal, runner=TarOnTheCluster(bench.slurm))
    run.submit()
    end_jobs(bench, [0, 1, 2])
    _outputs(bench, ["t0", "t2"], local=transport == "local")
    with pytest.raises(slurmplan.FetchIncomplete) as caught:
        run.fetch(tmp_path / "home", ["t0", "t1", "t2"])
    assert set(caught.value.missing) == {"t1"} and caught.value.not_ended == {}
    assert sorted(Path(p).name for p in caught.value.missing["t1"]) == ["t1.err", "t1.out"]
    assert sorted(p.name for p in caught.value.fetched.values()) == [
        "t0.err", "t0.out", "t2.err", "t2.out",
    ]  # fmt: skip
    assert all(p.exists() for p in caught.value.fetched.values())
    with pytest.raises(ValueError, match="no task 'nope'"):
        run.fetch(tmp_path / "home", ["nope"])


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_fetch_leaves_out_tasks_that_did_not_end_in_this_run(
    tmp_path: Path, transport: str
) -> None:
    """The workdir is shared by every run of a plan: t1's and t2's logs on the cluster are
    an earlier run's (t1's job is still pending in this run; t2's job was cancelled before
    it started), and must not come home as this run's.  Before, fetch copied them."""
    bench = Bench(tmp_path, transport, 3)
    runner = TarOnTheCluster(bench.slurm)
    run = slurmplan.Run(bench.plan, bench.journal, runner=runner)
    run.submit()
    end_jobs(bench, [0])
    bench.slurm.jobs[bench.ids()[2]].timeline = ["CANCELLED"]
    _outputs(bench, ["t0", "t1", "t2"], local=transport == "local")  # t1, t2: stale
    with pytest.raises(slurmplan.FetchIncomplete) as caught:
        run.fetch(tmp_path / "home")
    assert caught.value.not_ended == {"t1": "PENDING", "t2": "CANCELLED"}
    assert caught.value.missing == {}
    assert sorted(p.name for p in caught.value.fetched.values()) == ["t0.err", "t0.out"]
    assert sorted(p.name for p in (tmp_path / "home" / "tasks").iterdir()) == [
        "t0.err", "t0.out",
    ]  # fmt: skip
    assert "2 task(s) did not end in this run" in str(caught.value)
    before, tars = len(bench.slurm.commands), len(runner.tars)
    with pytest.raises(slurmplan.FetchIncomplete) as caught:
        run.fetch(tmp_path / "again", ["t1", "t2"])  # none ended: no command reads a file
    assert caught.value.fetched == {} and set(caught.value.not_ended) == {"t1", "t2"}
    # job 1 polled; job 2's lane files looked for again (none): no cat, no tar
    assert [c[0] for c in bench.slurm.commands[before:]] in (["ls"], ["squeue", "ls"])
    assert len(runner.tars) == tars
    assert not (tmp_path / "again").exists()


# -- the command line on the same API --------------------------------------------


def test_slurmplan_fetch_copies_and_names_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = Bench(tmp_path, "local", 2)
    cli = Cli(bench, monkeypatch, capsys)
    assert cli("submit")[0] == 0
    end_jobs(bench, [0, 1])
    _outputs(bench, ["t0"], local=True)
    code, out, err = cli("fetch", str(tmp_path / "home"), "--task", "t0")
    assert (code, out) == (0, f"fetched 2 file(s) into {tmp_path / 'home'}\n")
    assert (tmp_path / "home/tasks/t0.err").read_text() == "t0 err\n"
    code, out, err = cli("fetch", str(tmp_path / "home"))
    assert code == 1 and "2 missing" in out
    assert f"task t1: not on the cluster: {bench.plan.workdir}/tasks/t1.out" in err


def test_slurmplan_fetch_names_the_tasks_that_did_not_end_in_this_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = Bench(tmp_path, "local", 2)
    cli = Cli(bench, monkeypatch, capsys)
    assert cli("submit")[0] == 0
    end_jobs(bench, [0])
    _outputs(bench, ["t0", "t1"], local=True)  # t1's are an earlier run's
    code, out, err = cli("fetch", str(tmp_path / "home"))
    assert code == 1
    assert out == f"fetched 2 file(s) into {tmp_path / 'home'}; 1 task(s) did not end in this run\n"
    assert "task t1: did not end in this run (PENDING): nothing fetched" in err
    assert not (tmp_path / "home/tasks/t1.out").exists()
    code, _, err = cli("fetch", str(tmp_path / "home"), "--task", "nope")
    assert code == 2 and "no task 'nope'" in err


@pytest.mark.parametrize("cancel_on_interrupt", [False, True])
def test_wait_interrupted_cancels_only_when_asked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cancel_on_interrupt: bool,
) -> None:
    bench = Bench(tmp_path, "local", 2)
    cli = Cli(bench, monkeypatch, capsys)
    assert cli("submit")[0] == 0

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt  # Ctrl-C while wait sleeps between polls

    monkeypatch.setattr(bench.clock, "sleep", interrupted)
    options = ["--cancel-on-interrupt"] if cancel_on_interrupt else []
    code, _, err = cli("wait", *options)
    assert code == 130
    states = {job.state for job in bench.slurm.jobs.values()}
    if cancel_on_interrupt:
        assert "cancelled 2 job(s)" in err and states == {"CANCELLED"}
    else:
        assert "nothing was cancelled" in err and "slurmplan cancel" in err
        assert states == {"PENDING"}


def test_an_executor_and_the_parts_of_one_are_not_given_together(tmp_path: Path) -> None:
    bench = Bench(tmp_path, "local", 1)
    with pytest.raises(ValueError, match="either an executor, or retry/runner"):
        slurmplan.Run(bench.plan, bench.journal, executor=bench.executor(), runner=bench.slurm)


def test_one_poll_of_ended_jobs_lists_the_workdir_once(tmp_path: Path) -> None:
    bench = Bench(tmp_path, "local", 3)
    run = _run(bench)
    run.submit()
    for job, job_id in bench.ids().items():
        bench.slurm.jobs[job_id].timeline = [None]  # ended and aged out of squeue
        _finish(bench, job, [0])
    before = len(bench.slurm.commands)
    snap = run.poll()
    assert snap.done and snap.succeeded
    programs = [c[0] for c in bench.slurm.commands[before:]]
    assert programs == ["squeue", "ls", "cat", "cat"]  # markers, then the lane files
    again = len(bench.slurm.commands)
    assert run.poll().tasks == snap.tasks  # settled is final:
    assert len(bench.slurm.commands) == again  # nothing asked, nothing read again
