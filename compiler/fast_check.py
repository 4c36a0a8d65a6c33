"""Pass 1a, fast path: is a task list valid by its schema, checked by hand?

A task list may hold a million tasks; jsonschema spends tens of microseconds on
each.  This walker answers only "valid or not" for the common shape, reading its
patterns from schemas/task_list.schema.json itself.  Whenever it says "not
valid" the compiler runs jsonschema to word the precise problems, so the schema
stays the single authority; a property test checks that both always agree.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from compiler import resources
from compiler.schema_check import validator

_TOP_KEYS = frozenset(
    {"name", "needs_gpu", "tasks_per_job", "parallel_tasks_per_job", "meta", "tasks"}
)
_TASK_KEYS = frozenset({"id", "command", "env", "meta"})


def _pattern(*path: str) -> re.Pattern[str]:
    node: Any = resources.schema("task_list")
    for key in path:
        node = node[key]
    return re.compile(node["pattern"])


@cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    return (
        _pattern("properties", "name"),
        _pattern("$defs", "task", "properties", "id"),
        _pattern("$defs", "task", "properties", "env", "propertyNames"),
    )


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
    meta_schema = resources.schema("task_list")["$defs"]["meta"]
    valid = validator("task_list").evolve(schema=meta_schema).is_valid(meta)
    seen[key] = (meta, valid)
    return valid


def _positive_or_none(value: object) -> bool:
    return value is None or (type(value) is int and value >= 1)


def task_list_is_valid(doc: object) -> bool:
    """True exactly when jsonschema would find no problem in `doc`."""
    if type(doc) is not dict or not doc.keys() <= _TOP_KEYS:
        return False
    name_re, id_re, env_re = _patterns()
    name = doc.get("name")
    if type(name) is not str or name_re.fullmatch(name) is None:
        return False
    if "needs_gpu" in doc and type(doc["needs_gpu"]) is not bool:
        return False
    for key in ("tasks_per_job", "parallel_tasks_per_job"):
        if key in doc and not _positive_or_none(doc[key]):
            return False
    metas: dict[str, tuple[Any, bool]] = {}
    if "meta" in doc and not _meta_ok(doc["meta"], metas):
        return False
    tasks = doc.get("tasks")
    if type(tasks) is not list or not tasks:
        return False
    id_match, env_match = id_re.fullmatch, env_re.fullmatch
    for task in tasks:
        if type(task) is not dict or not task.keys() <= _TASK_KEYS:
            return False
        task_id = task.get("id")
        if type(task_id) is not str or id_match(task_id) is None:
            return False
        command = task.get("command")
        if type(command) is not list or not command or not command[0]:
            return False
        try:  # one join for all arguments: TypeError for one that is not a string
            if "\x00" in "".join(command):
                return False
        except TypeError:
            return False
        if "env" in task:
            env = task["env"]
            if type(env) is not dict:
                return False
            for env_name, env_value in env.items():
                if (
                    type(env_name) is not str
                    or env_match(env_name) is None
                    or type(env_value) is not str
                    or "\x00" in env_value
                ):
                    return False
        if "meta" in task and not _meta_ok(task["meta"], metas):
            return False
    return True
