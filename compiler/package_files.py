"""The static files the compiler is built from: JSON Schemas and Jinja2 templates.

They are part of the program, not input: read once, at import, from the
installed wheel (slurmplan/compiler/_bundled/, see pyproject.toml) or, in a source tree,
from the top-level schemas/ and templates/ folders.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

SCHEMA_NAMES = ("runner_config", "user_profile", "task_list", "plan")


def _folder(name: str) -> Traversable:
    bundled = resources.files("slurmplan.compiler") / "_bundled" / name
    if bundled.is_dir():
        return bundled
    source_tree = Path(__file__).resolve().parent.parent / name
    if source_tree.is_dir():
        return source_tree
    raise RuntimeError(f"slurmplan is installed without its {name}/ folder")


@cache
def schema(name: str) -> dict[str, Any]:
    """The JSON Schema `schemas/<name>.schema.json`."""
    loaded: dict[str, Any] = json.loads(
        _folder("schemas").joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    )
    return loaded


@cache
def template_text(name: str) -> str:
    """The Jinja2 source of `templates/<name>`."""
    return _folder("templates").joinpath(name).read_text(encoding="utf-8")
