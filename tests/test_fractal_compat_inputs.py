"""fractal-server admins' inputs (issue 11): null means unset, messages speak JSON,
usernames as useradd and LDAP take them."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
import sample_inputs

from slurmplan.compiler import CompileError, Plan, Problem, compile_plan, compute_plan_id

CONFIG = sample_inputs.config()
PROFILE = sample_inputs.profile("/home/a/p")
TASKS = sample_inputs.tasks(3, name="seg")


def _problems(
    config: dict[str, Any] = CONFIG,
    profile: dict[str, Any] = PROFILE,
    tasks: dict[str, Any] = TASKS,
) -> tuple[Problem, ...]:
    with pytest.raises(CompileError) as caught:
        compile_plan(config, profile, tasks)
    return caught.value.problems


def _with(base: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(base)
    node: Any = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize(
    ("which", "path"),
    [
        ("config", ("gpu_slurm_config",)),
        ("config", ("default_slurm_config", "time")),
        ("config", ("default_slurm_config", "account")),
        ("config", ("default_slurm_config", "extra_lines")),
        ("config", ("default_slurm_config", "shebang_line")),
        ("config", ("user_local_exports",)),
        ("config", ("scripts_dir",)),
        ("config", ("submission",)),
        ("profile", ("cache_dir",)),
        ("profile", ("jobs_dir",)),
        ("profile", ("ssh",)),
        ("tasks", ("needs_gpu",)),
        ("tasks", ("meta",)),
        ("tasks", ("tasks", 1, "meta")),
        ("tasks", ("tasks", 1, "env")),
    ],
)
def test_null_means_unset(which: str, path: tuple[str | int, ...]) -> None:
    inputs = {"config": CONFIG, "profile": PROFILE, "tasks": TASKS}
    plain = compile_plan(inputs["config"], inputs["profile"], inputs["tasks"])
    inputs[which] = _with(inputs[which], path, None)
    with_null = compile_plan(inputs["config"], inputs["profile"], inputs["tasks"])
    assert _but_the_id(with_null) == _but_the_id(plain)


def _but_the_id(plan: Plan) -> str:
    """The plan's JSON with its id blanked: the id is of the inputs as written (and so
    is the digest of the plan, which holds it)."""
    text = json.dumps({**plan.to_json(), "digest": None}, sort_keys=True)
    return re.sub(f"{plan.plan_id[:8]}[0-9a-f]*", "ID", text)


@pytest.mark.parametrize(
    ("where", "value", "unset"),
    [
        (("meta",), {"time": None, "mem": None, "cpus_per_task": 2}, {"cpus_per_task": 2}),
        (("tasks", 0, "meta"), {"gres": None, "mem": "2G"}, {"mem": "2G"}),
        (("tasks", 0, "env"), {"A": "1"}, {"A": "1"}),
    ],
)
def test_null_inside_a_meta_means_unset(
    where: tuple[str | int, ...], value: Any, unset: Any
) -> None:
    tasks = _with(TASKS, where, value)
    tasks["tasks"][1]["meta"] = None  # the tasks' own nulls, dropped only when present
    plan = compile_plan(CONFIG, PROFILE, tasks)
    assert _but_the_id(plan) == _but_the_id(
        compile_plan(CONFIG, PROFILE, _with(TASKS, where, unset))
    )
    assert plan.plan_id == compute_plan_id(CONFIG, PROFILE, tasks)


def test_null_for_a_required_field_says_null() -> None:
    config = _with(CONFIG, ("default_slurm_config", "partition"), None)
    (problem,) = _problems(config=config)
    assert problem.pointer == "/default_slurm_config/partition"
    assert problem.message.endswith("(got null)")


@pytest.mark.parametrize(
    ("path", "value", "word"),
    [
        (("default_slurm_config", "cpus_per_task"), True, "(got true)"),
        (("default_slurm_config", "use_mem_per_cpu"), [False, None], "(got [false, null])"),
    ],
)
def test_messages_speak_json(path: tuple[str, ...], value: Any, word: str) -> None:
    (problem,) = _problems(config=_with(CONFIG, path, value))
    assert problem.message.endswith(word)
    assert "None" not in problem.message and "True" not in problem.message


def test_half_given_batching_pair_says_null() -> None:
    tasks = {**TASKS, "tasks_per_job": 2, "parallel_tasks_per_job": None}
    (problem,) = _problems(tasks=tasks)
    assert "parallel_tasks_per_job=null" in problem.message
    assert "None" not in problem.message


@pytest.mark.parametrize(
    "name", ["john.doe", "John.Doe", "a", "u-1", "_svc", "x" * 32, "1234", "a_b.c-d"]
)
def test_usernames_as_useradd_and_ldap_take_them(name: str) -> None:
    plan = compile_plan(CONFIG, {**PROFILE, "username": name}, TASKS)
    assert plan.transport.user == name


@pytest.mark.parametrize("name", ["-a", "x" * 33, "", "a b", "a/b", "a@b", "é", "a\n"])
def test_bad_usernames_are_refused(name: str) -> None:
    (problem,) = _problems(profile={**PROFILE, "username": name})
    assert problem.pointer == "/username"
    assert "not starting with -" in problem.message


def test_ssh_service_user_follows_the_same_rule() -> None:
    ssh = {"host": "login", "key_path": "/k", "known_hosts_path": "/kh"}
    profile = {**PROFILE, "transport": "ssh", "ssh": ssh, "username": "svc.fractal"}
    assert compile_plan(CONFIG, profile, TASKS).transport.user == "svc.fractal"
