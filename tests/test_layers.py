"""The layers of compiler/ import downwards only (docs/architecture.md): slurm/ (Slurm's own
formats and rules) knows nothing of passes/ or runtime/; passes/ (checking and building a
plan) knows nothing of runtime/ (what happens once a plan runs); nothing in compiler/
imports the effects layer.

Every import counts: absolute or relative, `from compiler import runtime` as much as
`import compiler.runtime.commands`, inside functions and under `if TYPE_CHECKING:` too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from module_imports import imports

ROOT = Path(__file__).resolve().parent.parent
COMPILER = ROOT / "compiler"

# (files under this folder, may not import these packages, why)
RULES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("compiler/passes/", ("compiler.runtime",), "passes/ builds plans; runtime/ runs them"),
    (
        "compiler/slurm/",
        ("compiler.passes", "compiler.runtime"),
        "slurm/ is Slurm's vocabulary, below the passes and the run-time",
    ),
    ("compiler/", ("effects",), "compiler/ is pure; effects/ is built on it"),
)


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_offences(source: str, filename: str) -> list[str]:
    """Every import in `source` that crosses a layer upwards, as '<file>:<line>: <what>'."""
    found: list[str] = []
    tree = ast.parse(source, filename=filename)
    for folder, forbidden, why in RULES:
        if not filename.startswith(folder):
            continue
        for imp in imports(tree, filename):
            hits = sorted({p for t in imp.targets for p in forbidden if _within(t, p)})
            for package in hits:
                found.append(f"{filename}:{imp.line}: imports {package} ({why})")
    return sorted(found, key=lambda text: int(text.split(":")[1]))


def _modules() -> list[Path]:
    return sorted(COMPILER.rglob("*.py"))


def test_the_walker_sees_every_layer() -> None:
    paths = {str(path.relative_to(ROOT)) for path in _modules()}
    for folder, _, _ in RULES:
        assert any(path.startswith(folder) for path in paths), folder
    for package in ("passes", "slurm", "runtime"):
        assert f"compiler/{package}/__init__.py" in paths
    assert {"compiler/passes/render.py", "compiler/slurm/units.py"} <= paths
    assert "compiler/runtime/commands.py" in paths


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_compiler_module_imports_downwards(path: Path) -> None:
    name = str(path.relative_to(ROOT))
    found = layer_offences(path.read_text(encoding="utf-8"), name)
    assert found == [], "an import against the layers:\n" + "\n".join(found)


UPWARDS_FROM_PASSES = """\
import compiler.runtime
import compiler.runtime.commands as commands
from compiler.runtime.rounds import submit_round
from compiler import runtime
from ..runtime import settle
from .. import runtime as rt
import effects
from effects.cli import main
from compiler.slurm import units
from compiler import layout, plan
from . import parse
from .batch import choose
from compiler.runtimes import other
def late():
    from compiler.runtime.commands import chunked
"""

PASSES = "compiler/passes/bad.py"
WHY_PASSES = "(passes/ builds plans; runtime/ runs them)"
WHY_PURE = "(compiler/ is pure; effects/ is built on it)"


def test_the_walker_catches_passes_importing_the_runtime_or_effects() -> None:
    assert layer_offences(UPWARDS_FROM_PASSES, PASSES) == [
        f"{PASSES}:1: imports compiler.runtime {WHY_PASSES}",
        f"{PASSES}:2: imports compiler.runtime {WHY_PASSES}",
        f"{PASSES}:3: imports compiler.runtime {WHY_PASSES}",
        f"{PASSES}:4: imports compiler.runtime {WHY_PASSES}",
        f"{PASSES}:5: imports compiler.runtime {WHY_PASSES}",
        f"{PASSES}:6: imports compiler.runtime {WHY_PASSES}",
        f"{PASSES}:7: imports effects {WHY_PURE}",
        f"{PASSES}:8: imports effects {WHY_PURE}",
        f"{PASSES}:15: imports compiler.runtime {WHY_PASSES}",
    ]


UPWARDS_FROM_SLURM = """\
from compiler.passes.parse import Layer
from ..passes import batch
from .. import passes
import compiler.runtime.rounds
from ..runtime.commands import chunked
from . import units
from compiler.plan import Plan
from ..errors import Problem
"""


def test_the_walker_catches_slurm_importing_passes_or_the_runtime() -> None:
    slurm = "compiler/slurm/bad.py"
    why = "(slurm/ is Slurm's vocabulary, below the passes and the run-time)"
    assert layer_offences(UPWARDS_FROM_SLURM, slurm) == [
        f"{slurm}:1: imports compiler.passes {why}",
        f"{slurm}:2: imports compiler.passes {why}",
        f"{slurm}:3: imports compiler.passes {why}",
        f"{slurm}:4: imports compiler.runtime {why}",
        f"{slurm}:5: imports compiler.runtime {why}",
    ]


def test_the_walker_catches_any_compiler_module_importing_effects() -> None:
    snippet = "import effects.journal\nfrom effects import cli\nimport compiler.runtime\n"
    for name in ("compiler/plan.py", "compiler/runtime/bad.py", "compiler/slurm/bad.py"):
        found = layer_offences(snippet, name)
        assert f"{name}:1: imports effects {WHY_PURE}" in found
        assert f"{name}:2: imports effects {WHY_PURE}" in found
    # the root and runtime/ may import the runtime; effects/ itself is not checked here
    assert layer_offences(snippet, "compiler/plan.py")[2:] == []
    assert layer_offences(snippet, "compiler/runtime/bad.py")[2:] == []
    assert layer_offences(snippet, "effects/submit.py") == []
