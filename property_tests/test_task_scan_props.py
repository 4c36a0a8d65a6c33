"""compile_plan's one walk over the tasks (compiler/passes/task_scan.py) gives the
answers of the passes it stands for: task_list_is_valid's, compute_plan_id's, and the
ids and commands parse_task_list would take out of the tasks itself.

The plan id is also compared with its columns written out plainly (as in
tests/test_plan_id.py), and the slices are made small too, so that the answers are
seen not to depend on where the tasks are cut.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from property_tests.schema_strategies import documents
from property_tests.strategies import (
    JSON_VALUE,
    examples,
    mutated,
    runner_config,
    task_list,
    user_profile,
)
from slurmplan.compiler import compute_plan_id
from slurmplan.compiler.passes import task_columns
from slurmplan.compiler.passes.fast_check import task_list_is_valid
from slurmplan.compiler.passes.task_scan import scan_task_list
from tests.plan_id_oracle import columns_id, json_id

CONFIG: dict[str, Any] = {"default_slurm_config": {"partition": "main"}}
PROFILE: dict[str, Any] = {"username": "alice", "transport": "local", "project_dir": "/p"}


def _fits_columns(task_list: Any) -> bool:
    """compute_plan_id's docstring: an object of text keys whose tasks are each an id
    and an argv, texts without NUL, and maybe an env, a meta and outputs (not null)."""
    if type(task_list) is not dict or not all(type(key) is str for key in task_list):
        return False
    tasks = task_list.get("tasks")
    if type(tasks) is not list:
        return False
    for task in tasks:
        if type(task) is not dict or not task.keys() <= {"id", "command", "env", "meta", "outputs"}:
            return False
        task_id, command = task.get("id"), task.get("command")
        if not isinstance(task_id, str) or "\x00" in task_id or type(command) is not list:
            return False
        if not all(isinstance(word, str) and "\x00" not in word for word in command):
            return False
        if any(key in task and task[key] is None for key in ("env", "meta", "outputs")):
            return False
    return True


def plain_plan_id(config: Any, profile: Any, task_list: Any) -> str:
    """compute_plan_id as its docstring says, without slices, joins in pieces or arrays."""
    if not _fits_columns(task_list):
        return json_id(config, profile, task_list)
    return columns_id(config, profile, task_list)


def check_scan(config: Any, profile: Any, doc: Any) -> None:
    scan = scan_task_list(doc)
    assert scan.valid == task_list_is_valid(doc)
    plan_id = compute_plan_id(config, profile, doc)
    assert scan.plan_id(config, profile) == plan_id == plain_plan_id(config, profile, doc)
    if not scan.valid:
        assert scan.columns is None
        return
    # A valid list always fits the columns: its plan id came from the scan's digests.
    assert scan.digests is not None
    tasks = doc["tasks"]
    assert scan.columns is not None
    assert scan.columns.ids == tuple(task["id"] for task in tasks)
    assert scan.columns.commands == tuple(task["command"] for task in tasks)
    assert all(map(lambda a, b: a is b, scan.columns.commands, (t["command"] for t in tasks)))
    assert scan.columns.plain == (not any(len(task) > 2 for task in tasks))  # env, meta, outputs


@st.composite
def broken_task_list(draw: st.DrawFn) -> Any:
    doc = draw(task_list(raw_bytes=True))
    for _ in range(draw(st.integers(1, 3))):
        doc = draw(mutated(doc))
    return doc


TASK_LISTS: dict[str, st.SearchStrategy[Any]] = {
    "valid": task_list(raw_bytes=True),
    "broken": broken_task_list(),
    "any JSON": JSON_VALUE,
}
SLICE_SIZES = st.sampled_from([1, 2, 3, task_columns.SLICE_TASKS])


@pytest.mark.parametrize("kind", list(TASK_LISTS))
@examples(150)
@given(data=st.data())
def test_the_scan_agrees_with_the_separate_passes(kind: str, data: st.DataObject) -> None:
    """On valid and invalid task lists alike, the tasks cut in slices of 1 to 3 tasks or
    of the real size."""
    config, profile = data.draw(runner_config()), data.draw(user_profile())
    doc = data.draw(TASK_LISTS[kind])
    with mock.patch.object(task_columns, "SLICE_TASKS", data.draw(SLICE_SIZES)):
        check_scan(config, profile, doc)


@examples(50)  # hypothesis-jsonschema is slow to draw
@given(doc=documents("task_list"), slice_tasks=SLICE_SIZES)
def test_the_scan_agrees_on_schema_shaped_task_lists(doc: Any, slice_tasks: int) -> None:
    with mock.patch.object(task_columns, "SLICE_TASKS", slice_tasks):
        check_scan(CONFIG, PROFILE, doc)


@pytest.mark.parametrize(
    "last",
    [
        {"id": "last", "command": ["x"]},
        {"id": "last", "command": ["x"], "env": {"A": "1"}},
        {"id": "last", "command": ["x"], "meta": {"mem": "1G"}},
        {"id": "last/", "command": ["x"]},
        {"id": "last", "command": [""]},
        {"id": "last", "command": []},
        {"id": "last", "command": ["x"], "env": None},
        {"id": "last", "command": ["x", "a\x00b"]},
        {"id": "la\x00st", "command": ["x"]},
        {"id": "last", "command": ["x"], "other": 1},
        None,
    ],
)
def test_the_last_slice_counts(last: Any) -> None:
    """More tasks than one slice holds: the last slice's task decides validity, the
    plan id and whether the list is plain."""
    tasks: list[Any] = [{"id": f"t{i}", "command": ["x", "a b"]} for i in range(10_000)]
    check_scan(CONFIG, PROFILE, {"name": "n", "tasks": [*tasks, last]})
