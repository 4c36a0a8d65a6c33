"""compiler.passes.resolve: default ⊕ gpu ⊕ list meta ⊕ task meta, and grouping
(docs/architecture.md §2.1, §2.3).
"""

from __future__ import annotations

from typing import Any

from slurmplan.compiler import compile_plan
from slurmplan.compiler.errors import Problems
from slurmplan.compiler.passes.parse import parse_config, parse_task_list
from slurmplan.compiler.passes.resolve import Group, group_tasks
from slurmplan.compiler.slurm.settings import Resources
from slurmplan.compiler.slurm.units import TimeLimit

BATCHING = {
    "target_cpus_per_job": 16, "max_cpus_per_job": 32,
    "target_mem_per_job": "64G", "max_mem_per_job": "128G",
    "target_num_jobs": 100, "max_num_jobs": 500,
}  # fmt: skip
DEFAULT: dict[str, Any] = {
    "partition": "main", "cpus_per_task": 1, "mem": "1G", "time": "01:00:00",
    "account": "lab", "qos": "normal", "constraint": "c1",
    "extra_lines": ["export D=1", "#SBATCH --comment=default"],
}  # fmt: skip
GPU: dict[str, Any] = {
    "partition": "gpu", "cpus_per_task": 2, "gres": "gpu:1", "constraint": "g1",
    "extra_lines": ["module load cuda"],
}  # fmt: skip


def _groups(
    tasks: dict[str, Any], default: dict[str, Any] = DEFAULT, gpu: dict[str, Any] | None = GPU
) -> tuple[Group, ...]:
    raw: dict[str, Any] = {"default_slurm_config": default, "batching_config": BATCHING}
    if gpu is not None:
        raw["gpu_slurm_config"] = gpu
    problems = Problems()
    config = parse_config(raw, problems)
    parsed = parse_task_list(tasks, problems)
    assert not problems, problems.items
    return group_tasks(config, parsed)


def _option(resources: Resources, option: str) -> str | None:
    """A plain option's value (Resources.options), or None when unset."""
    return dict(resources.options).get(option)


