"""compile_plan: the passes in order — check, parse, resolve, batch, render, plan."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from compiler import layout
from compiler.batching import Batching, BatchingError, choose
from compiler.errors import Problems, Source, pointer
from compiler.extra_lines import is_directive
from compiler.fast_check import task_list_is_valid
from compiler.inputs import (
    RunnerConfig,
    TaskList,
    TransportKind,
    UserProfile,
    parse_config,
    parse_profile,
    parse_task_list,
)
from compiler.plan import (
    FORMAT,
    GroupSummary,
    Job,
    MkdirStep,
    Plan,
    PlanWarning,
    Step,
    SubmitStep,
    Transport,
    UploadStep,
    WriteStep,
)
from compiler.quoting import sh_env_prefix, sh_words
from compiler.render import Lane, ScriptJob, TaskLine, render_script
from compiler.resolve import Group, Resources, group_tasks
from compiler.schema_check import schema_problems
from compiler.transport import as_user
from compiler.units import format_time


def compile_plan(
    runner_config: dict[str, Any], user_profile: dict[str, Any], task_list: dict[str, Any]
) -> Plan:
    """The submission plan of these inputs; raises CompileError listing every problem."""
    config, profile, tasks = _check_and_parse(runner_config, user_profile, task_list)
    plan_id = compute_plan_id(runner_config, user_profile, task_list)
    groups = group_tasks(config, tasks)
    batchings = _batch(groups, config, tasks)
    return _build(plan_id, config, profile, tasks, groups, batchings)


def compute_plan_id(
    runner_config: dict[str, Any], user_profile: dict[str, Any], task_list: dict[str, Any]
) -> str:
    """16 hex digits of the SHA-256 of the canonical JSON of the inputs."""
    canonical = json.dumps(
        [FORMAT, runner_config, user_profile, task_list],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:16]


def _check_and_parse(
    raw_config: dict[str, Any], raw_profile: dict[str, Any], raw_tasks: dict[str, Any]
) -> tuple[RunnerConfig, UserProfile, TaskList]:
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
    if config is not None and profile is not None:
        if profile.transport is TransportKind.SUDO and config.scripts_dir is None:
            problems.add(
                Source.CONFIG,
                pointer("scripts_dir"),
                "'scripts_dir' is required when the profile's transport is 'sudo' "
                "(got a config without it)",
            )
    if config is not None and tasks is not None:
        _check_mem_per_cpu(config, tasks, problems)
    problems.raise_if_any()
    assert config is not None and profile is not None and tasks is not None
    return config, profile, tasks


def _check_mem_per_cpu(config: RunnerConfig, tasks: TaskList, problems: Problems) -> None:
    for group in group_tasks(config, tasks):
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
    problems.raise_if_any()
    return batchings


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
    config: RunnerConfig, tasks: TaskList, groups: tuple[Group, ...], batchings: list[Batching]
) -> tuple[PlanWarning, ...]:
    out: list[PlanWarning] = []
    if tasks.needs_gpu and config.gpu is None:
        out.append(PlanWarning(group=None, message=(
            "the task list needs a GPU but the runner config has no gpu_slurm_config; "
            "using default_slurm_config")))
    for group, batching in zip(groups, batchings, strict=True):
        out.extend(PlanWarning(group=group.index, message=m) for m in batching.warnings)
        r = group.resources
        if r.has_time and not r.time_per_task and r.time_seconds is not None:
            waves = -(-batching.tasks_per_job // batching.parallel_tasks_per_job)
            if waves > 1:
                out.append(PlanWarning(group=group.index, message=(
                    f"time={format_time(r.time_seconds)} is for the whole job, whose lanes run "
                    f"up to {waves} tasks one after another; set time_per_task to scale it")))
    return tuple(out)


def _build(
    plan_id: str,
    config: RunnerConfig,
    profile: UserProfile,
    tasks: TaskList,
    groups: tuple[Group, ...],
    batchings: list[Batching],
) -> Plan:
    folder = layout.run_folder_name(tasks.name, plan_id)
    workdir = layout.join(profile.jobs_dir, folder)
    if profile.transport is TransportKind.SUDO:
        assert config.scripts_dir is not None
        script_dir = layout.join(config.scripts_dir, folder)
    else:
        script_dir = workdir
    exports = tuple(
        (name, layout.join(profile.cache_dir, value)) for name, value in config.exports
    )
    words = [sh_words(argv) for argv in tasks.commands]
    jobs: list[Job] = []
    summaries: list[GroupSummary] = []
    for group, batching in zip(groups, batchings, strict=True):
        r = group.resources
        summaries.append(GroupSummary(
            index=group.index,
            n_tasks=len(group.task_indices),
            first_task=tasks.ids[group.task_indices[0]],
            tasks_per_job=batching.tasks_per_job,
            parallel_tasks_per_job=batching.parallel_tasks_per_job,
            cpus_per_task=r.cpus_per_task,
            mem_per_task_mb=r.mem_mb,
            partition=r.partition,
        ))
        sbatch_lines = [line for line in r.extra_lines if is_directive(line)]
        shell_lines = [line for line in r.extra_lines if not is_directive(line)]
        size = batching.tasks_per_job
        for start in range(0, len(group.task_indices), size):
            batch = group.task_indices[start : start + size]
            jobs.append(_job(
                plan_id, len(jobs), group.index, batch, batching, r, tasks, words,
                workdir, script_dir, exports, sbatch_lines, shell_lines))
    transport = Transport(kind=profile.transport, user=profile.username, ssh=profile.ssh)
    return Plan(
        plan_id=plan_id,
        name=tasks.name,
        transport=transport,
        workdir=workdir,
        script_dir=script_dir,
        max_jobs_in_queue=config.max_jobs_in_queue,
        warnings=_warnings(config, tasks, groups, batchings),
        groups=tuple(summaries),
        jobs=tuple(jobs),
        steps=_steps(transport, workdir, script_dir, jobs),
    )


def _job(
    plan_id: str,
    index: int,
    group: int,
    batch: tuple[int, ...],
    batching: Batching,
    r: Resources,
    tasks: TaskList,
    words: list[str],
    workdir: str,
    script_dir: str,
    exports: tuple[tuple[str, str], ...],
    sbatch_lines: list[str],
    shell_lines: list[str],
) -> Job:
    ntasks = min(len(batch), batching.parallel_tasks_per_job)
    waves = -(-len(batch) // ntasks)
    mem_option, step_mem_option, mem_mb = _mem_options(r, ntasks)
    stem = layout.job_stem(index)
    lanes: list[list[TaskLine]] = [[] for _ in range(ntasks)]
    for position, task in enumerate(batch):
        env = tasks.envs[task]
        lanes[position % ntasks].append(
            (tasks.ids[task], words[task], sh_env_prefix(env) if env else "")
        )
    lane_files = [layout.lane_status_file(index, lane) for lane in range(ntasks)]
    script_job = ScriptJob(
        index=index,
        name=layout.job_name(tasks.name, plan_id, index),
        ntasks=ntasks,
        n_tasks=len(batch),
        mem_option=mem_option,
        step_mem_option=step_mem_option,
        time=_job_time(r, waves),
        stdout=layout.join(workdir, f"{stem}.out"),
        stderr=layout.join(workdir, f"{stem}.err"),
        done=layout.done_file(index),
    )
    script = render_script(
        plan_id=plan_id,
        job=script_job,
        resources_=r,
        sbatch_lines=sbatch_lines,
        shell_lines=shell_lines,
        workdir=workdir,
        exports=exports,
        lanes=[Lane(status=f, tasks=t) for f, t in zip(lane_files, lanes, strict=True)],
    )
    return Job(
        index=index,
        name=script_job.name,
        group=group,
        tasks=tuple(tasks.ids[t] for t in batch),
        ntasks=ntasks,
        cpus_per_task=r.cpus_per_task,
        mem_mb=mem_mb,
        time=script_job.time,
        script_path=layout.join(script_dir, f"{stem}.sbatch"),
        script=script,
        stdout=script_job.stdout,
        stderr=script_job.stderr,
        lane_status_paths=tuple(layout.join(workdir, f) for f in lane_files),
        done_path=layout.join(workdir, script_job.done),
    )


def _steps(
    transport: Transport, workdir: str, script_dir: str, jobs: list[Job]
) -> tuple[Step, ...]:
    mkdir_work = ("mkdir", "-p", "--", workdir, layout.join(workdir, layout.TASKS_SUBDIR))
    steps: list[Step] = [MkdirStep(argv=as_user(transport, mkdir_work))]
    if transport.kind is TransportKind.SSH:
        steps.append(UploadStep(
            argv=as_user(transport, ("tar", "-x", "-m", "-f", "-", "-C", script_dir)),
            directory=script_dir,
            jobs=tuple(job.index for job in jobs),
        ))
    else:
        if script_dir != workdir:  # sudo: the runner's own folder, readable by the user
            steps.append(MkdirStep(argv=("mkdir", "-p", "--", script_dir)))
        steps.extend(WriteStep(path=job.script_path, job=job.index) for job in jobs)
    steps.extend(
        SubmitStep(job=job.index, argv=as_user(transport, ("sbatch", "--parsable", job.script_path)))
        for job in jobs
    )
    return tuple(steps)
