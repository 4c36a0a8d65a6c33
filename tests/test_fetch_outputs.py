"""Run.fetch brings tasks' output files home (issue 10): on every transport against the
fake Slurm (tests/fake_slurm.py), a missing output reported for its task, and nothing
the user can plant in the workdir (a link, a FIFO, a folder) read or written outside."""

from __future__ import annotations

import dataclasses
import io
import os
import resource
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest
from fake_slurm import FakeSlurm, in_pieces, lane_file
from sample_inputs import config, one_task_per_job_config, profile, tasks
from test_api import TarOnTheCluster
from test_effects_with_fake_slurm import SSH, TRANSPORTS, Bench, Cli, end_jobs

import slurmplan
from slurmplan.compiler.runtime import cat_batches
from slurmplan.compiler.runtime.fetch import (
    changed_while_read,
    spoiled_by_change,
    tar_argv,
    wanted_files,
)
from slurmplan.compiler.runtime.retry import RetryPolicy
from slurmplan.effects import fetch_sudo
from slurmplan.effects.execute import Completed, Runner
from slurmplan.effects.fetch_writer import Writer
from slurmplan.effects.open_folders import OPEN_FOLDERS

RESULT = '{"value": 42, "text": "ü\\n"}\n'


def _bench(tmp_path: Path, transport: str, task_list: dict[str, Any] | None = None) -> Bench:
    """A task a job.  By default three: t0 names result.json and sub/data.txt, t1 names
    absent.json (which it never writes), t2 names none."""
    if task_list is None:
        task_list = tasks(3)
        task_list["tasks"][0]["outputs"] = ["result.json", "sub/data.txt"]
        task_list["tasks"][1]["outputs"] = ["absent.json"]
    n = len(task_list["tasks"])
    bench = Bench(tmp_path, transport, n)
    extra: dict[str, Any] = {"transport": transport}
    if transport == "ssh":
        extra["ssh"] = SSH
    config = one_task_per_job_config(n, scripts_dir=str(tmp_path / "scripts"))
    bench.plan = slurmplan.compile_plan(
        config, profile(str(tmp_path / "project"), **extra), task_list
    )
    if transport != "ssh":
        for job in bench.plan.jobs:
            os.makedirs(os.path.dirname(job.script_path), exist_ok=True)
    bench.slurm = FakeSlurm(bench.plan)
    return bench


def _ended(tmp_path: Path, transport: str) -> tuple[Bench, slurmplan.Run]:
    """The default bench's run, submitted, its jobs ended and their files left (_ran)."""
    bench = _bench(tmp_path, transport)
    run = slurmplan.Run(bench.plan, bench.journal, runner=TarOnTheCluster(bench.slurm))
    run.submit()
    end_jobs(bench)
    _ran(bench, local=transport == "local")
    return bench, run


def _ended_through(bench: Bench, cluster: Runner) -> slurmplan.Run:
    """As _ended, through `cluster` (the fake with a twist) and quick retries, the files
    on the fake cluster."""
    run = slurmplan.Run(bench.plan, bench.journal, runner=cluster, retry=FAST_RETRY)
    run.submit()
    end_jobs(bench)
    _ran(bench, local=False)
    return run


def _put(bench: Bench, relative: str, text: str, local: bool) -> None:
    """A file in the workdir: on disk for `local`, else on the fake cluster."""
    path = f"{bench.plan.workdir}/{relative}"
    if local:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(text.encode())
    else:
        bench.slurm.files[path] = text


