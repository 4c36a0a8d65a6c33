"""What Slurm would refuse is refused at compile (issue 9; docs/architecture.md §2): a
job script over Slurm's max_script_size (`submission.max_script_bytes`, default 4 MiB,
Slurm's own default) names the job and the limit, instead of failing at sbatch."""

from __future__ import annotations

from typing import Any

import pytest

from compiler import CompileError, compile_plan
from compiler.errors import Source


def _inputs(n_tasks: int, arg_chars: int, **submission: Any) -> tuple[dict[str, Any], ...]:
    config: dict[str, Any] = {
        "default_slurm_config": {"partition": "main", "cpus_per_task": 1, "mem": "10M"},
        "batching_config": {
            "target_cpus_per_job": 1, "max_cpus_per_job": 1,
            "target_mem_per_job": "1G", "max_mem_per_job": "1G",
            "target_num_jobs": 1, "max_num_jobs": 1,
        },
    }  # fmt: skip
    if submission:
        config["submission"] = submission
    profile = {"username": "alice", "transport": "local", "project_dir": "/p"}
    tasks = {"name": "big", "tasks": [
        {"id": f"t{i}", "command": ["echo", "x" * arg_chars]} for i in range(n_tasks)]}  # fmt: skip
    return config, profile, tasks


def test_a_script_over_slurms_default_4_mib_is_refused_naming_the_job() -> None:
    with pytest.raises(CompileError) as caught:
        compile_plan(*_inputs(5000, 1000))  # one job, ~5 MB of task lines
    (problem,) = caught.value.problems
    assert (problem.source, problem.pointer) == (Source.CONFIG, "/submission/max_script_bytes")
    assert "job 0's script is " in problem.message
    assert "over 4194304 bytes" in problem.message and "(got " not in problem.message


def test_the_site_limit_is_the_runner_configs() -> None:
    plan = compile_plan(*_inputs(5000, 1000, max_script_bytes=8 * 1024 * 1024))
    size = len(plan.jobs[0].script.encode())
    assert 4 * 1024 * 1024 < size <= 8 * 1024 * 1024
    with pytest.raises(CompileError, match=r"job 0's script is \d+ bytes, over 1000 bytes"):
        compile_plan(*_inputs(2, 10, max_script_bytes=1000))
    compile_plan(*_inputs(2, 10, max_script_bytes=size))  # a small plan well within it


def test_max_script_bytes_must_be_a_positive_whole_number() -> None:
    with pytest.raises(CompileError) as caught:
        compile_plan(*_inputs(1, 1, max_script_bytes=0))
    assert [p.pointer for p in caught.value.problems] == ["/submission/max_script_bytes"]
