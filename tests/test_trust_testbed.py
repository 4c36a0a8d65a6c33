"""The runner's trust boundary on the testbed (issue 9), as the service user `runner`
through sudo: an edited plan exits 2 and runs nothing (marker files prove it), a plan
and journal made under umask 077 are 0600, and a scripts folder another user made (or
a world-writable scripts_dir) cannot swap the script: through sudo the script goes to
sbatch on its stdin, and no script file is written or read."""

from __future__ import annotations

import copy
import json
import os
import pwd
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from effects_helpers import (
    base_config,
    bed_facts,
    compile_to,
    run_cli,
    show,
    squeue_rows,
    workspace,
)

pytestmark = pytest.mark.testbed

Edit = Callable[[dict[str, Any], Path], None]


def _sudo(user: str, *argv: str) -> list[str]:
    return ["sudo", "--set-home", "--non-interactive", "-u", user, *argv]


def _mkdir_as_runner_shell(d: dict[str, Any], marker: Path) -> None:
    d["steps"][0]["argv"] = ["/bin/sh", "-c", f"id > {marker}"]


def _mkdir_as_alice_shell(d: dict[str, Any], marker: Path) -> None:
    d["steps"][0]["argv"] = _sudo("alice", "mkdir", "-p", "--", str(marker))


def _write_step_outside(d: dict[str, Any], marker: Path) -> None:
    step = {"kind": "write", "path": str(marker), "job": 0, "mode": "0777"}
    d["steps"].insert(1, step)


def _upload_into_a_command(d: dict[str, Any], marker: Path) -> None:
    pipe = _sudo("alice", "sbatch", "--wrap", f"touch {marker}")
    d["steps"].insert(1, {"kind": "upload", "argv": pipe, "directory": "/tmp", "jobs": [0]})


def _another_user(d: dict[str, Any], marker: Path) -> None:
    # the user and every step changed together: only the digest tells
    d["transport"]["user"] = "bob"
    for step in d["steps"]:
        step["argv"][4] = "bob"


def _sbatch_wrap(d: dict[str, Any], marker: Path) -> None:
    submit = next(s for s in d["steps"] if s["kind"] == "submit")
    submit["argv"] += ["--wrap", f"touch {marker}"]


def _unknown_kind(d: dict[str, Any], marker: Path) -> None:
    d["steps"].insert(1, {"kind": "shell", "argv": ["sh", "-c", f"touch {marker}"]})


def _script_edited(d: dict[str, Any], marker: Path) -> None:
    lines = d["jobs"][0]["script"].split("\n")
    last = max(n for n, line in enumerate(lines) if line.startswith("#SBATCH"))
    lines.insert(last + 1, f"touch {marker}")
    d["jobs"][0]["script"] = "\n".join(lines)


EDITS: list[tuple[Edit, str]] = [
    (_mkdir_as_runner_shell, "/steps/0/argv/0"),
    (_mkdir_as_alice_shell, "/steps/0/argv/"),
    (_write_step_outside, "/steps"),
    (_upload_into_a_command, "/steps"),
    (_another_user, "/digest"),
    (_sbatch_wrap, "/steps/1/argv/7"),
    (_unknown_kind, "/steps/1"),
    (_script_edited, "/digest"),
]

TASKS = {"name": "trust", "tasks": [{"id": "who", "command": ["id", "-un"]}]}


def _markers(root: Path) -> Path:
    """A folder everyone may write in, so that a marker proves whoever ran."""
    folder = root / "markers"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


