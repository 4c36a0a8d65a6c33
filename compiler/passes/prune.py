"""What of an input the schema refused is set aside, so the rest is checked for meaning.

The parse pass runs on every input, also one with schema problems: each value a schema
problem points at is taken out first (a key removed, a list item replaced by None), so
what remains has the shapes the parse pass reads, except that anything may be missing.
Only the objects and lists on the way to a refused value are copied.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_GONE = object()


def without(doc: Any, pointers: Iterable[str]) -> Any:
    """`doc` without the values at `pointers` (RFC 6901); None when one of them is the
    whole document."""
    paths = [_parts(p) for p in pointers]
    if any(not path for path in paths):
        return None
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for part in path[:-1]:
            child = node.get(part)
            if child is _GONE:
                break
            node = node.setdefault(part, {})
        else:
            node[path[-1]] = _GONE
    return _cut(doc, tree)


def _cut(value: Any, tree: dict[str, Any]) -> Any:
    if type(value) is dict:
        out = dict(value)
        for key, sub in tree.items():
            if key in out:
                if sub is _GONE:
                    del out[key]
                else:
                    out[key] = _cut(out[key], sub)
        return out
    if type(value) is list:
        items = list(value)
        for key, sub in tree.items():
            if key.isdigit() and int(key) < len(items):
                index = int(key)
                items[index] = None if sub is _GONE else _cut(items[index], sub)
        return items
    return value


def _parts(pointer: str) -> list[str]:
    if not pointer:
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]