def _ran(bench: Bench, local: bool) -> None:
    """What the tasks left: every log, and t0's two outputs."""
    for task in ("t0", "t1", "t2"):
        for ext in ("out", "err"):
            _put(bench, f"tasks/{task}.{ext}", f"{task} {ext}\n", local)
    _put(bench, "result.json", RESULT, local)
    _put(bench, "sub/data.txt", "data\n", local)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_fetch_brings_outputs_home_and_reports_the_missing_one_for_its_task(
    tmp_path: Path, transport: str
) -> None:
    bench = _bench(tmp_path, transport)
    runner = TarOnTheCluster(bench.slurm)
    run = slurmplan.Run(bench.plan, bench.journal, runner=runner)
    run.submit()
    end_jobs(bench)
    _ran(bench, local=transport == "local")
    run.poll()  # fetch's own poll then runs no command: the jobs settled
    before = len(bench.slurm.commands)
    home = tmp_path / "home"
    with pytest.raises(slurmplan.FetchIncomplete) as caught:
        run.fetch(home)
    work = bench.plan.workdir
    assert caught.value.missing == {"t1": [f"{work}/absent.json"]}
    fetched = caught.value.fetched
    assert fetched[f"{work}/result.json"] == home / "tasks/t0.outputs/result.json"
    assert (home / "tasks/t0.outputs/result.json").read_bytes() == RESULT.encode()
    assert (home / "tasks/t0.outputs/sub/data.txt").read_text() == "data\n"
    assert (home / "tasks/t1.err").read_text() == "t1 err\n"
    assert len(fetched) == 6 + 2
    assert not (home / "tasks/t1.outputs").exists() and not (home / "tasks/t2.outputs").exists()
    commands = _after_lane_check(bench, before)
    if transport == "ssh":
        assert len(runner.tars) == 1 and commands == []  # logs and outputs in one stream
    elif transport == "sudo":
        # one cat as the user for the 9 files, a separator file between each two; the
        # missing one is told apart without a cat of its own (cat_batches.batch_outcome)
        ((cat, dashes, *paths),) = commands
        assert (cat, dashes, len(paths)) == ("cat", "--", 9 + 8)
        assert len(set(paths[1::2])) == 1 and paths[1].startswith(tempfile.gettempdir())
        assert not os.path.exists(paths[1])  # removed after the fetch
    else:
        assert commands == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_fetch_of_chosen_tasks_brings_only_their_outputs(tmp_path: Path, transport: str) -> None:
    _, run = _ended(tmp_path, transport)
    fetched = run.fetch(tmp_path / "home", ["t0"])
    assert sorted(str(p.relative_to(tmp_path / "home")) for p in fetched.values()) == [
        "tasks/t0.err", "tasks/t0.out", "tasks/t0.outputs/result.json",
        "tasks/t0.outputs/sub/data.txt",
    ]  # fmt: skip


def test_the_cli_names_the_missing_output_of_its_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _bench(tmp_path, "local")
    cli = Cli(bench, monkeypatch, capsys)
    assert cli("submit")[0] == 0
    end_jobs(bench)
    _ran(bench, local=True)
    code, out, err = cli("fetch", str(tmp_path / "home"))
    assert code == 1 and out == f"fetched 8 file(s) into {tmp_path / 'home'}; 1 missing\n"
    assert err == f"task t1: not on the cluster: {bench.plan.workdir}/absent.json\n"
    assert (tmp_path / "home/tasks/t0.outputs/result.json").read_bytes() == RESULT.encode()


# -- which files fetch asks for ---------------------------------------------------


def test_wanted_files_holds_each_chosen_tasks_outputs_in_a_folder_of_its_own() -> None:
    task_list = tasks(3)
    task_list["tasks"][0]["outputs"] = ["r.json", "d/x"]
    task_list["tasks"][2]["outputs"] = ["r2"]
    plan = slurmplan.compile_plan(config(), profile(), task_list)
    work = plan.workdir
    got = [(w.task_id, w.remote, w.relative, w.local) for w in wanted_files(plan, ["t2", "t0"])]
    assert got == [
        ("t2", f"{work}/tasks/t2.out", "tasks/t2.out", "tasks/t2.out"),
        ("t2", f"{work}/tasks/t2.err", "tasks/t2.err", "tasks/t2.err"),
        ("t2", f"{work}/r2", "r2", "tasks/t2.outputs/r2"),
        ("t0", f"{work}/tasks/t0.out", "tasks/t0.out", "tasks/t0.out"),
        ("t0", f"{work}/tasks/t0.err", "tasks/t0.err", "tasks/t0.err"),
        ("t0", f"{work}/r.json", "r.json", "tasks/t0.outputs/r.json"),
        ("t0", f"{work}/d/x", "d/x", "tasks/t0.outputs/d/x"),
    ]
    assert len(wanted_files(plan)) == 3 * 2 + 3


@pytest.mark.parametrize("ids", [["a", "a.out"], ["a", "a.err"], [".", ".."], ["x", "x.outputs"]])
def test_no_tasks_files_at_home_meet_another_tasks_nor_climb_out(ids: list[str]) -> None:
    """Ids may hold dots and be '.' or '..' (the id rule allows them): task 'a.out''s
    folder is never task 'a''s stdout file, and task '..''s stays below dest."""
    task_list = {"name": "t", "tasks": [
        {"id": task_id, "command": ["true"], "outputs": [f"r{i}", f"d{i}/s"]}
        for i, task_id in enumerate(ids)
    ]}  # fmt: skip
    locals_ = [
        w.local for w in wanted_files(slurmplan.compile_plan(config(), profile(), task_list))
    ]
    assert len(locals_) == len(set(locals_)) == 8
    assert not [p for p in locals_ for q in locals_ if q.startswith(p + "/")]
    for path in locals_:
        assert path.startswith("tasks/") and not {"", ".", ".."} & set(path.split("/"))


