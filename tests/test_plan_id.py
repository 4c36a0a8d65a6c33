"""compiler.passes.plan_id: what the plan id hashes, written out plainly and compared.

The ids of valid inputs are column hashes (compute_plan_id's docstring); any other
shape is hashed as its canonical JSON.  Key order never matters
(property_tests/test_determinism_props.py); different inputs give different ids.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from plan_id_oracle import columns_id, json_id

from slurmplan.compiler import compute_plan_id

CONFIG: dict[str, Any] = {"default_slurm_config": {"partition": "main"}}
PROFILE: dict[str, Any] = {"username": "alice", "transport": "local", "project_dir": "/p"}


def _tasks(*commands: list[str], **extra: Any) -> dict[str, Any]:
    tasks = [{"id": f"t{i}", "command": c} for i, c in enumerate(commands)]
    return {"name": "n", **extra, "tasks": tasks}


SHAPED = [
    _tasks(["true"]),
    _tasks(["prog", "a b", "", "é", "\udc80"], ["x"], needs_gpu=True, meta={"mem": "1G"}),
    {
        "name": "n",
        "tasks": [
            {"id": "a", "command": ["x"], "env": {"B": "2", "A": "1"}},
            {"id": "b", "command": ["y", "z"]},
            {"id": "c", "command": ["w"], "meta": {"mem": "2G"}, "env": {}},
        ],
    },
    {  # outputs: an eighth column, only for lists that name any
        "name": "n",
        "tasks": [
            {"id": "a", "command": ["x"], "outputs": ["r.json"]},
            {"id": "b", "command": ["y"], "env": {"A": "1"}},
            {"id": "c", "command": ["w"]},
        ],
    },
    # Slices of 10,000 tasks, one of them without words (empty argvs: not valid, still
    # hashed as columns): the pieces must add up to the whole.
    _tasks(*(["p", f"{i}"] for i in range(20_000)), []),
    _tasks(*([[]] * 10_000), ["p"]),
]


@pytest.mark.parametrize("task_list", SHAPED)
def test_the_columns_are_hashed(task_list: dict[str, Any]) -> None:
    assert compute_plan_id(CONFIG, PROFILE, task_list) == columns_id(CONFIG, PROFILE, task_list)


NOT_SHAPED = [
    [],
    {"name": "n"},
    {"name": "n", "tasks": {}},
    {1: []},
    {"name": "n", "tasks": [None]},
    {"name": "n", "tasks": [{"id": "t"}]},
    {"name": "n", "tasks": [{"command": ["x"]}]},
    {"name": "n", "tasks": [{"id": 1, "command": ["x"]}]},
    {"name": "n", "tasks": [{"id": "t", "command": "xy"}]},
    {"name": "n", "tasks": [{"id": "t", "command": ["x", 1]}]},
    # NUL would make the joined columns ambiguous
    {"name": "n", "tasks": [{"id": "a\x00b", "command": ["x"]}]},
    {"name": "n", "tasks": [{"id": "t", "command": ["x\x00y"]}]},
    # another key, or a null env or meta, would not be told apart from none
    {"name": "n", "tasks": [{"id": "t", "command": ["x"], "other": 1}]},
    {"name": "n", "tasks": [{"id": "t", "command": ["x"], "env": None}]},
    {"name": "n", "tasks": [{"id": "t", "command": ["x"], "meta": None, "env": {}}]},
    {"name": "n", "tasks": [{"id": "t", "command": ["x"], "outputs": None}]},
]


@pytest.mark.parametrize("task_list", NOT_SHAPED)
def test_other_shapes_are_hashed_as_canonical_json(task_list: Any) -> None:
    assert compute_plan_id(CONFIG, PROFILE, task_list) == json_id(CONFIG, PROFILE, task_list)


def _moved(doc: dict[str, Any], change: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    tasks = doc["tasks"]
    if change == "empty word added":
        tasks[1]["command"] = ["y", "z", ""]
    elif change == "word moved to the next task":
        tasks[0]["command"], tasks[1]["command"] = ["x", "y"], ["z"]
    elif change == "env moved to the next task":
        tasks[1]["env"] = tasks[0].pop("env")
    elif change == "meta moved to the list":
        doc["meta"] = tasks[2].pop("meta")
    elif change == "ids swapped":
        tasks[0]["id"], tasks[1]["id"] = tasks[1]["id"], tasks[0]["id"]
    elif change == "empty env dropped":
        del tasks[2]["env"]
    elif change == "id and word":
        tasks[0]["id"], tasks[0]["command"] = "x", ["a"]
    return doc


@pytest.mark.parametrize(
    "change",
    [
        "empty word added",
        "word moved to the next task",
        "env moved to the next task",
        "meta moved to the list",
        "ids swapped",
        "empty env dropped",
        "id and word",
    ],
)
def test_a_change_anywhere_changes_the_id(change: str) -> None:
    doc = SHAPED[2]
    assert compute_plan_id(CONFIG, PROFILE, _moved(doc, change)) != compute_plan_id(
        CONFIG, PROFILE, doc
    )


def test_key_order_does_not_matter() -> None:
    doc = SHAPED[2]
    reordered = copy.deepcopy(doc)
    reordered["tasks"][0] = {"env": {"A": "1", "B": "2"}, "command": ["x"], "id": "a"}
    reordered = {"tasks": reordered["tasks"], "name": "n"}
    assert compute_plan_id(CONFIG, PROFILE, reordered) == compute_plan_id(CONFIG, PROFILE, doc)
