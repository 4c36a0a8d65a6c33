"""slurmplan's errors: one base, and compile errors (every problem found in the
inputs, collected and raised once)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class SlurmplanError(Exception):
    """The base of every error slurmplan raises on purpose: catch this one to catch them all."""


class Refused(SlurmplanError, ValueError):
    """An argument refused on purpose (fetch of a task the plan does not have, or into
    the workdir): a ValueError, as before, and a SlurmplanError."""


class UnknownTask(SlurmplanError, KeyError):
    """Run.read of a task the plan does not have: a KeyError, as before, and a
    SlurmplanError; str() is the message itself, not KeyError's quoted repr."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Source(StrEnum):
    """Which input a problem concerns."""

    CONFIG = "config"
    PROFILE = "profile"
    TASKS = "tasks"
    PLAN = "plan"


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong with one input, located by a JSON pointer (RFC 6901)."""

    source: Source
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.source.value}: {self.pointer or '/'}: {self.message}"


class CompileError(SlurmplanError):
    """Raised once, with every problem found, when the inputs cannot be compiled."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def pointer(*parts: str | int) -> str:
    """The JSON pointer of a path, escaping '~' and '/' as RFC 6901 says."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def show(value: object) -> str:
    """A received value as it appears in messages: short, one line, in JSON's words
    (null, true, false) with text quoted as Python quotes it."""
    pieces: list[str] = []
    _shown(value, pieces, [0], depth=0)
    text = "".join(pieces)
    return text if len(text) <= _SHOW_MAX else text[: _SHOW_MAX - 3] + "..."


_SHOW_MAX = 80
_JSON_WORDS = {None: "null", True: "true", False: "false"}
_INT_BITS = 1000  # about 300 digits: more is never shown whole (_SHOW_MAX)
_NOT_FINITE = {
    "inf": "a number over 1.8e308",
    "-inf": "a number under -1.8e308",
    "nan": "NaN, not a JSON number",
}


def _shown(value: object, pieces: list[str], size: list[int], *, depth: int) -> None:
    """Appends `value`'s text to `pieces`, stopping once past _SHOW_MAX characters
    (a million-task list is never written out whole to show 80 characters of it)."""
    if size[0] > _SHOW_MAX:
        return
    if value is None or isinstance(value, bool):
        text = _JSON_WORDS[value]
    elif isinstance(value, (list, tuple, dict)) and depth < 20:
        is_dict = isinstance(value, dict)
        pieces.append("{" if is_dict else "[")
        size[0] += 1
        for n, item in enumerate(value.items() if isinstance(value, dict) else value):
            if size[0] > _SHOW_MAX:
                return
            if n:
                pieces.append(", ")
                size[0] += 2
            if is_dict:
                _shown(item[0], pieces, size, depth=depth + 1)
                pieces.append(": ")
                size[0] += 2
                _shown(item[1], pieces, size, depth=depth + 1)
            else:
                _shown(item, pieces, size, depth=depth + 1)
        text = "}" if is_dict else "]"
    elif isinstance(value, (list, tuple, dict)):
        text = "..."
    elif isinstance(value, float) and float.__repr__(value) in _NOT_FINITE:
        text = _NOT_FINITE[float.__repr__(value)]  # JSON's 1e400 reads as inf
    elif isinstance(value, int) and value.bit_length() > _INT_BITS:
        # repr refuses past sys.get_int_max_str_digits() (4,300 by default)
        text = f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    else:
        text = repr(value)
    pieces.append(text)
    size[0] += len(text)


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice `word` most likely misspells (a few letters off, any case), or None."""
    best: tuple[int, str] | None = None
    for choice in sorted(choices):
        distance = _edit_distance(word.lower(), choice.lower())
        if distance <= max(1, min(len(word), len(choice)) // 3) and (
            best is None or distance < best[0]
        ):
            best = (distance, choice)
    return None if best is None else best[1]


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein's: letters inserted, deleted or replaced to turn `a` into `b`."""
    if abs(len(a) - len(b)) > 8:
        return abs(len(a) - len(b))  # far apart either way: spare the table
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


