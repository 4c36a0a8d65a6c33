"""Pass 7: the plan — its jobs (each script rendered by pass 6), its steps and warnings."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from slurmplan.compiler import layout
from slurmplan.compiler.passes.batch import Batching, ceil_div
from slurmplan.compiler.passes.parse import RunnerConfig, TaskList, UserProfile
from slurmplan.compiler.passes.render import ScriptShape, lane_texts, task_lines
from slurmplan.compiler.passes.resolve import Group
from slurmplan.compiler.plan import (
    GroupSummary,
    Job,
    Outputs,
    Plan,
    PlanWarning,
    derive_steps,
)
from slurmplan.compiler.slurm.extra_lines import is_directive
from slurmplan.compiler.slurm.quoting import sh_env_command, sh_word_columns, sh_words_many
from slurmplan.compiler.slurm.settings import Resources
from slurmplan.compiler.slurm.units import format_time
from slurmplan.compiler.transport import Transport, TransportKind

_T = TypeVar("_T")


def _memory(r: Resources, ntasks: int) -> tuple[str, str, str, int]:
    """(the memory option, its value for the job, for one task's step, the job's whole
    memory in MiB)."""
    if r.use_mem_per_cpu:
        per_cpu = r.mem_mb // r.cpus_per_task
        return "mem-per-cpu", f"{per_cpu}M", f"{per_cpu}M", per_cpu * r.cpus_per_task * ntasks
    return "mem", f"{ntasks * r.mem_mb}M", f"{r.mem_mb}M", ntasks * r.mem_mb


def _warnings(
    config: RunnerConfig, tasks: TaskList, batched: list[tuple[Group, Batching]]
) -> tuple[PlanWarning, ...]:
    out: list[PlanWarning] = []
    if tasks.needs_gpu and config.gpu is None:
        out.append(
            PlanWarning(
                group=None,
                message=(
                    "the task list needs a GPU but the runner config has no gpu_slurm_config; "
                    "using default_slurm_config"
                ),
            )
        )
    n_jobs = sum(ceil_div(len(g.task_indices), b.tasks_per_job) for g, b in batched)
    if len(batched) > 1 and n_jobs > config.batching.max_num_jobs:
        out.append(
            PlanWarning(
                group=None,
                message=(
                    f"the plan has {n_jobs} jobs in {len(batched)} groups: max_num_jobs="
                    f"{config.batching.max_num_jobs} bounds each group, as the reference "
                    "bounds each batch of alike tasks"
                ),
            )
        )
    for group, batching in batched:
        out.extend(PlanWarning(group=group.index, message=m) for m in batching.warnings)
        time = group.resources.time
        if time is not None and not time.per_task and time.seconds is not None:
            waves = batching.waves
            if waves > 1:
                out.append(
                    PlanWarning(
                        group=group.index,
                        message=(
                            f"time={format_time(time.seconds)} is for the whole job, whose "
                            f"lanes run up to {waves} tasks one after another; set "
                            "time_per_task to scale it"
                        ),
                    )
                )
    return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Context:
    """What every job of one plan shares."""

    plan_id: str
    tasks: TaskList
    workdir: str
    script_dir: str
    exports: tuple[tuple[str, str], ...]


def build_plan(
    plan_id: str,
    config: RunnerConfig,
    profile: UserProfile,
    tasks: TaskList,
    batched: list[tuple[Group, Batching]],
) -> Plan:
    folder = layout.run_folder_name(tasks.name, plan_id)
    workdir = layout.join(profile.jobs_dir, folder)
    if profile.transport is TransportKind.SUDO:
        assert config.scripts_dir is not None
        script_dir = layout.join(config.scripts_dir, folder)
    else:
        script_dir = workdir
    ctx = _Context(
        plan_id=plan_id,
        tasks=tasks,
        workdir=workdir,
        script_dir=script_dir,
        exports=tuple(
            (name, posixpath.normpath(layout.join(profile.cache_dir, value)))
            for name, value in config.exports
        ),
    )
    jobs: list[Job] = []
    for group, batching in batched:
        size = batching.tasks_per_job
        shapes: dict[int, _Shape] = {}  # by the job's task count: a group's jobs differ
        for start in range(0, len(group.task_indices), size):  # in it (the last job only)
            batch = group.task_indices[start : start + size]
            shape = shapes.get(len(batch))
            if shape is None:
                shape = shapes[len(batch)] = _shape(ctx, group, len(batch), batching)
            jobs.append(_job(ctx, len(jobs), group, batch, shape))
    transport = Transport(kind=profile.transport, user=profile.username, ssh=profile.ssh)
    return Plan(
        plan_id=plan_id,
        name=tasks.name,
        transport=transport,
        workdir=workdir,
        script_dir=script_dir,
        max_jobs_in_queue=config.max_jobs_in_queue,
        warnings=_warnings(config, tasks, batched),
        groups=tuple(_summary(g, b, tasks) for g, b in batched),
        jobs=tuple(jobs),
        steps=derive_steps(transport, workdir, script_dir, jobs),  # as plan_from_json checks
        outputs=_outputs(tasks, jobs),
    )


def _outputs(tasks: TaskList, jobs: Sequence[Job]) -> Outputs:
    """The tasks' output files by task, in plan order (the jobs' order)."""
    if not any(tasks.outputs):
        return ()
    named = {task: paths for task, paths in zip(tasks.ids, tasks.outputs, strict=True) if paths}
    return tuple((task, named[task]) for job in jobs for task in job.tasks if task in named)


def _summary(group: Group, batching: Batching, tasks: TaskList) -> GroupSummary:
    r = group.resources
    return GroupSummary(
        index=group.index,
        n_tasks=len(group.task_indices),
        first_task=tasks.ids[group.task_indices[0]],
        tasks_per_job=batching.tasks_per_job,
        parallel_tasks_per_job=batching.parallel_tasks_per_job,
        cpus_per_task=r.cpus_per_task,
        mem_per_task_mb=r.mem_mb,
        partition=r.partition,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Shape:
    """What the group's jobs of one task count share: their script shape, memory, time."""

    script: ScriptShape
    mem_mb: int  # the whole job's
    time: str | None


