"""Private by default (issue 9): every file slurmplan writes follows the umask, and a file
that may hold a task's env values (the plan, the scripts of --scripts-to, of a local submit
and of an ssh upload, golden copies) is 0600 less the umask whatever the umask: never
readable by another user. The journal, which holds none, is 0644 less the umask."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_effects_with_fake_slurm import Bench, end_jobs

import slurmplan
from slurmplan.effects.cli import main
from slurmplan.effects.journal import Journal

GOLDEN = Path(__file__).parent / "golden"


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize(("mask", "mode"), [(0o077, 0o600), (0o022, 0o600), (0o000, 0o600),
                                           (0o277, 0o400)])  # fmt: skip
def test_compile_writes_the_plan_and_scripts_with_0600_less_the_umask(
    tmp_path: Path, mask: int, mode: int
) -> None:
    for kind in ("config", "profile", "tasks"):
        shutil.copy(GOLDEN / "transport_sudo" / f"{kind}.json", tmp_path / f"{kind}.json")
    plan, scripts = tmp_path / "plan.json", tmp_path / "scripts"
    with _umask(mask):
        code = main(
            ["compile", "--config", str(tmp_path / "config.json"),
             "--profile", str(tmp_path / "profile.json"), "--tasks", str(tmp_path / "tasks.json"),
             "-o", str(plan), "--scripts-to", str(scripts)]
        )  # fmt: skip
    assert code == 0
    assert _mode(plan) == mode
    written = sorted(scripts.iterdir())
    assert written and all(_mode(p) == mode for p in written)


def test_an_existing_world_readable_plan_is_replaced_by_a_private_one(tmp_path: Path) -> None:
    for kind in ("config", "profile", "tasks"):
        shutil.copy(GOLDEN / "user_batching" / f"{kind}.json", tmp_path / f"{kind}.json")
    plan = tmp_path / "plan.json"
    plan.write_text("{}")
    plan.chmod(0o666)
    args = ["compile", "--config", str(tmp_path / "config.json"),
            "--profile", str(tmp_path / "profile.json"), "--tasks", str(tmp_path / "tasks.json"),
            "-o", str(plan)]  # fmt: skip
    with _umask(0o077):
        assert main(args) == 0
    assert _mode(plan) == 0o600


@pytest.mark.parametrize(("mask", "journal", "script"), [(0o077, 0o600, 0o600),
                                                        (0o022, 0o644, 0o600)])  # fmt: skip
def test_the_journal_and_a_local_submits_scripts_follow_the_umask(
    tmp_path: Path, mask: int, journal: int, script: int
) -> None:
    bench = Bench(tmp_path, "local", 2)
    with _umask(mask):
        bench.submit()
    assert _mode(bench.journal) == journal
    assert all(_mode(job.script_path) == script for job in bench.plan.jobs)


def test_a_secret_in_a_tasks_env_is_never_written_world_readable(tmp_path: Path) -> None:
    for kind in ("config", "profile"):
        shutil.copy(GOLDEN / "transport_local" / f"{kind}.json", tmp_path / f"{kind}.json")
    (tmp_path / "tasks.json").write_text(
        '{"name": "t", "tasks": [{"id": "a", "command": ["true"], "env": {"TOKEN": "s3cr3t"}}]}'
    )
    plan, scripts, golden = tmp_path / "plan.json", tmp_path / "scripts", tmp_path / "golden"
    with _umask(0o022):
        assert main(["compile", "--config", str(tmp_path / "config.json"),
                     "--profile", str(tmp_path / "profile.json"),
                     "--tasks", str(tmp_path / "tasks.json"),
                     "-o", str(plan), "--scripts-to", str(scripts)]) == 0  # fmt: skip
        assert main(["check", str(plan), "--golden", str(golden), "--update"]) == 0
    holding = [p for p in (plan, *scripts.iterdir(), *golden.rglob("*")) if p.is_file()
               and b"s3cr3t" in p.read_bytes()]  # fmt: skip
    assert len(holding) == 3  # the plan, its script, and the script's golden copy
    assert all(_mode(p) == 0o600 for p in holding), [(p, oct(_mode(p))) for p in holding]


def test_a_new_journal_is_created_private_under_umask_077(tmp_path: Path) -> None:
    bench = Bench(tmp_path, "sudo", 1)
    with _umask(0o077), Journal(bench.journal, bench.plan):
        pass
    assert _mode(bench.journal) == 0o600


@pytest.mark.parametrize(("mask", "file", "folder"), [(0o077, 0o600, 0o700),
                                                     (0o022, 0o644, 0o755),
                                                     (0o002, 0o664, 0o775)])  # fmt: skip
@pytest.mark.parametrize("transport", ["local", "sudo"])
def test_fetched_files_and_folders_follow_the_umask_as_cp_and_mkdir_make_them(
    tmp_path: Path, mask: int, file: int, folder: int, transport: str
) -> None:
    """docs/effects.md, "Private by default": every file slurmplan writes follows the
    umask; fetch's (task logs and outputs, which hold no env value of the plan's) are
    0666 less it, as `cp` makes a new file, and its folders 0777 less it."""
    bench = Bench(tmp_path, transport, 1)
    run = slurmplan.Run(bench.plan, bench.journal, executor=bench.executor())
    run.submit()
    end_jobs(bench)
    for ext in ("out", "err"):
        path = f"{bench.plan.workdir}/tasks/t0.{ext}"
        if transport == "local":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text("log\n")
        else:
            bench.slurm.files[path] = "log\n"
    with _umask(mask):
        fetched = run.fetch(tmp_path / "home")
    assert sorted(_mode(p) for p in fetched.values()) == [file, file]
    assert _mode(tmp_path / "home") == folder and _mode(tmp_path / "home/tasks") == folder
