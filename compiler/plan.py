"""The plan: a frozen value with a canonical JSON form (schemas/plan.schema.json)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, assert_never

from compiler.errors import CompileError, Problem, Source, pointer
from compiler.schemas import schema_problems
from compiler.transport import SshTarget, Transport, TransportKind

FORMAT = "slurmplan/1"


def script_bytes(script: str) -> bytes:
    """A script as bytes: UTF-8, with lone surrogates standing for raw bytes."""
    return script.encode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanWarning:
    group: int | None
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupSummary:
    """One group of alike tasks and how it was batched."""

    index: int
    n_tasks: int
    first_task: str
    tasks_per_job: int
    parallel_tasks_per_job: int
    cpus_per_task: int
    mem_per_task_mb: int
    partition: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    index: int
    name: str
    group: int
    tasks: tuple[str, ...]
    ntasks: int
    cpus_per_task: int
    mem_mb: int  # the whole job's memory
    time: str | None
    script_path: str
    script: str
    stdout: str
    stderr: str
    lane_status_paths: tuple[str, ...]
    done_path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MkdirStep:
    argv: tuple[str, ...]
    kind: Literal["mkdir"] = "mkdir"


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteStep:
    """The runner writes a job's script to `path` on its own file system."""

    path: str
    job: int
    mode: int = 0o644
    kind: Literal["write"] = "write"


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadStep:
    """The jobs' scripts, as one tar stream (compiler.runtime.upload), piped into `argv`."""

    argv: tuple[str, ...]
    directory: str
    jobs: tuple[int, ...]
    kind: Literal["upload"] = "upload"


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitStep:
    job: int
    argv: tuple[str, ...]
    kind: Literal["submit"] = "submit"


Step = MkdirStep | WriteStep | UploadStep | SubmitStep


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    plan_id: str
    name: str
    transport: Transport
    workdir: str
    script_dir: str
    warnings: tuple[PlanWarning, ...]
    groups: tuple[GroupSummary, ...]
    jobs: tuple[Job, ...]
    steps: tuple[Step, ...]
    max_jobs_in_queue: int | None = None
    format: str = FORMAT

    def __post_init__(self) -> None:
        problems = _invariant_problems(self)
        if problems:
            raise CompileError(problems)

    def to_json(self) -> dict[str, Any]:
        """The canonical JSON form (plain dicts, lists, str, int, None)."""
        return {
            "format": self.format,
            "plan_id": self.plan_id,
            "name": self.name,
            "transport": _transport_json(self.transport),
            "workdir": self.workdir,
            "script_dir": self.script_dir,
            "max_jobs_in_queue": self.max_jobs_in_queue,
            "warnings": [{"group": w.group, "message": w.message} for w in self.warnings],
            "groups": [_fields(g) for g in self.groups],
            "jobs": [_job_json(j) for j in self.jobs],
            "steps": [_step_json(s) for s in self.steps],
        }


def _fields(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__slots__}


def _transport_json(t: Transport) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": t.kind.value, "user": t.user}
    if t.ssh is not None:
        out["ssh"] = _fields(t.ssh)
    return out


def _job_json(job: Job) -> dict[str, Any]:
    out = _fields(job)
    out["tasks"] = list(job.tasks)
    out["lane_status_paths"] = list(job.lane_status_paths)
    return out


def _step_json(step: Step) -> dict[str, Any]:
    match step:
        case MkdirStep():
            return {"kind": step.kind, "argv": list(step.argv)}
        case WriteStep():
            return {
                "kind": step.kind,
                "path": step.path,
                "job": step.job,
                "mode": f"{step.mode:04o}",
            }
        case UploadStep():
            return {
                "kind": step.kind,
                "argv": list(step.argv),
                "directory": step.directory,
                "jobs": list(step.jobs),
            }
        case SubmitStep():
            return {"kind": step.kind, "job": step.job, "argv": list(step.argv)}
        case _:
            assert_never(step)


def _step_from_json(d: dict[str, Any]) -> Step:
    kind = d["kind"]
    if kind == "mkdir":
        return MkdirStep(argv=tuple(d["argv"]))
    if kind == "write":
        return WriteStep(path=d["path"], job=d["job"], mode=int(d["mode"], 8))
    if kind == "upload":
        return UploadStep(argv=tuple(d["argv"]), directory=d["directory"], jobs=tuple(d["jobs"]))
    return SubmitStep(job=d["job"], argv=tuple(d["argv"]))


def plan_from_json(d: dict[str, Any]) -> Plan:
    """The plan of a JSON form; `plan_from_json(p.to_json()) == p`.

    Raises CompileError (source 'plan') when `d` is not a plan of this format.
    """
    problems = schema_problems("plan", Source.PLAN, d)
    if problems:
        raise CompileError(problems)
    t = d["transport"]
    ssh = SshTarget(**t["ssh"]) if "ssh" in t else None
    return Plan(
        format=d["format"],
        plan_id=d["plan_id"],
        name=d["name"],
        transport=Transport(kind=TransportKind(t["kind"]), user=t["user"], ssh=ssh),
        workdir=d["workdir"],
        script_dir=d["script_dir"],
        max_jobs_in_queue=d["max_jobs_in_queue"],
        warnings=tuple(PlanWarning(group=w["group"], message=w["message"]) for w in d["warnings"]),
        groups=tuple(GroupSummary(**g) for g in d["groups"]),
        jobs=tuple(
            Job(
                **{
                    **j,
                    "tasks": tuple(j["tasks"]),
                    "lane_status_paths": tuple(j["lane_status_paths"]),
                }
            )
            for j in d["jobs"]
        ),
        steps=tuple(_step_from_json(s) for s in d["steps"]),
    )


def _invariant_problems(plan: Plan) -> list[Problem]:
    """What must hold of any plan, built or read: indices that agree (a job's and a
    group's position, a job's group, a step's jobs) and lanes that match a job."""
    problems: list[Problem] = []

    def bad(where: str, message: str) -> None:
        problems.append(Problem(source=Source.PLAN, pointer=where, message=message))

    n_jobs, n_groups = len(plan.jobs), len(plan.groups)
    for i, group in enumerate(plan.groups):
        if group.index != i:
            bad(
                pointer("groups", i, "index"),
                f"'index' must be {i}, its position (got {group.index})",
            )
    for i, job in enumerate(plan.jobs):
        if job.index != i:
            bad(pointer("jobs", i, "index"), f"'index' must be {i}, its position (got {job.index})")
        if job.group >= n_groups:
            bad(
                pointer("jobs", i, "group"),
                f"'group' must name one of the {n_groups} groups (got {job.group})",
            )
        if len(job.lane_status_paths) != job.ntasks:
            bad(
                pointer("jobs", i, "lane_status_paths"),
                f"'lane_status_paths' must hold one path per lane, {job.ntasks} "
                f"(got {len(job.lane_status_paths)})",
            )
    for i, step in enumerate(plan.steps):
        refs = step.jobs if isinstance(step, UploadStep) else (getattr(step, "job", 0),)
        for ref in refs:
            if ref >= n_jobs:
                bad(
                    pointer("steps", i), f"step refers to job {ref}, but the plan has {n_jobs} jobs"
                )
    return problems