def test_a_task_named_dot_dot_brings_its_outputs_home_below_dest(tmp_path: Path) -> None:
    bench = Bench(tmp_path, "local", 1)
    task_list = {"name": "t", "tasks": [{"id": "..", "command": ["true"], "outputs": ["r"]}]}
    config_ = one_task_per_job_config(1)
    bench.plan = slurmplan.compile_plan(config_, profile(str(tmp_path / "project")), task_list)
    bench.slurm = FakeSlurm(bench.plan)
    os.makedirs(bench.plan.workdir)
    run = slurmplan.Run(bench.plan, bench.journal, runner=bench.slurm)
    run.submit()
    end_jobs(bench)
    _put(bench, "r", "result\n", local=True)
    with pytest.raises(slurmplan.FetchIncomplete):  # no logs: only the output is there
        run.fetch(tmp_path / "home" / "in")
    assert (tmp_path / "home/in/tasks/...outputs/r").read_text() == "result\n"
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == ["in"]


# -- what the user may plant in the workdir ---------------------------------------


def _local_run(tmp_path: Path) -> tuple[Bench, slurmplan.Run]:
    bench = _bench(tmp_path, "local")
    run = slurmplan.Run(bench.plan, bench.journal, runner=bench.slurm)
    run.submit()
    end_jobs(bench)
    _ran(bench, local=True)
    return bench, run


def _after_lane_check(bench: Bench, before: int) -> list[tuple[str, ...]]:
    """The commands a fetch ran after `before`, once it read the jobs' lane files again
    (an ls and a cat: a later run of the plan may have rewritten the files)."""
    commands = bench.slurm.commands[before:]
    lanes = [p for job in bench.plan.jobs for p in job.lane_status_paths]
    assert [c[0] for c in commands[:2]] == ["ls", "cat"] and list(commands[1][2:]) == lanes
    return commands[2:]


def _missing_after_fetch(run: slurmplan.Run, home: Path) -> dict[str, list[str]]:
    with pytest.raises(slurmplan.FetchIncomplete) as caught:
        run.fetch(home)
    return caught.value.missing


def test_a_link_in_the_workdir_is_not_followed_locally(tmp_path: Path) -> None:
    bench, run = _local_run(tmp_path)
    secret = tmp_path / "runner-secret"
    secret.write_text("the runner's key\n")
    work = Path(bench.plan.workdir)
    (work / "result.json").unlink()
    (work / "result.json").symlink_to(secret)
    (work / "tasks/t2.out").unlink()
    (work / "tasks/t2.out").symlink_to(secret)  # a log too
    missing = _missing_after_fetch(run, tmp_path / "home")
    assert missing["t0"] == [f"{work}/result.json"] and missing["t2"] == [f"{work}/tasks/t2.out"]
    assert not (tmp_path / "home/tasks/t0.outputs/result.json").exists()
    assert not (tmp_path / "home/tasks/t2.out").exists()
    assert (
        tmp_path / "home/tasks/t0.outputs/sub/data.txt"
    ).read_text() == "data\n"  # the rest came


def test_a_linked_folder_on_the_way_is_not_followed_locally(tmp_path: Path) -> None:
    bench, run = _local_run(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "data.txt").write_text("not the task's\n")
    work = Path(bench.plan.workdir)
    (work / "sub/data.txt").unlink()
    (work / "sub").rmdir()
    (work / "sub").symlink_to(elsewhere)
    missing = _missing_after_fetch(run, tmp_path / "home")
    assert missing["t0"] == [f"{work}/sub/data.txt"]
    assert not (tmp_path / "home/tasks/t0.outputs/sub").exists()


def test_a_fifo_or_a_folder_where_an_output_should_be_is_missing_not_read(tmp_path: Path) -> None:
    bench, run = _local_run(tmp_path)
    work = Path(bench.plan.workdir)
    (work / "result.json").unlink()
    os.mkfifo(work / "result.json")  # reading it would block for ever
    (work / "absent.json").mkdir()
    missing = _missing_after_fetch(run, tmp_path / "home")
    assert missing == {"t0": [f"{work}/result.json"], "t1": [f"{work}/absent.json"]}


def test_a_workdir_that_is_a_link_is_not_followed_locally(tmp_path: Path) -> None:
    bench, run = _local_run(tmp_path)
    work = Path(bench.plan.workdir)
    work.rename(work.with_name("moved"))
    work.symlink_to(work.with_name("moved"))
    missing = _missing_after_fetch(run, tmp_path / "home")
    assert sum(map(len, missing.values())) == 9


