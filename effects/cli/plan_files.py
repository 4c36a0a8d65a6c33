"""A plan as a file: the one canonical JSON dump used everywhere, and its reading back."""

from __future__ import annotations

import json

from compiler import CompileError, Plan, Source, plan_from_json
from effects.cli.inputs_io import InputError, problem_lines, read_json_object


def dump_plan(plan: Plan) -> str:
    """The canonical text of a plan: sorted keys, 2-space indent, ASCII, final newline.

    ASCII keeps raw bytes of task arguments (lone surrogates) and non-ASCII text
    as escapes, so the file is the same bytes whatever the locale.
    """
    return json.dumps(plan.to_json(), indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def plan_bytes(plan: Plan) -> bytes:
    return dump_plan(plan).encode("ascii")


def load_plan(path: str) -> Plan:
    """The plan in the file `path`; InputError (problem lines) when it is not one."""
    raw = read_json_object(path)
    try:
        return plan_from_json(raw)
    except CompileError as error:
        raise InputError(problem_lines(error, {Source.PLAN: path})) from None
