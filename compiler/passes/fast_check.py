"""Pass 1, its fast path: is a task list valid by its schema, checked by hand?

A task list may hold a million tasks; jsonschema spends tens of microseconds on
each.  This walker answers only "valid or not" for the common shape, reading its
patterns from schemas/task_list.schema.json itself.  Whenever it says "not
valid" the compiler runs jsonschema to word the precise problems, so the schema
stays the single authority; a property test checks that both always agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from itertools import chain, compress, repeat
from operator import itemgetter
from typing import Any

from compiler import package_files
from compiler.schemas import validator

_TOP_KEYS = frozenset(
    {"name", "needs_gpu", "tasks_per_job", "parallel_tasks_per_job", "meta", "tasks"}
)
_TASK_KEYS = frozenset({"id", "command", "env", "meta"})


_TASKS_PER_CHECK = 10_000  # tasks checked together: bounds the joined texts' size

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
def _patterns() -> tuple[re.Pattern[str], Callable[[list[str]], bool], re.Pattern[str]]:
    return (
        re.compile(_pattern_text("properties", "name")),
        _all_match(_pattern_text("$defs", "task", "properties", "id")),
        re.compile(_pattern_text("$defs", "task", "properties", "env", "propertyNames")),
    )


def _all_match(pattern: str) -> Callable[[list[str]], bool]:
    """A test of many strings at once: does each one match `pattern` whole?

    When the pattern is `^X$` with X unable to match NUL, the strings joined by NUL
    are matched by one regex, X (NUL X)*: each part between NULs must be one X,
    and counting the NULs makes sure no string held one of its own.
    """
    simple = _NUL_FREE.fullmatch(pattern)
    if simple is None:
        match = re.compile(pattern).fullmatch
        return lambda texts: None not in map(match, texts)
    body = simple.group(1)
    match_joined = re.compile(f"(?:{body})(?:\x00(?:{body}))*").fullmatch

    def all_match(texts: list[str]) -> bool:
        joined = "\x00".join(texts)
        return joined.count("\x00") == len(texts) - 1 and match_joined(joined) is not None

    return all_match


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


def _positive_or_none(value: object) -> bool:
    return value is None or (type(value) is int and value >= 1)


def task_list_is_valid(doc: object) -> bool:
    """True exactly when jsonschema would find no problem in `doc`."""
    if type(doc) is not dict or not doc.keys() <= _TOP_KEYS:
        return False
    name_re, ids_match, env_re = _patterns()
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
    return all(
        _tasks_ok(tasks[start : start + _TASKS_PER_CHECK], ids_match, env_re, metas)
        for start in range(0, len(tasks), _TASKS_PER_CHECK)
    )


def _tasks_ok(
    tasks: list[Any],
    ids_match: Callable[[list[str]], bool],
    env_re: re.Pattern[str],
    metas: dict[str, tuple[Any, bool]],
) -> bool:
    """Each check runs over all these tasks at once (in C: map, set, join), the
    common task being just an id and a command; env and meta are checked task by
    task, on the tasks that have them."""
    if set(map(type, tasks)) != {dict}:
        return False
    ids: list[Any] = list(map(dict.get, tasks, repeat("id")))  # None where missing
    if set(map(type, ids)) != {str} or not ids_match(ids):
        return False
    commands: list[Any] = list(map(dict.get, tasks, repeat("command")))
    if set(map(type, commands)) != {list} or not all(commands):
        return False
    if not all(map(itemgetter(0), commands)):  # an empty program name, or not text
        return False
    try:  # one join for all arguments: TypeError for one that is not a string
        if "\x00" in "".join(chain.from_iterable(commands)):
            return False
    except TypeError:
        return False
    # Every task has an id and a command now, so one with no more than two keys has
    # nothing else; only the others need their keys, env and meta checked.
    for task in compress(tasks, map((2).__lt__, map(len, tasks))):
        if not task.keys() <= _TASK_KEYS:
            return False
        if "env" in task and not _env_ok(task["env"], env_re):
            return False
        if "meta" in task and not _meta_ok(task["meta"], metas):
            return False
    return True


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
