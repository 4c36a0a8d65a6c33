"""effects/ is the shell core and effects/cli/ the command line on top: the core never
imports the command line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

EFFECTS = Path(__file__).resolve().parent.parent / "effects"
CORE = sorted(EFFECTS.glob("*.py"))  # effects/*.py, not effects/cli/


def _imported(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return names


def test_the_core_and_the_cli_are_where_the_layout_says() -> None:
    assert {"execute.py", "journal.py", "submit.py", "observe.py", "cancel.py"} <= {
        path.name for path in CORE
    }
    assert (EFFECTS / "cli" / "__init__.py").is_file()


@pytest.mark.parametrize("path", CORE, ids=lambda p: f"effects/{p.name}")
def test_the_core_does_not_import_the_command_line(path: Path) -> None:
    upward = [
        name
        for name in _imported(path)
        if name.startswith(("effects.cli", "slurmplan.effects.cli"))
    ]
    assert upward == [], f"effects/{path.name} imports the command line: {upward}"