@pytest.mark.parametrize(("edit", "where"), EDITS, ids=[e.__name__.strip("_") for e, _ in EDITS])
def test_an_edited_plan_run_by_the_runner_exits_2_and_runs_nothing(edit: Edit, where: str) -> None:
    tb = bed_facts()
    with workspace() as ws:
        runner_dir = ws.dir_for("runner")
        marker = _markers(ws.root) / "ran"
        profile = {"username": "alice", "transport": "sudo",
                   "project_dir": str(ws.dir_for("alice") / "p")}  # fmt: skip
        config = base_config(scripts_dir=tb["SLURMPLAN_TESTBED_SCRIPTS_DIR"])
        plan_path = runner_dir / "plan.json"
        plan = compile_to(config, profile, TASKS, plan_path, "runner")
        raw = json.loads(plan_path.read_text())
        edited = copy.deepcopy(raw)
        edit(edited, marker)
        assert edited != raw
        plan_path.write_text(json.dumps(edited))
        for command in ("submit", "status", "cancel", "collect"):
            done = run_cli("runner", [command, str(plan_path)])
            assert done.returncode == 2, show(done)
            assert done.stdout == "" and "Traceback" not in done.stderr, show(done)
            assert f"{plan_path}: {where}" in done.stderr, show(done)
        assert not marker.exists()
        assert not Path(f"{plan_path}.journal").exists()
        assert not Path(plan.workdir).exists()  # not even the mkdir ran
        assert squeue_rows([plan.jobs[0].name]) == []


def test_through_sudo_a_foreign_scripts_folder_cannot_swap_the_script() -> None:
    # bob (a third user) makes the scripts folder the plan names, world-writable, and puts
    # a script of his own where the plan's script_path points.  Through sudo the runner
    # writes no script and sbatch reads none: the job runs the compiled script.
    bed_facts()
    with workspace() as ws:
        runner_dir = ws.dir_for("runner")
        markers = _markers(ws.root)
        scripts_dir = ws.root / "scripts"
        scripts_dir.mkdir()
        scripts_dir.chmod(0o1777)  # world-writable: the case issue 9 observed
        profile = {"username": "alice", "transport": "sudo",
                   "project_dir": str(ws.dir_for("alice") / "p")}  # fmt: skip
        plan_path = runner_dir / "plan.json"
        plan = compile_to(
            base_config(scripts_dir=str(scripts_dir)), profile, TASKS, plan_path, "runner"
        )
        bob = pwd.getpwnam("bob")
        folder = Path(plan.script_dir)
        folder.mkdir(mode=0o777)
        os.chown(folder, bob.pw_uid, bob.pw_gid)
        evil = Path(plan.jobs[0].script_path)
        evil.write_text(f"#!/bin/bash\n#SBATCH --partition=main\ntouch {markers}/swapped\n")
        os.chown(evil, bob.pw_uid, bob.pw_gid)
        evil.chmod(0o777)
        done = run_cli("runner", ["submit", str(plan_path)])
        assert done.returncode == 0, show(done)
        done = run_cli("runner", ["wait", str(plan_path), "--timeout", "120"])
        assert done.returncode == 0, show(done)
        out = Path(plan.workdir) / "tasks" / "who.out"
        assert out.read_text() == "alice\n"  # the compiled task ran, as alice
        assert not (markers / "swapped").exists()
        assert sorted(p.name for p in folder.iterdir()) == [evil.name]  # nothing written
        assert evil.stat().st_uid == bob.pw_uid


def test_a_plan_compiled_and_run_under_umask_077_stays_private() -> None:
    tb = bed_facts()
    with workspace() as ws:
        runner_dir = ws.dir_for("runner")
        inputs = {"config": base_config(scripts_dir=tb["SLURMPLAN_TESTBED_SCRIPTS_DIR"]),
                  "profile": {"username": "alice", "transport": "sudo",
                              "project_dir": str(ws.dir_for("alice") / "p")},
                  "tasks": TASKS}  # fmt: skip
        args = ["compile"]
        for kind, value in inputs.items():
            path = runner_dir / f"{kind}.json"
            path.write_text(json.dumps(value))
            path.chmod(0o644)
            args += [f"--{kind}", str(path)]
        plan_path = runner_dir / "plan.json"
        done = run_cli("runner", [*args, "-o", str(plan_path)], umask="077")
        assert done.returncode == 0, show(done)
        assert stat.S_IMODE(plan_path.stat().st_mode) == 0o600
        done = run_cli("runner", ["submit", str(plan_path)], umask="077")
        assert done.returncode == 0, show(done)  # alice's sbatch needs no file of runner's
        journal = Path(f"{plan_path}.journal")
        assert stat.S_IMODE(journal.stat().st_mode) == 0o600
        done = run_cli("runner", ["wait", str(plan_path), "--timeout", "120"], umask="077")
        assert done.returncode == 0, show(done)
