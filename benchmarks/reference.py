"""The reference, fractal-server 2.18.5's SLURM runner, on the benchmark's work.

Two ways to run it on the same tasks as slurmplan:

- `in_memory`: its batching heuristic (`_batching.heuristics`) and its script
  assembly (`SlurmConfig.to_sbatch_preamble`, `sort_script_lines`, one `srun` line
  per task), the lines copied from `BaseSlurmRunner._prepare_single_slurm_job`,
  without its per-task objects or files: the least the reference can do.
- `real_path`: what its `multisubmit` does before the first `sbatch`:
  `get_slurm_config` (config validation + heuristic), `TaskFiles` per task,
  `SlurmTask`/`SlurmJob` per batch, and its own `_prepare_single_slurm_job`,
  which writes the script plus two JSON files per task (input and args).

Importing it needs two stubs: `fractal_server.logger` reads the server's
settings on import (replaced by plain loggers, disabled so that the reference
pays no logging cost), and the real path's modules build the server's settings
objects on import, which need `POSTGRES_DB` and `JWT_SECRET_KEY` set to
anything (nothing connects to a database here).
"""

from __future__ import annotations

import logging
import os
import sys
import types
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

from slurmplan.compiler.slurm.units import parse_mem_mib

# The reference's wrapper that runs one task inside its job (its srun lines).
_REMOTE = "-m fractal_server.runner.executors.slurm_common.remote"
PYTHON_WORKER = "/usr/bin/python3"


def _quiet_logger(name: str | None = None, **_: Any) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.disabled = True
    return logger


def _install_stubs() -> None:
    """Make the reference's pure parts importable without a server's settings."""
    stub = types.ModuleType("fractal_server.logger")
    stub.set_logger = _quiet_logger  # type: ignore[attr-defined]
    stub.get_logger = _quiet_logger  # type: ignore[attr-defined]
    stub.close_logger = lambda logger: None  # type: ignore[attr-defined]
    sys.modules["fractal_server.logger"] = stub
    os.environ.setdefault("POSTGRES_DB", "unused_by_the_benchmark")
    os.environ.setdefault("JWT_SECRET_KEY", "unused-by-the-benchmark")


# The stubs must be in place before the reference's modules are imported.
_install_stubs()

from fractal_server.runner.config import JobRunnerConfigSLURM  # noqa: E402
from fractal_server.runner.executors.slurm_common._batching import heuristics  # noqa: E402
from fractal_server.runner.executors.slurm_common.base_slurm_runner import (  # noqa: E402
    BaseSlurmRunner,
)
from fractal_server.runner.executors.slurm_common.get_slurm_config import (  # noqa: E402
    get_slurm_config,
)
from fractal_server.runner.executors.slurm_common.slurm_config import SlurmConfig  # noqa: E402
from fractal_server.runner.executors.slurm_common.slurm_job_task_models import (  # noqa: E402
    SlurmJob,
    SlurmTask,
)
from fractal_server.runner.task_files import (  # noqa: E402
    TaskFiles,
    enrich_task_files_multisubmit,
)


def version() -> str:
    return dist_version("fractal-server")


def reference_inputs(config: dict[str, Any], task_list: dict[str, Any]) -> dict[str, Any]:
    """The benchmark's inputs in the reference's terms (homogeneous task lists only).

    Memory goes over as integer MiB, so that both sides batch and size jobs alike
    (the reference reads "8G" as 8000 MB, slurmplan as Slurm does, 8192 MiB).
    Each task's command `BASE... --zarr-url URL --args-json PATH` becomes the
    reference's `base_command` and a parameters dict `{"zarr_url": URL}`.
    """
    default = dict(config["default_slurm_config"])
    default["mem"] = parse_mem_mib(default["mem"])
    batching = dict(config["batching_config"])
    for key in ("target_mem_per_job", "max_mem_per_job"):
        batching[key] = parse_mem_mib(batching[key])
    meta = dict(task_list.get("meta", {}))
    if "mem" in meta:
        meta["mem"] = parse_mem_mib(meta["mem"])
    tasks = task_list["tasks"]
    assert all("meta" not in t and "env" not in t for t in tasks), "homogeneous lists only"
    base = tasks[0]["command"][:-4]
    return {
        "runner_config": {
            "default_slurm_config": default,
            "batching_config": batching,
            "user_local_exports": dict(config.get("user_local_exports", {})),
        },
        "meta": meta,
        "task_name": task_list["name"],
        "base_command": " ".join(base),
        "list_parameters": [{"zarr_url": t["command"][-3]} for t in tasks],
    }


