"""Pass 2: the three inputs, checked for meaning and turned into typed values.

Runs after the schema pass, only on inputs the schema accepted, so shapes and
types are known here; what remains is what a schema cannot say: unit bounds,
sbatch options, targets against maxes, paths that climb out, unique ids.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from typing import Any, TypeVar

from slurmplan.compiler import package_files
from slurmplan.compiler.errors import Problem, Problems, Source, pointer, show
from slurmplan.compiler.outputs import output_problems
from slurmplan.compiler.passes.check import SchemaCheck
from slurmplan.compiler.passes.prune import without
from slurmplan.compiler.passes.task_columns import TaskColumns
from slurmplan.compiler.slurm.directives import FIELD_OPTIONS, option_of
from slurmplan.compiler.slurm.extra_lines import directive_problem, is_directive
from slurmplan.compiler.slurm.settings import Settings, ordered
from slurmplan.compiler.slurm.units import (
    TIME_FORM,
    FormatError,
    TimeLimit,
    parse_mem_mib,
    parse_time_seconds,
)
from slurmplan.compiler.transport import SshTarget, TransportKind


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchingLimits:
    target_cpus_per_job: int
    max_cpus_per_job: int
    target_mem_per_job: int  # MiB
    max_mem_per_job: int  # MiB
    target_num_jobs: int
    max_num_jobs: int
    written: Mapping[str, object] = field(default_factory=dict, compare=False)  # as given


MAX_SCRIPT_BYTES = 4 * 1024 * 1024  # Slurm's default max_script_size (SchedulerParameters)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunnerConfig:
    default: Settings
    gpu: Settings | None
    batching: BatchingLimits
    exports: tuple[tuple[str, str], ...]  # (name, path relative to cache_dir, normalized)
    scripts_dir: str | None
    max_jobs_in_queue: int | None
    max_script_bytes: int  # Slurm's max_script_size: sbatch refuses a larger script


@dataclass(frozen=True, slots=True, kw_only=True)
class UserProfile:
    username: str
    transport: TransportKind
    project_dir: str
    cache_dir: str
    jobs_dir: str
    ssh: SshTarget | None
    slurm_accounts: tuple[str, ...] = ()  # the accounts the user may charge, first the default


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskList:
    name: str
    needs_gpu: bool
    slurm_account: str | None  # one of the profile's slurm_accounts
    tasks_per_job: int | None
    parallel_tasks_per_job: int | None
    meta: Settings
    # Parallel tuples, one entry per task, in input order (tuples of records
    # would cost a million objects on a million tasks).
    ids: tuple[str, ...]
    # Each task's argv: the input's own lists, read and never changed here (a copy
    # as tuples costs a million objects, 100+ MB, on a million tasks).
    commands: tuple[Sequence[str], ...]
    envs: tuple[tuple[tuple[str, str], ...], ...]
    metas: tuple[Settings | None, ...]
    outputs: tuple[tuple[str, ...], ...]  # files fetch brings home, relative to the workdir


DEFAULT_CONTROL_PATH = "~/.ssh/slurmplan-%C"
# A Unix socket's path holds 107 bytes; ssh first binds the ControlPath plus ".XXXXXXXXXXXXXXXX"
# (17 more) and renames it, so the ControlPath itself may take 90.
MAX_CONTROL_PATH = 107 - 17
# What ssh's % tokens expand to, at least: those known from the profile are counted as
# they will be; the runner's own (home, local user, host, uid) as one character.
_TOKEN_LEAST = {"%": 1, "C": 40, "L": 1, "l": 1, "d": 1, "u": 1, "i": 1, "k": 1, "T": 1}


def control_path_least(ssh: SshTarget, username: str) -> int:
    """The fewest bytes `ssh.control_path` can expand to on the runner."""
    path = ssh.control_path
    total = 1 if path.startswith("~") else 0  # ~ is the runner's home: at least "/"
    text = path[1:] if path.startswith("~") else path
    known = {"h": ssh.host, "n": ssh.host, "p": str(ssh.port), "r": username}
    i = 0
    while i < len(text):
        if text[i] == "%" and i + 1 < len(text):
            token = text[i + 1]
            total += len(known[token].encode()) if token in known else _TOKEN_LEAST.get(token, 2)
            i += 2
        else:
            total += len(text[i].encode())
            i += 1
    return total


DEFAULT_SSH_PORT = 22


# sbatch reads node counts as signed 32-bit numbers: 2147483648 "is not a valid node
# count", and 4294967296 wraps to 0 and is taken (Slurm 22.05, on the testbed).
MAX_NODES = 2**31 - 1


def nodes_problem(value: str) -> str | None:
    """What is wrong with a `nodes` value of the schema's form (N or MIN-MAX), for Slurm."""
    counts = [int(part) for part in value.split("-")]
    if min(counts) < 1:
        return "'nodes' must count at least 1 node"
    if max(counts) > MAX_NODES:
        return f"'nodes' must be at most {MAX_NODES}, the largest node count sbatch reads"
    if len(counts) == 2 and counts[0] > counts[1]:
        return (
            f"'nodes' as MIN-MAX: the least ({counts[0]}) must not be more than the most "
            f"({counts[1]})"
        )
    return None


