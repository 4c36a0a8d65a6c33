"""Same inputs, same plan, byte for byte; the plan's JSON form round-trips (docs/architecture.md §3,
§5).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from property_tests.strategies import Inputs, examples, shuffled, valid_inputs
from slurmplan.compiler import CompileError, Plan, compile_plan, compute_plan_id, plan_from_json
from slurmplan.compiler.package_files import schema

PLAN_SCHEMA = jsonschema.Draft202012Validator(schema("plan"))


def _canonical(plan: Plan) -> str:
    return json.dumps(plan.to_json(), sort_keys=True, ensure_ascii=True)


def _outcome(inputs: Inputs) -> str:
    """The plan's canonical JSON, or the problems of the CompileError."""
    try:
        return _canonical(compile_plan(*copy.deepcopy(inputs)))
    except CompileError as error:
        return "CompileError:\n" + str(error)


def _compiled(inputs: Inputs) -> Plan:
    """The plan of inputs drawn as valid: a CompileError fails the test, for the
    strategy promises inputs the compiler takes (a test must not pass by skipping)."""
    try:
        return compile_plan(*copy.deepcopy(inputs))
    except CompileError as error:
        pytest.fail(f"valid inputs were refused:\n{error}")


@examples(150)
@given(inputs=valid_inputs(raw_bytes=True))
def test_same_inputs_give_the_same_plan(inputs: Inputs) -> None:
    before = copy.deepcopy(inputs)
    first = _canonical(_compiled(inputs))
    assert _canonical(_compiled(inputs)) == first
    assert inputs == before, "compile_plan changed its inputs"


@examples(150)
@given(inputs=valid_inputs(raw_bytes=True))
def test_plan_json_round_trips_and_matches_the_schema(inputs: Inputs) -> None:
    plan = _compiled(inputs)
    form = plan.to_json()
    PLAN_SCHEMA.validate(form)
    # Through real JSON text, as a plan file is: raw bytes travel as \\udcXX escapes.
    text = json.dumps(form, sort_keys=True, ensure_ascii=True)
    again = plan_from_json(json.loads(text))
    assert again == plan
    assert json.dumps(again.to_json(), sort_keys=True, ensure_ascii=True) == text


# Objects whose key order reaches the script (the order of `export` lines and of a
# task's variables); see test_order_of_env_and_exports_does_not_change_the_plan.
ORDERED = frozenset({"env", "user_local_exports"})


@st.composite
def inputs_and_reordered(
    draw: st.DrawFn, keep: frozenset[str] = frozenset()
) -> tuple[Inputs, Inputs]:
    inputs = draw(valid_inputs())
    config, profile, tasks = inputs
    reordered: tuple[Any, Any, Any] = tuple(
        draw(shuffled(doc, keep)) for doc in (config, profile, tasks)
    )
    return inputs, reordered


@examples(150)
@given(pair=inputs_and_reordered())
def test_key_order_does_not_change_the_plan_id(pair: tuple[Inputs, Inputs]) -> None:
    inputs, reordered = pair
    plan_id = compute_plan_id(*inputs)
    assert compute_plan_id(*reordered) == plan_id
    outcomes = {_outcome(x).startswith("CompileError") for x in (inputs, reordered)}
    assert len(outcomes) == 1
    assert _compiled(inputs).plan_id == plan_id
    assert _compiled(reordered).plan_id == plan_id


@examples(150)
@given(pair=inputs_and_reordered(ORDERED))
def test_key_order_does_not_change_the_plan(pair: tuple[Inputs, Inputs]) -> None:
    inputs, reordered = pair
    assert _canonical(_compiled(reordered)) == _canonical(_compiled(inputs))


@pytest.mark.parametrize("where", ["env", "user_local_exports"])
def test_order_of_env_and_exports_does_not_change_the_plan(where: str) -> None:
    config: dict[str, Any] = {
        "default_slurm_config": {"partition": "main", "cpus_per_task": 1, "mem": 100},
        "batching_config": {
            "target_cpus_per_job": 1, "max_cpus_per_job": 1, "target_mem_per_job": 100,
            "max_mem_per_job": 100, "target_num_jobs": 1, "max_num_jobs": 1,
        },
    }  # fmt: skip
    profile = {"username": "alice", "transport": "local", "project_dir": "/p"}
    tasks: dict[str, Any] = {"name": "x", "tasks": [{"id": "t", "command": ["true"]}]}

    def with_order(names: list[str]) -> Inputs:
        mapping = dict.fromkeys(names, "v")
        if where == "env":
            return config, profile, {**tasks, "tasks": [{**tasks["tasks"][0], "env": mapping}]}
        return {**config, "user_local_exports": mapping}, profile, tasks

    assert _canonical(_compiled(with_order(["B", "A"]))) == _canonical(
        _compiled(with_order(["A", "B"]))
    )
