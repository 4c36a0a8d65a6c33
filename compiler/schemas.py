"""Pass 1a: structural validation of the inputs against their JSON Schemas.

Every `pattern` is matched against the whole string (`re.fullmatch`), so a
trailing newline cannot slip past a `$` anchor.  Each schema violation becomes a
Problem whose message names the field, the expected form (the schema's `x-form`
annotation where there is one) and the value received.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import jsonschema
import referencing
from jsonschema import ValidationError
from jsonschema.protocols import Validator

from slurmplan.compiler import package_files
from slurmplan.compiler.errors import Problem, Source, closest, pointer, show

_NOT_OVERRIDABLE = frozenset({"partition", "account"})


def _fullmatch_pattern(
    validator: Validator, pattern: str, instance: object, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if isinstance(instance, str) and _compiled(pattern).fullmatch(instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _is_strict_integer(checker: object, instance: object) -> bool:
    # JSON Schema lets 2.0 count as an integer; a CPU count of 2.0 is a mistake.
    return isinstance(instance, int) and not isinstance(instance, bool)


_Draft = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator,
    {"pattern": _fullmatch_pattern},
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", _is_strict_integer
    ),
)


@cache
def _registry() -> referencing.Registry[Any]:
    pairs = []
    for name in package_files.SCHEMA_NAMES:
        contents = package_files.schema(name)
        pairs.append((contents["$id"], referencing.Resource.from_contents(contents)))
    return referencing.Registry().with_resources(pairs)


@cache
def validator(name: str) -> Validator:
    """A validator for `schemas/<name>.schema.json` with whole-string patterns."""
    return _Draft(package_files.schema(name), registry=_registry())  # type: ignore[no-any-return]


def schema_problems(name: str, source: Source, instance: Any) -> list[Problem]:
    """Every violation of the schema `name`, in document order."""
    return [problem for _, problem in sorted(placed_problems(name, source, instance), key=_place)]


Place = list[str | int]  # where a problem is, as a path: problems sort by it


def placed_problems(
    name: str,
    source: Source,
    instance: Any,
    *,
    schema: dict[str, Any] | None = None,
    at: tuple[str | int, ...] = (),
) -> list[tuple[Place, Problem]]:
    """Every violation, each with its place, unsorted; with `schema` (a part of the
    schema `name`) and `at`, of `instance` standing at path `at` of a document."""
    check = validator(name) if schema is None else validator(name).evolve(schema=schema)
    placed: list[tuple[Place, Problem]] = []
    seen: set[Problem] = set()  # -2.0 breaks `type` and `minimum`: said once
    for error in check.iter_errors(instance):
        error.path.extendleft(reversed(at))
        place = list(error.absolute_path)
        for problem in _problems_of(error, source):
            if problem not in seen:
                seen.add(problem)
                placed.append((place, problem))
    return placed


def _place(item: tuple[Place, Problem]) -> Place:
    return item[0]


def _field_name(path: list[str | int]) -> str:
    for part in reversed(path):
        if isinstance(part, str):
            return part
    return "value"


def _expected(error: ValidationError) -> str | None:
    for candidate in (error.schema, error.parent.schema if error.parent else None):
        if isinstance(candidate, dict) and "x-form" in candidate:
            return str(candidate["x-form"])
    return None


def _type_phrase(schema: dict[str, Any]) -> str:
    kinds = schema.get("type")
    names = {
        "integer": "an integer",
        "string": "a string",
        "object": "an object",
        "array": "a list",
        "boolean": "true or false",
        "null": "null",
        "number": "a number",
    }
    if isinstance(kinds, list):
        return " or ".join(names.get(str(k), str(k)) for k in kinds)
    if isinstance(kinds, str):
        phrase = names.get(kinds, kinds)
        if "minimum" in schema:
            phrase += f" ≥ {schema['minimum']}"
        if "maximum" in schema:
            phrase += f" ≤ {schema['maximum']}"
        return phrase
    return "a valid value"


def _problems_of(error: ValidationError, source: Source) -> Iterator[Problem]:
    path = list(error.absolute_path)
    where = pointer(*path)
    field = _field_name(path)
    value: Any = error.instance
    schema: Any = error.schema
    kind = str(error.validator)
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extras = sorted(k for k in value if k not in allowed)
        for key in extras:
            in_meta = bool(path) and path[-1] == "meta"
            if key in _NOT_OVERRIDABLE and in_meta:
                message = (
                    f"{key!r} cannot be overridden by a task list; it is set by the runner "
                    f"config (got {show(value[key])})"
                )
            elif key == "needs_gpu" and (in_meta or path[:1] == ["tasks"]):
                # fractal's WorkflowTask meta holds it; a task list sets it once for all
                message = (
                    "'needs_gpu' belongs at the top level of the task list, beside 'name': "
                    f"it picks gpu_slurm_config for the whole list (got {show(value[key])})"
                )
            else:
                guess = closest(key, allowed) if isinstance(key, str) else None
                hint = "" if guess is None else f": did you mean {guess!r}?"
                message = f"unknown key {key!r}{hint} (expected one of: {', '.join(allowed)})"
            yield Problem(source=source, pointer=pointer(*path, key), message=message)
        return
    if kind == "required":
        missing = _missing_key(error)
        yield Problem(
            source=source,
            pointer=pointer(*path, missing),
            message=f"'{missing}' is required (got an object without it)",
        )
        return
    # jsonschema reports a bad key as the propertyNames subschema's own error
    # (e.g. "pattern"), located at the object; the key is the instance.
    if kind == "propertyNames" or "propertyNames" in list(error.relative_schema_path)[-2:]:
        yield Problem(
            source=source,
            pointer=pointer(*path, str(value)) if isinstance(value, str) else where,
            message=(
                f"a key of '{field}' must be {_expected(error) or 'a valid name'} "
                f"(got {show(value)})"
            ),
        )
        return
    if kind == "minItems" and error.validator_value == 1:
        yield Problem(
            source=source, pointer=where, message=f"'{field}' must be a non-empty list (got [])"
        )
        return
    if kind == "enum":
        choices: Any = error.validator_value
        options = " or ".join(repr(v) for v in choices)
        yield Problem(
            source=source, pointer=where, message=f"'{field}' must be {options} (got {show(value)})"
        )
        return
    expected = _expected(error)
    if expected is None:
        expected = _type_phrase(error.schema if isinstance(error.schema, dict) else {})
        if kind == "minLength":
            expected = "a non-empty string"
    yield Problem(
        source=source, pointer=where, message=f"'{field}' must be {expected} (got {show(value)})"
    )


def _missing_key(error: ValidationError) -> str:
    # jsonschema words it "'x' is a required property"; the key is the quoted part.
    match = re.match(r"'(.*)' is a required property", error.message)
    return match.group(1) if match else str(error.message)