def test_ssh_takes_only_the_regular_files_asked_for_and_tar_walks_no_folder(
    tmp_path: Path,
) -> None:
    bench = _bench(tmp_path, "ssh")
    argv = tar_argv(bench.plan)
    assert "--no-recursion" in argv[-1]  # a folder named as an output streams nothing
    assert "--hard-dereference" in argv[-1]  # a second name of a file comes as a file

    def cluster(argv: Any, *, stdin: bytes | None = None, sink: Any = None, **_: Any) -> Completed:
        if "tar -c" not in argv[-1]:
            return bench.slurm(argv, stdin=stdin)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            link = tarfile.TarInfo("result.json")  # a link where the output should be
            link.type, link.linkname = tarfile.SYMTYPE, "/home/runner/.ssh/id_ed25519"
            tar.addfile(link)
            for name, text in (("sub/data.txt", "data\n"), ("../escape", "x"), ("/abs", "y")):
                info = tarfile.TarInfo(name)
                info.size = len(text)
                tar.addfile(info, io.BytesIO(text.encode()))
        return in_pieces(Completed(tuple(argv), 0, "", "", data=buffer.getvalue()), sink)

    run = slurmplan.Run(bench.plan, bench.journal, runner=cluster)
    run.submit()
    end_jobs(bench)
    missing = _missing_after_fetch(run, tmp_path / "home")
    assert f"{bench.plan.workdir}/result.json" in missing["t0"]
    assert (tmp_path / "home/tasks/t0.outputs/sub/data.txt").read_text() == "data\n"
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert [p for p in written if p.startswith("home")] == ["home/tasks/t0.outputs/sub/data.txt"]
    assert not (tmp_path / "escape").exists()


def _cut_stream(bench: Bench, keep: int) -> Runner:
    """The fake cluster, whose tar stream stops after `keep` bytes (exit 0)."""
    good = TarOnTheCluster(bench.slurm)

    def cluster(argv: Any, *, stdin: bytes | None = None, sink: Any = None, **kw: Any) -> Completed:
        if "tar -c" not in argv[-1]:
            return good(argv, stdin=stdin, **kw)
        done = good(argv, stdin=stdin, **kw)
        return in_pieces(Completed(tuple(argv), 0, "", "", data=done.stdout_bytes[:keep]), sink)

    return cluster


def test_a_stream_that_is_not_tar_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    bench = _bench(tmp_path, "ssh")
    run = slurmplan.Run(bench.plan, bench.journal, runner=_cut_stream(bench, 700))
    run.submit()
    end_jobs(bench)
    _ran(bench, local=False)
    with pytest.raises(slurmplan.ExecutionError, match="tar stream: cut short at byte 700"):
        run.fetch(tmp_path / "home")  # the first member's last block is cut short
    assert not (tmp_path / "home").exists()


def test_a_stream_cut_half_way_is_refused_and_no_part_of_a_file_is_written(
    tmp_path: Path,
) -> None:
    """Files are written as the stream arrives: those that came whole before the cut
    are written whole, the one it cut is not written at all, and fetch fails."""
    bench = _bench(tmp_path, "ssh")
    run = slurmplan.Run(bench.plan, bench.journal, runner=_cut_stream(bench, 2048 + 700))
    run.submit()
    end_jobs(bench)
    _ran(bench, local=False)
    with pytest.raises(slurmplan.ExecutionError, match="tar stream: cut short at byte 2748"):
        run.fetch(tmp_path / "home")
    home = tmp_path / "home/tasks"
    assert sorted(p.name for p in home.iterdir()) == ["t0.err", "t0.out"]  # 1024 bytes each
    assert (home / "t0.out").read_text() == bench.slurm.files[f"{bench.plan.workdir}/tasks/t0.out"]


def test_a_stream_cut_by_a_dropped_connection_is_fetched_again_whole(tmp_path: Path) -> None:
    """ssh exits 255 half way through the stream: a transient failure.  The second
    attempt starts from nothing with a new reader, and every file comes home whole."""
    bench = _bench(tmp_path, "ssh")
    good = TarOnTheCluster(bench.slurm)
    attempts: list[int] = []

    def cluster(argv: Any, *, stdin: bytes | None = None, sink: Any = None, **kw: Any) -> Completed:
        done = good(argv, stdin=stdin, **kw)
        if "tar -c" not in argv[-1]:
            return done
        attempts.append(len(attempts))
        if len(attempts) == 1:  # the first 2.5 members, then the connection drops
            cut = Completed(tuple(argv), 255, "", RESET, data=done.stdout_bytes[: 2048 + 700])
            return in_pieces(cut, sink)
        return in_pieces(done, sink)

    run = _ended_through(bench, cluster)
    missing = _missing_after_fetch(run, tmp_path / "home")
    assert attempts == [0, 1]
    assert missing == {"t1": [f"{bench.plan.workdir}/absent.json"]}
    home = tmp_path / "home/tasks"
    logs = {f"{t}.{ext}": f"{t} {ext}\n" for t in ("t0", "t1", "t2") for ext in ("out", "err")}
    assert {p.name: p.read_text() for p in home.glob("t?.*") if p.is_file()} == logs
    assert (home / "t0.outputs/result.json").read_text() == RESULT
    assert (home / "t0.outputs/sub/data.txt").read_text() == "data\n"


