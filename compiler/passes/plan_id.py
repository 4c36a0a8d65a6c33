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
from dataclasses import dataclass
from itertools import chain, compress, count, repeat
from typing import Any

from compiler.plan import FORMAT

# The canonical JSON: sorted keys, no spaces, ASCII.
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode
_TAG = b"slurmplan-plan-id/2"
_TASKS_PER_PIECE = 10_000  # hashed a slice at a time: no text of all tasks at once


def compute_plan_id(
    runner_config: dict[str, Any], user_profile: dict[str, Any], task_list: dict[str, Any]
) -> str:
    """16 hex digits of a SHA-256 of the inputs.

    compile_plan calls it only on inputs the schemas accepted: each task an id and
    an argv, both text without NUL, and maybe env and meta.  Encoding all tasks as
    canonical JSON would cost most of the hashing, so those are hashed as columns,
    each to a SHA-256 of its own:

    1. the canonical JSON (sorted keys, no spaces, ASCII) of
       `[FORMAT, config, profile, task list without "tasks"]`;
    2. the task ids, joined by NUL;
    3. each task's argv length, as an 8-byte little-endian integer;
    4. every argv word of every task in order, joined by NUL;
    5. the index of each task that has env or meta, likewise 8 bytes;
    6. the canonical JSON of the list of those tasks' envs (null for none);
    7. the same for their metas;

    texts as UTF-8, lone surrogates kept ("surrogatepass").  The id is the SHA-256 of
    b"slurmplan-plan-id/2" and those seven digests.  No id or word holds NUL and the
    lengths cut the words into argvs, so different inputs give different columns;
    key order reaches only the canonical JSON, which sorts keys.

    Inputs of any other shape (this is public and takes anything) are hashed as the
    canonical JSON of `[FORMAT, config, profile, task list]`, a text beginning with
    '[' where the columns' begins with the tag.
    """
    digests = _column_digests([FORMAT, runner_config, user_profile], task_list)
    if digests is not None:
        return hashlib.sha256(b"".join((_TAG, *digests))).hexdigest()[:16]
    digest = hashlib.sha256()
    for piece in _canonical_pieces([FORMAT, runner_config, user_profile], task_list):
        digest.update(piece.encode("ascii"))
    return digest.hexdigest()[:16]


def _column_digests(head: list[Any], task_list: Any) -> list[bytes] | None:
    """The seven digests of compute_plan_id, or None for a shape they do not fit."""
    tasks = task_list.get("tasks") if type(task_list) is dict else None
    if type(tasks) is not list or not all(type(key) is str for key in task_list):
        return None
    rest = {key: value for key, value in task_list.items() if key != "tasks"}
    ids, words = _Joined(b"\x00"), _Joined(b"\x00")
    envs, metas = _Joined(b",", b"[", b"]"), _Joined(b",", b"[", b"]")
    lengths, extra_indices = hashlib.sha256(), hashlib.sha256()
    for start in range(0, len(tasks), _TASKS_PER_PIECE):
        piece = tasks[start : start + _TASKS_PER_PIECE]
        if set(map(type, piece)) != {dict}:
            return None
        commands: list[Any] = list(map(dict.get, piece, repeat("command")))
        if set(map(type, commands)) != {list}:
            return None
        sizes = array("Q", map(len, commands))
        id_list: list[Any] = list(map(dict.get, piece, repeat("id")))
        try:  # TypeError for an id or word that is not text
            piece_ids = "\x00".join(id_list)
            piece_words = "\x00".join(chain.from_iterable(commands))
        except TypeError:
            return None
        n_words = sum(sizes)
        if piece_ids.count("\x00") != len(piece) - 1 or (
            n_words and piece_words.count("\x00") != n_words - 1
        ):
            return None  # some id or word holds NUL: the columns could not be told apart
        _update_le(lengths, sizes)
        ids.add(piece_ids.encode("utf-8", "surrogatepass"))
        if n_words:
            words.add(piece_words.encode("utf-8", "surrogatepass"))
        extra = _env_meta_columns(piece, start)
        if extra is None:
            return None
        if extra.envs:
            _update_le(extra_indices, extra.indices)
            envs.add(_canonical(extra.envs)[1:-1].encode("ascii"))
            metas.add(_canonical(extra.metas)[1:-1].encode("ascii"))
    return [
        hashlib.sha256(_canonical([*head, rest]).encode("ascii")).digest(),
        ids.digest(),
        lengths.digest(),
        words.digest(),
        extra_indices.digest(),
        envs.digest(),
        metas.digest(),
    ]


def _update_le(digest: hashlib._Hash, numbers: array[int]) -> None:
    """Hash 8-byte integers as little-endian, whatever the machine's order."""
    if sys.byteorder == "big":
        numbers.byteswap()
    digest.update(numbers.tobytes())


@dataclass(frozen=True, slots=True)
class _EnvMeta:
    indices: array[int]  # of the tasks with env or meta, in the whole list
    envs: list[Any]
    metas: list[Any]


def _env_meta_columns(piece: list[dict[str, Any]], start: int) -> _EnvMeta | None:
    """Which tasks of the piece have more than an id and a command, and their env and
    meta (None where a task has none); None when a task has another key, or an env
    or meta of null (either would not be told apart from no key).  Built in C and
    without a container per task, which would set the garbage collector going."""
    with_more = list(map((2).__lt__, map(len, piece)))
    tasks = list(compress(piece, with_more))
    envs = list(map(dict.get, tasks, repeat("env")))
    metas = list(map(dict.get, tasks, repeat("meta")))
    # Each key beyond id and command must be an env or meta that is not null.
    n_keys = 2 * len(tasks) + len(tasks) - envs.count(None) + len(tasks) - metas.count(None)
    if sum(map(len, tasks)) != n_keys:
        return None
    return _EnvMeta(array("Q", compress(count(start), with_more)), envs, metas)


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
        for start in range(0, len(tasks), _TASKS_PER_PIECE):
            comma = "," if start else ""
            yield comma + _canonical(tasks[start : start + _TASKS_PER_PIECE])[1:-1]
        yield "]"
    yield "}]"