class Problems:
    """A collector: passes add problems; the compiler raises them all at once."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, source: Source, path: str, message: str) -> None:
        self.items.append(Problem(source=source, pointer=path, message=message))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.items.extend(problems)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        """Raise them, input by input (passes find them pass by pass), in the order found
        within one input."""
        if self.items:
            raise CompileError(sorted(self.items, key=_input_order))


_SOURCES = list(Source)


def _input_order(problem: Problem) -> int:
    return _SOURCES.index(problem.source)


def unencodable_strings(doc: Any, at: str = "") -> Iterator[tuple[str, str]]:
    """(pointer, text) of every key or string in a JSON value that cannot become
    UTF-8 bytes under 'surrogateescape'."""
    items = _members(doc)
    if items is None:
        if isinstance(doc, str) and not _encodable(doc):
            yield at, doc
        return
    for key, value in items:
        here = at + pointer(key)
        if isinstance(key, str) and not _encodable(key):
            yield here, key
        yield from unencodable_strings(value, here)


def _members(value: Any) -> Iterable[tuple[str | int, Any]] | None:
    """A JSON object's or list's (key or index, value) pairs; None for anything else."""
    if isinstance(value, dict):
        return value.items()
    if isinstance(value, list):
        return enumerate(value)
    return None


def unencodable_problems(source: Source, doc: Any) -> list[Problem]:
    """A problem at each key or string of `doc` that cannot become bytes."""
    if _all_encodable(doc):  # the usual answer, found without building a pointer
        return []
    return [
        Problem(
            source=source,
            pointer=path,
            message="text must be encodable as UTF-8 (lone surrogates only as U+DC80..U+DCFF, "
            f"standing for raw bytes) (got {show(text)})",
        )
        for path, text in unencodable_strings(doc)
    ]


def _all_encodable(doc: Any) -> bool:
    if isinstance(doc, str):
        return _encodable(doc)
    if isinstance(doc, dict):
        return all(map(_encodable, filter(_is_str, doc))) and all(map(_all_encodable, doc.values()))
    if isinstance(doc, list):
        return all(map(_all_encodable, doc))
    return True


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _encodable(text: str) -> bool:
    if text.isascii():  # O(1) in CPython: most text, and every big script, is ASCII
        return True
    try:
        text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


MAX_DEPTH = 100  # lists and objects in one another: no input field comes near


def unwritable_problems(source: Source, doc: Any) -> list[Problem]:
    """A problem at each integer in `doc` too long for Python to write as text (past
    sys.get_int_max_str_digits(): repr, json.dumps and jsonschema's messages all fail on
    it), and at each value nested past MAX_DEPTH (repr and the schema check recurse, and
    fail near 1,000 levels).  Walked without recursion: a RecursionError may be why it is
    called."""
    problems: list[Problem] = []
    # (value, its path, where the run of one-item containers that leads to it starts:
    # [[[...]]] is reported at the field holding it, not 100 levels down)
    stack: list[tuple[Any, tuple[str | int, ...], int]] = [(doc, (), 0)]
    while stack:
        value, path, run = stack.pop()
        if isinstance(value, (dict, list)) and len(path) >= MAX_DEPTH:
            problems.append(Problem(source=source, pointer=pointer(*path[:run]), message=(
                f"must not hold lists or objects nested more than {MAX_DEPTH} levels deep "
                f"(got {show(_at(doc, path[:run]))})"
            )))  # fmt: skip
            continue
        items = _members(value)
        if items is None:
            if isinstance(value, int) and not _writable(value):
                field = next((p for p in reversed(path) if isinstance(p, str)), "value")
                problems.append(Problem(source=source, pointer=pointer(*path), message=(
                    f"'{field}' must be a number of at most 4300 digits (got {show(value)})"
                )))  # fmt: skip
            continue
        alone = len(value) == 1
        stack.extend(
            (child, (*path, key), run if alone else len(path) + 1)
            for key, child in reversed(list(items))
        )
    return problems


def _at(doc: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _writable(number: int) -> bool:
    if number.bit_length() <= _INT_BITS:
        return True
    try:
        repr(number)
    except ValueError:
        return False
    return True