RESET = "Connection to 127.0.0.1 closed by remote host.\n"
FAST_RETRY = RetryPolicy(retries=2, first_delay=0.01, max_delay=0.01)


def test_sudo_reports_a_folder_where_an_output_should_be_as_missing(tmp_path: Path) -> None:
    bench = _bench(tmp_path, "sudo")

    absent = f"{bench.plan.workdir}/absent.json"
    folder_said: list[int] = []  # how many cats said so

    def cluster(argv: Any, *, stdin: bytes | None = None, **kwargs: Any) -> Completed:
        done = bench.slurm(argv, stdin=stdin, **kwargs)
        if absent in argv:  # a folder there: GNU cat's word for it, alone or in a batch
            folder_said.append(1)
            said = f"cat: {absent}: Is a directory\n"
            stderr = done.stderr.replace(f"cat: {absent}: No such file or directory\n", said)
            return dataclasses.replace(done, stderr=stderr)
        return done

    run = slurmplan.Run(bench.plan, bench.journal, runner=cluster)
    run.submit()
    end_jobs(bench)
    _ran(bench, local=False)
    missing = _missing_after_fetch(run, tmp_path / "home")
    assert missing == {"t1": [absent]} and folder_said == [1]  # told in the batch


def _separator_in(argv: Any) -> bytes | None:
    """The separator's bytes when `argv` is a batched cat (its second path), else None."""
    paths = list(argv[argv.index("--") + 1 :]) if "--" in argv else []
    if len(paths) > 1 and Path(paths[1]).name.startswith("slurmplan-separator-"):
        return Path(paths[1]).read_bytes()
    return None


def _fetch_through_sudo(
    bench: Bench, home: Path, runner: Runner, emptied: tuple[str, ...] = ()
) -> tuple[dict[str, list[str]], int]:
    """The bench's jobs run (`emptied` files then made empty) and polled, then a fetch
    into `home`: what it reports missing, and how many commands it ran."""
    run = slurmplan.Run(bench.plan, bench.journal, runner=runner)
    run.submit()
    end_jobs(bench)
    _ran(bench, local=False)
    for relative in emptied:
        bench.slurm.files[f"{bench.plan.workdir}/{relative}"] = ""
    run.poll()  # fetch's own poll then runs no command
    before = len(bench.slurm.commands)
    missing = _missing_after_fetch(run, home)
    return missing, len(_after_lane_check(bench, before))


def test_sudo_reads_a_file_holding_the_separator_one_cat_each(tmp_path: Path) -> None:
    """A task that wrote the separator's bytes (it could read the file) makes one part too
    many: the batch is refused, and every file comes whole from a cat of its own."""
    bench = _bench(tmp_path, "sudo")
    out = f"{bench.plan.workdir}/tasks/t0.out"

    def cluster(argv: Any, *, stdin: bytes | None = None, **kwargs: Any) -> Completed:
        separator = _separator_in(argv)
        if separator is not None:
            bench.slurm.files[out] = f"before{separator.decode()}after"
        return bench.slurm(argv, stdin=stdin, **kwargs)

    home = tmp_path / "home"
    missing, commands = _fetch_through_sudo(bench, home, cluster)
    assert missing == {"t1": [f"{bench.plan.workdir}/absent.json"]}
    assert (home / "tasks/t0.out").read_text() == bench.slurm.files[out]
    assert (home / "tasks/t0.err").read_text() == "t0 err\n"
    assert (home / "tasks/t0.outputs/result.json").read_bytes() == RESULT.encode()
    assert commands == 1 + 9  # the batch, then one cat each


