"""The plan: a frozen value with a canonical JSON form (schemas/plan.schema.json)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, assert_never

from slurmplan.compiler import layout
from slurmplan.compiler.errors import (
    CompileError,
    Problem,
    Source,
    pointer,
    show,
    unencodable_problems,
    unwritable_problems,
)
from slurmplan.compiler.outputs import output_problems
from slurmplan.compiler.schemas import schema_problems
from slurmplan.compiler.transport import SshTarget, Transport, TransportKind, as_user

FORMAT = "slurmplan/2"
# The mode (less the umask) of every file that may hold a task's env values: the plan, its
# scripts and any copy of them. Never group- or world-readable: a cluster's users often
# share one group, and only the user (and root) needs to read them (docs/decisions.md).
PRIVATE_MODE = 0o600


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
    mode: int = PRIVATE_MODE
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

# Each task's output files (relative to the workdir) that fetch brings home, for the
# tasks that name any, in plan order (compiler/outputs.py).
Outputs = tuple[tuple[str, tuple[str, ...]], ...]


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
    outputs: Outputs = ()
    format: str = FORMAT

    def __post_init__(self) -> None:
        problems = _invariant_problems(self)
        if problems:
            raise CompileError(problems)

    def to_json(self) -> dict[str, Any]:
        """The canonical JSON form (plain dicts, lists, str, int, None); `outputs` only
        when a task names any, so a plan without is written as before they existed."""
        return {
            **_head_json(self),
            "jobs": [_job_json(j) for j in self.jobs],
            "steps": [_step_json(s) for s in self.steps],
            "digest": plan_digest(self),
        }


def _head_json(plan: Plan) -> dict[str, Any]:
    """The JSON form's fields but the jobs, steps and digest."""
    out: dict[str, Any] = {
        "format": plan.format,
        "plan_id": plan.plan_id,
        "name": plan.name,
        "transport": _transport_json(plan.transport),
        "workdir": plan.workdir,
        "script_dir": plan.script_dir,
        "max_jobs_in_queue": plan.max_jobs_in_queue,
        "warnings": [{"group": w.group, "message": w.message} for w in plan.warnings],
        "groups": [_fields(g) for g in plan.groups],
    }
    if plan.outputs:
        out["outputs"] = {task: list(paths) for task, paths in plan.outputs}
    return out


def _fields(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__slots__}


def _transport_json(t: Transport) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": t.kind.value, "user": t.user}
    if t.ssh is not None:
        out["ssh"] = _fields(t.ssh)
    return out


def _job_json(job: Job, *, script: bool = True) -> dict[str, Any]:
    out = _fields(job)
    if not script:
        del out["script"]
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
    if kind == "submit":
        return SubmitStep(job=d["job"], argv=tuple(d["argv"]))
    raise ValueError(f"unknown step kind {kind!r}")  # the schema refuses it first


STEP_KINDS = ("mkdir", "write", "upload", "submit")


def _unknown_kinds(d: Any) -> list[Problem]:
    """A problem per step whose kind is none of STEP_KINDS (at the step's pointer)."""
    steps = d.get("steps") if isinstance(d, dict) else None
    if not isinstance(steps, list):
        return []
    return [
        Problem(
            source=Source.PLAN,
            pointer=pointer("steps", i),
            message=f"'kind' must be one of {', '.join(map(repr, STEP_KINDS))} "
            f"(got {show(step.get('kind'))})",
        )
        for i, step in enumerate(steps)
        if isinstance(step, dict) and step.get("kind") not in STEP_KINDS
    ]


def script_on_stdin(transport: Transport) -> bool:
    """Whether sbatch reads the job's script on its standard input rather than a file:
    through sudo, so that no file the runner wrote is read by the user, and no other
    user can read or swap it (docs/decisions.md)."""
    return transport.kind is TransportKind.SUDO


