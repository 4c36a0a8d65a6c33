"""The tasks of a task list taken out as columns, a slice of tasks at a time.

The schema fast check (fast_check.py) and the plan id's column hashes (plan_id.py)
read the same things out of every task dict: its id and its argv, both joined by NUL.
Taking them out costs more than checking or hashing them, so it is done here, once per
slice, for both; task_scan.py feeds each slice to both at once, and keeps the columns
for parse.py.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, compress, count, repeat
from typing import Any

SLICE_TASKS = 10_000  # tasks taken out together: bounds the joined texts' size


@dataclass(frozen=True, slots=True, kw_only=True)
class SliceColumns:
    """One slice of the tasks, each a dict with an "id" that is text and a "command"
    that is a list of texts (maybe with empty or NUL-holding ids and words)."""

    start: int  # the index of the slice's first task in the whole list
    ids: list[str]
    commands: list[list[str]]
    joined_ids: str  # the ids joined by NUL
    joined_words: str  # every word of every command, in order, joined by NUL
    sizes: array[int]  # each command's length ("Q")
    n_words: int
    ids_nul_free: bool  # no id holds NUL: joined_ids splits back into the ids
    words_nul_free: bool  # no word holds NUL: likewise
    more: list[dict[str, Any]]  # the tasks with keys beyond "id" and "command"
    more_at: array[int]  # their indices in the whole list ("Q")


def task_slices(tasks: list[Any]) -> Iterator[SliceColumns | None]:
    """The columns of each slice of `tasks` in turn; None for a slice that does not
    fit them (a task that is not a dict, an id that is missing or not text, a command
    that is not a list or holds something other than text): the reader stops there."""
    for start in range(0, len(tasks), SLICE_TASKS):
        yield slice_columns(tasks[start : start + SLICE_TASKS], start)


def slice_columns(tasks: list[Any], start: int) -> SliceColumns | None:
    """The columns of these tasks, which begin at index `start` of the list.

    Each step runs over all the tasks at once in C (map, set, join, count): no Python
    code and no container per task, which would set the garbage collector going."""
    if set(map(type, tasks)) != {dict}:  # exactly dicts, as JSON gives
        return None
    ids: list[Any] = list(map(dict.get, tasks, repeat("id")))  # None where missing
    commands: list[Any] = list(map(dict.get, tasks, repeat("command")))
    if set(map(type, commands)) != {list}:
        return None
    try:  # TypeError for an id or word that is not text
        joined_ids = "\x00".join(ids)
        joined_words = "\x00".join(chain.from_iterable(commands))
    except TypeError:
        return None
    sizes = array("Q", map(len, commands))
    n_words = sum(sizes)
    # Every task has an id and a command now, so only a task with more than two keys
    # has anything else; most lists have no such task, and one sum tells.
    more: list[dict[str, Any]] = []
    more_at = array("Q")
    if sum(map(len, tasks)) != 2 * len(tasks):
        with_more = list(map((2).__lt__, map(len, tasks)))
        more = list(compress(tasks, with_more))
        more_at = array("Q", compress(count(start), with_more))
    return SliceColumns(
        start=start,
        ids=ids,
        commands=commands,
        joined_ids=joined_ids,
        joined_words=joined_words,
        sizes=sizes,
        n_words=n_words,
        ids_nul_free=joined_ids.count("\x00") == len(ids) - 1,
        words_nul_free=n_words == 0 or joined_words.count("\x00") == n_words - 1,
        more=more,
        more_at=more_at,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskColumns:
    """What the parse pass would otherwise take out of the tasks of a valid list again."""

    ids: tuple[str, ...]
    # Each task's argv: the input's own lists, never changed (see parse.TaskList).
    commands: tuple[Sequence[str], ...]
    plain: bool  # no task has an env, a meta or outputs