def test_sudo_reads_a_batch_past_its_byte_limit_one_cat_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's output is held until its cat ends: past BATCH_BYTES the cat is stopped
    and each file is read alone, so memory stays bounded by the largest file."""
    monkeypatch.setattr(fetch_sudo, "BATCH_BYTES", 20)
    bench = _bench(tmp_path, "sudo")
    home = tmp_path / "home"
    missing, commands = _fetch_through_sudo(bench, home, bench.slurm)
    assert missing == {"t1": [f"{bench.plan.workdir}/absent.json"]}
    assert (home / "tasks/t2.err").read_text() == "t2 err\n"
    assert (home / "tasks/t0.outputs/sub/data.txt").read_text() == "data\n"
    assert commands == 1 + 9


def test_sudo_tells_an_empty_file_from_a_missing_one_in_a_batch(tmp_path: Path) -> None:
    """Two empty parts and one line of cat's naming absent.json: t2.err is an empty file,
    told in the batch (cat_batches.batch_outcome)."""
    bench = _bench(tmp_path, "sudo")
    home = tmp_path / "home"
    missing, commands = _fetch_through_sudo(bench, home, bench.slurm, ("tasks/t2.err",))
    assert missing == {"t1": [f"{bench.plan.workdir}/absent.json"]}
    assert (home / "tasks/t2.err").read_bytes() == b""
    assert commands == 1


def test_sudo_failing_to_start_cat_is_an_error_not_a_missing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cat of one file is "missing" only when cat's whole stderr is one not-a-file line:
    sudo exiting 1 with "No such file or directory" inside its own message never ran cat,
    and a fetch that said the task's output is missing would say what nobody looked at."""
    monkeypatch.setattr(cat_batches, "BATCH_FILES", 1)  # every file read by a cat of its own
    bench = _bench(tmp_path, "sudo")
    out = f"{bench.plan.workdir}/tasks/t0.out"
    refusal = "sudo: unable to execute /usr/bin/cat: No such file or directory\n"

    def cluster(argv: Any, *, stdin: bytes | None = None, **kwargs: Any) -> Completed:
        if argv[-1] == out:
            return Completed(tuple(argv), 1, "", refusal)
        return bench.slurm(argv, stdin=stdin, **kwargs)

    run = _ended_through(bench, cluster)
    with pytest.raises(slurmplan.ExecutionError, match="unable to execute"):
        run.fetch(tmp_path / "home")


def test_fetch_never_reads_or_writes_above_its_folders_whatever_built_the_plan(
    tmp_path: Path,
) -> None:
    """A Plan made in Python skips the compiler's checks: fetch checks again."""
    bench, _ = _local_run(tmp_path)
    climbing = dataclasses.replace(bench.plan, outputs=(("t0", ("../../x",)),))
    with pytest.raises(ValueError, match=r"output '\.\./\.\./x' of task t0"):
        wanted_files(climbing)
    with pytest.raises(ValueError, match=r"output '\.\./\.\./x' of task t0"):
        slurmplan.Run(climbing, bench.journal, runner=bench.slurm).fetch(tmp_path / "home")
    for local in ("tasks/t0.outputs/../../../x", "/etc/x", "outputs//x"):  # and again on write
        with pytest.raises(ValueError, match="refusing to write"):
            Writer(tmp_path / "home")(local, b"x")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_write_that_fails_half_way_leaves_no_part_of_the_file_and_names_it(
    tmp_path: Path, transport: str
) -> None:
    """The disk fills up (a 200,000-byte file size limit) while t0.out (1,000,000 bytes)
    is written: no part of it stays at home, nor a temporary, and the error names it."""
    bench, run = _ended(tmp_path, transport)
    _put(bench, "tasks/t0.out", "x" * 1_000_000, local=transport == "local")
    home = tmp_path / "home"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, hard))  # Python ignores SIGXFSZ
    try:
        with pytest.raises(OSError, match="File too large") as caught:
            run.fetch(home)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert caught.value.filename == str(home / "tasks/t0.out")
    written = {str(p.relative_to(home)) for p in home.rglob("*") if p.is_file()}
    assert "tasks/t0.out" not in written
    for relative in written:  # what came home before is whole, and nothing else is there
        source = _source(bench, relative, local=transport == "local")
        assert (home / relative).read_bytes() == source, relative


def _source(bench: Bench, home_path: str, *, local: bool) -> bytes:
    """The bytes on the cluster of what fetch brought to `home_path` (of task t0 or a log)."""
    path = f"{bench.plan.workdir}/{home_path.removeprefix('tasks/t0.outputs/')}"
    return Path(path).read_bytes() if local else bench.slurm.files[path].encode()


def test_the_cli_names_the_file_it_could_not_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _bench(tmp_path, "local")
    bench.submit()
    end_jobs(bench)
    _ran(bench, local=True)
    _put(bench, "tasks/t0.out", "x" * 1_000_000, local=True)
    cli = Cli(bench, monkeypatch, capsys)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, hard))
    try:
        code, _, err = cli("fetch", str(tmp_path / "home"))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert code == 3
    assert err == f"slurmplan fetch: {tmp_path / 'home/tasks/t0.out'}: File too large\n"
    assert not (tmp_path / "home/tasks/t0.out").exists()