def parse_layer(
    raw: dict[str, Any], source: Source, at: tuple[str | int, ...], problems: Problems
) -> Settings:
    """One layer of Slurm settings as a value; problems carry pointers under `at`."""
    if "time" in raw and "time_per_task" in raw:
        problems.add(
            source,
            pointer(*at, "time_per_task"),
            "'time' and 'time_per_task' exclude each other: give one "
            f"(got time={show(raw['time'])}, time_per_task={show(raw['time_per_task'])})",
        )
    fields: dict[str, Any] = {}
    options: dict[str, str] = {}
    for key, value in raw.items():
        if key == "mem":
            try:
                fields["mem_mb"] = parse_mem_mib(value)
            except FormatError as error:
                problems.add(
                    source, pointer(*at, key), f"'mem' must be {error} (got {show(value)})"
                )
        elif key in ("time", "time_per_task"):
            try:
                seconds = parse_time_seconds(value)
            except FormatError:
                problems.add(
                    source, pointer(*at, key), f"'{key}' must be {TIME_FORM} (got {show(value)})"
                )
                continue
            fields["time"] = TimeLimit(seconds=seconds, per_task=key == "time_per_task")
        elif key == "extra_lines":
            lines = [(i, line) for i, line in enumerate(value) if line is not None]  # prune.py
            for index, line in lines:
                if is_directive(line):
                    message = directive_problem(line)
                    if message is not None:
                        problems.add(source, pointer(*at, key, index), message)
            fields["extra_lines"] = tuple(line for _, line in lines)
        elif key in FIELD_OPTIONS.values():
            if key == "nodes" and (wrong := nodes_problem(str(value))) is not None:
                problems.add(source, pointer(*at, key), f"{wrong} (got {show(value)})")
            options[option_of(key)] = str(value)  # nodes may be an integer
        else:  # partition, cpus_per_task, shebang_line, use_mem_per_cpu
            fields[key] = value
    written = tuple((key, raw[key]) for key in _QUOTED if key in raw)
    return Settings(options=ordered(options), written=written, **fields)


_QUOTED = ("cpus_per_task", "mem", "time", "time_per_task")  # see Settings.written


@dataclass(frozen=True, slots=True, kw_only=True)
class Inputs:
    config: RunnerConfig
    profile: UserProfile
    tasks: TaskList

    @property
    def account(self) -> str | None:
        """The user's account for these jobs, when the profile lists any: the one the
        task list names, else the first; it overrides the config's `account`."""
        if self.tasks.slurm_account is not None:
            return self.tasks.slurm_account
        return self.profile.slurm_accounts[0] if self.profile.slurm_accounts else None


def parse_inputs(
    raw_config: dict[str, Any],
    raw_profile: dict[str, Any],
    raw_tasks: dict[str, Any],
    schema_check: SchemaCheck,
    *,
    task_columns: TaskColumns | None = None,
) -> Inputs:
    """The inputs as values; raises CompileError with the schema's problems and the
    meaning problems of every input the schema accepted, so one run reports
    everything wrong, not just the first input's shape.  `task_columns`: see
    parse_task_list."""
    inputs, problems = read_inputs(
        raw_config, raw_profile, raw_tasks, schema_check, task_columns=task_columns
    )
    problems.raise_if_any()
    assert inputs is not None
    return inputs


