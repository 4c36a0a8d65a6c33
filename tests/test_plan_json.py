"""The plan's JSON form (docs/architecture.md §5): round trips, schema conformity, refusal of
garbage.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from slurmplan.compiler import (
    CompileError,
    Plan,
    Source,
    compile_plan,
    compute_plan_id,
    plan_from_json,
)
from slurmplan.compiler.schemas import schema_problems

CONFIG: dict[str, Any] = {
    "default_slurm_config": {
        "partition": "main", "cpus_per_task": 1, "mem": "1G", "time_per_task": "5",
        "extra_lines": ["export A=1", "#SBATCH --comment=x"],
    },
    "batching_config": {
        "target_cpus_per_job": 2, "max_cpus_per_job": 4,
        "target_mem_per_job": "2G", "max_mem_per_job": "4G",
        "target_num_jobs": 2, "max_num_jobs": 4,
    },
    "user_local_exports": {"LIB": "lib"},
    "scripts_dir": "/srv/scripts",
    "submission": {"max_jobs_in_queue": 3},
}  # fmt: skip
TASKS: dict[str, Any] = {
    "name": "js",
    "needs_gpu": True,  # without gpu config: a warning, so the plan has one
    "tasks": [
        {"id": "a", "command": ["echo", "ü ✓", "it's"], "env": {"X": "1"}},
        {"id": "b", "command": ["true"], "meta": {"mem": "2G"}},
        {"id": "c", "command": ["true"]},
    ],
}
SSH = {"host": "127.0.0.1", "port": 2222, "key_path": "/k/id", "known_hosts_path": "/k/kh"}


def _plan(transport: str) -> Plan:
    profile: dict[str, Any] = {"username": "alice", "transport": transport, "project_dir": "/p"}
    if transport == "ssh":
        profile["ssh"] = SSH
    return compile_plan(CONFIG, profile, TASKS)


@pytest.mark.parametrize("transport", ["local", "sudo", "ssh"])
def test_round_trip(transport: str) -> None:
    plan = _plan(transport)
    assert plan.warnings and len(plan.groups) == 2  # the interesting parts are present
    assert plan_from_json(plan.to_json()) == plan
    # through real JSON text too (tuples become lists and back)
    assert plan_from_json(json.loads(json.dumps(plan.to_json()))) == plan


@pytest.mark.parametrize("transport", ["local", "sudo", "ssh"])
def test_json_form_matches_the_plan_schema(transport: str) -> None:
    data = _plan(transport).to_json()
    assert schema_problems("plan", Source.PLAN, data) == []
    assert data["format"] == "slurmplan/2"
    assert data["transport"]["kind"] == transport
    assert data["max_jobs_in_queue"] == 3


def test_plan_id_is_sha256_of_canonical_inputs_and_ignores_key_order() -> None:
    plan = _plan("local")
    assert len(plan.plan_id) == 16 and set(plan.plan_id) <= set("0123456789abcdef")
    reordered = json.loads(json.dumps(CONFIG, sort_keys=True))
    assert list(reordered) != list(CONFIG)
    profile = {"username": "alice", "transport": "local", "project_dir": "/p"}
    assert compute_plan_id(reordered, profile, TASKS) == plan.plan_id
    other = copy.deepcopy(TASKS)
    other["tasks"][2]["command"] = ["false"]
    assert compute_plan_id(CONFIG, profile, other) != plan.plan_id


def test_same_inputs_same_json_bytes() -> None:
    first = json.dumps(_plan("ssh").to_json(), sort_keys=True)
    second = json.dumps(_plan("ssh").to_json(), sort_keys=True)
    assert first == second


def test_the_plan_is_frozen() -> None:
    plan = _plan("local")
    with pytest.raises(AttributeError):
        plan.workdir = "/elsewhere"  # type: ignore[misc]
    assert isinstance(plan.jobs, tuple) and isinstance(plan.jobs[0].tasks, tuple)


def _mutated(change: str) -> Any:
    data = _plan("ssh").to_json()
    if change == "format":
        data["format"] = "slurmplan/0"
    elif change == "plan_id":
        data["plan_id"] = "XYZ"
    elif change == "extra key":
        data["colour"] = "blue"
    elif change == "missing jobs":
        del data["jobs"]
    elif change == "step kind":
        data["steps"][0]["kind"] = "explode"
    elif change == "argv empty":
        data["steps"][0]["argv"] = []
    elif change == "job field":
        del data["jobs"][0]["script"]
    elif change == "mode":
        data["steps"].append({"kind": "write", "path": "/x", "job": 0, "mode": "755"})
    elif change == "transport kind":
        data["transport"]["kind"] = "telnet"
    elif change == "ssh port":
        data["transport"]["ssh"]["port"] = 0
    elif change == "ntasks":
        data["jobs"][0]["ntasks"] = 0
    return data


@pytest.mark.parametrize(
    "change",
    [
        "format", "plan_id", "extra key", "missing jobs", "step kind", "argv empty", "job field",
        "mode", "transport kind", "ssh port", "ntasks",
    ],
)  # fmt: skip
def test_garbage_is_refused_with_source_plan(change: str) -> None:
    with pytest.raises(CompileError) as caught:
        plan_from_json(_mutated(change))
    assert caught.value.problems
    assert all(p.source is Source.PLAN for p in caught.value.problems)


@pytest.mark.parametrize("garbage", [None, [], "plan", 3, {}, {"format": "slurmplan/2"}])
def test_non_plans_are_refused(garbage: Any) -> None:
    with pytest.raises(CompileError) as caught:
        plan_from_json(garbage)
    assert all(p.source is Source.PLAN for p in caught.value.problems)


@pytest.mark.parametrize("kind", ["local", "sudo"])
def test_ssh_details_only_with_the_ssh_transport(kind: str) -> None:
    data = _plan("ssh").to_json()
    data["transport"]["kind"] = kind
    with pytest.raises(CompileError) as caught:
        plan_from_json(data)
    assert [p.pointer for p in caught.value.problems] == ["/transport"]


def test_ssh_transport_needs_its_details() -> None:
    data = _plan("ssh").to_json()
    del data["transport"]["ssh"]
    with pytest.raises(CompileError) as caught:
        plan_from_json(data)
    assert [p.pointer for p in caught.value.problems] == ["/transport/ssh"]


@pytest.mark.parametrize("where", ["step job", "job group", "job index", "upload jobs"])
def test_cross_references_are_checked(where: str) -> None:
    data = _plan("ssh").to_json()
    if where == "step job":
        data["steps"][-1]["job"] = 99
    elif where == "job group":
        data["jobs"][0]["group"] = 99
    elif where == "job index":
        data["jobs"][0]["index"] = 1
    else:
        data["steps"][1]["jobs"] = [0, 99]
    with pytest.raises(CompileError):
        plan_from_json(data)


def test_a_plan_checks_its_own_invariants_when_built() -> None:
    """Not only plan_from_json: constructing a Plan whose indices disagree raises."""
    plan = _plan("ssh")
    job = plan.jobs[0]
    with pytest.raises(CompileError) as caught:
        dataclasses.replace(plan, jobs=(dataclasses.replace(job, index=5), *plan.jobs[1:]))
    assert [p.pointer for p in caught.value.problems] == ["/jobs/0/index"]
    with pytest.raises(CompileError) as caught:
        dataclasses.replace(
            plan, jobs=(dataclasses.replace(job, lane_status_paths=()), *plan.jobs[1:])
        )
    assert [p.pointer for p in caught.value.problems] == ["/jobs/0/lane_status_paths"]
    assert "one path per lane" in caught.value.problems[0].message


def test_a_plan_file_with_lanes_that_do_not_match_is_refused() -> None:
    data = _plan("local").to_json()
    data["jobs"][0]["lane_status_paths"].append("/extra.status")
    with pytest.raises(CompileError) as caught:
        plan_from_json(data)
    assert [p.pointer for p in caught.value.problems] == ["/jobs/0/lane_status_paths"]


def test_a_plan_of_the_earlier_format_is_refused_saying_what_to_do() -> None:
    """slurmplan/1 scripts wrote markers and lane files without the run (docs/decisions.md):
    this slurmplan cannot read their runs."""
    data = _plan("local").to_json()
    data["format"] = "slurmplan/1"
    with pytest.raises(CompileError) as caught:
        plan_from_json(data)
    (problem,) = caught.value.problems
    assert problem.pointer == "/format"
    assert (
        "must be 'slurmplan/2'" in problem.message and "compile the inputs again" in problem.message
    )
    assert "(got 'slurmplan/1')" in problem.message


@pytest.mark.parametrize(
    "path", [("jobs", 0, "index"), ("max_jobs_in_queue",), ("steps", 1, "job")]
)
def test_an_integer_too_long_to_write_is_refused_at_its_place(path: tuple[str | int, ...]) -> None:
    data = _plan("ssh").to_json()
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = 10**5000  # from Python: JSON text could not hold it
    with pytest.raises(CompileError) as caught:
        plan_from_json(data)
    [problem] = caught.value.problems
    assert problem.pointer == "".join(f"/{p}" for p in path)
    assert problem.message.endswith("(got an integer of about 5001 digits)")


def test_a_value_nested_too_deep_to_check_is_refused_at_its_place() -> None:
    data = _plan("ssh").to_json()
    deep: list[Any] = []
    for _ in range(5000):
        deep = [deep]
    data["warnings"][0]["message"] = deep
    with pytest.raises(CompileError) as caught:
        plan_from_json(data)
    [problem] = caught.value.problems
    assert problem.pointer == "/warnings/0/message"
    assert "nested more than 100 levels deep" in problem.message


def test_a_plan_without_jobs_is_told_so_not_that_its_mkdir_refers_to_a_job() -> None:
    data = _plan("local").to_json()
    data["jobs"], data["groups"], data["steps"] = [], [], data["steps"][:1]  # mkdir names no job
    with pytest.raises(CompileError) as caught:
        plan_from_json(data)
    assert [str(p) for p in caught.value.problems] == [
        "plan: /groups: 'groups' must be a non-empty list (got [])",
        "plan: /jobs: 'jobs' must be a non-empty list (got [])",
    ]


def test_a_mkdir_step_refers_to_no_job() -> None:
    plan = _plan("local")  # its first step is the mkdir; without jobs its indices still agree
    empty = dataclasses.replace(plan, jobs=(), groups=(), warnings=(), steps=plan.steps[:1])
    assert empty.steps == plan.steps[:1]