@pytest.mark.parametrize(
    ("exit_code", "warning"),
    [(0, "File shrank by 5 bytes; padding with zeros"), (1, "file changed as we read it")],
)
def test_a_file_that_changed_while_tar_read_it_is_not_fetched(
    tmp_path: Path, exit_code: int, warning: str
) -> None:
    """GNU tar pads a file that shrank with NULs to its header's size (exit 0 under
    --ignore-failed-read) and cuts one that grew (exit 1): neither member is the file.
    It is removed from DEST and the fetch fails saying why; the other files stay."""
    bench = _bench(tmp_path, "ssh")
    good = TarOnTheCluster(bench.slurm)
    tars: list[int] = []

    def cluster(argv: Any, *, stdin: bytes | None = None, sink: Any = None, **kw: Any) -> Completed:
        done = good(argv, stdin=stdin, **kw)
        if "tar -c" in argv[-1]:
            tars.append(exit_code)
            said = f"tar: tasks/t0.out: {warning}\n"
            done = Completed(tuple(argv), exit_code, "", said, data=done.stdout_bytes)
            return in_pieces(done, sink)
        return done if sink is None else in_pieces(done, sink)

    run = _ended_through(bench, cluster)
    with pytest.raises(slurmplan.ExecutionError, match="files changed while tar read them"):
        run.fetch(tmp_path / "home")
    home = tmp_path / "home/tasks"
    assert not (home / "t0.out").exists()
    assert (home / "t0.err").read_text() == "t0 err\n"
    assert tars == [exit_code]  # not tried again: the file is not written by this run now


def test_which_files_a_change_spoils(tmp_path: Path) -> None:
    files = wanted_files(_bench(tmp_path, "local").plan)
    got = {f.relative for f in files}
    assert changed_while_read("tar: tasks/t0.out: file changed as we read it\nx\n") == (
        "tasks/t0.out",
    )
    assert [f.relative for f in spoiled_by_change(files, got, ("tasks/t0.out",))] == [
        "tasks/t0.out"
    ]
    quoted = spoiled_by_change(files, got, ("tasks/t\\303\\251.out",))  # not a name asked
    assert {f.relative for f in quoted} == got
    assert spoiled_by_change(files, got, ()) == []


@pytest.mark.parametrize("transport", ["local", "sudo", "ssh"])
def test_a_run_kept_past_a_later_run_of_the_plan_fetches_and_reads_none_of_its_files(
    tmp_path: Path, transport: str
) -> None:
    """Run 1 was watched to its end; run 2 of the plan (another journal) then started in
    the same workdir: its lane file names run 2, and t0's log is run 2's.  Run 1's fetch
    and read go by the lane files as they are now: t0 did not end in run 1 (its line is
    gone), so nothing of it is fetched or read.  Before, run 1 took run 2's log for its
    own (its results were final, read once)."""
    bench = _bench(tmp_path, transport)
    runner = TarOnTheCluster(bench.slurm)
    run1 = slurmplan.Run(bench.plan, bench.journal, runner=runner)
    run1.submit()
    end_jobs(bench)
    _ran(bench, local=transport == "local")
    assert run1.wait().done
    run2 = slurmplan.Run(bench.plan, str(tmp_path / "run2.journal"), runner=runner)
    run2.submit()
    (job0,) = [j for j in bench.slurm.jobs_of(bench.plan.jobs[0].name) if j.name.endswith(
        "." + run2.poll().run)]  # fmt: skip
    (lane,) = bench.plan.jobs[0].lane_status_paths
    out = f"{bench.plan.workdir}/tasks/t0.out"
    bench.slurm.files[lane] = lane_file(0, job0.job_id, job0.name, "")  # run 2's lane began
    bench.slurm.files[out] = "run 2, half written"
    if transport == "local":
        Path(lane).write_text(bench.slurm.files[lane])
        Path(out).write_text(bench.slurm.files[out])
    with pytest.raises(slurmplan.FetchIncomplete) as caught:
        run1.fetch(tmp_path / "home", ["t0"])
    assert caught.value.fetched == {} and set(caught.value.not_ended) == {"t0"}
    with pytest.raises(slurmplan.NotEnded):
        run1.read("t0")


# -- where fetch writes: below DEST, never into the workdir, never through a link --------


def _logs(bench: Bench) -> dict[str, bytes]:
    tasks_dir = Path(bench.plan.workdir) / "tasks"
    return {p.name: p.read_bytes() for p in sorted(tasks_dir.iterdir()) if p.is_file()}


@pytest.mark.parametrize("where", ["workdir", "below", "tasks linked"])
def test_a_dest_in_the_workdir_is_refused_before_anything_is_written(
    tmp_path: Path, where: str
) -> None:
    """DEST/tasks/t0.out would be the log being read: opening it for writing emptied it,
    on the cluster, and the empty file was reported fetched (review adv2)."""
    bench, run = _local_run(tmp_path)
    work = Path(bench.plan.workdir)
    before = _logs(bench)
    dest = {"workdir": work, "below": work / "sub", "tasks linked": tmp_path / "home"}[where]
    if where == "tasks linked":
        dest.mkdir()
        (dest / "tasks").symlink_to(work / "tasks")
    with pytest.raises(ValueError, match="refusing to fetch into") as caught:
        run.fetch(dest)
    assert str(dest) in str(caught.value) and str(work) in str(caught.value)
    assert _logs(bench) == before
    assert not (work / "sub/tasks").exists()


