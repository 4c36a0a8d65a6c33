"""Pass 5, the plan id: 16 hex digits of a hash of the three inputs, key order aside.

It names the run folder and the jobs, so the same inputs always give the same
plan, and a plan's jobs can be found by name again after a crash.
"""

from __future__ import annotations

import hashlib
import json
import sys
from array import array
from collections.abc import Iterator
from itertools import repeat
from typing import Any

from slurmplan.compiler.passes.task_columns import SLICE_TASKS, SliceColumns, task_slices
from slurmplan.compiler.plan import FORMAT

# The canonical JSON: sorted keys, no spaces, ASCII.
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode
_TAG = b"slurmplan-plan-id/2"


def compute_plan_id(
    runner_config: dict[str, Any], user_profile: dict[str, Any], task_list: dict[str, Any]
) -> str:
    """16 hex digits of a SHA-256 of the inputs.

    compile_plan needs it only for inputs the schemas accepted: each task an id and
    an argv, both text without NUL, and maybe env, meta and outputs (and has the digests below
    from its one walk over the tasks, task_scan.py).  Encoding all tasks as canonical
    JSON would cost most of the hashing, so those are hashed as columns, each to a
    SHA-256 of its own:

    1. the canonical JSON (sorted keys, no spaces, ASCII) of
       `[FORMAT, config, profile, task list without "tasks"]`;
    2. the task ids, joined by NUL;
    3. each task's argv length, as an 8-byte little-endian integer;
    4. every argv word of every task in order, joined by NUL;
    5. the index of each task that has env, meta or outputs, likewise 8 bytes;
    6. the canonical JSON of the list of those tasks' envs (null for none);
    7. the same for their metas;
    8. only when some task names outputs: the same for their outputs;

    texts as UTF-8, lone surrogates kept ("surrogatepass").  The id is the SHA-256 of
    b"slurmplan-plan-id/2" and those seven (or eight) digests: a list without outputs
    has the id it had before outputs existed.  No id or word holds NUL and the
    lengths cut the words into argvs, so different inputs give different columns;
    key order reaches only the canonical JSON, which sorts keys.

    Inputs of any other shape (this is public and takes anything) are hashed as the
    canonical JSON of `[FORMAT, config, profile, task list]`, a text beginning with
    '[' where the columns' begins with the tag.
    """
    digests = TaskDigests.start(task_list)
    if digests is not None and all(map(digests.add, task_slices(digests.tasks))):
        return digests.plan_id(runner_config, user_profile)
    digest = hashlib.sha256()
    for piece in _canonical_pieces([FORMAT, runner_config, user_profile], task_list):
        digest.update(piece.encode("ascii"))
    return digest.hexdigest()[:16]


