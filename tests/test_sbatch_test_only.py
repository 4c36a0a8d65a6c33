"""Rendered scripts are accepted by the real `sbatch --test-only` on the testbed
(docs/architecture.md §4).

`--test-only` makes slurmctld validate the script and its #SBATCH directives
and estimate a start time, without queueing anything.  Two negative cases show
the check can fail: an unknown partition, and a time_per_task that, scaled by
the job's waves, exceeds the debug partition's MaxTime (30 minutes).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from slurmplan.compiler import MkdirStep, Plan, SubmitStep, WriteStep, compile_plan

pytestmark = pytest.mark.testbed

ROOT = Path(__file__).resolve().parent.parent


def _testbed_up() -> str | None:
    """None when the testbed answers, else why not."""
    if shutil.which("sbatch") is None:
        return "sbatch is not installed"
    status = subprocess.run(
        ["bash", str(ROOT / "scripts" / "testbed.sh"), "status"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if status.returncode != 0:
        return f"the SLURM testbed is not up (bash scripts/testbed.sh up): {status.stdout.strip()}"
    return None


@pytest.fixture(scope="module", autouse=True)
def _require_testbed() -> None:
    reason = _testbed_up()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: not skipping)")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def node() -> str:
    out = subprocess.run(
        ["sinfo", "--noheader", "--format=%n"], capture_output=True, text=True, check=True
    )
    return out.stdout.split()[0]


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "examples" / f"{name}.json").read_text())
    return loaded


BATCHING = {
    "target_cpus_per_job": 4, "max_cpus_per_job": 8,
    "target_mem_per_job": "2G", "max_mem_per_job": "4G",
    "target_num_jobs": 10, "max_num_jobs": 20,
}  # fmt: skip


def _profile(jobs_dir: Path) -> dict[str, Any]:
    return {
        "username": "alice",
        "transport": "local",
        "project_dir": str(jobs_dir.parent),
        "jobs_dir": str(jobs_dir),
    }


def _tasks(n: int, meta: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    tasks: list[dict[str, Any]] = [
        {"id": f"t{i}", "command": ["echo", f"task {i}", "it's"]} for i in range(n)
    ]
    if meta is not None:
        tasks[1]["meta"] = meta
    return {"name": "testonly", **top, "tasks": tasks}


def _config(default: dict[str, Any]) -> dict[str, Any]:
    base = {"partition": "main", "cpus_per_task": 1, "mem": "200M"}
    return {"default_slurm_config": {**base, **default}, "batching_config": BATCHING}


def _cases(tmp: Path, node: str) -> dict[str, tuple[dict[str, Any], ...]]:
    examples = (_load("config"), _profile(tmp / "examples"), _load("tasks"))
    heterogeneous = _tasks(6, {"cpus_per_task": 2, "mem": "300M"})
    heterogeneous["tasks"][4]["meta"] = {"time": "45"}
    return {
        "examples": examples,
        "groups, time_per_task and extra #SBATCH lines": (
            _config(
                {
                    "time_per_task": "5",
                    "extra_lines": [
                        "#SBATCH --comment=x",
                        "#SBATCH --requeue",
                        "export A=1",
                        '#SBATCH --comment="two words"',
                        "#SBATCH --mail-type=NONE",
                        "#SBATCH --open-mode=append",
                    ],
                }
            ),
            _profile(tmp / "groups"),
            heterogeneous,
        ),
        "mem_per_cpu, nodes, nodelist": (
            _config(
                {
                    "cpus_per_task": 2,
                    "mem": "1G",
                    "use_mem_per_cpu": True,
                    "nodes": 1,
                    "nodelist": node,
                }
            ),
            _profile(tmp / "mempercpu"),
            _tasks(3, tasks_per_job=3, parallel_tasks_per_job=2),
        ),
        "debug partition, time_per_task within its MaxTime": (
            _config({"partition": "debug", "time_per_task": "00:10:00"}),
            _profile(tmp / "debug"),
            _tasks(4, tasks_per_job=4, parallel_tasks_per_job=2),  # 2 waves: 20 min <= 30
        ),
        "hours over 24, and unlimited": (
            _config({"time": "36:00:00", "shebang_line": "#!/bin/sh"}),
            _profile(tmp / "long"),
            _tasks(2, {"time": "UNLIMITED"}),
        ),
    }


def _write(plan: Plan) -> None:
    """Carry out the local plan's mkdir and write steps, as the effects layer would."""
    for step in plan.steps:
        if isinstance(step, MkdirStep):
            subprocess.run(step.argv, check=True)
        elif isinstance(step, WriteStep):
            path = Path(step.path)
            path.write_text(plan.jobs[step.job].script)
            path.chmod(step.mode)