def test_the_writer_never_replaces_the_file_it_copies(tmp_path: Path) -> None:
    """Whatever passes the DEST check (a bind mount of the workdir in DEST), the file
    being copied is not emptied nor removed."""
    log = tmp_path / "tasks/t0.out"
    log.parent.mkdir()
    log.write_bytes(b"the task's log\n")
    fd = os.open(log, os.O_RDONLY)
    try:
        with Writer(tmp_path) as write, pytest.raises(ValueError, match="is the file fetched"):
            write.copy("tasks/t0.out", fd, os.fstat(fd))
    finally:
        os.close(fd)
    assert log.read_bytes() == b"the task's log\n"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_linked_folder_in_dest_is_not_written_through(tmp_path: Path, transport: str) -> None:
    _, run = _ended(tmp_path, transport)
    outside = tmp_path / "outside"
    (outside / "t0.outputs").mkdir(parents=True)
    home = tmp_path / "home"
    (home / "tasks").mkdir(parents=True)
    (home / "tasks/t0.outputs").symlink_to(outside / "t0.outputs")
    with pytest.raises(OSError, match="not a folder") as caught:
        run.fetch(home)
    assert caught.value.filename == str(home / "tasks/t0.outputs")
    shutil.rmtree(home / "tasks")  # the logs written before it; the link, not its target
    (home / "tasks").symlink_to(outside)
    with pytest.raises(OSError, match="not a folder"):
        run.fetch(home)
    assert list((outside / "t0.outputs").iterdir()) == []
    assert sorted(p.name for p in outside.iterdir()) == ["t0.outputs"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_link_planted_at_a_files_name_in_dest_is_replaced_not_written_through(
    tmp_path: Path, transport: str
) -> None:
    _, run = _ended(tmp_path, transport)
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    home = tmp_path / "home"
    (home / "tasks").mkdir(parents=True)
    os.link(victim, home / "tasks/t0.out")  # a hard link: O_NOFOLLOW does not see it
    (home / "tasks/t1.out").symlink_to(victim)
    (home / "tasks/t2.out").write_text("an earlier fetch's, longer than the log\n")
    with pytest.raises(slurmplan.FetchIncomplete):  # t1's absent.json
        run.fetch(home)
    assert victim.read_text() == "keep me\n"
    for task in ("t0", "t1", "t2"):
        assert (home / f"tasks/{task}.out").read_text() == f"{task} out\n"
        assert not (home / f"tasks/{task}.out").is_symlink()


def test_a_dest_that_is_a_link_is_the_callers_and_followed(tmp_path: Path) -> None:
    _, run = _local_run(tmp_path)
    (tmp_path / "real").mkdir()
    (tmp_path / "home").symlink_to(tmp_path / "real")
    with pytest.raises(slurmplan.FetchIncomplete):
        run.fetch(tmp_path / "home")
    assert (tmp_path / "real/tasks/t0.out").read_text() == "t0 out\n"


def test_task_ids_that_are_not_text_are_unknown_ids_not_a_type_error(tmp_path: Path) -> None:
    _, run = _local_run(tmp_path)
    with pytest.raises(ValueError, match=r"no task null in plan \w+ \(2 unknown\)"):
        run.fetch(tmp_path / "home", [None, 0])  # type: ignore[list-item]
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_fetch_holds_few_folders_open_whatever_the_number_of_tasks(
    tmp_path: Path, transport: str
) -> None:
    """Each task's outputs come home in a folder of their own (and, locally, are read
    from one): a fetch that kept every folder it opened open ran out of descriptors past
    the process's limit (1,024 by default) with as many tasks.  Here the limit leaves
    room for two caches of OPEN_FOLDERS (the folders read and those written) and a few
    more: 100 tasks with outputs three folders deep need 300 on each side."""
    n = 100
    task_list = tasks(n)
    for i, task in enumerate(task_list["tasks"]):
        task["outputs"] = [f"out{i}/deep/result.json"]
    bench = _bench(tmp_path, transport, task_list)
    run = slurmplan.Run(bench.plan, bench.journal, runner=TarOnTheCluster(bench.slurm))
    run.submit()
    end_jobs(bench)
    for i in range(n):
        for ext in ("out", "err"):
            _put(bench, f"tasks/t{i}.{ext}", f"t{i} {ext}\n", transport == "local")
        _put(bench, f"out{i}/deep/result.json", f"{i}\n", transport == "local")
    run.poll()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    room = len(os.listdir("/proc/self/fd")) + 2 * OPEN_FOLDERS + 20
    resource.setrlimit(resource.RLIMIT_NOFILE, (room, hard))
    try:
        fetched = run.fetch(tmp_path / "home")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert len(fetched) == 3 * n
    assert (tmp_path / "home/tasks/t99.outputs/out99/deep/result.json").read_text() == "99\n"