def _shape(ctx: _Context, group: Group, n_tasks: int, batching: Batching) -> _Shape:
    """The shape of the group's jobs of `n_tasks` tasks."""
    r = group.resources
    ntasks = min(n_tasks, batching.parallel_tasks_per_job)
    mem_option, job_mem, step_mem, mem_mb = _memory(r, ntasks)
    # Every directive's value by its option (compiler/slurm/directives.py orders them);
    # the job's name and log paths are filled in per job.
    directives = {
        "partition": r.partition,
        "ntasks": str(ntasks),
        "cpus-per-task": str(r.cpus_per_task),
        mem_option: job_mem,
        "chdir": ctx.workdir,
        **dict(r.options),
    }
    time = None if r.time is None else format_time(r.time.for_job(ceil_div(n_tasks, ntasks)))
    if time is not None:  # a per-task limit scaled by the waves the lanes run
        directives["time"] = time
    lines = r.extra_lines
    script = ScriptShape(
        plan_id=ctx.plan_id,
        shebang=r.shebang_line,
        ntasks=ntasks,
        n_tasks=n_tasks,
        cpus_per_task=r.cpus_per_task,
        step_mem_option=f"--{mem_option}={step_mem}",
        directives=directives,
        sbatch_lines=[line for line in lines if is_directive(line)],
        shell_lines=[line for line in lines if not is_directive(line)],
        exports=ctx.exports,
    )
    return _Shape(script=script, mem_mb=mem_mb, time=time)


def _job(ctx: _Context, index: int, group: Group, batch: tuple[int, ...], shape: _Shape) -> Job:
    r, tasks = group.resources, ctx.tasks
    ntasks = shape.script.ntasks
    ids, envs, commands, outputs = (
        _pick(tasks.ids, batch),
        _pick(tasks.envs, batch),
        _pick(tasks.commands, batch),
        _pick(tasks.outputs, batch),
    )
    stem = layout.job_stem(index)
    lane_files = layout.lane_status_files(index, ntasks)
    name = layout.job_name(tasks.name, ctx.plan_id, index)
    stdout = layout.join(ctx.workdir, f"{stem}.out")
    stderr = layout.join(ctx.workdir, f"{stem}.err")
    done = layout.done_file(index)
    script = shape.script.fill(
        index=index,
        name=name,
        stdout=stdout,
        stderr=stderr,
        done=done,
        lane_files=lane_files,
        lane_lines=_lane_texts(lane_files, ids, envs, commands, outputs),
    )
    return Job(
        index=index,
        name=name,
        group=group.index,
        tasks=tuple(ids),
        ntasks=ntasks,
        cpus_per_task=r.cpus_per_task,
        mem_mb=shape.mem_mb,
        time=shape.time,
        script_path=layout.join(ctx.script_dir, f"{stem}.sbatch"),
        script=script,
        stdout=stdout,
        stderr=stderr,
        lane_status_paths=layout.join_all(ctx.workdir, lane_files),
        done_path=layout.join(ctx.workdir, done),
    )


def _lane_texts(
    lane_files: list[str],
    ids: Sequence[str],
    envs: Sequence[tuple[tuple[str, str], ...]],
    commands: Sequence[Sequence[str]],
    outputs: Sequence[tuple[str, ...]],
) -> list[str]:
    """Each lane's task lines: `<task id> <argv, each word quoted once>`, with `env ...`
    between for a task with env, and its outputs removed first for a task that names
    any; task k runs in lane k % ntasks."""
    if not any(envs) and not any(outputs):
        words = sh_word_columns(commands)
        if words is not None:  # the common case: a job of alike commands
            return lane_texts(lane_files, ids, words)
        lines = sh_words_many(commands, heads=ids)
    else:
        lines = [
            f"{task_id} {sh_env_command(env, argv[0])} {words}" if env else f"{task_id} {words}"
            for task_id, env, argv, words in zip(
                ids, envs, commands, sh_words_many(commands), strict=True
            )
        ]
    ntasks = len(lane_files)
    return [task_lines(f, lines[k::ntasks], outputs[k::ntasks]) for k, f in enumerate(lane_files)]


def _pick(items: tuple[_T, ...], indices: tuple[int, ...]) -> Sequence[_T]:
    """items[i] for i in indices (increasing); a slice when they are consecutive,
    as they are for every job of a task list without per-task meta."""
    if indices[-1] - indices[0] == len(indices) - 1:
        return items[indices[0] : indices[-1] + 1]
    return [items[i] for i in indices]