def _test_only(plan: Plan) -> list[subprocess.CompletedProcess[str]]:
    results = []
    for step in plan.steps:
        if isinstance(step, SubmitStep):
            assert step.argv[0] == "sbatch"
            argv = ["sbatch", "--test-only", *step.argv[1:]]
            results.append(
                subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
            )
    assert len(results) == len(plan.jobs)
    return results


@pytest.mark.parametrize(
    "case",
    [
        "examples",
        "groups, time_per_task and extra #SBATCH lines",
        "mem_per_cpu, nodes, nodelist",
        "debug partition, time_per_task within its MaxTime",
        "hours over 24, and unlimited",
    ],
)
def test_sbatch_accepts_every_script(case: str, tmp_path: Path, node: str) -> None:
    plan = compile_plan(*_cases(tmp_path, node)[case])
    _write(plan)
    for job, result in zip(plan.jobs, _test_only(plan), strict=True):
        assert result.returncode == 0, f"{job.script_path}:\n{result.stderr}\n{job.script}"
        assert "to start at" in result.stderr


def test_the_cases_cover_what_they_claim(tmp_path: Path, node: str) -> None:
    cases = _cases(tmp_path, node)
    groups = compile_plan(*cases["groups, time_per_task and extra #SBATCH lines"])
    assert len(groups.groups) == 3
    assert {job.time for job in groups.jobs} >= {"00:05:00", "00:45:00"}
    mem = compile_plan(*cases["mem_per_cpu, nodes, nodelist"])
    assert "#SBATCH --mem-per-cpu=512M\n" in mem.jobs[0].script
    debug = compile_plan(*cases["debug partition, time_per_task within its MaxTime"])
    assert [job.time for job in debug.jobs] == ["00:20:00"]
    long = compile_plan(*cases["hours over 24, and unlimited"])
    assert {job.time for job in long.jobs} == {"1-12:00:00", "UNLIMITED"}


def test_sbatch_rejects_an_unknown_partition(tmp_path: Path) -> None:
    config, profile, tasks = _load("config"), _profile(tmp_path / "bad"), _load("tasks")
    config = copy.deepcopy(config)
    config["default_slurm_config"]["partition"] = "nosuchpartition"
    plan = compile_plan(config, profile, tasks)
    _write(plan)
    for result in _test_only(plan):
        assert result.returncode != 0
        assert "invalid partition" in result.stderr.lower()


def test_sbatch_rejects_scaled_time_over_the_partition_limit(tmp_path: Path) -> None:
    # 3 tasks in 1 lane: 3 waves * 15 min = 45 min > debug's MaxTime of 30 min.
    plan = compile_plan(
        _config({"partition": "debug", "time_per_task": "15"}),
        _profile(tmp_path / "toolong"),
        _tasks(3, tasks_per_job=3, parallel_tasks_per_job=1),
    )
    assert [job.time for job in plan.jobs] == ["00:45:00"]
    _write(plan)
    (result,) = _test_only(plan)
    assert result.returncode != 0
    assert "time limit" in result.stderr.lower()
