"""Reading the command line's JSON files, turning every failure into problem lines.

A problem line reads `<file>: <JSON pointer>: <message>` (the file as the user
named it), or `<file>: <message>` when the problem is the file itself. Nothing
here raises anything but InputError for a bad file.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from slurmplan.compiler import CompileError, Source
from slurmplan.compiler.errors import SlurmplanError
from slurmplan.effects.input_files import UnusableFile, read_regular


class InputError(SlurmplanError):
    """Input the command cannot use; `lines` holds one problem per line."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines: tuple[str, ...] = tuple(one_line(line) for line in lines)
        super().__init__("\n".join(self.lines))


def one_line(text: str) -> str:
    """`text` with line breaks escaped, so that one problem stays one line."""
    return text.replace("\n", "\\n").replace("\r", "\\r")


MAX_PROBLEM_LINES = 100  # then "... and N more problems": 10,000 stay readable


def problem_lines(error: CompileError, files: Mapping[Source, str]) -> list[str]:
    """A CompileError's problems, each labelled with the file it concerns; past
    MAX_PROBLEM_LINES, one line says how many more there are."""
    problems = error.problems
    shown = problems if len(problems) <= MAX_PROBLEM_LINES + 1 else problems[:MAX_PROBLEM_LINES]
    lines = [
        f"{files.get(p.source, p.source.value)}: {p.pointer or '/'}: {p.message}" for p in shown
    ]
    if len(shown) < len(problems):
        lines.append(f"... and {len(problems) - len(shown)} more problems")
    return lines


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicates(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _type_name(value: object) -> str:
    names = {list: "a list", str: "a string", int: "a number", float: "a number",
             bool: "true or false", type(None): "null"}  # fmt: skip
    return names.get(type(value), type(value).__name__)


def _decoded(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            [f"{label}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"]
        ) from None


def _parsed(text: str, label: str) -> dict[str, Any]:
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        what = "the file is empty" if not text.strip() else error.msg
        raise InputError(
            [f"{label}: line {error.lineno}, column {error.colno}: not valid JSON: {what}"]
        ) from None
    except _DuplicateKeyError as error:
        raise InputError(
            [
                f"{label}: key {error.args[0]!r} appears twice in one object "
                "(JSON readers silently keep only one; remove the other)"
            ]
        ) from None
    except ValueError as error:  # NaN, Infinity; an integer past Python's digit limit
        place = _long_integer_place(text)
        if place is not None:
            line, column, digits = place
            raise InputError([
                f"{label}: line {line}, column {column}: a number of {digits} digits: "
                f"slurmplan reads numbers of at most {sys.get_int_max_str_digits()} digits"
            ]) from None  # fmt: skip
        raise InputError([f"{label}: not valid JSON: {error}"]) from None
    except RecursionError:
        raise InputError([f"{label}: not usable JSON: nested too deeply"]) from None
    if not isinstance(value, dict):
        raise InputError([f"{label}: /: must be a JSON object {{...}} (got {_type_name(value)})"])
    return value


# A JSON string (skipped) or number: json.loads reads in document order, so the first
# integer past the limit is the one it stopped at.
_STRING_OR_NUMBER = re.compile(r'"(?:[^"\\]|\\.)*"|-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?')


def _long_integer_place(text: str) -> tuple[int, int, int] | None:
    """(line, column, digits) of the first integer json.loads cannot turn into an int."""
    limit = sys.get_int_max_str_digits()
    if limit == 0:
        return None
    for match in _STRING_OR_NUMBER.finditer(text):
        token = match.group()
        digits = len(token.lstrip("-"))
        if token[0] != '"' and digits > limit and token.lstrip("-").isdigit():
            start = match.start()
            return text.count("\n", 0, start) + 1, start - text.rfind("\n", 0, start), digits
    return None


def parse_json_object(text: bytes, label: str) -> dict[str, Any]:
    """The JSON object in `text`; `label` names the file in problem lines."""
    return _parsed(_decoded(text, label), label)


def read_json_object(path: str) -> dict[str, Any]:
    """The JSON object in the file `path`; InputError for any way it can be unusable.

    Never the file's bytes, its text and the parsed value at once (the bytes and
    the text are each the size of the file, the value several times that): the
    bytes go once decoded, the text once parsed (when this returns).
    """
    try:
        data = read_regular(path)
    except UnusableFile as error:  # a FIFO, a device, a file past the limit: never read
        raise InputError([f"{path}: {error}"]) from None
    except FileNotFoundError:
        raise InputError([f"{path}: no such file"]) from None
    except IsADirectoryError:
        raise InputError([f"{path}: is a directory, not a JSON file"]) from None
    except PermissionError:
        raise InputError([f"{path}: cannot be read: permission denied"]) from None
    except OSError as error:
        raise InputError([f"{path}: cannot be read: {error.strerror or error}"]) from None
    text = _decoded(data, path)
    del data
    return _parsed(text, path)


def read_json_objects(paths: Sequence[str]) -> list[dict[str, Any]]:
    """Every file read; InputError listing the problems of all bad files at once."""
    values: list[dict[str, Any]] = []
    lines: list[str] = []
    for path in paths:
        try:
            values.append(read_json_object(path))
        except InputError as error:
            lines.extend(error.lines)
    if lines:
        raise InputError(lines)
    return values
