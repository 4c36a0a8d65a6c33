"""compiler/ is pure (docs/architecture.md §1): walk every module's AST for impure imports and
calls.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

COMPILER = Path(__file__).resolve().parent.parent / "compiler"

# Top-level modules whose import means I/O, clock, randomness, environment or processes.
FORBIDDEN_MODULES = frozenset(
    {
        "subprocess", "os", "socket", "time", "random", "uuid", "getpass", "secrets", "shutil",
        "tempfile", "threading", "asyncio", "urllib", "http", "effects", "multiprocessing",
        "concurrent", "signal", "select", "selectors", "pty", "ctypes", "sched",
    }
)  # fmt: skip
FORBIDDEN_BUILTINS = frozenset({"open", "input", "print", "breakpoint", "exec", "eval"})
# `<anything>.now()` etc.: datetime.now, datetime.datetime.now, date.today, ...
FORBIDDEN_METHODS = frozenset({"now", "today", "utcnow", "getenv", "urandom"})
DYNAMIC_IMPORTS = frozenset({"__import__", "import_module"})


def _root(module: str) -> str:
    return module.split(".", maxsplit=1)[0]


def offences(source: str, filename: str) -> list[str]:
    """Every impure construct in `source`, as '<filename>:<line>: <what>'."""
    found: list[str] = []

    def report(node: ast.AST, what: str) -> None:
        found.append(f"{filename}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _root(alias.name) in FORBIDDEN_MODULES:
                    report(node, f"imports '{alias.name}'")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 0 and _root(module) in FORBIDDEN_MODULES:
                report(node, f"imports from '{module}'")
            if node.level > 0 and _root(module) == "effects":  # `from ..effects import x`
                report(node, f"imports from '{'.' * node.level}{module}'")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                if func.id in FORBIDDEN_BUILTINS:
                    report(node, f"calls {func.id}()")
                elif func.id in DYNAMIC_IMPORTS:
                    report(node, f"imports dynamically with {func.id}()")
            elif isinstance(func, ast.Attribute):
                if func.attr in FORBIDDEN_METHODS:
                    report(node, f"calls .{func.attr}()")
                elif func.attr in DYNAMIC_IMPORTS:
                    report(node, f"imports dynamically with .{func.attr}()")
    return sorted(found, key=lambda text: int(text.split(":")[1]))


def _modules() -> list[Path]:
    return sorted(COMPILER.rglob("*.py"))


def test_the_walker_sees_the_whole_compiler() -> None:
    names = {path.name for path in _modules()}
    assert {"__init__.py", "compile.py", "render.py", "transport.py", "units.py"} <= names
    assert len(names) >= 15


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(COMPILER.parent)))
def test_compiler_module_is_pure(path: Path) -> None:
    name = str(path.relative_to(COMPILER.parent))
    found = offences(path.read_text(encoding="utf-8"), name)
    assert found == [], "impure code in the pure core:\n" + "\n".join(found)


IMPURE_SNIPPET = """\
import posixpath
import os
import os.path
from subprocess import run
import time as clock
from datetime import datetime
stamp = datetime.now()
day = datetime.date.today()
print("hi")
with open("/etc/passwd") as f:
    pass
import effects.cli
from effects import journal
mod = __import__("socket")
import importlib
importlib.import_module("shutil")
from urllib.request import urlopen
from http import client
import random, json
"""


def test_the_walker_catches_impure_code() -> None:
    assert offences(IMPURE_SNIPPET, "compiler/bad.py") == [
        "compiler/bad.py:2: imports 'os'",
        "compiler/bad.py:3: imports 'os.path'",
        "compiler/bad.py:4: imports from 'subprocess'",
        "compiler/bad.py:5: imports 'time'",
        "compiler/bad.py:7: calls .now()",
        "compiler/bad.py:8: calls .today()",
        "compiler/bad.py:9: calls print()",
        "compiler/bad.py:10: calls open()",
        "compiler/bad.py:12: imports 'effects.cli'",
        "compiler/bad.py:13: imports from 'effects'",
        "compiler/bad.py:14: imports dynamically with __import__()",
        "compiler/bad.py:16: imports dynamically with .import_module()",
        "compiler/bad.py:17: imports from 'urllib.request'",
        "compiler/bad.py:18: imports from 'http'",
        "compiler/bad.py:19: imports 'random'",
    ]


def test_the_walker_allows_pure_code() -> None:
    pure = "import posixpath\nimport json, re, shlex\nfrom dataclasses import dataclass\n"
    assert offences(pure, "compiler/good.py") == []
