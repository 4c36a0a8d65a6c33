"""compile_plan is total: any input compiles or raises CompileError, nothing else
(docs/architecture.md §7).

Inputs come from the schemas (hypothesis-jsonschema), from hand-written valid inputs
with one thing broken, and from arbitrary JSON values.  Every CompileError must carry
problems that each have a JSON pointer ('' or starting with '/') and a message.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from property_tests.schema_strategies import documents
from property_tests.strategies import (
    JSON_VALUE,
    VALID_EXTRA_LINES,
    Inputs,
    deeply_nested,
    examples,
    mutated,
    one_of_three,
    valid_inputs,
)
from slurmplan.compiler import CompileError, Plan, Source, compile_plan


def compiles_or_explains(config: Any, profile: Any, tasks: Any) -> Plan | CompileError:
    """The outcome, after checking it is one of the two allowed ones."""
    try:
        plan = compile_plan(config, profile, tasks)
    except CompileError as error:
        assert error.problems, "a CompileError without problems"
        for problem in error.problems:
            assert isinstance(problem.source, Source)
            assert problem.pointer == "" or problem.pointer.startswith("/"), problem
            assert isinstance(problem.message, str) and problem.message.strip(), problem
            assert "\n" not in problem.message, problem  # the CLI prints one per line
        _count("CompileError")
        return error
    assert isinstance(plan, Plan)
    _count("Plan")
    return plan


def _json(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, default=repr)
    except (TypeError, ValueError, RecursionError):  # keys of mixed types, cycles
        return repr(value)


def _count(outcome: str) -> None:
    """Shown by --hypothesis-show-statistics: how often each outcome was reached."""
    if currently_in_test_context():
        event(outcome)


@examples(80)
@given(
    data=st.data(),
    inputs=valid_inputs(),
    from_schema=st.lists(st.booleans(), min_size=3, max_size=3).filter(any),
)
def test_schema_shaped_inputs(data: st.DataObject, inputs: Inputs, from_schema: list[bool]) -> None:
    """Some of the three inputs drawn from their schema, the others valid."""
    names = ("runner_config", "user_profile", "task_list")
    drawn = [
        data.draw(documents(name), label=name) if use else given_input
        for name, use, given_input in zip(names, from_schema, inputs, strict=True)
    ]
    compiles_or_explains(*drawn)


@examples(300)
@given(data=st.data(), inputs=valid_inputs())
def test_valid_inputs_with_one_thing_broken(data: st.DataObject, inputs: Inputs) -> None:
    broken = data.draw(one_of_three(inputs, mutated))
    outcome = compiles_or_explains(*broken)
    # Nothing was broken after all (compared as JSON text: 1.0 == 1 in Python, but a
    # port of 1.0 is broken): valid inputs compile.
    if _json(broken) == _json(inputs):
        assert isinstance(outcome, Plan), outcome


@examples(200)
@given(data=st.data(), inputs=valid_inputs())
def test_valid_inputs_with_many_things_broken(data: st.DataObject, inputs: Inputs) -> None:
    config, profile, tasks = inputs
    for _ in range(data.draw(st.integers(2, 5))):
        config, profile, tasks = data.draw(one_of_three((config, profile, tasks), mutated))
    outcome = compiles_or_explains(config, profile, tasks)
    if (config, profile, tasks) == inputs:  # nothing was broken after all
        assert isinstance(outcome, Plan), outcome


@examples(200)
@given(config=JSON_VALUE, profile=JSON_VALUE, tasks=JSON_VALUE)
def test_any_json_values(config: Any, profile: Any, tasks: Any) -> None:
    compiles_or_explains(config, profile, tasks)


# As deep as json.loads itself returns without a RecursionError (about 1000 levels less
# what the caller's stack already holds).
LOADABLE_DEPTH = 900


def _deepest_loadable() -> Any:
    return json.loads("[" * LOADABLE_DEPTH + "]" * LOADABLE_DEPTH)


VALID: Inputs = (
    {"default_slurm_config": {"partition": "main", "cpus_per_task": 1, "mem": 1},
     "batching_config": {"target_cpus_per_job": 1, "max_cpus_per_job": 1,
                         "target_mem_per_job": 1, "max_mem_per_job": 1,
                         "target_num_jobs": 1, "max_num_jobs": 1}},
    {"username": "a", "transport": "local", "project_dir": "/p"},
    {"name": "n", "tasks": [{"id": "t", "command": ["true"]}]},
)  # fmt: skip


def _placements(garbage: Any) -> list[tuple[Any, Any, Any]]:
    config, profile, tasks = VALID
    task = tasks["tasks"][0]
    return [
        (garbage, profile, tasks),
        ({**config, "unknown": garbage}, profile, tasks),
        ({**config, "default_slurm_config": garbage}, profile, tasks),
        (config, {**profile, "ssh": garbage}, tasks),
        (config, profile, {**tasks, "meta": garbage}),
        (config, profile, {**tasks, "tasks": [{**task, "meta": garbage}]}),
        (config, profile, {**tasks, "tasks": [{**task, "env": {"A": garbage}}]}),
        (config, profile, {**tasks, "tasks": [{**task, "command": ["x", garbage]}]}),
    ]


def test_every_valid_extra_line_compiles() -> None:
    """The extra lines the valid strategies draw are ones the compiler takes, at every
    level (a refused one made many "valid" draws raise CompileError)."""
    config, profile, tasks = VALID
    lines = list(VALID_EXTRA_LINES)
    layer = {"extra_lines": lines}
    plan = compiles_or_explains(
        {**config, "default_slurm_config": {**config["default_slurm_config"], **layer}},
        profile,
        {**tasks, "meta": layer, "tasks": [{**tasks["tasks"][0], "meta": layer}]},
    )
    assert isinstance(plan, Plan), plan
    for line in lines:
        if line.startswith("#SBATCH"):
            assert line in plan.jobs[0].script.splitlines()


def test_deeply_nested_garbage_anywhere() -> None:
    assert isinstance(compiles_or_explains(*VALID), Plan)
    for garbage in (deeply_nested(300), _deepest_loadable()):
        for config, profile, tasks in _placements(garbage):
            assert isinstance(compiles_or_explains(config, profile, tasks), CompileError)
