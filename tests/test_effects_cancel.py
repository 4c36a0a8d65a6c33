"""cancel leaves no job behind (also one cut off mid-submission); a queue cap makes
submit wait for room.  Real sbatch/squeue/scancel on the testbed."""

from __future__ import annotations

import json
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
    squeue_rows,
    workspace,
)

pytestmark = pytest.mark.testbed

ACTIVE = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED"}


def _one_task_jobs(name: str, n: int, command: list[str]) -> dict[str, object]:
    return {
        "name": name,
        "tasks_per_job": 1,
        "parallel_tasks_per_job": 1,
        "tasks": [{"id": f"t{i}", "command": command} for i in range(n)],
    }


def test_cancel_leaves_no_job_behind_even_one_whose_id_was_never_recorded() -> None:
    bed_facts()
    with workspace() as ws:
        alice_dir = ws.dir_for("alice")
        profile = {"username": "alice", "transport": "local", "project_dir": str(alice_dir / "p")}
        plan_path = alice_dir / "plan.json"
        tasks = _one_task_jobs("cancel", 3, ["sleep", "300"])
        plan = compile_to(base_config(), profile, tasks, plan_path, "alice")
        try:
            done = run_cli("alice", ["submit", str(plan_path)])
            assert done.returncode == 0, show(done)
            waited = run_cli("alice", ["wait", str(plan_path), "--timeout", "1",
                                       "--poll-interval", "0.3"])  # fmt: skip
            assert waited.returncode == 4, show(waited)
            assert "not every job settled within 1 s" in waited.stderr
            # As if submit had been killed between sbatch and recording job 2's id:
            journal = Path(f"{plan_path}.journal")
            lines = journal.read_text().splitlines(keepends=True)
            assert json.loads(lines[-1]) == {
                "event": "submitted", "how": "sbatch", "job": 2,
                "job_id": json.loads(lines[-1])["job_id"],
            }  # fmt: skip
            journal.write_text("".join(lines[:-1]))

            done = run_cli("alice", ["cancel", str(plan_path)])
            assert done.returncode == 0, show(done)
            assert "cancelled 3 job(s)" in done.stdout

            deadline = time.monotonic() + 30
            rows = squeue_rows([j.name for j in plan.jobs])
            while any(r[1] in ACTIVE for r in rows) and time.monotonic() < deadline:
                time.sleep(0.2)
                rows = squeue_rows([j.name for j in plan.jobs])
            assert sorted(r[2] for r in rows) == sorted(j.name for j in plan.jobs)
            assert {r[1] for r in rows} == {"CANCELLED"}

            status = run_cli("alice", ["status", str(plan_path), "--json"])
            assert [j["state"] for j in json.loads(status.stdout)["jobs"]] == ["CANCELLED"] * 3
            again = run_cli("alice", ["submit", str(plan_path)])
            assert again.returncode == 3 and "the plan was cancelled" in again.stderr
        finally:
            scancel_plan(plan)


def _queued(user: str) -> int:
    out = subprocess.run(["squeue", "--noheader", f"--user={user}", "--format=%i"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return len(out.split())


def test_a_queue_cap_makes_submit_wait_for_room() -> None:
    bed_facts()
    with workspace() as ws:
        bob_dir = ws.dir_for("bob")
        # Other tests may have jobs of bob queued: the cap leaves room for one more job.
        cap = _queued("bob") + 1
        config = base_config(submission={"max_jobs_in_queue": cap})
        profile = {"username": "bob", "transport": "local", "project_dir": str(bob_dir / "p")}
        plan_path = bob_dir / "plan.json"
        plan = compile_to(config, profile, _one_task_jobs("capped", 3, ["sleep", "1"]),
                          plan_path, "bob")  # fmt: skip
        assert plan.max_jobs_in_queue == cap
        try:
            done = run_cli(
                "bob",
                ["submit", str(plan_path), "--poll-interval", "0.5", "--poll-max", "1"],
                timeout=120,
            )
            assert done.returncode == 0, show(done)
            assert "3 submitted now" in done.stdout
            assert f"max_jobs_in_queue={cap}); waiting" in done.stderr
            rows = squeue_rows([j.name for j in plan.jobs])
            assert sorted(r[2] for r in rows) == sorted(j.name for j in plan.jobs)
        finally:
            scancel_plan(plan)
