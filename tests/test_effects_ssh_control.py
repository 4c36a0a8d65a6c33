"""The ssh ControlMaster socket's folder: made by the effects layer when missing.

ssh creates its control socket but not the folder; on a runner whose folder does
not exist (a fresh account without ~/.ssh) every ssh command would fail with
"unix_listener: cannot bind to path" — a local fault, never worth retrying.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from effects_helpers import (
    base_config,
    bed_facts,
    compile_to,
    run_cli,
    scancel_plan,
    show,
    squeue_rows,
    ssh_block,
    workspace,
)

from slurmplan.compiler import compile_plan
from slurmplan.compiler.runtime.retry import Verdict, classify
from slurmplan.compiler.transport import ssh_prefix
from slurmplan.effects.execute import prepare_transport, run_once


def _ssh_profile(project_dir: str, control_path: str, tb: dict[str, str]) -> dict[str, Any]:
    return {
        "username": "alice",
        "transport": "ssh",
        "project_dir": project_dir,
        "ssh": ssh_block(tb, control_path),
    }


def test_a_missing_socket_folder_is_a_fatal_fault() -> None:
    stderr = (
        "unix_listener: cannot bind to path /root/.ssh/slurmplan-ab.x: No such file or directory"
    )
    assert classify(["ssh", "-p", "22", "a@h", "--", "ls"], 255, stderr) is Verdict.FATAL


def test_prepare_transport_makes_the_folder_private(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    profile = {
        "username": "alice",
        "transport": "ssh",
        "project_dir": "/p",
        "ssh": {"host": "h", "key_path": "/k", "known_hosts_path": "/kh",
                "control_path": f"{folder}/cm-%h"},  # %C would make it too long for a socket
    }  # fmt: skip
    config = base_config()
    plan = compile_plan(config, profile, {"name": "n", "tasks": [{"id": "a", "command": ["true"]}]})
    prepare_transport(plan)
    assert folder.is_dir()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.testbed
def test_ssh_submit_works_for_a_runner_without_the_socket_folder() -> None:
    tb = bed_facts()
    folder = Path("/home/runner") / f".sp-{uuid.uuid4().hex[:8]}"  # short: a socket path ≤ 107
    assert not folder.exists()
    try:
        with workspace() as ws:
            project = ws.dir_for("alice") / "project"
            plan_path = ws.dir_for("runner") / "plan.json"
            profile = _ssh_profile(str(project), f"~/{folder.name}/%C", tb)
            tasks = {"name": "ctl", "tasks": [{"id": "a", "command": ["true"]}]}
            plan = compile_to(base_config(), profile, tasks, plan_path, "runner")
            try:
                done = run_cli("runner", ["submit", str(plan_path), "--retries", "0"])
                assert done.returncode == 0, show(done)
                assert folder.is_dir()
                assert stat.S_IMODE(folder.stat().st_mode) == 0o700
                assert len(squeue_rows([plan.jobs[0].name])) == 1
            finally:
                scancel_plan(plan)
                run_cli("runner", ["cancel", str(plan_path)])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.testbed
def test_a_command_over_a_control_master_is_stopped_at_its_time_limit(tmp_path: Path) -> None:
    """--command-timeout bounds a command over ssh whose remote command goes on (review
    adv4): the ControlMaster holds the killed client's stderr until the remote command
    ends, and run_once read it to its end, returning after the remote `sleep 25` (2.0 s
    before 536745f)."""
    tb = bed_facts()
    folder = Path(tempfile.mkdtemp(prefix="cm-", dir="/tmp"))
    ssh = ssh_block(tb, f"{folder}/%C")
    ssh["key_path"] = tb["SLURMPLAN_TESTBED_KEY_alice"]  # root runs it, with the bed's key
    profile = {"username": "alice", "transport": "ssh", "project_dir": "/p", "ssh": ssh}
    plan = compile_plan(
        base_config(), profile, {"name": "n", "tasks": [{"id": "a", "command": ["true"]}]}
    )
    assert plan.transport.ssh is not None
    prefix = ssh_prefix("alice", plan.transport.ssh)  # ends with alice@host
    try:
        assert run_once([*prefix, "--", "true"], timeout=30).ok  # the master, as in a run
        started = time.monotonic()
        done = run_once([*prefix, "--", "echo before; sleep 25"], timeout=2)
        took = time.monotonic() - started
        assert done.exit_code is None and done.stdout == "before\n", done
        assert took < 10, f"returned after {took:.1f} s"
    finally:
        subprocess.run([*prefix[:-1], "-O", "exit", prefix[-1]], capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)
