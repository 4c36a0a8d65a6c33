"""Passes 1 and 5 over the tasks in one walk: the schema fast check and the plan id's
task columns, with the columns kept for the parse pass.

task_list_is_valid (fast_check.py) and compute_plan_id (plan_id.py) each take the
tasks' ids and argvs out of the task dicts and join them; on 100,000 tasks that is
most of their time.  Here each slice of the tasks is taken out once
(task_columns.py) and handed to both, and parse_task_list takes the ids and commands
from here instead of from the dicts a third time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slurmplan.compiler.passes.fast_check import TaskListCheck
from slurmplan.compiler.passes.plan_id import TaskDigests, compute_plan_id
from slurmplan.compiler.passes.task_columns import TaskColumns, task_slices


@dataclass(frozen=True, slots=True)
class TaskScan:
    task_list: Any
    # The tasks' columns when the list is valid by its schema (task_list_is_valid's
    # answer), else None: the scan stops at the first slice that is not valid.
    columns: TaskColumns | None
    digests: TaskDigests | None  # when valid and hashed as columns

    @property
    def valid(self) -> bool:
        return self.columns is not None

    def plan_id(self, runner_config: dict[str, Any], user_profile: dict[str, Any]) -> str:
        """compute_plan_id(runner_config, user_profile, task_list), from the digests
        made in the scan when it has them."""
        if self.digests is None:
            return compute_plan_id(runner_config, user_profile, self.task_list)
        return self.digests.plan_id(runner_config, user_profile)


def scan_task_list(task_list: Any) -> TaskScan:
    """Is `task_list` valid by its schema, and if so its columns and the plan id's
    digests of them, in one walk over its tasks."""
    check = TaskListCheck.start(task_list)
    if check is None:
        return TaskScan(task_list, columns=None, digests=None)
    # A valid list fits the columns (keys that are str subclasses aside): the digests
    # are dropped, and compute_plan_id hashes it by itself, only where it does not.
    digests = TaskDigests.start(task_list)
    ids: list[str] = []
    commands: list[list[str]] = []
    plain = True
    for columns in task_slices(check.tasks):
        if not check.slice_ok(columns):
            return TaskScan(task_list, columns=None, digests=None)
        assert columns is not None  # slice_ok said so
        if digests is not None and not digests.add(columns):
            digests = None
        ids += columns.ids
        commands += columns.commands
        plain = plain and not columns.more
    return TaskScan(
        task_list,
        columns=TaskColumns(ids=tuple(ids), commands=tuple(commands), plain=plain),
        digests=digests,
    )
