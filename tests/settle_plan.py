"""The small plan the settle and lane-line tests read (tests/test_decisions_settle.py,
property_tests/test_lane_lines_props.py): 3 jobs of 2 tasks each in 2 lanes,
a0 a1 | a2 a3 | a4 a5."""

from __future__ import annotations

from functools import cache

from slurmplan.compiler import Plan, compile_plan

TASKS = tuple(f"a{i}" for i in range(6))


@cache
def three_job_plan() -> Plan:
    config = {
        "default_slurm_config": {"partition": "main", "cpus_per_task": 1, "mem": "1G"},
        "batching_config": {
            "target_cpus_per_job": 2, "max_cpus_per_job": 2,
            "target_mem_per_job": "2G", "max_mem_per_job": "2G",
            "target_num_jobs": 3, "max_num_jobs": 3,
        },
    }  # fmt: skip
    profile = {"username": "alice", "transport": "local", "project_dir": "/p"}
    tasks = {"name": "st", "tasks": [{"id": t, "command": ["true"]} for t in TASKS]}
    plan = compile_plan(config, profile, tasks)
    assert [j.tasks for j in plan.jobs] == [("a0", "a1"), ("a2", "a3"), ("a4", "a5")]
    return plan