def read_inputs(
    raw_config: dict[str, Any],
    raw_profile: dict[str, Any],
    raw_tasks: dict[str, Any],
    schema_check: SchemaCheck,
    *,
    task_columns: TaskColumns | None = None,
) -> tuple[Inputs | None, Problems]:
    """parse_inputs without raising: the inputs as values (None when the schema's
    problems leave one of them without a value) and every problem found.

    An input with schema problems is checked for meaning too, without the values the
    schema refused (prune.py): whatever of its shape is left is read as far as it goes."""
    problems = Problems()
    problems.extend(schema_check.problems)
    config = _read(parse_config, raw_config, schema_check.config, problems)
    profile = _read(parse_profile, raw_profile, schema_check.profile, problems)
    if schema_check.tasks:
        tasks = _read(parse_task_list, raw_tasks, schema_check.tasks, problems)
    else:
        tasks = parse_task_list(raw_tasks, problems, task_columns)
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
    if profile is not None and tasks is not None:
        _check_account(tasks.slurm_account, profile.slurm_accounts, problems)
    if config is None or profile is None or tasks is None:
        return None, problems
    return Inputs(config=config, profile=profile, tasks=tasks), problems


_T = TypeVar("_T")


def _read(
    parse: Callable[[dict[str, Any], Problems], _T | None],
    raw: Any,
    schema_problems: tuple[Problem, ...],
    problems: Problems,
) -> _T | None:
    """`parse(raw)`, or for an input with schema problems, its meaning problems as
    far as what the schema accepted goes (its value is not used: the schema's
    problems are raised)."""
    if not schema_problems:
        return parse(raw, problems)
    rest = without(raw, (p.pointer for p in schema_problems))
    if type(rest) is not dict:
        return None
    found = Problems()
    try:
        parse(rest, found)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError):
        # a value missing at the end, where the parsed value is built; or a shape the
        # schema refused that prune.py could not set aside: what was found stands
        problems.extend(found.items)
        return None
    problems.extend(found.items)
    return None


def _check_account(named: str | None, accounts: tuple[str, ...], problems: Problems) -> None:
    if named is None or named in accounts:
        return
    if accounts:
        listed = ", ".join(map(show, accounts))
        message = f"'slurm_account' must be one of the profile's slurm_accounts: {listed}"
    else:
        message = "'slurm_account' names an account but the profile lists no slurm_accounts"
    problems.add(Source.TASKS, pointer("slurm_account"), f"{message} (got {show(named)})")


def parse_config(raw: dict[str, Any], problems: Problems) -> RunnerConfig:
    src = Source.CONFIG
    # .get, and the values built last: an input the schema refused in parts is read as
    # far as it goes (see _read)
    default = parse_layer(
        raw.get("default_slurm_config", {}), src, ("default_slurm_config",), problems
    )
    gpu = (
        parse_layer(raw["gpu_slurm_config"], src, ("gpu_slurm_config",), problems)
        if "gpu_slurm_config" in raw
        else None
    )
    batching = _parse_batching(raw.get("batching_config", {}), problems)
    exports: list[tuple[str, str]] = []
    for name, value in sorted(raw.get("user_local_exports", {}).items()):  # as envs: by name
        normalized = posixpath.normpath(value)
        if normalized == ".." or normalized.startswith("../"):
            problems.add(
                src,
                pointer("user_local_exports", name),
                f"'{name}' must be a path inside the user's cache_dir, not climbing out of it "
                f"with '..' (got {show(value)})",
            )
        exports.append((name, normalized))
    return RunnerConfig(
        default=default,
        gpu=gpu,
        batching=BatchingLimits(**batching, written=dict(raw.get("batching_config", {}))),
        exports=tuple(exports),
        scripts_dir=posixpath.normpath(raw["scripts_dir"]) if "scripts_dir" in raw else None,
        max_jobs_in_queue=raw.get("submission", {}).get("max_jobs_in_queue"),
        max_script_bytes=raw.get("submission", {}).get("max_script_bytes", MAX_SCRIPT_BYTES),
    )