def in_memory(
    ref: dict[str, Any], *, workdir: str, cache_dir: str
) -> tuple[tuple[int, int], list[str]]:
    """(tasks_per_job, parallel_tasks_per_job) and every job's script, in memory."""
    default, batching, meta = (
        ref["runner_config"]["default_slurm_config"],
        ref["runner_config"]["batching_config"],
        ref["meta"],
    )
    n = len(ref["list_parameters"])
    cpus = meta.get("cpus_per_task", default["cpus_per_task"])
    mem = meta.get("mem", default["mem"])
    tasks_per_job, parallel = heuristics(
        tot_tasks=n, cpus_per_task=cpus, mem_per_task=mem, **batching
    )
    config = SlurmConfig(
        partition=default["partition"],
        cpus_per_task=cpus,
        mem_per_task_MB=mem,
        shebang_line=default.get("shebang_line", "#!/bin/sh"),  # the reference's default
        job_name=ref["task_name"],
        time=meta.get("time", default.get("time")),
        account=default.get("account"),
        extra_lines=list(default.get("extra_lines", [])),
        user_local_exports=ref["runner_config"]["user_local_exports"],
        tasks_per_job=tasks_per_job,
        parallel_tasks_per_job=parallel,
        **batching,
    )
    scripts: list[str] = []
    for job, start in enumerate(range(0, n, tasks_per_job)):
        prefix = f"par-{job:06d}"
        cmdlines = [
            f"{PYTHON_WORKER} {_REMOTE} "
            f"--input-file {workdir}/{prefix}-{index:07d}-input.json "
            f"--output-file {workdir}/{prefix}-{index:07d}-output.json"
            for index in range(start, min(n, start + tasks_per_job))
        ]
        # From here on, _prepare_single_slurm_job's lines (2.18.5), files left out.
        config.parallel_tasks_per_job = min(len(cmdlines), parallel)
        lines = config.to_sbatch_preamble(
            remote_export_dir=cache_dir, use_mem_per_cpu=config.use_mem_per_cpu
        )
        lines.extend(
            [
                f"#SBATCH --err={workdir}/{prefix}-slurm-%j.err",
                f"#SBATCH --out={workdir}/{prefix}-slurm-%j.out",
                f"#SBATCH -D {workdir}",
            ]
        )
        lines = config.sort_script_lines(lines)
        lines.append('\necho "Hostname: $(uname -n)"')
        lines.append('echo "Current directory: $(pwd)"')
        lines.append('echo "Start time: $(date +"%Y-%m-%dT%H:%M:%S%z")"')
        lines.append("\n")
        for cmd in cmdlines:
            if config.use_mem_per_cpu:
                mem_specific = f"--mem-per-cpu={config.mem_per_cpu_MB}MB"
            else:
                mem_specific = f"--mem={config.mem_per_task_MB}MB"
            lines.append(
                f"srun --ntasks=1 --cpus-per-task=$SLURM_CPUS_PER_TASK {mem_specific} {cmd} &"
            )
        lines.append("wait\n\n")
        lines.append('echo "End time:   $(date +"%Y-%m-%dT%H:%M:%S%z")"')
        scripts.append("\n".join(lines))
    return (tasks_per_job, parallel), scripts


def real_path(
    ref: dict[str, Any], *, root: str, cache_dir: str
) -> tuple[tuple[int, int], list[str]]:
    """The reference's own preparation, files and all, under `root`.

    Returns the batching and the submit commands it would run.
    """
    list_parameters: list[dict[str, Any]] = ref["list_parameters"]
    n = len(list_parameters)
    shared = JobRunnerConfigSLURM(**ref["runner_config"])
    # get_slurm_config reads only these two attributes of the WorkflowTaskV2.
    wftask = types.SimpleNamespace(
        meta_parallel=ref["meta"], task=types.SimpleNamespace(name=ref["task_name"])
    )
    config = get_slurm_config(
        shared_config=shared,
        wftask=wftask,  # type: ignore[arg-type]
        which_type="parallel",
        tot_tasks=n,
    )
    # The runner attributes that _enrich_slurm_config and _prepare_single_slurm_job read.
    runner = types.SimpleNamespace(
        slurm_runner_type="sudo",
        python_worker_interpreter=PYTHON_WORKER,
        user_cache_dir=cache_dir,
        slurm_account=None,
        common_script_lines=[],
    )
    config = BaseSlurmRunner._enrich_slurm_config(runner, config)  # type: ignore[arg-type]
    batching = (config.tasks_per_job, config.parallel_tasks_per_job)
    base_files = TaskFiles(
        root_dir_local=Path(root), root_dir_remote=Path(root), task_name=ref["task_name"],
        task_order=0,
    )  # fmt: skip
    list_task_files = enrich_task_files_multisubmit(
        tot_tasks=n, batch_size=config.tasks_per_job, base_task_files=base_files
    )
    workdir_local = list_task_files[0].wftask_subfolder_local
    workdir_remote = list_task_files[0].wftask_subfolder_remote
    workdir_local.mkdir(parents=True, exist_ok=True)
    # multisubmit, part 1/3: one SlurmJob per batch.
    batch_size = config.tasks_per_job
    jobs = []
    for start in range(0, n, batch_size):
        prefix = list_task_files[start].prefix
        tasks = []
        for index in range(start, min(n, start + batch_size)):
            parameters = list_parameters[index]
            tasks.append(
                SlurmTask(
                    prefix=prefix,
                    index=index,
                    component=list_task_files[index].component,
                    workdir_local=workdir_local,
                    workdir_remote=workdir_remote,
                    parameters=parameters,
                    zarr_url=parameters["zarr_url"],
                    task_files=list_task_files[index],
                    workflow_task_order=0,
                    workflow_task_id=1,
                    task_name=ref["task_name"],
                )
            )
        jobs.append(
            SlurmJob(
                prefix=prefix, workdir_local=workdir_local, workdir_remote=workdir_remote,
                tasks=tasks,
            )
        )  # fmt: skip
    submit_commands = [
        BaseSlurmRunner._prepare_single_slurm_job(
            runner,  # type: ignore[arg-type]
            base_command=ref["base_command"],
            slurm_job=job,
            slurm_config=config,
        )
        for job in jobs
    ]
    return batching, submit_commands
