"""Pass 7: the plan — its jobs (each script rendered by pass 6), its steps and warnings."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from compiler import layout
from compiler.passes.batch import Batching, ceil_div
from compiler.passes.parse import RunnerConfig, TaskList, UserProfile
from compiler.passes.render import Lane, ScriptJob, render_script, task_lines
from compiler.passes.resolve import Group
from compiler.plan import (
    GroupSummary,
    Job,
    MkdirStep,
    Plan,
    PlanWarning,
    Step,
    SubmitStep,
    UploadStep,
    WriteStep,
)
from compiler.slurm.directives import directive_lines
from compiler.slurm.extra_lines import is_directive
from compiler.slurm.quoting import sh_env_command, sh_words_many
from compiler.slurm.settings import Resources
from compiler.slurm.units import format_time
from compiler.transport import Transport, TransportKind, as_user

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
        lines = _split_extra_lines(group.resources.extra_lines)  # alike for the group's jobs
        for start in range(0, len(group.task_indices), size):
            batch = group.task_indices[start : start + size]
            jobs.append(_job(ctx, len(jobs), group, batch, batching, extra_lines=lines))
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
        steps=_steps(transport, workdir, script_dir, jobs),
    )


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


def _split_extra_lines(lines: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(#SBATCH lines, shell lines), each in the given order."""
    return (
        tuple(line for line in lines if is_directive(line)),
        tuple(line for line in lines if not is_directive(line)),
    )


def _job(
    ctx: _Context,
    index: int,
    group: Group,
    batch: tuple[int, ...],
    batching: Batching,
    *,
    extra_lines: tuple[tuple[str, ...], tuple[str, ...]],
) -> Job:
    r, tasks = group.resources, ctx.tasks
    ntasks = min(len(batch), batching.parallel_tasks_per_job)
    waves = ceil_div(len(batch), ntasks)
    mem_option, job_mem, step_mem, mem_mb = _memory(r, ntasks)
    stem = layout.job_stem(index)
    ids, envs, commands = (
        _pick(tasks.ids, batch),
        _pick(tasks.envs, batch),
        _pick(tasks.commands, batch),
    )
    # `<task id> <argv, each word quoted once>`, with `env ...` between for a task with env.
    if any(envs):
        lines = [
            f"{task_id} {sh_env_command(env, argv[0])} {words}" if env else f"{task_id} {words}"
            for task_id, env, argv, words in zip(
                ids, envs, commands, sh_words_many(commands), strict=True
            )
        ]
    else:
        lines = sh_words_many(commands, heads=ids)
    lane_files = layout.lane_status_files(index, ntasks)
    name = layout.job_name(tasks.name, ctx.plan_id, index)
    time = None if r.time is None else format_time(r.time.for_job(waves))
    stdout = layout.join(ctx.workdir, f"{stem}.out")
    stderr = layout.join(ctx.workdir, f"{stem}.err")
    # Every directive's value by its option (compiler/slurm/directives.py orders them).
    values = {
        "partition": r.partition,
        "ntasks": str(ntasks),
        "cpus-per-task": str(r.cpus_per_task),
        mem_option: job_mem,
        "job-name": name,
        "output": stdout,
        "error": stderr,
        "chdir": ctx.workdir,
        **dict(r.options),
    }
    if time is not None:
        values["time"] = time
    script_job = ScriptJob(
        index=index,
        ntasks=ntasks,
        n_tasks=len(batch),
        cpus_per_task=r.cpus_per_task,
        step_mem_option=f"--{mem_option}={step_mem}",
        done=layout.done_file(index),
    )
    script = render_script(
        plan_id=ctx.plan_id,
        job=script_job,
        shebang=r.shebang_line,
        directives=directive_lines(values),
        sbatch_lines=extra_lines[0],
        shell_lines=extra_lines[1],
        exports=ctx.exports,
        # Task k of the job runs in lane k % ntasks: lanes run their tasks in turn.
        lanes=[
            Lane(status=f, lines=task_lines(f, lines[k::ntasks])) for k, f in enumerate(lane_files)
        ],
    )
    return Job(
        index=index,
        name=name,
        group=group.index,
        tasks=tuple(ids),
        ntasks=ntasks,
        cpus_per_task=r.cpus_per_task,
        mem_mb=mem_mb,
        time=time,
        script_path=layout.join(ctx.script_dir, f"{stem}.sbatch"),
        script=script,
        stdout=stdout,
        stderr=stderr,
        lane_status_paths=layout.join_all(ctx.workdir, lane_files),
        done_path=layout.join(ctx.workdir, script_job.done),
    )


def _pick(items: tuple[_T, ...], indices: tuple[int, ...]) -> Sequence[_T]:
    """items[i] for i in indices (increasing); a slice when they are consecutive,
    as they are for every job of a task list without per-task meta."""
    if indices[-1] - indices[0] == len(indices) - 1:
        return items[indices[0] : indices[-1] + 1]
    return [items[i] for i in indices]


def _steps(
    transport: Transport, workdir: str, script_dir: str, jobs: list[Job]
) -> tuple[Step, ...]:
    mkdir_work = ("mkdir", "-p", "--", workdir, layout.join(workdir, layout.TASKS_SUBDIR))
    steps: list[Step] = [MkdirStep(argv=as_user(transport, mkdir_work))]
    if transport.kind is TransportKind.SSH:
        steps.append(
            UploadStep(
                argv=as_user(transport, ("tar", "-x", "-m", "-f", "-", "-C", script_dir)),
                directory=script_dir,
                jobs=tuple(job.index for job in jobs),
            )
        )
    else:
        if script_dir != workdir:  # sudo: the runner's own folder, readable by the user
            steps.append(MkdirStep(argv=("mkdir", "-p", "--", script_dir)))
        steps.extend(WriteStep(path=job.script_path, job=job.index) for job in jobs)
    steps.extend(
        SubmitStep(
            job=job.index, argv=as_user(transport, ("sbatch", "--parsable", job.script_path))
        )
        for job in jobs
    )
    return tuple(steps)