def _parse_batching(raw: dict[str, Any], problems: Problems) -> dict[str, int]:
    values: dict[str, int] = {}
    for key, value in raw.items():
        if key.endswith("_mem_per_job"):
            try:
                values[key] = parse_mem_mib(value)
            except FormatError as error:
                problems.add(
                    Source.CONFIG,
                    pointer("batching_config", key),
                    f"'{key}' must be {error} (got {show(value)})",
                )
                values[key] = 1
        else:
            values[key] = value
    for what in ("cpus_per_job", "mem_per_job", "num_jobs"):
        target, most = values.get(f"target_{what}"), values.get(f"max_{what}")
        if target is not None and most is not None and target > most:
            problems.add(
                Source.CONFIG,
                pointer("batching_config", f"target_{what}"),
                f"'target_{what}' must be ≤ 'max_{what}' "
                f"(got {show(raw[f'target_{what}'])} > {show(raw[f'max_{what}'])})",
            )
    return values


def parse_profile(raw: dict[str, Any], problems: Problems) -> UserProfile:
    src = Source.PROFILE
    transport = TransportKind(raw["transport"]) if "transport" in raw else None  # see _read
    project_dir = posixpath.normpath(raw.get("project_dir", "/"))
    cache_dir = posixpath.normpath(
        raw.get("cache_dir", posixpath.join(project_dir, ".fractal_cache"))
    )
    jobs_dir = posixpath.normpath(raw.get("jobs_dir", posixpath.join(project_dir, "jobs")))
    if "jobs_dir" not in raw and _directive_path().fullmatch(jobs_dir) is None:
        problems.add(
            src,
            pointer("project_dir"),
            "'project_dir' gives the default jobs_dir, which is written into #SBATCH lines: it "
            "must use only letters, digits and _ . , + @ : = / -, or set 'jobs_dir' "
            f"(got {show(raw['project_dir'])})",
        )
    ssh: SshTarget | None = None
    if transport is TransportKind.SSH:
        if "ssh" not in raw:
            problems.add(
                src, pointer("ssh"), "'ssh' is required when transport is 'ssh' (got no 'ssh')"
            )
        else:
            s = raw["ssh"]
            ssh = SshTarget(
                host=s["host"],
                port=s.get("port", DEFAULT_SSH_PORT),
                key_path=s["key_path"],
                known_hosts_path=s["known_hosts_path"],
                control_path=s.get("control_path", DEFAULT_CONTROL_PATH),
            )
            least = control_path_least(ssh, str(raw.get("username", "")))
            if least > MAX_CONTROL_PATH:
                problems.add(src, pointer("ssh", "control_path"), (
                    f"'control_path' expands to at least {least} bytes; a socket path holds "
                    f"at most {MAX_CONTROL_PATH} here (107, less the 17 ssh adds while it "
                    f"starts the master): use a shorter one (got {show(ssh.control_path)})"
                ))  # fmt: skip
    elif "ssh" in raw and transport is not None:
        problems.add(
            src,
            pointer("ssh"),
            f"'ssh' is only allowed when transport is 'ssh' (got transport {transport.value!r})",
        )
    return UserProfile(
        username=raw["username"],
        transport=TransportKind(raw["transport"]),
        project_dir=project_dir,
        cache_dir=cache_dir,
        jobs_dir=jobs_dir,
        ssh=ssh,
        slurm_accounts=tuple(raw.get("slurm_accounts", ())),
    )


def _directive_path() -> re.Pattern[str]:
    return re.compile(package_files.schema("user_profile")["$defs"]["directive_path"]["pattern"])