def submit_words(transport: Transport, job: Job) -> tuple[str, ...]:
    """sbatch's words for one job (compiler.runtime.commands adds the run's --job-name)."""
    if script_on_stdin(transport):
        return ("sbatch", "--parsable")
    return ("sbatch", "--parsable", job.script_path)


def derive_steps(
    transport: Transport, workdir: str, script_dir: str, jobs: Sequence[Job]
) -> tuple[Step, ...]:
    """The steps of a plan: a pure function of its transport, folders and jobs.

    The compiler builds a plan's steps with it, and plan_from_json refuses a file
    whose steps differ from it: a plan file cannot widen what the runner runs.
    """
    mkdir_work = ("mkdir", "-p", "--", workdir, layout.join(workdir, layout.TASKS_SUBDIR))
    steps: list[Step] = [MkdirStep(argv=as_user(transport, mkdir_work))]
    match transport.kind:
        case TransportKind.SSH:
            steps.append(
                UploadStep(
                    argv=as_user(transport, ("tar", "-x", "-m", "-f", "-", "-C", script_dir)),
                    directory=script_dir,
                    jobs=tuple(job.index for job in jobs),
                )
            )
        case TransportKind.LOCAL:
            steps.extend(WriteStep(path=job.script_path, job=job.index) for job in jobs)
        case TransportKind.SUDO:
            pass  # the scripts go to sbatch on stdin (submit_words)
    steps.extend(
        SubmitStep(job=job.index, argv=as_user(transport, submit_words(transport, job)))
        for job in jobs
    )
    return tuple(steps)


def plan_digest(plan: Plan) -> str:
    """SHA-256 of the whole plan but the digest itself, as the plan file records it: a
    plan edited anywhere (a script, a job's tasks, lanes or resources, a group, a step)
    is refused on load.  Scripts are hashed as their bytes; the rest as canonical JSON,
    the jobs and steps in slices, never the whole text at once; the outputs only when a
    task names any.  (Whoever can rewrite the file can recompute it: the file's
    permissions are what keep others out.)"""
    digest = hashlib.sha256(b"slurmplan-digest/2\n")
    digest.update(_canonical(_head_json(plan)))
    for job in plan.jobs:
        data = script_bytes(job.script)
        digest.update(b"%d %d\n" % (job.index, len(data)))
        digest.update(data)
    for start in range(0, len(plan.jobs), 100):  # small slices: to_json holds the form too
        part = [_job_json(j, script=False) for j in plan.jobs[start : start + 100]]
        digest.update(b"jobs" + _canonical(part))
    for start in range(0, len(plan.steps), 1000):
        digest.update(_canonical([_step_json(s) for s in plan.steps[start : start + 1000]]))
    return "sha256:" + digest.hexdigest()


def _canonical(value: Any) -> bytes:
    # json.dumps escapes every non-ASCII character
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("ascii")


def plan_from_json(d: dict[str, Any]) -> Plan:
    """The plan of a JSON form; `plan_from_json(p.to_json()) == p`.

    Raises CompileError (source 'plan') when `d` is not a plan of this format, or
    when it is not what the compiler makes: a job's name or paths other than the
    layout's, steps other than derive_steps', a digest other than plan_digest's.
    """
    try:
        return _plan_from_json(d)
    except (ValueError, RecursionError):  # an int too long, lists too deep (compile_plan)
        problems = unwritable_problems(Source.PLAN, d)
        if not problems:
            raise
        raise CompileError(problems) from None


def _plan_from_json(d: dict[str, Any]) -> Plan:
    kinds = _unknown_kinds(d)
    problems = schema_problems("plan", Source.PLAN, d)
    if problems or kinds:  # a step of an unknown kind: said plainly, not as the oneOf
        bad_steps = {p.pointer for p in kinds}
        raise CompileError([*kinds, *(p for p in problems if p.pointer not in bad_steps)])
    # Text with no bytes (a lone surrogate but U+DC80..U+DCFF) could be neither hashed nor
    # run: refused at its string, by compile's rule, before anything is compared.
    problems = unencodable_problems(Source.PLAN, d)
    if problems:
        raise CompileError(problems)
    t = d["transport"]
    ssh = SshTarget(**t["ssh"]) if "ssh" in t else None
    plan = Plan(
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
        outputs=_outputs_in_plan_order(d.get("outputs", {}), d["jobs"]),
    )
    problems = _loaded_problems(plan, d["digest"])
    if problems:
        raise CompileError(problems)
    return plan


