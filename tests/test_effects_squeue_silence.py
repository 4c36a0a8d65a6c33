"""squeue silent (no row, exit 0) about a job still running does not make it LOST:
scontrol, asked as the runner, shows it running (issue 8, observation 6).  Real
sbatch, scontrol and scancel on the testbed; squeue is a stand-in on the runner's
PATH that prints nothing.  local and sudo only: over ssh the remote PATH is the
login shell's, which a test cannot set this way (the fake-Slurm tests cover ssh).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from effects_helpers import (
    bed_facts,
    bed_plan,
    clean_bed,
    run_cli,
    scancel_plan,
    show,
    workspace,
)

pytestmark = pytest.mark.testbed


def _job(runner: str, plan_path: Path, env: dict[str, str]) -> dict[str, Any]:
    done = run_cli(runner, ["status", str(plan_path), "--json"], env=env)
    assert done.returncode == 0, show(done)
    (job,) = json.loads(done.stdout)["jobs"]
    assert isinstance(job, dict)
    return job


def _scontrol_state(job_id: str) -> str:
    out = subprocess.run(
        ["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True, check=True
    ).stdout
    return out.split(" JobState=", 1)[1].split()[0]


@pytest.mark.parametrize("transport", ["local", "sudo"])
def test_a_running_job_squeue_is_silent_about_is_not_lost(transport: str) -> None:
    tb = bed_facts()
    with workspace() as ws:
        tasks = {
            "name": f"silent-{transport}",
            "tasks": [{"id": "t0", "command": ["sleep", "300"]}],
        }
        plan, plan_path, runner, profile = bed_plan(ws, tb, transport, tasks)
        shim = ws.root / "bin"
        shim.mkdir(mode=0o755)
        (shim / "squeue").write_text("#!/bin/sh\nexit 0\n")  # no row for anything, exit 0
        os.chmod(shim / "squeue", 0o755)
        silent = {"PATH": f"{shim}:/usr/bin:/bin:/usr/sbin:/sbin"}
        try:
            submit = run_cli(runner, ["submit", str(plan_path)])
            assert submit.returncode == 0, show(submit)
            job = _job(runner, plan_path, silent)
            assert (job["state"], job["settled"]) in {("RUNNING", False), ("PENDING", False)}, job

            scancel_plan(plan)
            for _ in range(50):  # until scontrol shows it ended
                if _scontrol_state(job["job_id"]) == "CANCELLED":
                    break
                time.sleep(0.1)
            job = _job(runner, plan_path, silent)
            assert (job["state"], job["settled"]) == ("CANCELLED", True), job
        finally:
            clean_bed(plan, profile)