def parse_task_list(
    raw: dict[str, Any], problems: Problems, columns: TaskColumns | None = None
) -> TaskList:
    """`columns`: the ids and commands of raw's tasks, and whether any has env or meta,
    when an earlier walk over the tasks took them out already (task_scan.py)."""
    src = Source.TASKS
    tasks_per_job = raw.get("tasks_per_job")
    parallel = raw.get("parallel_tasks_per_job")
    if (tasks_per_job is None) != (parallel is None):
        problems.add(
            src,
            pointer("tasks_per_job" if tasks_per_job is None else "parallel_tasks_per_job"),
            "'tasks_per_job' and 'parallel_tasks_per_job' must be both set or both unset "
            f"(got tasks_per_job={show(tasks_per_job)}, parallel_tasks_per_job={show(parallel)})",
        )
    meta = parse_layer(raw.get("meta", {}), src, ("meta",), problems)
    if "worker_init" in raw:
        meta = _with_worker_init(meta, raw["worker_init"], problems)
    tasks = raw.get("tasks", [])
    if columns is None and not all(type(task) is dict for task in tasks):
        tasks = [task if type(task) is dict else {} for task in tasks]  # see _read
    ids = tuple(task.get("id") for task in tasks) if columns is None else columns.ids
    if len(set(ids)) != len(ids):
        first: dict[str, int] = {}
        for index, task_id in enumerate(ids):
            if task_id is None:  # set aside (prune.py)
                continue
            if task_id in first:
                problems.add(
                    src,
                    pointer("tasks", index, "id"),
                    f"'id' must be unique (got {task_id!r}, already at /tasks/{first[task_id]}/id)",
                )
            else:
                first[task_id] = index
    plain = columns is not None and columns.plain  # no task has env, meta or outputs
    metas = (None,) * len(tasks) if plain else _task_metas(tasks, problems)
    return TaskList(
        name=raw["name"],
        needs_gpu=raw.get("needs_gpu", False),
        slurm_account=raw.get("slurm_account"),
        tasks_per_job=tasks_per_job,
        parallel_tasks_per_job=parallel,
        meta=meta,
        ids=ids,
        commands=tuple(map(itemgetter("command"), tasks)) if columns is None else columns.commands,
        envs=((),) * len(tasks) if plain else _task_envs(tasks),
        metas=metas,
        outputs=((),) * len(tasks) if plain else _task_outputs(tasks, problems),
    )


def _with_worker_init(meta: Settings, text: str, problems: Problems) -> Settings:
    """fractal's request-level worker_init: its non-blank lines follow the list meta's
    extra lines (a line the config has too is written once: see settings.resources)."""
    lines = tuple(line for line in text.split("\n") if line.strip())
    for number, line in enumerate(lines, start=1):
        message = directive_problem(line) if is_directive(line) else None
        if message is not None:
            problems.add(
                Source.TASKS, pointer("worker_init"), f"line {number} of worker_init: {message}"
            )
    return dataclasses.replace(meta, extra_lines=(meta.extra_lines or ()) + lines)


def _task_envs(tasks: list[dict[str, Any]]) -> tuple[tuple[tuple[str, str], ...], ...]:
    """Each task's env as sorted pairs: plan_id hashes the inputs with sorted keys, so
    key order must not change the plan either.  Most lists have no env at all."""
    raws = list(map(dict.get, tasks, repeat("env")))
    if not any(raws):
        return ((),) * len(tasks)
    return tuple(tuple(sorted(env.items())) if env else () for env in raws)


def _task_outputs(tasks: list[dict[str, Any]], problems: Problems) -> tuple[tuple[str, ...], ...]:
    """Each task's output files (outputs.py refuses slurmplan's own and collisions)."""
    raws = list(map(dict.get, tasks, repeat("outputs")))  # in C: most tasks name none
    if not any(raws):
        return ((),) * len(tasks)
    outputs = tuple(tuple(raw) if raw else () for raw in raws)
    for t, o, message in output_problems(outputs, _output_at):
        problems.add(Source.TASKS, _output_at(t, o), message)
    return outputs


def _output_at(task: int, output: int) -> str:
    return pointer("tasks", task, "outputs", output)


def _task_metas(tasks: list[dict[str, Any]], problems: Problems) -> tuple[Settings | None, ...]:
    """Each task's parsed meta; identical metas are parsed once and shared."""
    raws = list(map(dict.get, tasks, repeat("meta")))
    if not any(raws):
        return (None,) * len(tasks)
    # repr is a cheap key (1, True and "1" stay apart); == against the meta first
    # parsed under it confirms a hit, so a key never stands for a different meta.
    parsed: dict[str, tuple[dict[str, Any], Settings, Problems]] = {}
    out: list[Settings | None] = []
    for index, raw in enumerate(raws):
        if not raw:
            out.append(None)
            continue
        key = repr(raw)
        entry = parsed.get(key)
        if entry is None or entry[0] != raw:
            local = Problems()
            entry = parsed[key] = (raw, parse_layer(raw, Source.TASKS, (), local), local)
        _, layer, local = entry
        for problem in local.items:
            problems.add(
                Source.TASKS, pointer("tasks", index, "meta") + problem.pointer, problem.message
            )
        out.append(layer)
    return tuple(out)
