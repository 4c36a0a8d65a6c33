"""compile_plan: the passes in order — check, parse, resolve, batch, render, plan."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from compiler import layout
from compiler.errors import Problems, Source, pointer, show, unencodable_strings
from compiler.passes.batch import Batching, BatchingError, ceil_div, choose
from compiler.passes.fast_check import task_list_is_valid
from compiler.passes.parse import (
    RunnerConfig,
    TaskList,
    UserProfile,
    parse_config,
    parse_profile,
    parse_task_list,
)
from compiler.passes.plan_id import compute_plan_id
from compiler.passes.render import Lane, ScriptJob, render_script, task_lines
from compiler.passes.resolve import Group, Resources, group_tasks
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
from compiler.runtime.upload import script_bytes
from compiler.schemas import schema_problems
from compiler.slurm.extra_lines import is_directive
from compiler.slurm.quoting import sh_env_command, sh_words_many
from compiler.slurm.units import MAX_MINUTES, format_time
from compiler.transport import Transport, TransportKind, as_user

_T = TypeVar("_T")


def compile_plan(
    runner_config: dict[str, Any], user_profile: dict[str, Any], task_list: dict[str, Any]
) -> Plan:
    """The submission plan of these inputs; raises CompileError listing every problem."""
    config, profile, tasks, groups = _check_and_parse(runner_config, user_profile, task_list)
    plan_id = compute_plan_id(runner_config, user_profile, task_list)
    batchings = _batch(groups, config, tasks)
    plan = _build(plan_id, config, profile, tasks, list(zip(groups, batchings, strict=True)))
    _check_encodable(plan, runner_config, user_profile, task_list)
    return plan


def _check_encodable(plan: Plan, *raw: dict[str, Any]) -> None:
    """Scripts become bytes (UTF-8, lone surrogates U+DC80..U+DCFF standing for raw
    bytes); any other lone surrogate cannot be written.  Found rarely, so the inputs
    are searched for the culprits only when a script fails to encode."""
    try:
        for job in plan.jobs:
            if not job.script.isascii():  # O(1) in CPython; any surrogate is non-ASCII
                script_bytes(job.script)
    except UnicodeEncodeError:
        problems = Problems()
        for source, doc in zip((Source.CONFIG, Source.PROFILE, Source.TASKS), raw, strict=True):
            for path, text in unencodable_strings(doc):
                problems.add(
                    source,
                    path,
                    "text must be encodable as UTF-8 (lone surrogates only as U+DC80..U+DCFF, "
                    f"standing for raw bytes) (got {show(text)})",
                )
        problems.raise_if_any()
        raise


def _check_and_parse(
    raw_config: dict[str, Any], raw_profile: dict[str, Any], raw_tasks: dict[str, Any]
) -> tuple[RunnerConfig, UserProfile, TaskList, tuple[Group, ...]]:
    problems = Problems()
    config_bad = schema_problems("runner_config", Source.CONFIG, raw_config)
    profile_bad = schema_problems("user_profile", Source.PROFILE, raw_profile)
    tasks_bad = (
        [] if task_list_is_valid(raw_tasks)
        else schema_problems("task_list", Source.TASKS, raw_tasks)
    )  # fmt: skip
    problems.extend(config_bad + profile_bad + tasks_bad)
    # Each input the schema accepted is also checked for meaning, so one run
    # reports everything wrong, not just the first input's shape.
    config = None if config_bad else parse_config(raw_config, problems)
    profile = None if profile_bad else parse_profile(raw_profile, problems)
    tasks = None if tasks_bad else parse_task_list(raw_tasks, problems)
    if (
        config is not None
        and profile is not None
        and profile.transport is TransportKind.SUDO
        and config.scripts_dir is None
    ):
        problems.add(
            Source.CONFIG,
            pointer("scripts_dir"),
            "'scripts_dir' is required when the profile's transport is 'sudo' "
            "(got a config without it)",
        )
    # Grouping needs every layer whole: a refused value (mem "0") leaves a hole.
    groups: tuple[Group, ...] = ()
    if config is not None and tasks is not None and not problems:
        groups = group_tasks(config, tasks)
        _check_mem_per_cpu(groups, tasks, problems)
    problems.raise_if_any()
    assert config is not None and profile is not None and tasks is not None
    return config, profile, tasks, groups


def _check_mem_per_cpu(groups: tuple[Group, ...], tasks: TaskList, problems: Problems) -> None:
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


def _batch(groups: tuple[Group, ...], config: RunnerConfig, tasks: TaskList) -> list[Batching]:
    problems = Problems()
    batchings: list[Batching] = []
    for group in groups:
        try:
            batchings.append(
                choose(
                    n_tasks=len(group.task_indices),
                    cpus=group.resources.cpus_per_task,
                    mem_mb=group.resources.mem_mb,
                    limits=config.batching,
                    tasks_per_job=tasks.tasks_per_job,
                    parallel_tasks_per_job=tasks.parallel_tasks_per_job,
                )
            )
        except BatchingError as error:
            first = group.task_indices[0]
            problems.add(
                Source.TASKS,
                pointer("tasks", first),
                f"cannot batch the {len(group.task_indices)} task(s) alike to "
                f"{tasks.ids[first]!r}: {error}",
            )
            continue
        _check_scaled_time(group, batchings[-1], tasks, problems)
    problems.raise_if_any()
    return batchings


def _check_scaled_time(
    group: Group, batching: Batching, tasks: TaskList, problems: Problems
) -> None:
    r = group.resources
    if not r.time_per_task or r.time_seconds is None:
        return
    waves = batching.waves
    if r.time_seconds * waves > MAX_MINUTES * 60:
        first = group.task_indices[0]
        problems.add(
            Source.TASKS,
            pointer("tasks", first),
            f"time_per_task={format_time(r.time_seconds)} * {waves} waves exceeds the longest "
            f"limit Slurm can hold, {format_time(MAX_MINUTES * 60)} (tasks alike to "
            f"{tasks.ids[first]!r})",
        )


def _mem_options(r: Resources, ntasks: int) -> tuple[str, str, int]:
    """(job option, step option, the job's whole memory in MiB)."""
    if r.use_mem_per_cpu:
        per_cpu = r.mem_mb // r.cpus_per_task
        option = f"--mem-per-cpu={per_cpu}M"
        return option, option, per_cpu * r.cpus_per_task * ntasks
    return f"--mem={ntasks * r.mem_mb}M", f"--mem={r.mem_mb}M", ntasks * r.mem_mb


def _job_time(r: Resources, waves: int) -> str | None:
    if not r.has_time:
        return None
    if r.time_per_task and r.time_seconds is not None:
        return format_time(r.time_seconds * waves)
    return format_time(r.time_seconds)


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
        r = group.resources
        if r.has_time and not r.time_per_task and r.time_seconds is not None:
            waves = batching.waves
            if waves > 1:
                out.append(
                    PlanWarning(
                        group=group.index,
                        message=(
                            f"time={format_time(r.time_seconds)} is for the whole job, whose "
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


def _build(
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
    mem_option, step_mem_option, mem_mb = _mem_options(r, ntasks)
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
    script_job = ScriptJob(
        index=index,
        name=layout.job_name(tasks.name, ctx.plan_id, index),
        ntasks=ntasks,
        n_tasks=len(batch),
        mem_option=mem_option,
        step_mem_option=step_mem_option,
        time=_job_time(r, waves),
        stdout=layout.join(ctx.workdir, f"{stem}.out"),
        stderr=layout.join(ctx.workdir, f"{stem}.err"),
        done=layout.done_file(index),
    )
    script = render_script(
        plan_id=ctx.plan_id,
        job=script_job,
        resources_=r,
        sbatch_lines=extra_lines[0],
        shell_lines=extra_lines[1],
        workdir=ctx.workdir,
        exports=ctx.exports,
        # Task k of the job runs in lane k % ntasks: lanes run their tasks in turn.
        lanes=[
            Lane(status=f, lines=task_lines(f, lines[k::ntasks])) for k, f in enumerate(lane_files)
        ],
    )
    return Job(
        index=index,
        name=script_job.name,
        group=group.index,
        tasks=tuple(ids),
        ntasks=ntasks,
        cpus_per_task=r.cpus_per_task,
        mem_mb=mem_mb,
        time=script_job.time,
        script_path=layout.join(ctx.script_dir, f"{stem}.sbatch"),
        script=script,
        stdout=script_job.stdout,
        stderr=script_job.stderr,
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
