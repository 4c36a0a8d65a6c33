"""Strategies from the project's own JSON Schemas, through hypothesis-jsonschema.

hypothesis-jsonschema reads draft-07-like schemas without remote references, so each
schema is rewritten first: every `$ref` (also into a sibling schema file) is inlined,
2020-12 `prefixItems` becomes draft-07 `items` + `additionalItems`, a trailing `$` in a
pattern becomes `\\Z` (the compiler matches patterns against the whole string), and
arrays, open objects and free strings get small size limits so that examples stay
fast to generate.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from slurmplan.compiler import package_files

_DROP = frozenset({"$defs", "$schema", "$id", "title", "description"})
MAX_ITEMS = 3
MAX_PROPERTIES = 3
MAX_LENGTH = 12


def _target(ref: str, here: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    file, _, fragment = ref.partition("#")
    document = package_files.schema(file.removesuffix(".schema.json")) if file else here
    node: Any = document
    for part in filter(None, fragment.split("/")):
        node = node[part]
    return node, document


def _rewrite(node: Any, document: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_rewrite(item, document) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target, target_document = _target(node["$ref"], document)
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        return {**_rewrite(target, target_document), **_rewrite(siblings, document)}
    out = {
        key: _rewrite(value, document)
        for key, value in node.items()
        if key not in _DROP and not key.startswith("x-")
    }
    if "prefixItems" in out:
        out["additionalItems"] = out.get("items", True)
        out["items"] = out.pop("prefixItems")
    pattern = out.get("pattern")
    if isinstance(pattern, str) and pattern.endswith("$"):
        out["pattern"] = pattern[:-1] + r"\Z"
    kind = out.get("type")
    if kind == "array":
        out.setdefault("maxItems", MAX_ITEMS)
    elif kind == "object" and isinstance(out.get("additionalProperties"), dict):
        out.setdefault("maxProperties", MAX_PROPERTIES)
    elif kind == "string" and "pattern" not in out:
        out.setdefault("maxLength", MAX_LENGTH)
    return out


@cache
def draft07(name: str) -> dict[str, Any]:
    """`schemas/<name>.schema.json`, self-contained and sized for hypothesis-jsonschema."""
    schema = package_files.schema(name)
    rewritten: dict[str, Any] = _rewrite(schema, schema)
    return rewritten


@cache
def documents(name: str) -> st.SearchStrategy[Any]:
    """Documents shaped by the schema `name` (mostly valid; patterns may still differ)."""
    strategy: st.SearchStrategy[Any] = from_schema(draft07(name))
    return strategy
