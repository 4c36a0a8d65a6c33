"""Pass 4: how many tasks per job, and how many at once — the reference heuristic.

`choose` returns exactly what fractal-server's
`slurm_common._batching.heuristics` returns wherever that succeeds, and raises
BatchingError wherever it raises.  Its log warnings become plan warnings.
"""

from __future__ import annotations

from dataclasses import dataclass

from slurmplan.compiler.errors import Problems, SlurmplanError, Source, pointer, show
from slurmplan.compiler.passes.parse import BatchingLimits, RunnerConfig, TaskList
from slurmplan.compiler.passes.resolve import Group, origin, tasks_like
from slurmplan.compiler.slurm.units import MAX_MINUTES, format_time


class BatchingError(SlurmplanError, ValueError):
    """The group cannot be batched within the limits; the message says why, and `field`
    names the task list's field whose value does not fit, if one does not."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True, kw_only=True)
class Batching:
    tasks_per_job: int
    parallel_tasks_per_job: int
    warnings: tuple[str, ...] = ()

    @property
    def waves(self) -> int:
        """How many tasks a full job's lanes run one after another."""
        return ceil_div(self.tasks_per_job, self.parallel_tasks_per_job)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def fit(cpus: int, mem: int, cap_cpus: int, cap_mem: int) -> int:
    """How many tasks fit side by side in a job of the given size (at least 1)."""
    if cpus > cap_cpus or mem > cap_mem:
        return 1
    return min(cap_cpus // cpus, cap_mem // mem)


def choose(
    *,
    n_tasks: int,
    cpus: int,
    mem_mb: int,
    limits: BatchingLimits,
    tasks_per_job: int | None = None,
    parallel_tasks_per_job: int | None = None,
) -> Batching:
    """(tasks_per_job, parallel_tasks_per_job) for `n_tasks` alike tasks."""
    if (tasks_per_job is None) != (parallel_tasks_per_job is None):
        raise BatchingError(
            "tasks_per_job and parallel_tasks_per_job must be both set or both unset"
        )
    if cpus > limits.max_cpus_per_job:
        raise BatchingError(
            f"cpus_per_task={cpus} exceeds "
            f"batching_config.max_cpus_per_job={limits.max_cpus_per_job}"
        )
    if mem_mb > limits.max_mem_per_job:
        raise BatchingError(
            f"mem={mem_mb}M per task exceeds "
            f"batching_config.max_mem_per_job={limits.max_mem_per_job}M"
        )
    if tasks_per_job is not None and parallel_tasks_per_job is not None:
        return _given(
            n_tasks, cpus, mem_mb, limits, tasks=tasks_per_job, parallel=parallel_tasks_per_job
        )

    parallel = fit(cpus, mem_mb, limits.target_cpus_per_job, limits.target_mem_per_job)
    if ceil_div(n_tasks, parallel) <= limits.target_num_jobs:
        return Batching(tasks_per_job=parallel, parallel_tasks_per_job=parallel)
    parallel = fit(cpus, mem_mb, limits.max_cpus_per_job, limits.max_mem_per_job)
    if ceil_div(n_tasks, parallel) <= limits.max_num_jobs:
        return Batching(tasks_per_job=parallel, parallel_tasks_per_job=parallel)
    return Batching(
        tasks_per_job=ceil_div(n_tasks, limits.max_num_jobs), parallel_tasks_per_job=parallel
    )


def _given(
    n_tasks: int, cpus: int, mem_mb: int, limits: BatchingLimits, *, tasks: int, parallel: int
) -> Batching:
    warnings: list[str] = []
    if parallel > tasks:
        warnings.append(
            f"parallel_tasks_per_job={parallel} exceeds tasks_per_job={tasks}; using {tasks}"
        )
        parallel = tasks
    cpus_per_job = parallel * cpus
    if cpus_per_job > limits.max_cpus_per_job:
        raise BatchingError(
            f"parallel_tasks_per_job={parallel} * cpus_per_task={cpus} = {cpus_per_job} CPUs "
            f"exceeds batching_config.max_cpus_per_job={limits.max_cpus_per_job}",
            field="parallel_tasks_per_job",
        )
    if cpus_per_job > limits.target_cpus_per_job:
        warnings.append(
            f"{cpus_per_job} CPUs per job exceeds target_cpus_per_job={limits.target_cpus_per_job}"
        )
    mem_per_job = parallel * mem_mb
    if mem_per_job > limits.max_mem_per_job:
        raise BatchingError(
            f"parallel_tasks_per_job={parallel} * mem={mem_mb}M = {mem_per_job}M "
            f"exceeds batching_config.max_mem_per_job={limits.max_mem_per_job}M",
            field="parallel_tasks_per_job",
        )
    if mem_per_job > limits.target_mem_per_job:
        warnings.append(
            f"{mem_per_job}M per job exceeds target_mem_per_job={limits.target_mem_per_job}M"
        )
    num_jobs = ceil_div(n_tasks, tasks)
    if num_jobs > limits.max_num_jobs:
        raise BatchingError(
            f"tasks_per_job={tasks} gives {num_jobs} jobs for {n_tasks} tasks, "
            f"more than batching_config.max_num_jobs={limits.max_num_jobs}",
            field="tasks_per_job",
        )
    if num_jobs > limits.target_num_jobs:
        warnings.append(f"{num_jobs} jobs exceeds target_num_jobs={limits.target_num_jobs}")
    return Batching(tasks_per_job=tasks, parallel_tasks_per_job=parallel, warnings=tuple(warnings))


def batch_groups(
    groups: tuple[Group, ...], config: RunnerConfig, tasks: TaskList
) -> list[tuple[Group, Batching]]:
    """Each group with its batching; raises CompileError naming every group that
    cannot be batched, or whose per-task time scaled by its waves overflows Slurm."""
    problems = Problems()
    batched: list[tuple[Group, Batching]] = []
    given = (tasks.tasks_per_job, tasks.parallel_tasks_per_job)
    if None in given:  # a half-given pair is the parse pass's problem, reported there
        given = (None, None)
    for group in groups:
        if _over_the_max(group, config, tasks, problems):
            continue
        try:
            batching = choose(
                n_tasks=len(group.task_indices),
                cpus=group.resources.cpus_per_task,
                mem_mb=group.resources.mem_mb,
                limits=config.batching,
                tasks_per_job=given[0],
                parallel_tasks_per_job=given[1],
            )
        except BatchingError as error:
            first = group.task_indices[0]
            problems.add(
                Source.TASKS,
                pointer("tasks", first) if error.field is None else pointer(error.field),
                f"cannot batch the {len(group.task_indices)} task(s) alike to "
                f"{tasks.ids[first]!r}: {error}",
            )
            continue
        batched.append((group, batching))
        _check_scaled_time(group, batching, config, tasks, problems)
    problems.raise_if_any()
    return batched


def _over_the_max(group: Group, config: RunnerConfig, tasks: TaskList, problems: Problems) -> bool:
    """Does one task of the group need more than a job may have?  Said at the field that
    set the value, as written there (choose would refuse the group as well)."""
    r, limits, first = group.resources, config.batching, group.task_indices[0]
    over = False
    for key, value, most in (
        ("cpus_per_task", r.cpus_per_task, "max_cpus_per_job"),
        ("mem", r.mem_mb, "max_mem_per_job"),
    ):
        if value <= getattr(limits, most):
            continue
        over = True
        at = origin(config, tasks, first, key)
        limit = show(limits.written.get(most, getattr(limits, most)))
        problems.add(
            Source.TASKS if at is None else at.source,
            pointer("tasks", first) if at is None else at.pointer,
            f"'{key}' per task must be at most batching_config's {most} {limit}, which bounds "
            f"a whole job (for {tasks_like(group, tasks)}) "
            f"(got {show(value if at is None else at.written)})",
        )
    return over


def _check_scaled_time(
    group: Group, batching: Batching, config: RunnerConfig, tasks: TaskList, problems: Problems
) -> None:
    time = group.resources.time
    if time is None or not time.per_task or time.seconds is None:
        return
    waves = batching.waves
    if time.seconds * waves > MAX_MINUTES * 60:
        first = group.task_indices[0]
        at = origin(config, tasks, first, "time_per_task")
        written = format_time(time.seconds) if at is None else show(at.written)
        problems.add(
            Source.TASKS if at is None else at.source,
            pointer("tasks", first) if at is None else at.pointer,
            f"time_per_task={written} * {waves} waves exceeds the longest "
            f"limit Slurm can hold, {format_time(MAX_MINUTES * 60)} (for "
            f"{tasks_like(group, tasks)})",
        )
