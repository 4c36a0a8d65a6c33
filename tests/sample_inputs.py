"""Small valid inputs for tests: one place for the base shape, each test varies what it checks."""

from __future__ import annotations

from typing import Any

# target ≤ max everywhere; small enough that a few tasks already batch.
BATCHING: dict[str, Any] = {
    "target_cpus_per_job": 4, "max_cpus_per_job": 8,
    "target_mem_per_job": "4G", "max_mem_per_job": "8G",
    "target_num_jobs": 10, "max_num_jobs": 20,
}  # fmt: skip


def config(**default: Any) -> dict[str, Any]:
    """A runner config whose default_slurm_config is the base plus `default`."""
    return {
        "default_slurm_config": {"partition": "main", "cpus_per_task": 1, "mem": "1G", **default},
        "batching_config": dict(BATCHING),
    }


def one_task_per_job_config(max_jobs: int, **extra: Any) -> dict[str, Any]:
    """A runner config where a job holds one task (1 CPU, 1G each) and up to `max_jobs`
    jobs fit: n tasks give n jobs; `extra` adds top-level keys (e.g. scripts_dir)."""
    return {
        "default_slurm_config": {"partition": "main", "cpus_per_task": 1, "mem": "1G"},
        "batching_config": {
            "target_cpus_per_job": 1, "max_cpus_per_job": 1,
            "target_mem_per_job": "1G", "max_mem_per_job": "1G",
            "target_num_jobs": max_jobs, "max_num_jobs": max_jobs,
        },
        **extra,
    }  # fmt: skip


def profile(project_dir: str = "/home/alice/p", **extra: Any) -> dict[str, Any]:
    return {"username": "alice", "transport": "local", "project_dir": project_dir, **extra}


def tasks(n: int = 1, name: str = "t", prefix: str = "t") -> dict[str, Any]:
    """`n` tasks with ids prefix0, prefix1, ... each running `true`."""
    return {"name": name, "tasks": [{"id": f"{prefix}{i}", "command": ["true"]} for i in range(n)]}
