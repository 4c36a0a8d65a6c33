"""Pass 1: the three inputs against their JSON Schemas (schemas/), all at once.

A task list that the hand-written fast path accepts is not walked again by
jsonschema (compiler/passes/fast_check.py, property-tested to agree with it);
compile_plan runs that fast path in its walk over the tasks (task_scan.py) and
hands its answer in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compiler.errors import Problem, Source
from compiler.passes.fast_check import task_list_is_valid
from compiler.schemas import schema_problems


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
    return SchemaCheck(
        config=tuple(schema_problems("runner_config", Source.CONFIG, raw_config)),
        profile=tuple(schema_problems("user_profile", Source.PROFILE, raw_profile)),
        tasks=() if tasks_valid else tuple(schema_problems("task_list", Source.TASKS, raw_tasks)),
    )
