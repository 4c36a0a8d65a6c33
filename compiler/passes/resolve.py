"""Pass 2: merge the layers of settings per task and group tasks that resolve alike.

Precedence, lowest first: default_slurm_config, gpu_slurm_config (when the task
list needs a GPU: each key it sets replaces the default's, extra_lines
included, as in the reference), the task list's meta, the task's own meta.
Metas append their extra_lines; setting `time` or `time_per_task` in a layer
replaces whichever of the two an earlier layer set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compiler.passes.parse import DEFAULT_SHEBANG, Layer, RunnerConfig, TaskList
from compiler.slurm.extra_lines import dedupe


@dataclass(frozen=True, slots=True, kw_only=True)
class Resources:
    """What one task needs; tasks with equal Resources are batched together."""

    partition: str
    cpus_per_task: int
    mem_mb: int
    time_per_task: bool  # True: `time_seconds` is per task, scaled by the job's waves
    time_seconds: int | None  # None: no limit (UNLIMITED) when `has_time`
    has_time: bool
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    gres: str | None = None
    gpus: str | None = None
    exclude: str | None = None
    nodelist: str | None = None
    nodes: str | None = None
    extra_lines: tuple[str, ...] = ()
    shebang_line: str = DEFAULT_SHEBANG
    use_mem_per_cpu: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    index: int
    resources: Resources
    task_indices: tuple[int, ...]  # into TaskList.ids, in input order


_PLAIN = (
    "partition",
    "cpus_per_task",
    "account",
    "qos",
    "constraint",
    "gres",
    "gpus",
    "exclude",
    "nodelist",
    "nodes",
    "shebang_line",
    "use_mem_per_cpu",
)


def _overlay(base: dict[str, Any], layer: Layer, append_lines: bool) -> None:
    for key, value in layer.items():
        if key == "extra_lines" and append_lines:
            base[key] = base.get(key, ()) + value
        else:
            base[key] = value


def _resources(merged: dict[str, Any]) -> Resources:
    time = merged.get("time")
    fields = {key: merged[key] for key in _PLAIN if key in merged}
    return Resources(
        mem_mb=merged["mem"],
        time_per_task=time is not None and time[0] == "per_task",
        time_seconds=None if time is None else time[1],
        has_time=time is not None,
        extra_lines=dedupe(merged.get("extra_lines", ())),
        **fields,
    )


def base_settings(config: RunnerConfig, tasks: TaskList) -> dict[str, Any]:
    """Config and task-list meta merged: what a task without its own meta gets."""
    merged: dict[str, Any] = dict(config.default)
    if tasks.needs_gpu and config.gpu is not None:
        _overlay(merged, config.gpu, append_lines=False)
    _overlay(merged, tasks.meta, append_lines=True)
    return merged


def group_tasks(config: RunnerConfig, tasks: TaskList) -> tuple[Group, ...]:
    """Tasks grouped by resolved resources; groups ordered by their first task."""
    base = base_settings(config, tasks)
    base_resources = _resources(base)
    if not any(tasks.metas):  # the common case: one group, nothing to resolve per task
        return (
            Group(index=0, resources=base_resources, task_indices=tuple(range(len(tasks.ids)))),
        )
    # Parsed metas are shared between tasks with the same meta, so each distinct one
    # is resolved, and its group looked up, once: id() of the meta -> the group's list.
    bucket_of: dict[int, list[int]] = {}
    members: dict[Resources, list[int]] = {}
    for index, meta in enumerate(tasks.metas):
        bucket = bucket_of.get(id(meta))
        if bucket is None:
            resources = base_resources
            if meta:
                merged = dict(base)
                _overlay(merged, meta, append_lines=True)
                resources = _resources(merged)
            bucket = bucket_of[id(meta)] = members.setdefault(resources, [])
        bucket.append(index)
    return tuple(
        Group(index=number, resources=resources, task_indices=tuple(indices))
        for number, (resources, indices) in enumerate(members.items())
    )
