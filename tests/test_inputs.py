"""compiler.passes.parse: what the schemas cannot say (docs/architecture.md §2): exports, defaults,
transports,
unique ids, both-or-neither, time exclusivity, targets against maxes."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import sample_inputs

from slurmplan.compiler import CompileError, Problem, compile_plan
from slurmplan.compiler.errors import Problems
from slurmplan.compiler.passes.parse import parse_config, parse_profile, parse_task_list
from slurmplan.compiler.transport import TransportKind

CONFIG = sample_inputs.config()
PROFILE = sample_inputs.profile("/home/a/p")
TASKS = sample_inputs.tasks(1, name="seg")
SSH = {"host": "login.example.org", "key_path": "/keys/alice", "known_hosts_path": "/keys/kh"}


def _problems(
    config: dict[str, Any] = CONFIG,
    profile: dict[str, Any] = PROFILE,
    tasks: dict[str, Any] = TASKS,
) -> list[Problem]:
    with pytest.raises(CompileError) as caught:
        compile_plan(config, profile, tasks)
    return list(caught.value.problems)


def _pointers(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.source.value, p.pointer) for p in problems]


def _exports(values: dict[str, str]) -> dict[str, Any]:
    return {**CONFIG, "user_local_exports": values}


# --- user_local_exports -------------------------------------------------------------------


@pytest.mark.parametrize("value", ["..", "../x", "a/../../x", "a/b/../../..", "./../x"])
def test_exports_climbing_out_are_refused(value: str) -> None:
    (problem,) = _problems(config=_exports({"LIB": value}))
    assert _pointers([problem]) == [("config", "/user_local_exports/LIB")]
    assert "'..'" in problem.message
    assert problem.message.endswith(f"(got {value!r})")


@pytest.mark.parametrize("value", ["/abs", "/home/a/p/.fractal_cache/x"])
def test_absolute_exports_are_refused(value: str) -> None:
    (problem,) = _problems(config=_exports({"LIB": value}))
    assert _pointers([problem]) == [("config", "/user_local_exports/LIB")]
    assert "relative to the user's cache_dir" in problem.message


def test_bad_export_name_is_refused() -> None:
    (problem,) = _problems(config=_exports({"1LIB": "x"}))
    assert _pointers([problem]) == [("config", "/user_local_exports/1LIB")]


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("somewhere/library_1", "/home/a/p/.fractal_cache/somewhere/library_1"),
        ("a/../b", "/home/a/p/.fractal_cache/b"),  # stays inside: allowed, normalized
        ("a//b/./c/", "/home/a/p/.fractal_cache/a/b/c"),
    ],
)
def test_exports_are_joined_to_the_default_cache_dir(value: str, path: str) -> None:
    script = compile_plan(_exports({"LIB": value}), PROFILE, TASKS).jobs[0].script
    assert f"\nexport LIB={path}\n" in script


def test_export_values_are_shell_quoted() -> None:
    profile = {**PROFILE, "cache_dir": "/c"}
    script = compile_plan(_exports({"LIB": "it's here"}), profile, TASKS).jobs[0].script
    assert "\nexport LIB='/c/it'\"'\"'s here'\n" in script


def test_exports_are_in_name_order_whatever_the_key_order() -> None:
    # plan_id hashes sorted keys, so the order of the keys must not reach the script.
    script = compile_plan(_exports({"B": "b", "A": "a"}), PROFILE, TASKS).jobs[0].script
    assert script.index("export A=") < script.index("export B=")
    assert script == compile_plan(_exports({"A": "a", "B": "b"}), PROFILE, TASKS).jobs[0].script


# --- profile defaults and transports ------------------------------------------------------


def test_cache_and_jobs_dir_default_under_project_dir() -> None:
    profile = parse_profile({**PROFILE, "project_dir": "/home/a/p/"}, Problems())
    assert profile.cache_dir == "/home/a/p/.fractal_cache"
    assert profile.jobs_dir == "/home/a/p/jobs"
    plan = compile_plan(CONFIG, PROFILE, TASKS)
    assert plan.workdir == f"/home/a/p/jobs/seg-{plan.plan_id[:12]}"


def test_explicit_cache_and_jobs_dir_are_used() -> None:
    profile = {**PROFILE, "cache_dir": "/scratch/cache", "jobs_dir": "/scratch/jobs"}
    plan = compile_plan(_exports({"LIB": "lib"}), profile, TASKS)
    assert plan.workdir == f"/scratch/jobs/seg-{plan.plan_id[:12]}"
    assert "\nexport LIB=/scratch/cache/lib\n" in plan.jobs[0].script


def test_project_dir_unfit_for_directives_needs_a_jobs_dir() -> None:
    # The default jobs_dir would reach `#SBATCH --chdir=`, which cannot be quoted.
    (problem,) = _problems(profile={**PROFILE, "project_dir": "/home/a/my project"})
    assert _pointers([problem]) == [("profile", "/project_dir")]
    assert "jobs_dir" in problem.message
    compile_plan(CONFIG, {**PROFILE, "project_dir": "/home/a/my project", "jobs_dir": "/j"}, TASKS)


def test_ssh_is_required_for_transport_ssh() -> None:
    (problem,) = _problems(profile={**PROFILE, "transport": "ssh"})
    assert _pointers([problem]) == [("profile", "/ssh")]
    assert "required when transport is 'ssh'" in problem.message


@pytest.mark.parametrize("transport", ["local", "sudo"])
def test_ssh_is_refused_for_other_transports(transport: str) -> None:
    config = {**CONFIG, "scripts_dir": "/srv/scripts"}
    (problem,) = _problems(config=config, profile={**PROFILE, "transport": transport, "ssh": SSH})
    assert _pointers([problem]) == [("profile", "/ssh")]
    assert f"(got transport {transport!r})" in problem.message


def test_ssh_defaults() -> None:
    profile = parse_profile({**PROFILE, "transport": "ssh", "ssh": SSH}, Problems())
    assert profile.transport is TransportKind.SSH
    assert profile.ssh is not None
    assert profile.ssh.port == 22
    assert profile.ssh.host == "login.example.org"
    assert profile.ssh.control_path.startswith("~/")


def test_sudo_needs_scripts_dir() -> None:
    (problem,) = _problems(profile={**PROFILE, "transport": "sudo"})
    assert _pointers([problem]) == [("config", "/scripts_dir")]
    assert "'sudo'" in problem.message


def test_sudo_scripts_live_under_scripts_dir() -> None:
    config = {**CONFIG, "scripts_dir": "/srv/scripts/"}
    plan = compile_plan(config, {**PROFILE, "transport": "sudo"}, TASKS)
    folder = f"seg-{plan.plan_id[:12]}"
    assert plan.script_dir == f"/srv/scripts/{folder}"
    assert plan.jobs[0].script_path == f"/srv/scripts/{folder}/job-000000.sbatch"
    assert plan.workdir == f"/home/a/p/jobs/{folder}"


# --- task list ----------------------------------------------------------------------------


def _tasks(ids: list[str], **top: Any) -> dict[str, Any]:
    return {"name": "seg", **top, "tasks": [{"id": i, "command": ["true"]} for i in ids]}


def test_duplicate_ids_are_refused_at_each_repeat() -> None:
    problems = _problems(tasks=_tasks(["a", "b", "a", "c", "b", "a"]))
    assert _pointers(problems) == [
        ("tasks", "/tasks/2/id"),
        ("tasks", "/tasks/4/id"),
        ("tasks", "/tasks/5/id"),
    ]
    assert problems[0].message == "'id' must be unique (got 'a', already at /tasks/0/id)"
    assert problems[1].message == "'id' must be unique (got 'b', already at /tasks/1/id)"


@pytest.mark.parametrize(
    ("top", "pointer"),
    [
        ({"tasks_per_job": 2}, "/parallel_tasks_per_job"),
        ({"parallel_tasks_per_job": 2}, "/tasks_per_job"),
        ({"tasks_per_job": 2, "parallel_tasks_per_job": None}, "/parallel_tasks_per_job"),
    ],
)
def test_tasks_per_job_and_parallel_both_or_neither(top: dict[str, Any], pointer: str) -> None:
    (problem,) = _problems(tasks=_tasks(["a", "b"], **top))
    assert _pointers([problem]) == [("tasks", pointer)]
    assert "both set or both unset" in problem.message


@pytest.mark.parametrize(
    "top",
    [{}, {"tasks_per_job": None, "parallel_tasks_per_job": None}],
)
def test_neither_is_fine(top: dict[str, Any]) -> None:
    parsed = parse_task_list(_tasks(["a"], **top), problems := Problems())
    assert not problems
    assert parsed.tasks_per_job is None
    assert parsed.parallel_tasks_per_job is None


@pytest.mark.parametrize(
    ("source", "where"),
    [
        ("config", ("default_slurm_config",)),
        ("config", ("gpu_slurm_config",)),
        ("tasks", ("meta",)),
        ("tasks", ("tasks", 0, "meta")),
    ],
)
def test_time_and_time_per_task_exclude_each_other(source: str, where: tuple[Any, ...]) -> None:
    config, tasks = copy.deepcopy(CONFIG), copy.deepcopy(TASKS)
    node: Any = config if source == "config" else tasks
    for part in where:
        node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
    node.update({"time": "10", "time_per_task": "5"})
    (problem,) = _problems(config=config, tasks=tasks)
    assert _pointers([problem]) == [(source, "".join(f"/{p}" for p in where) + "/time_per_task")]
    assert problem.message == (
        "'time' and 'time_per_task' exclude each other: give one (got time='10', time_per_task='5')"
    )


def test_time_in_one_layer_and_time_per_task_in_another_is_fine() -> None:
    config = copy.deepcopy(CONFIG)
    config["default_slurm_config"]["time"] = "60"
    tasks = {**TASKS, "meta": {"time_per_task": "5"}}
    assert compile_plan(config, PROFILE, tasks).jobs[0].time == "00:05:00"


@pytest.mark.parametrize(
    ("key", "target", "most"),
    [
        ("cpus_per_job", 9, 8),
        ("mem_per_job", "8193M", "8G"),  # compared in MiB: 8193 > 8192
        ("mem_per_job", "9G", 8192),
        ("num_jobs", 21, 20),
    ],
)
def test_targets_above_maxes_are_refused(key: str, target: Any, most: Any) -> None:
    config = copy.deepcopy(CONFIG)
    config["batching_config"][f"target_{key}"] = target
    config["batching_config"][f"max_{key}"] = most
    (problem,) = _problems(config=config)
    assert _pointers([problem]) == [("config", f"/batching_config/target_{key}")]
    assert problem.message == (f"'target_{key}' must be ≤ 'max_{key}' (got {target!r} > {most!r})")


@pytest.mark.parametrize(
    ("key", "target", "most"),
    [("cpus_per_job", 8, 8), ("mem_per_job", "8192M", "8G"), ("mem_per_job", 8192, "8g")],
)
def test_targets_equal_to_maxes_are_fine(key: str, target: Any, most: Any) -> None:
    config = copy.deepcopy(CONFIG)
    config["batching_config"][f"target_{key}"] = target
    config["batching_config"][f"max_{key}"] = most
    parsed = parse_config(config, problems := Problems())
    assert not problems
    assert parsed.batching.max_mem_per_job == 8192


def test_text_that_cannot_become_bytes_is_refused_where_it_stands() -> None:
    # U+DC80..U+DCFF stand for raw bytes; any other lone surrogate cannot be written.
    tasks = sample_inputs.tasks(2, name="seg")
    tasks["tasks"][1]["command"] = ["echo", "a\ud800b"]
    (problem,) = _problems(tasks=tasks)
    assert (problem.source.value, problem.pointer) == ("tasks", "/tasks/1/command/1")
    assert "encodable as UTF-8" in problem.message and "'a\\ud800b'" in problem.message
    tasks["tasks"][1]["command"] = ["echo", "a\udc80b"]  # the raw byte 0x80: fine
    compile_plan(CONFIG, PROFILE, tasks)
