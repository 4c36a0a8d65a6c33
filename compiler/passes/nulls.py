"""Before pass 1: JSON `null` for an optional field means "unset", as in fractal-server.

Such keys are dropped before anything else looks at the inputs, so the schema, the
parse pass and the plan id see the input as if the key had never been written (the
plan of `"time": null` is the plan without it).  A required field that is null stays,
and the schema says so in its own words ("... (got null)").  Which fields are
optional the schemas say: each is read once into a tree of `Node`s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from slurmplan.compiler import package_files


@dataclass(frozen=True, slots=True)
class Node:
    """What an object (or a list of objects) of a schema may hold."""

    optional: frozenset[str] = frozenset()  # keys whose null is dropped
    children: dict[str, Node] = field(default_factory=dict)  # keys to walk into
    items: Node | None = None  # a list: each item's node


def without_nulls(name: str, doc: Any) -> Any:
    """`doc` with every null optional field of schemas/<name>.schema.json dropped;
    `doc` itself when there is none (nothing is copied then)."""
    return _walk(doc, optional_tree(name))


def task_list_top_without_nulls(doc: Any) -> Any:
    """A task list with its null optional fields dropped, except inside `tasks`,
    which may hold a million tasks: without_nulls("task_list", doc) does those too,
    and is needed only when the tasks are not valid as they are."""
    if type(doc) is not dict or "tasks" not in doc:
        return without_nulls("task_list", doc)
    rest = {key: value for key, value in doc.items() if key != "tasks"}
    cleaned = without_nulls("task_list", rest)
    if cleaned is rest:
        return doc
    return {**cleaned, "tasks": doc["tasks"]}


_DROP = object()


def _walk(value: Any, node: Node) -> Any:
    if type(value) is list:
        if node.items is None:
            return value
        walked = [_walk(item, node.items) for item in value]
        if all(new is old for new, old in zip(walked, value, strict=True)):
            return value
        return walked
    if type(value) is not dict:
        return value
    out: dict[str, Any] | None = None
    for key, item in value.items():
        if item is None:
            new: Any = _DROP if key in node.optional else item
        else:
            child = node.children.get(key) if type(key) is str else None
            new = item if child is None else _walk(item, child)
        if new is not item:
            if out is None:
                out = dict(value)
            if new is _DROP:
                del out[key]
            else:
                out[key] = new
    return value if out is None else out


@cache
def optional_tree(name: str) -> Node:
    """Where schemas/<name>.schema.json has optional fields: each object's, and the
    objects and lists to walk into to reach more."""
    return _node(package_files.schema(name), name)


def _resolved(schema: dict[str, Any], name: str) -> tuple[dict[str, Any], str]:
    """The schema a `$ref` points to, and the name of the file it is in."""
    while "$ref" in schema:
        file, _, fragment = str(schema["$ref"]).partition("#")
        if file:
            name = file.removesuffix(".schema.json")
        node: Any = package_files.schema(name)
        for part in filter(None, fragment.split("/")):
            node = node[part]
        schema = node
    return schema, name


def _node(schema: dict[str, Any], name: str) -> Node:
    schema, name = _resolved(schema, name)
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        items = _node(schema["items"], name)
        return Node(items=items) if items.optional or items.children else Node()
    required: set[str] = set()
    properties: dict[str, tuple[dict[str, Any], str]] = {}
    for piece in (schema, *schema.get("allOf", ())):
        part, part_name = _resolved(piece, name)
        required.update(part.get("required", ()))
        for key, sub in part.get("properties", {}).items():
            properties[key] = (sub, part_name)
    children = {}
    for key, (sub, sub_name) in properties.items():
        child = _node(sub, sub_name)
        if child.optional or child.children or child.items:
            children[key] = child
    return Node(optional=frozenset(properties) - required, children=children)
