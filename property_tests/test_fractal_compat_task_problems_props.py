"""A long task list's schema problems, found by validating only the tasks the fast check
refuses (compiler/passes/check.py), are exactly jsonschema's over the whole list: the
same problems, in the same order."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from property_tests.schema_strategies import documents
from property_tests.strategies import JSON_VALUE, examples, mutated, task_list
from slurmplan.compiler import Source
from slurmplan.compiler.passes.check import task_list_problems
from slurmplan.compiler.schemas import schema_problems


def check_same(doc: Any) -> None:
    assert task_list_problems(doc, few=0) == schema_problems("task_list", Source.TASKS, doc)


@examples(300)
@given(data=st.data(), doc=task_list())
def test_task_lists_with_things_broken(data: st.DataObject, doc: dict[str, Any]) -> None:
    for _ in range(data.draw(st.integers(1, 4))):
        doc = data.draw(mutated(doc))
    check_same(doc)


@examples(100)
@given(doc=documents("task_list"))
def test_schema_shaped_task_lists(doc: Any) -> None:
    check_same(doc)


@examples(100)
@given(doc=JSON_VALUE)
def test_any_json(doc: Any) -> None:
    check_same(doc)


def test_a_long_list_with_bad_tasks_far_apart() -> None:
    tasks: list[Any] = [{"id": f"t{i}", "command": ["true"]} for i in range(25_000)]
    tasks[3] = {"id": "a b", "command": []}
    tasks[12_345] = "not a task"
    tasks[24_999]["meta"] = {"mem": "1.5G", "x": 1}
    doc = {"name": "n", "worker_init": "a\rb", "tasks": tasks}
    assert task_list_problems(doc) == schema_problems("task_list", Source.TASKS, doc)