class TaskDigests:
    """compute_plan_id's digests of a task list's columns, the tasks hashed a slice at a
    time: `start`, then `add` each slice of the tasks in turn (task_columns.task_slices),
    then `plan_id` (when every slice fitted)."""

    def __init__(self, task_list: dict[str, Any], tasks: list[Any]) -> None:
        self._task_list = task_list
        self.tasks = tasks
        self._ids, self._words = _Joined(b"\x00"), _Joined(b"\x00")
        self._envs, self._metas = _Joined(b",", b"[", b"]"), _Joined(b",", b"[", b"]")
        self._outputs, self._any_outputs = _Joined(b",", b"[", b"]"), False
        self._lengths, self._extra_indices = hashlib.sha256(), hashlib.sha256()

    @classmethod
    def start(cls, task_list: object) -> TaskDigests | None:
        """The digests of `task_list`'s columns, none added yet; None when the list is
        not an object of text keys with "tasks" a list."""
        if type(task_list) is not dict:
            return None
        tasks = task_list.get("tasks")
        if type(tasks) is not list or not all(type(key) is str for key in task_list):
            return None
        return cls(task_list, tasks)

    def add(self, columns: SliceColumns | None) -> bool:
        """Hash the next slice's columns.  False when they do not fit: None for the
        slice, an id or word that holds NUL (the columns could not be told apart), a
        task with another key, or an env, meta or outputs of null (none could be told
        apart from no key).  After False, the digests mean nothing."""
        if columns is None or not (columns.ids_nul_free and columns.words_nul_free):
            return False
        extra = _env_meta_columns(columns.more)
        if extra is None:
            return False
        _update_le(self._lengths, columns.sizes)
        self._ids.add(columns.joined_ids.encode("utf-8", "surrogatepass"))
        if columns.n_words:
            self._words.add(columns.joined_words.encode("utf-8", "surrogatepass"))
        if columns.more:
            envs, metas, outputs = extra
            _update_le(self._extra_indices, columns.more_at)
            self._envs.add(_canonical(envs)[1:-1].encode("ascii"))
            self._metas.add(_canonical(metas)[1:-1].encode("ascii"))
            self._outputs.add(_canonical(outputs)[1:-1].encode("ascii"))
            self._any_outputs = self._any_outputs or outputs.count(None) < len(outputs)
        return True

    def plan_id(self, runner_config: dict[str, Any], user_profile: dict[str, Any]) -> str:
        """compute_plan_id's answer, all of the tasks having been added."""
        rest = {key: value for key, value in self._task_list.items() if key != "tasks"}
        head = _canonical([FORMAT, runner_config, user_profile, rest]).encode("ascii")
        digests = (
            hashlib.sha256(head).digest(),
            self._ids.digest(),
            self._lengths.digest(),
            self._words.digest(),
            self._extra_indices.digest(),
            self._envs.digest(),
            self._metas.digest(),
            *((self._outputs.digest(),) if self._any_outputs else ()),
        )
        return hashlib.sha256(b"".join((_TAG, *digests))).hexdigest()[:16]


def _update_le(digest: hashlib._Hash, numbers: array[int]) -> None:
    """Hash 8-byte integers as little-endian, whatever the machine's order."""
    if sys.byteorder == "big":
        numbers = array(numbers.typecode, numbers)  # a copy: the caller's stays as it is
        numbers.byteswap()
    digest.update(numbers.tobytes())


def _env_meta_columns(
    more: list[dict[str, Any]],
) -> tuple[list[Any], list[Any], list[Any]] | None:
    """The env, the meta and the outputs (None where a task has none) of each task that
    has more than an id and a command; None when such a task has another key, or one
    of these of null.  Built in C and without a container per task."""
    columns = [list(map(dict.get, more, repeat(key))) for key in ("env", "meta", "outputs")]
    # Each key beyond id and command must be an env, meta or outputs that is not null.
    n_keys = 2 * len(more) + sum(len(more) - column.count(None) for column in columns)
    if sum(map(len, more)) != n_keys:
        return None
    envs, metas, outputs = columns
    return envs, metas, outputs


class _Joined:
    """The SHA-256 of `start + separator.join(parts) + end`, fed some joined parts at
    a time."""

    def __init__(self, separator: bytes, start: bytes = b"", end: bytes = b"") -> None:
        self._separator, self._end = separator, end
        self._hash = hashlib.sha256(start)
        self._empty = True

    def add(self, parts: bytes) -> None:
        """One or more parts, already joined by the separator."""
        if not self._empty:
            self._hash.update(self._separator)
        self._hash.update(parts)
        self._empty = False

    def digest(self) -> bytes:
        whole = self._hash.copy()
        whole.update(self._end)
        return whole.digest()


def _canonical_pieces(head: list[Any], task_list: Any) -> Iterator[str]:
    """The canonical JSON of `[*head, task_list]` in pieces, the tasks a slice at a
    time, so a million tasks never stand in memory as one string."""
    tasks = task_list.get("tasks") if isinstance(task_list, dict) else None
    if not isinstance(tasks, list) or not all(isinstance(key, str) for key in task_list):
        yield _canonical([*head, task_list])
        return
    yield _canonical(head)[:-1] + ",{"
    for position, key in enumerate(sorted(task_list)):
        comma = "," if position else ""
        if key != "tasks":
            yield f"{comma}{_canonical(key)}:{_canonical(task_list[key])}"
            continue
        yield f'{comma}"tasks":['
        for start in range(0, len(tasks), SLICE_TASKS):
            comma = "," if start else ""
            yield comma + _canonical(tasks[start : start + SLICE_TASKS])[1:-1]
        yield "]"
    yield "}]"
