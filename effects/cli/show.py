"""`slurmplan show`: a plan as a summary a person can read in a terminal, or as data.

Groups come first, each with the directives its jobs carry beyond the job table's
columns (`--account`, `--qos`, `--gres`, ..., the `#SBATCH` extra lines) and its shell
lines (extra lines, then exports), read from the scripts themselves so nothing a job
carries is left out. Then one table of jobs per group, folded past FOLD_AFTER jobs
unless `--all`.

A job's task ids are a range (`a..b`) only when they are consecutive in the task list.
A plan does not record where each task stood in the list, only that a group keeps the
list's order and its jobs take consecutive runs of it: so with one group, a job's tasks
are consecutive in the list; with more, another group's tasks may lie between them, and
a job shows its first and last id and the count instead (or both ids, if two).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slurmplan.compiler import Job, Plan
from slurmplan.compiler.transport import TransportKind
from slurmplan.effects.cli.tables import table_lines

FOLD_AFTER = 8  # jobs listed per group before folding: the first FOLD_SHOWN, then the last
FOLD_SHOWN = 5
# Options the job table shows (or the plan's folders say): not repeated as directives.
_IN_TABLE = frozenset(
    {"partition", "ntasks", "cpus-per-task", "mem", "job-name", "time", "output", "error",
     "chdir"}
)  # fmt: skip
_START = '\necho "slurmplan-start '


def mem_text(mib: int) -> str:
    """Exact and short: 500M, 4G (1024-based, as Slurm reads it)."""
    return f"{mib // 1024}G" if mib % 1024 == 0 else f"{mib}M"


@dataclass(frozen=True, slots=True)
class Header:
    """What a script sets before its tasks: directives beyond the table, shell lines."""

    directives: tuple[str, ...]  # e.g. "--qos=high", as after "#SBATCH "
    shell: tuple[str, ...]  # extra lines then exports, as written


def script_header(script: str) -> Header:
    """The `#SBATCH` lines (but the table's) and the shell lines before the first blank
    line after the start line (templates/job.sbatch.j2)."""
    start = script.find(_START)
    head = script[:start] if start >= 0 else script
    directives = []
    for line in head.split("\n")[1:]:  # after the shebang
        if not line.startswith("#SBATCH "):
            continue
        option = line[len("#SBATCH ") :]
        name = option.split("=", 1)[0].lstrip("-")
        if not (option.startswith("--") and name in _IN_TABLE):
            directives.append(option)
    shell: list[str] = []
    if start >= 0:
        body_start = script.find("\n", start + 1) + 1
        body_end = script.find("\n\n", body_start - 1)
        if body_end > body_start:
            shell = script[body_start:body_end].split("\n")
    return Header(tuple(directives), tuple(shell))


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


def _ids(job: Job, consecutive: bool) -> str:
    first, last = job.tasks[0], job.tasks[-1]
    if len(job.tasks) == 1:
        return first
    if consecutive:
        return f"{first}..{last}"
    if len(job.tasks) == 2:
        return f"{first}, {last}"
    return f"first {first}, last {last}, {len(job.tasks)} tasks"


def _consecutive(plan: Plan) -> bool:
    """Whether each job's tasks are consecutive in the task list (see the module's doc)."""
    return len(plan.groups) == 1


_HEADER = ("job", "name", "ntasks", "tasks", "cpus/task", "mem/job", "time", "task ids")


def _job_row(job: Job, consecutive: bool) -> tuple[str, ...]:
    return (str(job.index), job.name, str(job.ntasks), str(len(job.tasks)),
            str(job.cpus_per_task), mem_text(job.mem_mb), job.time or "default",
            _ids(job, consecutive))  # fmt: skip


def _labelled(label: str, values: Sequence[str], width: int = len("directives")) -> list[str]:
    """`  label  v1` then `         v2` ...: one value a line, beside one label."""
    width = max(width, len(label))
    return [
        f"  {(label if i == 0 else '').ljust(width)}  {value}" for i, value in enumerate(values)
    ]


def _shared(headers: Sequence[Header]) -> Header | None:
    """The header every job of a group has, or None when they differ."""
    return headers[0] if headers and all(h == headers[0] for h in headers) else None


def _group_jobs(plan: Plan) -> dict[int, list[Job]]:
    jobs: dict[int, list[Job]] = {group.index: [] for group in plan.groups}
    for job in plan.jobs:
        jobs[job.group].append(job)
    return jobs


def summary(plan: Plan, *, unfold: bool = False) -> str:
    """Plan id, transport, folders; per group its batching, directives and shell lines;
    then per group one line per job (folded past FOLD_AFTER unless `unfold`); warnings."""
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
    by_group = _group_jobs(plan)
    headers = {job.index: script_header(job.script) for job in plan.jobs}
    for group in plan.groups:
        jobs = by_group[group.index]
        lines += [
            "",
            f"group {group.index}: {_n(group.n_tasks, 'task')} (first {group.first_task}), "
            f"{group.tasks_per_job} per job, {group.parallel_tasks_per_job} in parallel, "
            f"{_n(group.cpus_per_task, 'CPU')} and {mem_text(group.mem_per_task_mb)} per task, "
            f"partition {group.partition}; {_n(len(jobs), 'job')}",
        ]
        shared = _shared([headers[job.index] for job in jobs])
        if shared is None:
            lines.append("  directives and shell lines differ by job: see each job below")
        else:
            lines += _labelled("directives", shared.directives or ("(none beyond the table)",))
            lines += _labelled("shell", shared.shell or ("(none)",))
    consecutive = _consecutive(plan)
    for group in plan.groups:
        jobs = by_group[group.index]
        shown = jobs
        if not unfold and len(jobs) > FOLD_AFTER:
            shown = [*jobs[:FOLD_SHOWN], jobs[-1]]
        rows = [_job_row(job, consecutive) for job in shown]
        table = table_lines([_HEADER, *rows], right=frozenset({0, 2, 3, 4, 5}), indent="  ")
        if len(shown) < len(jobs):
            hidden = len(jobs) - len(shown)
            table.insert(1 + FOLD_SHOWN, f"  ... {_n(hidden, 'more job')} (--all lists them)")
        lines += ["", f"jobs of group {group.index}", *table]
        if _shared([headers[job.index] for job in jobs]) is None:
            for job in shown:
                header = headers[job.index]
                label = f"job {job.index} directives"
                lines += _labelled(label, header.directives or ("-",))
                lines += _labelled(f"job {job.index} shell", header.shell or ("-",), len(label))
    lines += ["", "warnings" if plan.warnings else "warnings: none"]
    for warning in plan.warnings:
        where = "plan" if warning.group is None else f"group {warning.group}"
        lines.append(f"  {where}: {warning.message}")
    return "\n".join(lines) + "\n"


def summary_json(plan: Plan) -> dict[str, Any]:
    """The same as `summary`, as data: every group and every job (never folded)."""
    consecutive = _consecutive(plan)
    by_group = _group_jobs(plan)
    transport: dict[str, Any] = {"kind": plan.transport.kind.value, "user": plan.transport.user}
    if plan.transport.ssh is not None:
        ssh = plan.transport.ssh
        transport.update(host=ssh.host, port=ssh.port, key_path=ssh.key_path)
    jobs = []
    for job in plan.jobs:
        header = script_header(job.script)
        jobs.append({
            "index": job.index, "name": job.name, "group": job.group, "ntasks": job.ntasks,
            "n_tasks": len(job.tasks), "cpus_per_task": job.cpus_per_task,
            "mem_mb": job.mem_mb, "time": job.time,
            "tasks": {"first": job.tasks[0], "last": job.tasks[-1], "count": len(job.tasks),
                      "consecutive": consecutive},
            "directives": list(header.directives), "shell": list(header.shell),
        })  # fmt: skip
    groups = []
    for group in plan.groups:
        shared = _shared([script_header(job.script) for job in by_group[group.index]])
        groups.append({
            "index": group.index, "n_tasks": group.n_tasks, "first_task": group.first_task,
            "tasks_per_job": group.tasks_per_job,
            "parallel_tasks_per_job": group.parallel_tasks_per_job,
            "cpus_per_task": group.cpus_per_task, "mem_per_task_mb": group.mem_per_task_mb,
            "partition": group.partition, "n_jobs": len(by_group[group.index]),
            # null when the group's jobs differ: each job's own are in "jobs"
            "directives": None if shared is None else list(shared.directives),
            "shell": None if shared is None else list(shared.shell),
        })  # fmt: skip
    return {
        "plan_id": plan.plan_id, "name": plan.name, "format": plan.format,
        "transport": transport, "workdir": plan.workdir, "script_dir": plan.script_dir,
        "max_jobs_in_queue": plan.max_jobs_in_queue,
        "n_tasks": sum(len(job.tasks) for job in plan.jobs), "n_jobs": len(plan.jobs),
        "n_steps": len(plan.steps), "groups": groups, "jobs": jobs,
        "warnings": [{"group": w.group, "message": w.message} for w in plan.warnings],
    }  # fmt: skip
