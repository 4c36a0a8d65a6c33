"""How jobs end on the real testbed, and what `wait` and `collect` say of their tasks
(issue 8, observation 4; docs/effects.md, "States"): a task killed at its job's time
limit is TIMEOUT, not an ordinary failure; a job sbatch refuses is REFUSED with the
others reported, and `wait` exits 1 (tasks failed), not 2 (bad input)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from effects_helpers import (
    base_config,
    bed_facts,
    collect_json,
    compile_to,
    run_cli,
    scancel_plan,
    show,
    workspace,
)

from slurmplan.compiler import Plan

pytestmark = pytest.mark.testbed


def _plan_for_alice(
    ws_dir: Path, name: str, config: dict[str, Any], tasks: list[Any]
) -> tuple[Plan, Path]:
    profile = {"username": "alice", "transport": "local", "project_dir": str(ws_dir / "p")}
    task_list = {"name": name, "tasks_per_job": 2, "parallel_tasks_per_job": 2, "tasks": tasks}
    plan_path = ws_dir / f"{name}.json"
    return compile_to(config, profile, task_list, plan_path, "alice"), plan_path


def test_a_task_killed_at_the_time_limit_is_timeout_and_its_neighbour_completed() -> None:
    bed_facts()
    with workspace() as ws:
        config = base_config()
        config["default_slurm_config"]["time"] = "00:01:00"  # Slurm's smallest limit
        tasks = [
            {"id": "slow", "command": ["sleep", "600"]},
            {"id": "quick", "command": ["true"]},
        ]
        plan, plan_path = _plan_for_alice(ws.dir_for("alice"), "limit", config, tasks)
        try:
            done = run_cli("alice", ["submit", str(plan_path)])
            assert done.returncode == 0, show(done)
            # the limit strikes after 60 s; slurmctld notices within its timer's period
            waited = run_cli(
                "alice",
                ["wait", str(plan_path), "--timeout", "280", "--poll-max", "5"],
                timeout=300,
            )
            assert waited.returncode == 1, show(waited)
            assert "task slow: TIMEOUT" in waited.stderr, show(waited)
            tasks_out = collect_json("alice", plan_path)["tasks"]
            slow, quick = tasks_out["slow"], tasks_out["quick"]
            assert (quick["state"], quick["exit_code"]) == ("COMPLETED", 0)
            assert slow["state"] == "TIMEOUT", slow
            # killed with SIGTERM at the limit, or before its lane could write a line
            assert (slow["exit_code"], slow["signal"]) in {(143, "SIGTERM"), (None, None)}, slow
            assert "exit code None" not in waited.stderr and "None" not in str(slow["state"])
        finally:
            scancel_plan(plan)


def test_a_job_sbatch_refuses_is_refused_and_the_others_still_reported() -> None:
    bed_facts()
    with workspace() as ws:
        config = base_config()
        config["default_slurm_config"]["partition"] = "nosuchpartition"
        tasks = [{"id": "a", "command": ["true"]}, {"id": "b", "command": ["true"]}]
        plan, plan_path = _plan_for_alice(ws.dir_for("alice"), "refused", config, tasks)
        try:
            done = run_cli("alice", ["submit", str(plan_path)])
            assert done.returncode != 0, show(done)
            assert "Invalid partition name specified" in done.stderr, show(done)
            status = run_cli("alice", ["status", str(plan_path)])
            assert status.returncode == 0 and "job 0: REFUSED: sbatch refused it" in (
                status.stdout
            ), show(status)
            waited = run_cli("alice", ["wait", str(plan_path), "--timeout", "60"])
            assert waited.returncode == 1, show(waited)  # tasks failed, not bad input (2)
            assert "task a: REFUSED (job 0: sbatch refused it: sbatch: error: " in waited.stderr
            assert "Invalid partition name specified" in waited.stderr
            states = {t: r["state"] for t, r in collect_json("alice", plan_path)["tasks"].items()}
            assert states == {"a": "REFUSED", "b": "REFUSED"}
        finally:
            scancel_plan(plan)