def _outputs_in_plan_order(named: dict[str, list[str]], jobs: list[dict[str, Any]]) -> Outputs:
    """A file's outputs by task (JSON keeps no order) in the order of the plan's tasks;
    a task the plan does not have last, for the invariants to refuse."""
    if not named:
        return ()
    order = {task: i for i, task in enumerate(t for job in jobs for t in job["tasks"])}
    by_plan = sorted(named.items(), key=lambda item: order.get(item[0], len(order)))
    return tuple((task, tuple(paths)) for task, paths in by_plan)


def _invariant_problems(plan: Plan) -> list[Problem]:
    """What must hold of any plan, built or read: indices that agree (a job's and a
    group's position, a job's group, a step's jobs) and lanes that match a job."""
    problems: list[Problem] = []

    def bad(where: str, message: str) -> None:
        problems.append(Problem(source=Source.PLAN, pointer=where, message=message))

    n_jobs, n_groups = len(plan.jobs), len(plan.groups)
    job_of: dict[str, int] = {}  # each task's job: a task in two would run twice
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
        for k, task in enumerate(job.tasks):
            first = job_of.setdefault(task, i)
            if first != i:
                message = f"task {show(task)} is in job {first} too: a task runs in one job"
                bad(pointer("jobs", i, "tasks", k), message)
        if len(job.lane_status_paths) != job.ntasks:
            bad(
                pointer("jobs", i, "lane_status_paths"),
                f"'lane_status_paths' must hold one path per lane, {job.ntasks} "
                f"(got {len(job.lane_status_paths)})",
            )
    if plan.outputs:
        tasks = {task for job in plan.jobs for task in job.tasks}
        for task, _ in plan.outputs:
            if task not in tasks:
                message = f"'outputs' must name tasks of the plan (got {show(task)})"
                bad(pointer("outputs", task), message)
    for i, step in enumerate(plan.steps):
        match step:
            case UploadStep():
                refs = step.jobs
            case WriteStep() | SubmitStep():
                refs = (step.job,)
            case MkdirStep():
                refs = ()  # a mkdir names no job
        for ref in refs:
            if ref >= n_jobs:
                bad(
                    pointer("steps", i), f"step refers to job {ref}, but the plan has {n_jobs} jobs"
                )
    return problems


_MAX_LOAD_PROBLEMS = 100  # a plan whose user was changed differs in every step


def _loaded_problems(plan: Plan, digest: str) -> list[Problem]:
    """Where a plan read from a file differs from what the compiler would make of its
    own name, id, transport, folders and jobs (the runner runs only that)."""
    problems: list[Problem] = []
    for where, expected, got in _differences(plan):
        message = (
            "not what the compiler derives from the plan's name, id, transport and jobs: "
            f"expected {expected} (got {got})"
        )
        problems.append(Problem(source=Source.PLAN, pointer=where, message=message))
        if len(problems) == _MAX_LOAD_PROBLEMS:
            return problems
    problems.extend(_output_problems(plan.outputs))
    if problems:
        return problems
    expected = plan_digest(plan)
    if digest != expected:
        message = (
            f"'digest' must be the SHA-256 of the plan, {show(expected)} (got {show(digest)}): "
            "the plan was edited or cut short since it was compiled (a script, a job's tasks, "
            "lanes or resources, ...), or an older slurmplan wrote it; compile it again"
        )
        problems.append(Problem(source=Source.PLAN, pointer="/digest", message=message))
    return problems


