"""slurmctld stopped during a submission: bounded retries, one clear error, then a clean resume.

DISRUPTIVE: this stops the testbed's real slurmctld for a few seconds (other tests
running at the same time see the outage too) and always starts it again.
Deselect with `-m "not disruptive"`.  The CLI gets a client-side slurm.conf with
MessageTimeout=2 (the cluster's own file otherwise), so each failing Slurm command
gives up after ~1 s instead of ~9 s and the outage stays short.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from effects_helpers import (
    base_config,
    bed_facts,
    compile_to,
    run_cli,
    scancel_plan,
    show,
    workspace,
)
from test_effects_resume import _assert_each_job_once, _kill_after_intents

pytestmark = [pytest.mark.testbed, pytest.mark.disruptive]


def _ctld_pid(lab: str) -> int | None:
    try:
        pid = int(Path(lab, "run", "slurmctld.pid").read_text().strip())
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        return None
    return pid if comm == "slurmctld" else None


def _controller_up() -> bool:
    """slurmctld answers and the node is usable again (other tests need it too)."""
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, check=False)
    if "is UP" not in ping.stdout:
        return False
    node = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, check=False)
    return node.stdout.split()[:1] in (["idle"], ["mixed"], ["allocated"], ["completing"])


def _stop_ctld(lab: str) -> None:
    subprocess.run(["scontrol", "shutdown", "slurmctld"], capture_output=True, check=True)
    deadline = time.monotonic() + 30
    while _ctld_pid(lab) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _ctld_pid(lab) is None, "slurmctld did not stop"


def _start_ctld(lab: str) -> None:
    """Start slurmctld the way scripts/testbed.sh does, and wait until it answers."""
    if _ctld_pid(lab) is None:
        with open(Path(lab, "log", "daemons.out"), "ab") as log:
            subprocess.run(["/usr/sbin/slurmctld"], stdin=subprocess.DEVNULL, stdout=log,
                           stderr=log, check=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not _controller_up() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _controller_up(), "slurmctld did not come back"


def _client_conf(directory: Path) -> Path:
    lines = [
        line for line in Path("/etc/slurm/slurm.conf").read_text().splitlines()
        if not line.lower().startswith("messagetimeout")
    ]  # fmt: skip
    path = directory / "slurm-client.conf"
    path.write_text("\n".join([*lines, "MessageTimeout=2"]) + "\n")
    path.chmod(0o644)
    return path


def test_slurmctld_down_mid_submission_retries_then_fails_clearly_then_resumes() -> None:
    lab = bed_facts()["SLURMPLAN_TESTBED_DIR"]
    with workspace() as ws:
        alice_dir = ws.dir_for("alice")
        env = {"SLURM_CONF": str(_client_conf(ws.root))}
        tasks = {
            "name": "outage", "tasks_per_job": 1, "parallel_tasks_per_job": 1,
            "tasks": [{"id": f"t{i}", "command": ["true"]} for i in range(5)],
        }  # fmt: skip
        profile = {"username": "alice", "transport": "local", "project_dir": str(alice_dir / "p")}
        plan_path = alice_dir / "plan.json"
        plan = compile_to(base_config(), profile, tasks, plan_path, "alice")
        try:
            _kill_after_intents("alice", plan_path, 2)  # a submission cut off mid-way
            retry = ["--retries", "2", "--retry-delay", "0.3"]
            stopped = time.monotonic()
            try:
                _stop_ctld(lab)
                down = run_cli("alice", ["submit", str(plan_path), *retry], env=env, timeout=90)
            finally:
                _start_ctld(lab)
                outage = time.monotonic() - stopped
            assert down.returncode == 3, show(down)
            assert "Traceback" not in down.stderr
            lines = down.stderr.splitlines()
            retries = [line for line in lines if line.startswith("transient failure")]
            assert len(retries) >= 2 and "retry 2/2 in 0.6 s" in retries[-1], down.stderr
            error = down.stderr[down.stderr.index("slurmplan submit: command failed") :]
            assert "after 3 attempts" in error.splitlines()[0]
            assert " squeue " in error.splitlines()[0] or " sbatch " in error.splitlines()[0]
            assert "Unable to contact slurm controller" in error
            assert "gave up after 3 attempts" in error

            done = run_cli("alice", ["submit", str(plan_path)], env=env)
            assert done.returncode == 0, show(done)
            _assert_each_job_once(plan, plan_path)
            assert outage < 40, f"slurmctld was down {outage:.1f} s"
        finally:
            scancel_plan(plan)
