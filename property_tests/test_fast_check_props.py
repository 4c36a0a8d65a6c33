"""The hand-written fast path agrees with jsonschema on every task list
(compiler/passes/fast_check.py).

`task_list_is_valid(x)` must be True exactly when `schema_problems('task_list', ...)` finds
nothing: for valid lists, lists with things broken, schema-shaped documents and any JSON.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from property_tests.schema_strategies import documents
from property_tests.strategies import JSON_VALUE, examples, mutated, task_list
from slurmplan.compiler import Source
from slurmplan.compiler.passes import fast_check
from slurmplan.compiler.passes.fast_check import task_list_is_valid
from slurmplan.compiler.schemas import schema_problems


def check_agreement(doc: Any) -> None:
    problems = schema_problems("task_list", Source.TASKS, doc)
    assert task_list_is_valid(doc) == (not problems), problems


@examples(200)
@given(doc=task_list(raw_bytes=True))
def test_valid_task_lists(doc: dict[str, Any]) -> None:
    check_agreement(doc)


@examples(400)
@given(data=st.data(), doc=task_list())
def test_task_lists_with_things_broken(data: st.DataObject, doc: dict[str, Any]) -> None:
    for _ in range(data.draw(st.integers(1, 3))):
        doc = data.draw(mutated(doc))
    check_agreement(doc)


@examples(100)
@given(doc=documents("task_list"))
def test_schema_shaped_task_lists(doc: Any) -> None:
    check_agreement(doc)


@examples(200)
@given(doc=JSON_VALUE)
def test_any_json(doc: Any) -> None:
    check_agreement(doc)


BASE: dict[str, Any] = {
    "name": "n",
    "tasks": [{"id": "t", "command": ["true"], "env": {"A": "1"}, "meta": {"mem": "1G"}}],
}


def _with(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    node: Any = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return doc


TASK = ("tasks", 0)
ID_PATTERN = ("$defs", "task", "properties", "id")
EDGES = [
    _with(("name",), "n\n"),
    _with(("name",), "x" * 64),
    _with(("name",), "x" * 65),
    _with(("needs_gpu",), 1),
    _with(("tasks_per_job",), True),
    _with(("tasks_per_job",), 1.0),
    _with(("tasks_per_job",), 0),
    _with(("tasks_per_job",), None),
    _with(("parallel_tasks_per_job",), 2**70),
    _with(("meta",), {"cpus_per_task": 0}),
    _with(("meta",), {"mem": "1.5G"}),
    _with(("meta",), {"mem": 0}),
    _with(("meta",), {"time": "1:60"}),
    _with(("meta",), {"time": "25:00:00"}),
    _with(("meta",), {"extra_lines": ["a\nb"]}),
    _with(("meta",), {"partition": "x"}),
    _with(("meta",), {"nodes": "1-"}),
    _with((*TASK, "id"), "x" * 128),
    _with((*TASK, "id"), "x" * 129),
    _with((*TASK, "id"), "a/b"),
    _with((*TASK, "command"), []),
    _with((*TASK, "command"), [""]),
    _with((*TASK, "command"), ["x", ""]),
    _with((*TASK, "command"), ["x\x00"]),
    _with((*TASK, "command"), ["x", "a\x00b"]),
    _with((*TASK, "command"), ["\udc80", "\n"]),
    _with((*TASK, "command"), [1]),
    _with((*TASK, "command"), "true"),
    _with((*TASK, "env"), {"1A": "x"}),
    _with((*TASK, "env"), {"A": 1}),
    _with((*TASK, "env"), {"A": "\x00"}),
    _with((*TASK, "env"), {"A\n": "x"}),
    _with((*TASK, "env"), []),
    _with((*TASK, "meta"), {"mem": True}),
    _with((*TASK, "meta"), {"gres": "gpu:1 "}),
    _with((*TASK, "meta"), None),
    _with((*TASK, "meta"), {}),
    _with((*TASK, "extra"), 1),
    _with(("tasks",), []),
    _with(("tasks",), [None]),
    # The fast path checks all tasks' ids, commands... at once, then env and meta
    # only on tasks with more than two keys: a missing id or command must still count.
    {"name": "n", "tasks": [{"command": ["true"], "env": {"A": "1"}}]},
    {"name": "n", "tasks": [{"id": "t", "env": {"A": "1"}}]},
    {"name": "n", "tasks": [{"id": "t", "meta": {}}]},
    {"name": "n", "tasks": [{"env": {"A": "1"}, "meta": {}}]},
    {
        "name": "n",
        "tasks": [{"id": "t", "command": ["x"]}, {"id": "u", "command": ["y"], "env": {"1": ""}}],
    },
    {
        "name": "n",
        "tasks": [{"id": "t", "command": ["x"]}, {"id": "u", "command": ["y"], "meta": []}],
    },
    {"name": "n", "tasks": [{"id": "t", "command": ["x"]}, ["id", "command"]]},
    {"name": "n", "tasks": [{"id": "t", "command": ["x"]}, {"id": 1, "command": ["y"]}]},
    {"name": "n", "tasks": [{"id": "t", "command": ["x"]}, {"id": "u", "command": ("y",)}]},
    {"name": "n", "tasks": [{"id": "t", "command": ["x"]}, {"id": "u", "command": [0]}]},
    {"name": "n", "tasks": [{"id": "t", "command": ["x"]}, {"id": "u", "command": [["y"]]}]},
    # Ids are matched joined by NUL: one holding NUL must not pass as two ids.
    _with((*TASK, "id"), "a\x00b"),
    _with((*TASK, "id"), "\x00"),
    _with((*TASK, "id"), ""),
    _with((*TASK, "id"), "a\n"),
    {"name": "n", "tasks": [{"id": "a", "command": ["x"]}, {"id": "", "command": ["y"]}]},
]


@pytest.mark.parametrize("doc", EDGES)
def test_edges(doc: dict[str, Any]) -> None:
    check_agreement(doc)


@pytest.mark.parametrize(
    "bad", [None, {"id": "t/", "command": ["x"]}, {"id": "t", "command": [""]}]
)
def test_a_bad_task_after_the_first_slice(bad: Any) -> None:
    """The tasks are checked a slice at a time (10,000): the last slice counts too."""
    tasks: list[Any] = [{"id": f"t{i}", "command": ["x", "a b"]} for i in range(10_001)]
    check_agreement({"name": "n", "tasks": tasks})
    tasks[-1] = bad
    check_agreement({"name": "n", "tasks": tasks})


def test_the_id_pattern_is_matched_joined() -> None:
    """The id pattern is simple enough to be matched on all ids joined by NUL (else the
    fast path falls back to matching ids one by one: still right, but slower)."""
    assert fast_check._NUL_FREE.fullmatch(fast_check._pattern_text(*ID_PATTERN)) is not None


@pytest.mark.parametrize("pattern", ["^[a-z]{1,3}$", "^[a-z]+|x$", "[a-z]{1,3}"])
@pytest.mark.parametrize(
    "texts", [["a"], ["a", "bc"], ["a\x00b"], ["a", "\x00"], ["abcd"], ["", "a"], ["x", "a\n"]]
)
def test_all_match_is_fullmatch_of_each(pattern: str, texts: list[str]) -> None:
    """Both ways (joined, and one by one for a pattern that is not simple) agree with
    re.fullmatch of each text."""
    expected = all(re.fullmatch(pattern, text) for text in texts)
    assert fast_check._all_match(pattern)(texts) == expected
