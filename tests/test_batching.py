"""compiler.passes.batch: the reference heuristic, branch by branch (docs/architecture.md §3).

Limits used throughout (L): target/max CPUs 16/32, target/max mem 64G/128G
(65536/131072 MiB), target/max jobs 100/500.  Every expectation is computed by
hand in the comment next to it.
"""

from __future__ import annotations

from typing import Any

import pytest

from slurmplan.compiler import CompileError, compile_plan
from slurmplan.compiler.passes.batch import Batching, BatchingError, choose, fit
from slurmplan.compiler.passes.parse import BatchingLimits

L = BatchingLimits(
    target_cpus_per_job=16,
    max_cpus_per_job=32,
    target_mem_per_job=65536,
    max_mem_per_job=131072,
    target_num_jobs=100,
    max_num_jobs=500,
)


def _choose(
    n: int, cpus: int, mem: int, tasks: int | None = None, par: int | None = None
) -> Batching:
    return choose(
        n_tasks=n, cpus=cpus, mem_mb=mem, limits=L, tasks_per_job=tasks, parallel_tasks_per_job=par
    )


def _pair(b: Batching) -> tuple[int, int]:
    return (b.tasks_per_job, b.parallel_tasks_per_job)


def test_fit() -> None:
    assert fit(2, 4096, 16, 65536) == 8  # min(16 // 2, 65536 // 4096) = min(8, 16)
    assert fit(1, 16384, 16, 65536) == 4  # min(16, 4): memory-bound
    assert fit(17, 1, 16, 65536) == 1  # too many CPUs for the cap: 1
    assert fit(1, 65537, 16, 65536) == 1  # too much memory for the cap: 1
    assert fit(3, 1000, 16, 65536) == 5  # 16 // 3 = 5


@pytest.mark.parametrize(
    ("n", "cpus", "mem", "expected"),
    [
        # branch 1, target sizes: p = fit(16, 64G)
        (10, 2, 4096, (8, 8)),  # p = 8; ceil(10/8) = 2 <= 100
        (10, 1, 16384, (4, 4)),  # p = min(16, 4) = 4
        (1, 1, 1024, (16, 16)),  # p = min(16, 64) = 16; one job even for one task
        (800, 2, 4096, (8, 8)),  # ceil(800/8) = 100 <= 100 exactly
        (50, 20, 1024, (1, 1)),  # 20 CPUs > target 16: p = 1; 50 jobs <= 100
        (50, 1, 70000, (1, 1)),  # 70000 MiB > target 65536: p = 1
        # branch 2, max sizes: p = fit(32, 128G)
        (801, 2, 4096, (16, 16)),  # ceil(801/8) = 101 > 100; p = min(16, 32) = 16; 51 jobs
        (1000, 2, 4096, (16, 16)),  # 125 > 100; p = 16; 63 <= 500
        (150, 20, 1024, (1, 1)),  # target p = 1: 150 > 100; max p = 32 // 20 = 1; 150 <= 500
        (8000, 2, 4096, (16, 16)),  # 1000 > 100; ceil(8000/16) = 500 <= 500 exactly
        # branch 3, too many jobs even at max: (ceil(n / max_num_jobs), p_max)
        (8001, 2, 4096, (17, 16)),  # ceil(8001/16) = 501 > 500; ceil(8001/500) = 17
        (10000, 2, 4096, (20, 16)),  # 625 > 500; ceil(10000/500) = 20
        (1000, 20, 1024, (2, 1)),  # p_max = 1; 1000 > 500; ceil(1000/500) = 2
        (100000, 1, 1024, (200, 32)),  # p_max = min(32, 128) = 32; ceil(100000/500) = 200
    ],
)
def test_heuristic_branches(n: int, cpus: int, mem: int, expected: tuple[int, int]) -> None:
    batching = _choose(n, cpus, mem)
    assert _pair(batching) == expected
    assert batching.warnings == ()


@pytest.mark.parametrize(
    ("cpus", "mem", "words"),
    [
        (33, 1024, "max_cpus_per_job=32"),
        (1, 131073, "max_mem_per_job=131072M"),
    ],
)
def test_task_larger_than_a_job_is_an_error(cpus: int, mem: int, words: str) -> None:
    with pytest.raises(BatchingError, match=words):
        _choose(10, cpus, mem)


def test_task_exactly_at_the_max_fits_alone() -> None:
    assert _pair(_choose(3, 32, 131072)) == (1, 1)


