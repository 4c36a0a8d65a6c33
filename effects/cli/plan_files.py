"""A plan as a file: the one canonical JSON dump used everywhere, and its reading back."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from slurmplan.compiler import CompileError, Plan, Source, plan_from_json
from slurmplan.effects.cli.inputs_io import InputError, problem_lines, read_json_object

PIECE_CHARS = 1 << 16  # how much of the plan's text write_plan gathers per write


def plan_chunks(plan: Plan) -> Iterator[str]:
    """The canonical text of a plan in the encoder's chunks, as they are produced.

    Sorted keys, 2-space indent, ASCII, final newline: json.dumps with these
    options joins exactly these chunks. ASCII keeps raw bytes of task arguments
    (lone surrogates) and non-ASCII text as escapes, so the file is the same
    bytes whatever the locale.
    """
    yield from json.JSONEncoder(indent=2, sort_keys=True, ensure_ascii=True).iterencode(
        plan.to_json()
    )
    yield "\n"


def dump_plan(plan: Plan) -> str:
    """The canonical text of a plan, whole (see plan_chunks)."""
    return "".join(plan_chunks(plan))


def plan_bytes(plan: Plan) -> bytes:
    return dump_plan(plan).encode("ascii")


def write_plan(plan: Plan, write: Callable[[str], object]) -> None:
    """The canonical text of a plan passed to `write` in pieces of about PIECE_CHARS.

    A large plan's text is never whole in memory (it is about as large as the
    plan itself): only the encoder's chunks of one piece at a time.
    """
    piece: list[str] = []
    size = 0
    for chunk in plan_chunks(plan):
        piece.append(chunk)
        size += len(chunk)
        if size >= PIECE_CHARS:
            write("".join(piece))
            piece.clear()
            size = 0
    if piece:
        write("".join(piece))


def load_plan(path: str) -> Plan:
    """The plan in the file `path`; InputError (problem lines) when it is not one."""
    raw = read_json_object(path)
    try:
        return plan_from_json(raw)
    except CompileError as error:
        raise InputError(problem_lines(error, {Source.PLAN: path})) from None