def _task(task_id: str, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    task: dict[str, Any] = {"id": task_id, "command": ["true"]}
    if meta is not None:
        task["meta"] = meta
    return task


def test_default_alone() -> None:
    (group,) = _groups({"name": "n", "tasks": [_task("a")]})
    r = group.resources
    assert (r.partition, r.cpus_per_task, r.mem_mb) == ("main", 1, 1024)
    assert r.time == TimeLimit(seconds=3600, per_task=False)
    assert (
        _option(r, "account"),
        _option(r, "qos"),
        _option(r, "constraint"),
        _option(r, "gres"),
    ) == (
        "lab",
        "normal",
        "c1",
        None,
    )
    assert r.extra_lines == ("export D=1", "#SBATCH --comment=default")


def test_gpu_config_ignored_without_needs_gpu() -> None:
    (group,) = _groups({"name": "n", "needs_gpu": False, "tasks": [_task("a")]})
    assert group.resources.partition == "main"
    assert _option(group.resources, "gres") is None


def test_gpu_keys_replace_the_defaults_extra_lines_included() -> None:
    (group,) = _groups({"name": "n", "needs_gpu": True, "tasks": [_task("a")]})
    r = group.resources
    assert (r.partition, r.cpus_per_task, _option(r, "gres"), _option(r, "constraint")) == (
        "gpu",
        2,
        "gpu:1",
        "g1",
    )
    # keys the gpu config does not set stay as the default's
    assert (r.mem_mb, _option(r, "account"), _option(r, "qos")) == (1024, "lab", "normal")
    assert r.time == TimeLimit(seconds=3600, per_task=False)
    # its extra_lines replace the default's list, as in the reference
    assert r.extra_lines == ("module load cuda",)


def test_gpu_config_without_extra_lines_keeps_the_defaults() -> None:
    gpu = {k: v for k, v in GPU.items() if k != "extra_lines"}
    (group,) = _groups({"name": "n", "needs_gpu": True, "tasks": [_task("a")]}, gpu=gpu)
    assert group.resources.extra_lines == ("export D=1", "#SBATCH --comment=default")


def test_precedence_default_gpu_list_meta_task_meta() -> None:
    tasks = {
        "name": "n",
        "needs_gpu": True,
        "meta": {"cpus_per_task": 3, "mem": "2G", "extra_lines": ["export L=1"]},
        "tasks": [
            _task("plain"),
            _task("own", {"cpus_per_task": 4, "extra_lines": ["export T=1", "module load cuda"]}),
        ],
    }
    plain, own = _groups(tasks)
    # list meta over gpu over default
    assert (plain.resources.cpus_per_task, plain.resources.mem_mb) == (3, 2048)
    assert plain.resources.partition == "gpu"
    assert plain.resources.extra_lines == ("module load cuda", "export L=1")
    # task meta over list meta; metas append extra_lines, deduplicated keeping the first
    assert (own.resources.cpus_per_task, own.resources.mem_mb) == (4, 2048)
    assert _option(own.resources, "constraint") == "g1"
    assert own.resources.extra_lines == ("module load cuda", "export L=1", "export T=1")


def test_time_per_task_in_a_meta_replaces_the_configs_time() -> None:
    tasks = {
        "name": "n",
        "meta": {"time_per_task": "10"},
        "tasks": [_task("a"), _task("b", {"time": "UNLIMITED"})],
    }
    a, b = _groups(tasks)
    assert a.resources.time == TimeLimit(seconds=600, per_task=True)
    assert b.resources.time == TimeLimit(seconds=None, per_task=False)


def test_no_time_anywhere() -> None:
    default = {k: v for k, v in DEFAULT.items() if k != "time"}
    (group,) = _groups({"name": "n", "tasks": [_task("a")]}, default=default)
    assert group.resources.time is None


def test_groups_ordered_by_first_task_and_order_kept_within() -> None:
    tasks = {
        "name": "n",
        "tasks": [
            _task("a"),
            _task("b", {"mem": "2G"}),
            _task("c"),
            _task("d", {"mem": "2G"}),
            _task("e", {"mem": "3G"}),
            _task("f", {"mem": "2G"}),
            _task("g"),
        ],
    }
    groups = _groups(tasks)
    assert [g.index for g in groups] == [0, 1, 2]
    assert [g.task_indices for g in groups] == [(0, 2, 6), (1, 3, 5), (4,)]
    assert [g.resources.mem_mb for g in groups] == [1024, 2048, 3072]


def test_first_group_is_the_first_tasks_even_when_it_has_a_meta() -> None:
    tasks = {
        "name": "n",
        "tasks": [_task("x", {"mem": "2G"}), _task("y"), _task("z", {"mem": "2G"})],
    }
    groups = _groups(tasks)
    assert [g.task_indices for g in groups] == [(0, 2), (1,)]


def test_tasks_that_resolve_alike_share_a_group_however_they_say_it() -> None:
    tasks = {
        "name": "n",
        "tasks": [
            _task("a"),
            _task("b", {"mem": "1024M"}),  # 1G written differently
            _task("c", {"mem": 1024}),
            _task("d", {"cpus_per_task": 1}),  # same as the default
            _task("e", {"extra_lines": ["export D=1"]}),  # appended, then deduplicated
        ],
    }
    (group,) = _groups(tasks)
    assert group.task_indices == (0, 1, 2, 3, 4)


def test_different_extra_lines_make_different_groups() -> None:
    tasks = {"name": "n", "tasks": [_task("a"), _task("b", {"extra_lines": ["export X=1"]})]}
    assert len(_groups(tasks)) == 2


def test_plan_jobs_follow_groups_and_keep_task_order() -> None:
    config = {
        "default_slurm_config": {"partition": "main", "cpus_per_task": 1, "mem": "1G"},
        "batching_config": {**BATCHING, "target_cpus_per_job": 2, "max_cpus_per_job": 2},
    }
    profile = {"username": "alice", "transport": "local", "project_dir": "/p"}
    tasks = {
        "name": "n",
        "tasks": [
            _task("a"),
            _task("b", {"cpus_per_task": 2}),
            _task("c"),
            _task("d"),
            _task("e", {"cpus_per_task": 2}),
            _task("f"),
        ],
    }
    plan = compile_plan(config, profile, tasks)
    # group 0 (a, c, d, f): 2 per job; group 1 (b, e): 1 per job (2 CPUs each, max 2)
    assert [(j.group, j.tasks) for j in plan.jobs] == [
        (0, ("a", "c")),
        (0, ("d", "f")),
        (1, ("b",)),
        (1, ("e",)),
    ]
    assert [j.index for j in plan.jobs] == [0, 1, 2, 3]
    assert [(g.first_task, g.n_tasks) for g in plan.groups] == [("a", 4), ("b", 2)]


def test_needs_gpu_without_gpu_config_is_a_warning() -> None:
    config = {"default_slurm_config": DEFAULT, "batching_config": BATCHING}
    profile = {"username": "alice", "transport": "local", "project_dir": "/p"}
    plan = compile_plan(config, profile, {"name": "n", "needs_gpu": True, "tasks": [_task("a")]})
    assert [w.group for w in plan.warnings] == [None]
    assert "gpu_slurm_config" in plan.warnings[0].message
