"""Pass 3: merge the layers of settings per task and group tasks that resolve alike.

Precedence, lowest first: default_slurm_config, gpu_slurm_config (when the task
list needs a GPU: each key it sets replaces the default's, extra_lines
included, as in the reference), the task list's meta, the task's own meta.
Metas append their extra_lines; setting `time` or `time_per_task` in a layer
replaces whichever of the two an earlier layer set.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.errors import Problems, Source, pointer
from compiler.passes.parse import RunnerConfig, TaskList
from compiler.slurm.settings import Resources, Settings, resources


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    index: int
    resources: Resources
    task_indices: tuple[int, ...]  # into TaskList.ids, in input order


def base_settings(config: RunnerConfig, tasks: TaskList) -> Settings:
    """Config and task-list meta merged: what a task without its own meta gets."""
    merged = config.default
    if tasks.needs_gpu and config.gpu is not None:
        merged = config.gpu.over(merged, append_lines=False)
    return tasks.meta.over(merged, append_lines=True)


def group_tasks(config: RunnerConfig, tasks: TaskList) -> tuple[Group, ...]:
    """Tasks grouped by resolved resources; groups ordered by their first task."""
    base = base_settings(config, tasks)
    base_resources = resources(base)
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
            resolved = base_resources
            if meta:
                resolved = resources(meta.over(base, append_lines=True))
            bucket = bucket_of[id(meta)] = members.setdefault(resolved, [])
        bucket.append(index)
    return tuple(
        Group(index=number, resources=resolved, task_indices=tuple(indices))
        for number, (resolved, indices) in enumerate(members.items())
    )


def check_mem_per_cpu(groups: tuple[Group, ...], tasks: TaskList) -> None:
    """Refuse a group whose use_mem_per_cpu would give 0 MiB per CPU."""
    problems = Problems()
    for group in groups:
        r = group.resources
        if r.use_mem_per_cpu and r.mem_mb < r.cpus_per_task:
            first = group.task_indices[0]
            problems.add(
                Source.TASKS,
                pointer("tasks", first),
                f"use_mem_per_cpu gives mem // cpus_per_task = 0 MiB per CPU for task "
                f"{tasks.ids[first]!r} (got mem={r.mem_mb}M, cpus_per_task={r.cpus_per_task})",
            )
    problems.raise_if_any()