@pytest.mark.parametrize(("tasks", "par"), [(2, None), (None, 2)])
def test_exactly_one_given_is_an_error(tasks: int | None, par: int | None) -> None:
    with pytest.raises(BatchingError, match="both set or both unset"):
        _choose(10, 1, 1024, tasks, par)


def test_both_given_are_used() -> None:
    # 4 * 2 = 8 CPUs <= 16; 4 * 4096 = 16384 <= 65536; ceil(100/10) = 10 <= 100: no warnings
    batching = _choose(100, 2, 4096, tasks=10, par=4)
    assert _pair(batching) == (10, 4)
    assert batching.warnings == ()


def test_parallel_above_tasks_is_clamped_with_a_warning() -> None:
    batching = _choose(9, 1, 1024, tasks=3, par=5)
    assert _pair(batching) == (3, 3)
    assert batching.warnings == ("parallel_tasks_per_job=5 exceeds tasks_per_job=3; using 3",)


def test_clamp_comes_before_the_cpu_check() -> None:
    # 40 * 2 CPUs would exceed 32, but 40 is clamped to 2 first: 4 CPUs
    assert _pair(_choose(10, 2, 1024, tasks=2, par=40)) == (2, 2)


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ((10, 2, 1024, 20, 17), "= 34 CPUs exceeds .*max_cpus_per_job=32"),  # 17 * 2 = 34 > 32
        ((10, 1, 16384, 10, 9), "= 147456M exceeds .*max_mem_per_job=131072M"),  # 9 * 16384
        ((1001, 1, 1024, 2, 2), "gives 501 jobs for 1001 tasks"),  # ceil(1001/2) = 501 > 500
    ],
)
def test_given_values_over_the_maxes_are_errors(
    case: tuple[int, int, int, int, int], words: str
) -> None:
    with pytest.raises(BatchingError, match=words):
        _choose(*case)


def test_given_values_over_targets_warn() -> None:
    # 16 * 2 = 32 CPUs (> 16, <= 32); 16 * 8192 = 131072M (> 65536, <= 131072);
    # ceil(1000/2) = 500 jobs (> 100, <= 500)
    batching = _choose(1000, 2, 8192, tasks=2, par=16)
    assert _pair(batching) == (2, 2)  # 16 clamped to tasks_per_job = 2 first
    batching = _choose(8000, 2, 8192, tasks=16, par=16)
    assert _pair(batching) == (16, 16)
    assert batching.warnings == (
        "32 CPUs per job exceeds target_cpus_per_job=16",
        "131072M per job exceeds target_mem_per_job=65536M",
        "500 jobs exceeds target_num_jobs=100",
    )


# --- in the plan: ntasks, memory, time, warnings, errors ----------------------------------


def _compile(n: int, default: dict[str, Any] | None = None, **top: Any) -> Any:
    config = {
        "default_slurm_config": {"partition": "main", "cpus_per_task": 2, "mem": "4G",
                                 **(default or {})},
        "batching_config": {
            "target_cpus_per_job": 16, "max_cpus_per_job": 32,
            "target_mem_per_job": "64G", "max_mem_per_job": "128G",
            "target_num_jobs": 100, "max_num_jobs": 500,
        },
    }  # fmt: skip
    profile = {"username": "alice", "transport": "local", "project_dir": "/p"}
    tasks = {"name": "b", **top, "tasks": [{"id": f"t{i}", "command": ["true"]} for i in range(n)]}
    return compile_plan(config, profile, tasks)


def test_jobs_are_consecutive_batches_and_ntasks_is_capped_by_parallel() -> None:
    plan = _compile(10, tasks_per_job=4, parallel_tasks_per_job=3)
    # batches of 4, 4, 2; ntasks = min(len, 3) = 3, 3, 2; mem = ntasks * 4096
    assert [j.tasks for j in plan.jobs] == [
        ("t0", "t1", "t2", "t3"),
        ("t4", "t5", "t6", "t7"),
        ("t8", "t9"),
    ]
    assert [j.ntasks for j in plan.jobs] == [3, 3, 2]
    assert [j.mem_mb for j in plan.jobs] == [12288, 12288, 8192]
    assert [len(j.lane_status_paths) for j in plan.jobs] == [3, 3, 2]
    assert "#SBATCH --ntasks=3\n" in plan.jobs[0].script
    assert "#SBATCH --mem=12288M\n" in plan.jobs[0].script
    assert "#SBATCH --ntasks=2\n" in plan.jobs[2].script
    assert "#SBATCH --mem=8192M\n" in plan.jobs[2].script
    assert [(g.tasks_per_job, g.parallel_tasks_per_job) for g in plan.groups] == [(4, 3)]


