"""The imports of a Python source file, with relative imports made absolute.

Shared by test_purity.py (which modules compiler/ may import) and test_layers.py
(which of its sub-packages may import which).  Not a test module itself.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import PurePosixPath

# What a relative import climbing above the top-level package resolves to (Python
# refuses it at run time; the checks refuse it too, as a module nobody allows).
BEYOND_TOP = "<beyond the top-level package>"


@dataclass(frozen=True)
class Import:
    line: int
    module: str  # absolute: `from ..x import y` in compiler/passes/a.py gives 'compiler.x'
    names: tuple[str, ...]  # what `from module import ...` takes; () for `import module`
    text: str  # as written, for messages: 'os.path', 'subprocess', '..runtime'

    @property
    def targets(self) -> tuple[str, ...]:
        """Every module this import may load: the module, and for `from m import n`
        also 'm.n' (n may be a submodule: `from compiler import runtime`)."""
        prefix = f"{self.module}." if self.module else ""
        return (
            self.module,
            *(canonical(prefix + name) for name in self.names if name != "*"),
        )


def canonical(module: str) -> str:
    """The repo's name of a module: the installed `slurmplan.compiler.x` is the repo's
    `compiler.x` (pyproject.toml maps compiler/ and effects/ under slurmplan/), so the
    rules speak of compiler/ and effects/ whichever way a module is named."""
    for package in ("compiler", "effects"):
        full = f"slurmplan.{package}"
        if module == full or module.startswith(full + "."):
            return module.removeprefix("slurmplan.")
    return module


def package_of(filename: str) -> str:
    """The package a file's relative imports start from: compiler/passes/a.py and
    compiler/passes/__init__.py both give 'compiler.passes'."""
    return ".".join(PurePosixPath(filename).with_suffix("").parts[:-1])


def absolute(module: str | None, level: int, package: str) -> str:
    """The module `from <level dots><module> import ...` names, as importlib resolves it."""
    if level == 0:
        return module or ""
    bits = package.rsplit(".", level - 1)
    if not package or len(bits) < level:
        return BEYOND_TOP
    return f"{bits[0]}.{module}" if module else bits[0]


def imports(tree: ast.AST, filename: str) -> list[Import]:
    """Every import statement in `tree` (at any depth: in functions, under
    `if TYPE_CHECKING:`, in try blocks), in source order."""
    package = package_of(filename)
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(node.lineno, canonical(alias.name), (), alias.name))
        elif isinstance(node, ast.ImportFrom):
            module = canonical(absolute(node.module, node.level, package))
            text = "." * node.level + (node.module or "")
            found.append(
                Import(node.lineno, module, tuple(alias.name for alias in node.names), text)
            )
    return sorted(found, key=lambda imp: imp.line)
