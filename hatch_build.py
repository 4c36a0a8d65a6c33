"""Puts the repo's compiler/ and effects/ into the wheel as slurmplan/compiler and
slurmplan/effects, and schemas/ and templates/ inside the compiler (pyproject.toml's wheel
hook; compiler/package_files.py finds them there).

A hook, not `force-include` in pyproject.toml: hatchling copies force-included files into
an editable install too, where they would sit in site-packages as a stale second copy; an
editable install finds them in the checkout, the code through the links
slurmplan/compiler and slurmplan/effects.
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

MAPPED = {
    "compiler": "slurmplan/compiler",
    "effects": "slurmplan/effects",
    "schemas": "slurmplan/compiler/_bundled/schemas",
    "templates": "slurmplan/compiler/_bundled/templates",
}


class MapPackagesHook(BuildHookInterface):  # type: ignore[misc]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "standard":
            build_data["force_include"].update(MAPPED)
