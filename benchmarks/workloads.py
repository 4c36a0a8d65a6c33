"""Inputs for the benchmarks: a realistic site config and task lists of any size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CONFIG: dict[str, Any] = {
    "default_slurm_config": {
        "partition": "main",
        "cpus_per_task": 1,
        "mem": "4G",
        "time": "01:00:00",
        "account": "lab",
        "extra_lines": ["export SOMEVARIABLE=123", "#SBATCH --comment=bench"],
    },
    "batching_config": {
        "target_cpus_per_job": 16,
        "max_cpus_per_job": 32,
        "target_mem_per_job": "64G",
        "max_mem_per_job": "128G",
        "target_num_jobs": 100,
        "max_num_jobs": 500,
    },
    "user_local_exports": {"LIBRARY_1_CACHE_DIR": "somewhere/library_1"},
    "scripts_dir": "/srv/slurmplan/scripts",
}

# The same site allowing 1,000 jobs per batch of alike tasks (the reference's own
# max_num_jobs knob): 100,000 homogeneous tasks then make 1,000 jobs of 100 tasks,
# 16 at once (the heuristic's last branch, ceil(100,000 / 1,000) tasks per job),
# on both sides, where CONFIG's 500 make 500 jobs of 200.
CONFIG_1000_JOBS: dict[str, Any] = {
    **CONFIG,
    "batching_config": {**CONFIG["batching_config"], "max_num_jobs": 1000},
}

PROFILE: dict[str, Any] = {
    "username": "alice",
    "transport": "sudo",
    "project_dir": "/home/alice/project",
}


def homogeneous(n: int) -> dict[str, Any]:
    """n alike tasks, each a typical fractal-style command line."""
    return {
        "name": "bench",
        "meta": {"cpus_per_task": 2, "mem": "8G"},
        "tasks": [
            {
                "id": f"img_{i:07d}",
                "command": [
                    "python3", "-m", "fractal_tasks.cellpose_segmentation",
                    "--zarr-url", f"/data/plate 1.zarr/B/03/{i}",
                    "--args-json", f"/home/alice/project/args/{i}.json",
                ],
            }
            for i in range(n)
        ],
    }  # fmt: skip


def heterogeneous(n: int) -> dict[str, Any]:
    """n tasks in four resource groups, some with env and their own meta."""
    doc = homogeneous(n)
    metas: list[dict[str, Any]] = [{}, {"mem": "16G"}, {"cpus_per_task": 4}, {"time": "02:00:00"}]
    for i, task in enumerate(doc["tasks"]):
        meta = metas[i % 4]
        if meta:
            task["meta"] = meta
        if i % 3 == 0:
            task["env"] = {"OMP_NUM_THREADS": "2"}
    return doc


# workload -> (runner config, task list of n tasks); "1000x100" is 1,000 jobs x 100 tasks
# at 100,000 tasks (above 16,000 tasks, 1,000 jobs of ceil(n / 1,000) tasks).
WORKLOADS: dict[str, tuple[dict[str, Any], Callable[[int], dict[str, Any]]]] = {
    "homogeneous": (CONFIG, homogeneous),
    "heterogeneous": (CONFIG, heterogeneous),
    "1000x100": (CONFIG_1000_JOBS, homogeneous),
}
