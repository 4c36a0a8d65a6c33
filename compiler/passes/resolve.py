"""Pass 3: merge the layers of settings per task and group tasks that resolve alike.

Precedence, lowest first: default_slurm_config, gpu_slurm_config (when the task
list needs a GPU: each key it sets replaces the default's, extra_lines
included, as in the reference), the task list's meta, the task's own meta.
Metas append their extra_lines; setting `time` or `time_per_task` in a layer
replaces whichever of the two an earlier layer set.
"""

from __future__ import annotations

from dataclasses import dataclass

from slurmplan.compiler.errors import Problems, Source, pointer, show
from slurmplan.compiler.passes.parse import RunnerConfig, TaskList
from slurmplan.compiler.slurm.directives import option_of
from slurmplan.compiler.slurm.settings import Resources, Settings, resources


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    index: int
    resources: Resources
    task_indices: tuple[int, ...]  # into TaskList.ids, in input order


def base_settings(config: RunnerConfig, tasks: TaskList, account: str | None = None) -> Settings:
    """Config and task-list meta merged: what a task without its own meta gets.
    `account`: the user's (parse.Inputs.account), which overrides the config's."""
    merged = config.default
    if tasks.needs_gpu and config.gpu is not None:
        merged = config.gpu.over(merged, append_lines=False)
    if account is not None:  # a meta cannot set an account: only the config's is replaced
        merged = Settings(options=((option_of("account"), account),)).over(
            merged, append_lines=False
        )
    return tasks.meta.over(merged, append_lines=True)


def group_tasks(
    config: RunnerConfig, tasks: TaskList, account: str | None = None
) -> tuple[Group, ...]:
    """Tasks grouped by resolved resources; groups ordered by their first task."""
    base = base_settings(config, tasks, account)
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Origin:
    """Where a resolved value was set: the input, the field's pointer, and the value as
    written there (an error quotes "8G", not its MiB)."""

    source: Source
    pointer: str
    written: object


def origin(config: RunnerConfig, tasks: TaskList, task: int, key: str) -> Origin | None:
    """The layer that set `key` (an input field: mem, cpus_per_task, time, time_per_task)
    for task number `task`: the last that wrote it, by the precedence above."""
    layers: list[tuple[Settings | None, Source, tuple[str | int, ...]]] = [
        (tasks.metas[task], Source.TASKS, ("tasks", task, "meta")),
        (tasks.meta, Source.TASKS, ("meta",)),
    ]
    if tasks.needs_gpu and config.gpu is not None:
        layers.append((config.gpu, Source.CONFIG, ("gpu_slurm_config",)))
    layers.append((config.default, Source.CONFIG, ("default_slurm_config",)))
    for layer, source, at in layers:
        for field, value in layer.written if layer is not None else ():
            if field == key:
                return Origin(source=source, pointer=pointer(*at, key), written=value)
    return None


def check_mem_per_cpu(groups: tuple[Group, ...], config: RunnerConfig, tasks: TaskList) -> None:
    """Refuse a group whose use_mem_per_cpu would give 0 MiB per CPU."""
    problems = Problems()
    for group in groups:
        r = group.resources
        if r.use_mem_per_cpu and r.mem_mb < r.cpus_per_task:
            first = group.task_indices[0]
            mem = origin(config, tasks, first, "mem")
            cpus = origin(config, tasks, first, "cpus_per_task")
            problems.add(
                Source.TASKS if mem is None else mem.source,
                pointer("tasks", first) if mem is None else mem.pointer,
                f"use_mem_per_cpu gives mem // cpus_per_task = 0 MiB per CPU for "
                f"{tasks_like(group, tasks)} (got mem="
                f"{show(r.mem_mb if mem is None else mem.written)}, "
                f"cpus_per_task={show(r.cpus_per_task if cpus is None else cpus.written)})",
            )
    problems.raise_if_any()


def tasks_like(group: Group, tasks: TaskList) -> str:
    first = tasks.ids[group.task_indices[0]]
    others = len(group.task_indices) - 1
    return f"task {first!r}" + (f" and {others} more alike" if others else "")