def _output_problems(outputs: Outputs) -> list[Problem]:
    """Outputs of the schema's form may still name slurmplan's own files or collide, as
    the compiler refuses (compiler/outputs.py)."""

    def where(task: int, output: int) -> str:
        return pointer("outputs", outputs[task][0], output)

    paths = [paths for _, paths in outputs]
    return [
        Problem(source=Source.PLAN, pointer=where(t, o), message=message)
        for t, o, message in output_problems(paths, where)
    ]


def _differences(plan: Plan) -> Iterator[tuple[str, str, str]]:
    """(pointer, expected, received) for each field that is not the compiler's."""
    folder = layout.run_folder_name(plan.name, plan.plan_id)
    if not _plain_folder(plan.workdir, folder):
        yield "/workdir", f"an absolute path without . or .. ending /{folder}", show(plan.workdir)
    if plan.transport.kind is TransportKind.SUDO:
        if not _plain_folder(plan.script_dir, folder):
            yield (
                "/script_dir",
                f"an absolute path without . or .. ending /{folder}",
                show(plan.script_dir),
            )
    elif plan.script_dir != plan.workdir:
        yield "/script_dir", f"the workdir, {show(plan.workdir)}", show(plan.script_dir)
    for job in plan.jobs:
        yield from _job_differences(plan, job)
    derived = derive_steps(plan.transport, plan.workdir, plan.script_dir, plan.jobs)
    if len(derived) != len(plan.steps):
        yield "/steps", f"{len(derived)} steps", f"{len(plan.steps)}"
    for i in range(max(len(derived), len(plan.steps))):
        if i < len(derived) and i < len(plan.steps) and derived[i] == plan.steps[i]:
            continue
        want = _step_json(derived[i]) if i < len(derived) else _NOTHING
        have = _step_json(plan.steps[i]) if i < len(plan.steps) else _NOTHING
        if want != have:
            yield _first_difference(pointer("steps", i), want, have)


def _plain_folder(path: str, name: str) -> bool:
    """An absolute folder without '.', '..' or empty parts, named `name`."""
    parts = path.split("/")[1:]
    return parts[-1] == name and all(p not in ("", ".", "..") for p in parts)


def _job_differences(plan: Plan, job: Job) -> Iterator[tuple[str, str, str]]:
    i, stem = job.index, layout.job_stem(job.index)
    expected: dict[str, Any] = {
        "name": layout.job_name(plan.name, plan.plan_id, i),
        "script_path": layout.join(plan.script_dir, f"{stem}.sbatch"),
        "stdout": layout.join(plan.workdir, f"{stem}.out"),
        "stderr": layout.join(plan.workdir, f"{stem}.err"),
        "lane_status_paths": layout.join_all(plan.workdir, layout.lane_status_files(i, job.ntasks)),
        "done_path": layout.join(plan.workdir, layout.done_file(i)),
    }
    for field, want in expected.items():
        have = getattr(job, field)
        if have != want:
            yield _first_difference(pointer("jobs", i, field), _listed(want), _listed(have))


def _listed(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


_NOTHING = object()  # one list is shorter: nothing where the other has a value


def _first_difference(at: str, want: Any, have: Any) -> tuple[str, str, str]:
    """The pointer of the first place two JSON values differ, and the values there
    (a step's kind before its other fields)."""
    if isinstance(want, dict) and isinstance(have, dict):
        keys = sorted(want.keys() | have.keys(), key=lambda k: (k != "kind", k))
        for key in keys:
            a, b = want.get(key, _NOTHING), have.get(key, _NOTHING)
            if a != b:
                return _first_difference(at + pointer(key), a, b)
    if isinstance(want, list) and isinstance(have, list):
        for n in range(max(len(want), len(have))):
            a = want[n] if n < len(want) else _NOTHING
            b = have[n] if n < len(have) else _NOTHING
            if a != b:
                return _first_difference(at + pointer(n), a, b)
    return at, _words(want), _words(have)


def _words(value: Any) -> str:
    return "nothing" if value is _NOTHING else show(value)