def test_heuristic_jobs_in_the_plan() -> None:
    plan = _compile(10)  # p = 8: jobs of 8 and 2
    assert [len(j.tasks) for j in plan.jobs] == [8, 2]
    assert [j.ntasks for j in plan.jobs] == [8, 2]
    assert [j.mem_mb for j in plan.jobs] == [8 * 4096, 2 * 4096]


def test_mem_per_cpu() -> None:
    plan = _compile(4, default={"cpus_per_task": 3, "mem": "4G", "use_mem_per_cpu": True})
    # p = min(16 // 3, 64) = 5 → one job of 4 tasks; floor(4096 / 3) = 1365 MiB per CPU
    (job,) = plan.jobs
    assert job.ntasks == 4
    assert "#SBATCH --mem-per-cpu=1365M\n" in job.script
    assert "#SBATCH --mem=" not in job.script
    assert "--mem-per-cpu=1365M" in job.script.split("_slurmplan_task()")[1]
    assert job.mem_mb == 1365 * 3 * 4


def test_mem_per_cpu_below_one_mib_per_cpu_is_an_error() -> None:
    with pytest.raises(CompileError) as caught:
        _compile(1, default={"cpus_per_task": 4, "mem": 3, "use_mem_per_cpu": True})
    (problem,) = caught.value.problems
    assert (problem.source.value, problem.pointer) == ("config", "/default_slurm_config/mem")


def test_time_per_task_scales_with_waves() -> None:
    plan = _compile(7, default={"time_per_task": "10"}, tasks_per_job=5, parallel_tasks_per_job=2)
    # job 0: 5 tasks in 2 lanes → ceil(5/2) = 3 waves → 30 min; job 1: 2 tasks, 1 wave → 10 min
    assert [j.time for j in plan.jobs] == ["00:30:00", "00:10:00"]
    assert "#SBATCH --time=00:30:00\n" in plan.jobs[0].script


def test_plain_time_is_not_scaled_but_warned_about() -> None:
    plan = _compile(7, default={"time": "10"}, tasks_per_job=5, parallel_tasks_per_job=2)
    assert [j.time for j in plan.jobs] == ["00:10:00", "00:10:00"]
    assert [w.group for w in plan.warnings] == [0]
    assert "time_per_task" in plan.warnings[0].message


def test_batching_warnings_are_plan_data() -> None:
    plan = _compile(4, tasks_per_job=2, parallel_tasks_per_job=5)
    assert [(w.group, w.message) for w in plan.warnings] == [
        (0, "parallel_tasks_per_job=5 exceeds tasks_per_job=2; using 2")
    ]
    assert plan.to_json()["warnings"] == [
        {"group": 0, "message": "parallel_tasks_per_job=5 exceeds tasks_per_job=2; using 2"}
    ]


def test_batching_errors_point_at_the_field_that_set_the_value() -> None:
    with pytest.raises(CompileError) as caught:
        _compile(3, default={"cpus_per_task": 40})
    (problem,) = caught.value.problems
    assert problem.source.value == "config"
    assert problem.pointer == "/default_slurm_config/cpus_per_task"
    assert "max_cpus_per_job 32" in problem.message
    assert "'t0'" in problem.message


def test_one_problem_per_unbatchable_group() -> None:
    config = {
        "default_slurm_config": {"partition": "main", "cpus_per_task": 1, "mem": "1G"},
        "batching_config": {
            "target_cpus_per_job": 1, "max_cpus_per_job": 2,
            "target_mem_per_job": "1G", "max_mem_per_job": "2G",
            "target_num_jobs": 1, "max_num_jobs": 1,
        },
    }  # fmt: skip
    profile = {"username": "alice", "transport": "local", "project_dir": "/p"}
    tasks = {
        "name": "b",
        "tasks": [
            {"id": "ok", "command": ["true"]},
            {"id": "cpu", "command": ["true"], "meta": {"cpus_per_task": 3}},
            {"id": "mem", "command": ["true"], "meta": {"mem": "3G"}},
        ],
    }
    with pytest.raises(CompileError) as caught:
        compile_plan(config, profile, tasks)
    assert [p.pointer for p in caught.value.problems] == [
        "/tasks/1/meta/cpus_per_task",
        "/tasks/2/meta/mem",
    ]
