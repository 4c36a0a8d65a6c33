"""`slurmplan show`: a plan as a summary a person can read in a terminal."""

from __future__ import annotations

from compiler import Job, Plan
from compiler.transport import TransportKind
from effects.cli.tables import table_lines


def mem_text(mib: int) -> str:
    """Exact and short: 500M, 4G (1024-based, as Slurm reads it)."""
    return f"{mib // 1024}G" if mib % 1024 == 0 else f"{mib}M"


def _transport(plan: Plan) -> str:
    t = plan.transport
    match t.kind:
        case TransportKind.LOCAL:
            return f"local (the runner is {t.user})"
        case TransportKind.SUDO:
            return f"sudo (the runner impersonates {t.user})"
        case TransportKind.SSH:
            assert t.ssh is not None
            return f"ssh to {t.user}@{t.ssh.host}:{t.ssh.port} (key {t.ssh.key_path})"


def _n(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _task_range(job: Job) -> str:
    first, last = job.tasks[0], job.tasks[-1]
    return first if len(job.tasks) == 1 else f"{first}..{last}"


_HEADER = ("job", "name", "ntasks", "tasks", "cpus/task", "mem/job", "time", "task ids")


def _job_row(job: Job) -> tuple[str, ...]:
    return (str(job.index), job.name, str(job.ntasks), str(len(job.tasks)),
            str(job.cpus_per_task), mem_text(job.mem_mb), job.time or "default",
            _task_range(job))  # fmt: skip


def summary(plan: Plan) -> str:
    """Plan id, transport, folders; per group its batching and one line per job; warnings."""
    n_tasks = sum(len(job.tasks) for job in plan.jobs)
    lines = [
        f"plan {plan.plan_id}  {plan.name}  ({plan.format})",
        f"transport  {_transport(plan)}",
        f"workdir    {plan.workdir}",
        f"scripts    {plan.script_dir}",
    ]
    if plan.max_jobs_in_queue is not None:
        lines.append(f"queue      at most {plan.max_jobs_in_queue} jobs at once")
    lines.append(
        f"{_n(n_tasks, 'task')} in {_n(len(plan.groups), 'group')}, "
        f"{_n(len(plan.jobs), 'job')}, {_n(len(plan.steps), 'step')}"
    )
    for group in plan.groups:
        lines += [
            "",
            f"group {group.index}: {_n(group.n_tasks, 'task')} (first {group.first_task}), "
            f"{group.tasks_per_job} per job, {group.parallel_tasks_per_job} in parallel, "
            f"{_n(group.cpus_per_task, 'CPU')} and {mem_text(group.mem_per_task_mb)} per task, "
            f"partition {group.partition}",
        ]
        jobs = [_job_row(job) for job in plan.jobs if job.group == group.index]
        lines += table_lines([_HEADER, *jobs], right=frozenset({0, 2, 3, 4, 5}), indent="  ")
    lines += ["", "warnings" if plan.warnings else "warnings: none"]
    for warning in plan.warnings:
        where = "plan" if warning.group is None else f"group {warning.group}"
        lines.append(f"  {where}: {warning.message}")
    return "\n".join(lines) + "\n"
