"""Runs of one plan on the real testbed: a re-run never reports an earlier run's results,
and a cut-off intent of a new run is never bound to an earlier run's job (issue 8,
observations 1 and 2; docs/effects.md, "Runs").  Real sbatch/squeue/scancel."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
from pathlib import Path

import pytest
from effects_helpers import (
    base_config,
    bed_facts,
    collect_json,
    compile_to,
    run_cli,
    run_rows,
    scancel_plan,
    show,
    workspace,
)

pytestmark = pytest.mark.testbed


def _partition(state: str) -> None:
    """As root: a DOWN partition takes jobs but starts none (they stay PENDING)."""
    subprocess.run(
        ["scontrol", "update", "PartitionName=main", f"State={state}"], check=True, timeout=30
    )


def _as_alice(path: Path, text: str) -> None:
    path.write_text(text)
    entry = pwd.getpwnam("alice")
    os.chown(path, entry.pw_uid, entry.pw_gid)


def test_a_rerun_cancelled_before_it_started_reports_cancelled_not_the_first_runs_success() -> None:
    bed_facts()
    with workspace() as ws:
        alice_dir = ws.dir_for("alice")
        profile = {"username": "alice", "transport": "local", "project_dir": str(alice_dir / "p")}
        plan_path = alice_dir / "plan.json"
        tasks = {
            "name": "rerun",
            "tasks_per_job": 1,
            "parallel_tasks_per_job": 1,
            "tasks": [{"id": f"t{i}", "command": ["true"]} for i in range(2)],
        }
        plan = compile_to(base_config(), profile, tasks, plan_path, "alice")
        names = [job.name for job in plan.jobs]
        second, third = alice_dir / "second.journal", alice_dir / "third.journal"
        try:
            first_run = [["submit", str(plan_path)], ["wait", str(plan_path), "--timeout", "120"]]
            for args in first_run:
                done = run_cli("alice", args, timeout=180)
                assert done.returncode == 0, show(done)
            first = collect_json("alice", plan_path)
            assert {t["state"] for t in first["tasks"].values()} == {"COMPLETED"}

            # Run 2 of the same plan, in the same workdir: cancelled while still pending.
            _partition("DOWN")
            try:
                done = run_cli("alice", ["submit", str(plan_path), "--journal", str(second)])
                assert done.returncode == 0, show(done)
                assert "2 submitted now" in done.stdout
                done = run_cli("alice", ["cancel", str(plan_path), "--journal", str(second)])
                assert done.returncode == 0, show(done)
            finally:
                _partition("UP")
            rows = run_rows(names)
            assert len({run for *_, run in rows}) == 2 and len(rows) == 4  # two runs' jobs

            waited = run_cli(
                "alice", ["wait", str(plan_path), "--journal", str(second), "--timeout", "120"]
            )
            assert waited.returncode == 1, show(waited)  # not 0: nothing of run 2 ran
            assert "task t0: CANCELLED" in waited.stderr
            collected = collect_json("alice", plan_path, "--journal", str(second))
            assert collected["run"] != first["run"]
            for task in collected["tasks"].values():
                assert (task["state"], task["exit_code"], task["started"]) == (
                    "CANCELLED", None, None
                )  # fmt: skip
            # run 1's logs are in the workdir: not run 2's, so fetch brings none home
            home = alice_dir / "home"
            fetched = run_cli(
                "alice", ["fetch", str(plan_path), str(home), "--journal", str(second)]
            )
            assert fetched.returncode == 1, show(fetched)
            assert "2 task(s) did not end in this run" in fetched.stdout
            assert "task t0: did not end in this run (CANCELLED)" in fetched.stderr
            assert not (home / "tasks" / "t0.out").exists()

            # Run 3: its intent for job 0 was cut off before sbatch ran.  Run 1's job 0
            # has the same plan job name and is still in squeue, COMPLETED: not this run's.
            run = "5f2a9c1e"
            header = {"event": "header", "format": "slurmplan-journal/2",
                      "plan_id": plan.plan_id, "name": plan.name, "run": run}  # fmt: skip
            intent = {"event": "intent", "job": 0, "name": f"{names[0]}.{run}"}
            _as_alice(third, json.dumps(header) + "\n" + json.dumps(intent) + "\n")
            done = run_cli("alice", ["submit", str(plan_path), "--journal", str(third)])
            assert done.returncode == 0, show(done)
            assert "2 submitted now" in done.stdout and "before" not in done.stderr
            done = run_cli(
                "alice", ["wait", str(plan_path), "--journal", str(third), "--timeout", "120"]
            )
            assert done.returncode == 0, show(done)
            third_ids = {t["job_id"] for t in collect_json(
                "alice", plan_path, "--journal", str(third))["tasks"].values()}  # fmt: skip
            assert not third_ids & {t["job_id"] for t in first["tasks"].values()}
            assert sorted(r[0] for r in run_rows(names) if r[4] == run) == sorted(third_ids)
        finally:
            _partition("UP")
            scancel_plan(plan)
