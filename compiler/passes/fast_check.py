"""Pass 1, its fast path: is a task list valid by its schema, checked by hand?

A task list may hold a million tasks; jsonschema spends tens of microseconds on
each.  This walker answers only "valid or not" for the common shape, reading its
patterns from schemas/task_list.schema.json itself.  Whenever it says "not
valid" the compiler runs jsonschema to word the precise problems, so the schema
stays the single authority; a property test checks that both always agree.

The tasks are checked a slice at a time, on the columns task_columns.py takes out of
them; compile_plan has the same columns hash for the plan id in the same walk
(task_scan.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from operator import itemgetter
from typing import Any

from slurmplan.compiler import package_files
from slurmplan.compiler.passes.task_columns import SliceColumns, task_slices
from slurmplan.compiler.schemas import validator

# Top-level texts checked by the schema itself: rare, and small beside the tasks.
_TEXT_KEYS = frozenset({"slurm_account", "worker_init"})
_TOP_KEYS = frozenset(
    {"name", "needs_gpu", "tasks_per_job", "parallel_tasks_per_job", "meta", "tasks"} | _TEXT_KEYS
)
_TASK_KEYS = frozenset({"id", "command", "env", "meta", "outputs"})

# `^X$` where X is only character classes without negation, backslash or NUL, and
# letters and digits, each maybe repeated: X has no anchor and cannot match NUL.
_NUL_FREE = re.compile(
    r"\^((?:(?:\[[^\]\[\\^\x00][^\]\[\\\x00]*\]|[A-Za-z0-9_])(?:\{\d+(?:,\d*)?\}|[*+?])?)+)\$"
)


def _pattern_text(*path: str) -> str:
    node: Any = package_files.schema("task_list")
    for key in path:
        node = node[key]
    text: str = node["pattern"]
    return text


@cache
def _patterns() -> tuple[re.Pattern[str], Callable[[SliceColumns], bool], re.Pattern[str]]:
    return (
        re.compile(_pattern_text("properties", "name")),
        _ids_test(_pattern_text("$defs", "task", "properties", "id")),
        re.compile(_pattern_text("$defs", "task", "properties", "env", "propertyNames")),
    )


def _ids_test(pattern: str) -> Callable[[SliceColumns], bool]:
    """Does each id of a slice match `pattern` whole?  On the ids joined by NUL, when
    the pattern allows (see _joined_match)."""
    match_joined = _joined_match(pattern)
    if match_joined is None:
        match_each = _all_match(pattern)
        return lambda columns: match_each(columns.ids)
    return lambda columns: columns.ids_nul_free and match_joined(columns.joined_ids)


def _all_match(pattern: str) -> Callable[[list[str]], bool]:
    """A test of many strings at once: does each one match `pattern` whole?"""
    match_joined = _joined_match(pattern)
    if match_joined is None:
        match = re.compile(pattern).fullmatch
        return lambda texts: None not in map(match, texts)

    def all_match(texts: list[str]) -> bool:
        joined = "\x00".join(texts)
        return joined.count("\x00") == len(texts) - 1 and match_joined(joined)

    return all_match


def _joined_match(pattern: str) -> Callable[[str], bool] | None:
    """A test of strings joined by NUL, none holding NUL itself: does each one match
    `pattern` whole?  None when `pattern` is not simple enough for that.

    When the pattern is `^X$` with X unable to match NUL, the joined strings are
    matched by one regex, X (NUL X)*: each part between NULs must be one X (that
    no string held a NUL of its own, the caller makes sure by counting them).
    """
    simple = _NUL_FREE.fullmatch(pattern)
    if simple is None:
        return None
    body = simple.group(1)
    fullmatch = re.compile(f"(?:{body})(?:\x00(?:{body}))*").fullmatch
    return lambda joined: fullmatch(joined) is not None


def _meta_ok(meta: Any, seen: dict[str, tuple[Any, bool]]) -> bool:
    # Metas repeat (often identical across tasks): validate each distinct one once.
    # repr is a cheap key (1, True and "1" stay apart); == against the meta first
    # seen under it confirms a hit, so a key never stands for a different meta.
    key = repr(meta)
    known = seen.get(key)
    try:
        if known is not None and known[0] == meta:
            return known[1]
    except RecursionError:  # a meta that contains itself: not JSON
        return False
    meta_schema = package_files.schema("task_list")["$defs"]["meta"]
    valid = validator("task_list").evolve(schema=meta_schema).is_valid(meta)
    seen[key] = (meta, valid)
    return valid


def _property_ok(key: str, value: Any) -> bool:
    schema = package_files.schema("task_list")["properties"][key]
    return bool(validator("task_list").evolve(schema=schema).is_valid(value))


def _positive_or_none(value: object) -> bool:
    return value is None or (type(value) is int and value >= 1)


def task_list_is_valid(doc: object) -> bool:
    """True exactly when jsonschema would find no problem in `doc`."""
    check = TaskListCheck.start(doc)
    return check is not None and all(map(check.slice_ok, task_slices(check.tasks)))


class TaskListCheck:
    """task_list_is_valid's answer in steps: `start` checks all but the tasks, then
    `slice_ok` each slice of the tasks in turn (task_columns.task_slices); the list
    is valid when every slice is."""

    def __init__(self, tasks: list[Any], metas: dict[str, tuple[Any, bool]]) -> None:
        self.tasks = tasks  # not empty
        self._metas = metas  # the metas validated so far (see _meta_ok)
        _, self._ids_ok, self._env_re = _patterns()

    @classmethod
    def start(cls, doc: object) -> TaskListCheck | None:
        """The check of `doc`'s tasks; None when the rest of `doc` is not valid."""
        if type(doc) is not dict or not doc.keys() <= _TOP_KEYS:
            return None
        name_re = _patterns()[0]
        name = doc.get("name")
        if type(name) is not str or name_re.fullmatch(name) is None:
            return None
        if "needs_gpu" in doc and type(doc["needs_gpu"]) is not bool:
            return None
        for key in ("tasks_per_job", "parallel_tasks_per_job"):
            if key in doc and not _positive_or_none(doc[key]):
                return None
        for key in _TEXT_KEYS & doc.keys():
            if not _property_ok(key, doc[key]):
                return None
        metas: dict[str, tuple[Any, bool]] = {}
        if "meta" in doc and not _meta_ok(doc["meta"], metas):
            return None
        tasks = doc.get("tasks")
        if type(tasks) is not list or not tasks:
            return None
        return cls(tasks, metas)

    def slice_ok(self, columns: SliceColumns | None) -> bool:
        """Are these tasks valid?  None stands for a slice that does not even fit the
        columns: not valid.  Each check runs over all the tasks at once (in C), the
        common task being just an id and a command; env and meta are checked task by
        task, on the tasks that have them, and so are outputs."""
        if columns is None or set(map(type, columns.ids)) != {str}:
            return False
        if not self._ids_ok(columns):
            return False
        commands = columns.commands
        if not all(commands) or not all(map(itemgetter(0), commands)):
            return False  # an empty argv, or an empty program name
        if not columns.words_nul_free:
            return False
        for task in columns.more:
            if not task.keys() <= _TASK_KEYS:
                return False
            if "env" in task and not _env_ok(task["env"], self._env_re):
                return False
            if "meta" in task and not _meta_ok(task["meta"], self._metas):
                return False
            if "outputs" in task and not _outputs_ok(task["outputs"]):
                return False
        return True


def _outputs_ok(outputs: Any) -> bool:
    """By the schema itself: few tasks name outputs, and those few."""
    schema = package_files.schema("task_list")["$defs"]["task"]["properties"]["outputs"]
    return bool(validator("task_list").evolve(schema=schema).is_valid(outputs))


def _env_ok(env: Any, env_re: re.Pattern[str]) -> bool:
    if type(env) is not dict:
        return False
    for env_name, env_value in env.items():
        if (
            type(env_name) is not str
            or env_re.fullmatch(env_name) is None
            or type(env_value) is not str
            or "\x00" in env_value
        ):
            return False
    return True
