"""Pass 1: the three inputs against their JSON Schemas (schemas/), all at once.

A task list that the hand-written fast path accepts is not walked again by
jsonschema (compiler/passes/fast_check.py, property-tested to agree with it);
compile_plan runs that fast path in its walk over the tasks (task_scan.py) and
hands its answer in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from operator import itemgetter
from typing import Any

from slurmplan.compiler import package_files
from slurmplan.compiler.errors import Problem, Source
from slurmplan.compiler.passes.fast_check import TaskListCheck, task_list_is_valid
from slurmplan.compiler.passes.task_columns import SLICE_TASKS, slice_columns
from slurmplan.compiler.schemas import placed_problems, schema_problems


@dataclass(frozen=True, slots=True, kw_only=True)
class SchemaCheck:
    """The schema problems of each input (an input without any is parsed next)."""

    config: tuple[Problem, ...]
    profile: tuple[Problem, ...]
    tasks: tuple[Problem, ...]

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self.config + self.profile + self.tasks


def check_schemas(
    raw_config: dict[str, Any],
    raw_profile: dict[str, Any],
    raw_tasks: dict[str, Any],
    *,
    tasks_valid: bool | None = None,
) -> SchemaCheck:
    """`tasks_valid`: task_list_is_valid(raw_tasks) when the caller has it already."""
    if tasks_valid is None:
        tasks_valid = task_list_is_valid(raw_tasks)
    config = schema_problems("runner_config", Source.CONFIG, raw_config)
    profile = schema_problems("user_profile", Source.PROFILE, raw_profile)
    tasks = [] if tasks_valid else task_list_problems(raw_tasks)
    return SchemaCheck(
        config=tuple(_swapped(Source.CONFIG, raw_config) or config),
        profile=tuple(_swapped(Source.PROFILE, raw_profile) or profile),
        tasks=tuple(tasks and (_swapped(Source.TASKS, raw_tasks) or tasks)),
    )


def task_list_problems(raw: Any, *, few: int = SLICE_TASKS) -> list[Problem]:
    """schema_problems("task_list", ...), the same problems in the same order, but with
    jsonschema run on the tasks the fast check refuses only (jsonschema takes about 60 s
    over a million tasks), when there are more than `few` of them."""
    tasks = raw.get("tasks") if type(raw) is dict else None
    if type(tasks) is not list or len(tasks) <= max(few, 1):
        return schema_problems("task_list", Source.TASKS, raw)
    # All but the tasks, and the first task, where the list itself is checked.
    placed = placed_problems("task_list", Source.TASKS, {**raw, "tasks": tasks[:1]})
    check = TaskListCheck(tasks, {})
    task_schema = package_files.schema("task_list")["$defs"]["task"]
    for start in range(1, len(tasks), SLICE_TASKS):
        part = tasks[start : start + SLICE_TASKS]
        if check.slice_ok(slice_columns(part, start)):
            continue
        for index, task in enumerate(part, start=start):
            if not check.slice_ok(slice_columns([task], index)):
                placed += placed_problems(
                    "task_list", Source.TASKS, task, schema=task_schema, at=("tasks", index)
                )
    return [problem for _, problem in sorted(placed, key=itemgetter(0))]


_KINDS = {
    Source.CONFIG: ("runner_config", "runner config"),
    Source.PROFILE: ("user_profile", "user profile"),
    Source.TASKS: ("task_list", "task list"),
}


def _swapped(source: Source, doc: object) -> list[Problem]:
    """One problem saying that `doc` is another of the three inputs, when its keys are
    that input's much more than its own (rather than one per unknown key); else none."""
    if type(doc) is not dict:
        return []
    keys = {key for key in doc if type(key) is str}
    own = len(keys & _top_keys(source))
    hits, other = max((len(keys & _top_keys(s)), s) for s in _KINDS if s is not source)
    if hits < 2 or hits <= own:
        return []
    shared = ", ".join(sorted(keys & _top_keys(other)))
    return [
        Problem(
            source=source,
            pointer="",
            message=(
                f"this looks like a {_KINDS[other][1]}, not a {_KINDS[source][1]} (it has "
                f"{shared}): were the inputs swapped?"
            ),
        )
    ]


@cache
def _top_keys(source: Source) -> frozenset[str]:
    return frozenset(package_files.schema(_KINDS[source][0])["properties"])
