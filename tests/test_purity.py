"""compiler/ is pure (docs/architecture.md §1): walk every module's AST; each import must name
a module of an explicit allow-list, and no call or attribute may reach files, the process,
the clock, randomness or the environment.

An allow-list, not a deny-list: a module nobody thought of (pathlib, io, builtins, ...) fails
until someone decides it is pure and says why here.  Some allowed modules also have impure
members (posixpath.expanduser reads the environment, io.open opens files, sys.stdin is the
process's input); for those only the members named below may be imported or used.
compiler/package_files.py is the one module that reads files (the schemas and templates
shipped with the package) and has its own, smaller allow-list.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import pytest
from module_imports import Import, imports

ROOT = Path(__file__).resolve().parent.parent
COMPILER = ROOT / "compiler"

ANY = None  # every member of the module may be used
Allowed = Mapping[str, frozenset[str] | None]

_POSIXPATH_STRINGS = frozenset(
    {"basename", "commonpath", "commonprefix", "dirname", "isabs", "join", "normcase",
     "normpath", "split", "splitext", "sep", "curdir", "pardir", "extsep"}
)  # fmt: skip
_JINJA2_FROM_STRINGS = frozenset(
    {"Environment", "StrictUndefined", "TemplateError", "TemplateSyntaxError", "UndefinedError"}
)

ALLOWED: Allowed = {
    # Pure standard library: types, data structures, text, hashing, JSON text.
    "__future__": ANY,
    "array": ANY,
    "collections": ANY,
    "collections.abc": ANY,
    "dataclasses": ANY,
    "enum": ANY,
    "functools": ANY,
    "hashlib": ANY,
    "itertools": ANY,
    "json": ANY,  # load/dump take an open file, which nothing here can open
    "operator": ANY,
    "re": ANY,
    "string": ANY,
    "typing": ANY,
    # Path strings only: posixpath also has abspath/relpath (the working directory),
    # expanduser/expandvars (the environment), exists/isdir/getsize/realpath/... (the
    # file system), none of them listed.
    "posixpath": _POSIXPATH_STRINGS,
    # shlex.shlex() reads sys.stdin when it is given no stream: the functions only.
    "shlex": frozenset({"join", "quote", "split"}),
    # passes/plan_id.py hashes integers little-endian whatever the machine's order
    # (sys.byteorder); the rest of sys is the process (stdin/stdout/stderr, argv, exit,
    # path, modules, setrecursionlimit, ...).
    "sys": frozenset({"byteorder"}),
    # runtime/upload.py builds the scripts' tar in memory: io's in-memory buffers only
    # (io.open, io.FileIO, io.open_code open files).
    "io": frozenset({"BytesIO", "StringIO"}),
    # ... and tarfile over that buffer: tarfile.open only with fileobj= and no file name
    # (checked at each call, see _tar_open_problem), the archive object only through
    # TAR_OBJECT_MEMBERS (TarFile.add and .extract* read and write files).  TarFile and
    # is_tarfile take a file name: not listed.
    "tarfile": frozenset({"open", "TarInfo", "USTAR_FORMAT", "GNU_FORMAT", "PAX_FORMAT"}),
    # Templates compiled from strings (package_files reads them); jinja2's loaders
    # (FileSystemLoader, PackageLoader, ModuleLoader) read files: not listed.
    "jinja2": _JINJA2_FROM_STRINGS,
    # Validation against the bundled schemas.  schemas.py gives jsonschema a
    # referencing.Registry of those schemas and no retrieve= function, so an unknown $ref
    # is an error, never a download (a `retrieve=` keyword is refused below).
    "jsonschema": ANY,
    "jsonschema.protocols": ANY,
    "referencing": ANY,
}
# The compiler itself, any sub-package and member (which sub-package may import which
# is tests/test_layers.py's business).
ALLOWED_PACKAGES = ("compiler",)

# compiler/package_files.py reads the JSON schemas and the Jinja template shipped with
# the package, once each (functools.cache): importlib.resources in a wheel, pathlib in
# a source tree, json to parse.  It may call .read_text(), nothing else that reads.
PACKAGE_FILES = "compiler/package_files.py"
PACKAGE_FILES_ALLOWED: Allowed = {
    "__future__": ANY,
    "functools": frozenset({"cache"}),
    "importlib": frozenset({"resources"}),
    "importlib.resources.abc": frozenset({"Traversable"}),
    "json": frozenset({"loads"}),
    "pathlib": frozenset({"Path"}),
    "typing": ANY,
}
PACKAGE_FILES_METHODS = frozenset({"read_text"})

# What the archive object of `with tarfile.open(fileobj=...) as tar` may be used for.
TAR_OBJECT_MEMBERS = frozenset(
    {"addfile", "close", "extractfile", "getmember", "getmembers", "getnames"}
)

# Calls by name: I/O, the terminal, code from strings, dynamic imports, leaving the process.
FORBIDDEN_BUILTINS = frozenset({"open", "input", "print", "breakpoint", "exec", "eval", "exit",
                                "quit"})  # fmt: skip
DYNAMIC_IMPORTS = frozenset({"__import__", "import_module"})
# `<anything>.<name>()`: files (Path.read_text, io.open, builtins.open, os.open, ...),
# the clock (datetime.now, date.today, ...), the environment, randomness.
FORBIDDEN_METHODS = frozenset(
    {"open", "read_text", "read_bytes", "write_text", "write_bytes", "now", "today", "utcnow",
     "getenv", "urandom"}
)  # fmt: skip
# `<name>.<attribute>` whether or not <name> was imported (e.g. passed in as an argument).
FORBIDDEN_ATTRIBUTES = frozenset(
    {("sys", "stdin"), ("sys", "stdout"), ("sys", "stderr"), ("sys", "__stdin__"),
     ("sys", "__stdout__"), ("sys", "__stderr__"), ("sys", "argv"), ("sys", "exit"),
     ("os", "environ"), ("os", "environb")}
)  # fmt: skip
FORBIDDEN_NAMES = frozenset({"__builtins__"})


def _is_allowed_module(module: str, allowed: Allowed, packages: tuple[str, ...]) -> bool:
    return module in allowed or any(
        module == package or module.startswith(package + ".") for package in packages
    )


class _Checker:
    def __init__(self, source: str, filename: str) -> None:
        self.filename = filename
        self.tree = ast.parse(source, filename=filename)
        exempt = filename == PACKAGE_FILES
        self.allowed = PACKAGE_FILES_ALLOWED if exempt else ALLOWED
        self.packages: tuple[str, ...] = () if exempt else ALLOWED_PACKAGES
        self.methods_allowed = PACKAGE_FILES_METHODS if exempt else frozenset()
        self.found: list[tuple[int, str]] = []
        self.bound: dict[str, str] = {}  # local name -> the module or member it stands for
        self.tar_objects: set[str] = set()  # names bound to tarfile.open(...) results
        self.parents: dict[ast.AST, ast.AST] = {
            child: node for node in ast.walk(self.tree) for child in ast.iter_child_nodes(node)
        }

    def report(self, node: ast.AST | int, what: str) -> None:
        line = node if isinstance(node, int) else getattr(node, "lineno", 0)
        self.found.append((line, what))

    def run(self) -> list[str]:
        for imp in imports(self.tree, self.filename):
            self.check_import(imp)
        for node in ast.walk(self.tree):  # names bound by imports, anywhere in the file
            if isinstance(node, ast.Import | ast.ImportFrom):
                self.bind(node)
        for node in ast.walk(self.tree):
            self.bind_tar_objects(node)
        for node in ast.walk(self.tree):
            self.check_node(node)
        self.found.sort(key=lambda item: item[0])
        return [f"{self.filename}:{line}: {what}" for line, what in self.found]

    # --- imports ---------------------------------------------------------------

    def check_import(self, imp: Import) -> None:
        if not imp.names:  # import a.b.c [as x]
            if not _is_allowed_module(imp.module, self.allowed, self.packages):
                self.report(imp.line, f"imports '{imp.module}'")
            return
        if not _is_allowed_module(imp.module, self.allowed, self.packages):
            resolved = "" if imp.text == imp.module else f" ({imp.module})"
            self.report(imp.line, f"imports from '{imp.text}'{resolved}")
            return
        members = self.allowed.get(imp.module, ANY)
        for name in imp.names:
            if members is not ANY and name not in members:
                self.report(imp.line, f"imports '{name}' from '{imp.module}'")

    def bind(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if isinstance(node, ast.Import):
                if alias.asname:
                    self.bound[alias.asname] = alias.name
                else:  # `import a.b` binds `a`
                    top = alias.name.split(".", maxsplit=1)[0]
                    self.bound[top] = top
            elif node.level == 0 and node.module and alias.name != "*":
                self.bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def qualified(self, node: ast.expr) -> str | None:
        """'tarfile.open' for `tarfile.open` or for `t.open` after `import tarfile as t`."""
        if isinstance(node, ast.Name):
            return self.bound.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.qualified(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def bind_tar_objects(self, node: ast.AST) -> None:
        pairs: list[tuple[ast.expr | None, ast.expr]] = []
        if isinstance(node, ast.withitem):
            pairs.append((node.optional_vars, node.context_expr))
        elif isinstance(node, ast.Assign):
            pairs.extend((target, node.value) for target in node.targets)
        for target, value in pairs:
            if (
                isinstance(target, ast.Name)
                and isinstance(value, ast.Call)
                and self.qualified(value.func) == "tarfile.open"
            ):
                self.tar_objects.add(target.id)

    # --- calls and attributes --------------------------------------------------

    def check_node(self, node: ast.AST) -> None:
        if isinstance(node, ast.Call):
            self.check_call(node)
        elif isinstance(node, ast.Attribute):
            self.check_attribute(node)
        elif isinstance(node, ast.Name):
            self.check_name(node)
        elif isinstance(node, ast.keyword) and node.arg == "retrieve":
            self.report(self.parents[node], "passes retrieve= (would fetch unknown $refs)")

    def check_call(self, node: ast.Call) -> None:
        func = node.func
        if self.qualified(func) == "tarfile.open":  # also `from tarfile import open as o`
            problem = _tar_open_problem(node)
            if problem:
                self.report(node, problem)
        elif isinstance(func, ast.Name):
            if func.id in FORBIDDEN_BUILTINS:
                self.report(node, f"calls {func.id}()")
            elif func.id in DYNAMIC_IMPORTS:
                self.report(node, f"imports dynamically with {func.id}()")
        elif isinstance(func, ast.Attribute):
            if func.attr in DYNAMIC_IMPORTS:
                self.report(node, f"imports dynamically with .{func.attr}()")
            elif func.attr in FORBIDDEN_METHODS and func.attr not in self.methods_allowed:
                self.report(node, f"calls .{func.attr}()")

    def check_attribute(self, node: ast.Attribute) -> None:
        value = node.value
        if not isinstance(value, ast.Name):
            return
        if (value.id, node.attr) in FORBIDDEN_ATTRIBUTES:
            self.report(node, f"uses {value.id}.{node.attr}")
            return
        module = self.bound.get(value.id)
        members = self.allowed.get(module, ANY) if module else ANY
        if members is not ANY and node.attr not in members:
            self.report(node, f"uses {module}.{node.attr}")
        if value.id in self.tar_objects and node.attr not in TAR_OBJECT_MEMBERS:
            self.report(node, f"uses .{node.attr} of a tar archive")

    def check_name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_NAMES:
            self.report(node, f"uses {node.id}")
            return
        module = self.bound.get(node.id)
        if module is None or self.allowed.get(module, ANY) is ANY:
            return
        parent = self.parents.get(node)
        if not (isinstance(parent, ast.Attribute) and parent.value is node):
            # getattr(sys, name), f(io), x = sys: members would escape the check above
            self.report(node, f"uses the module {module} other than as {module}.<member>")


def _tar_open_problem(call: ast.Call) -> str | None:
    """tarfile.open on an in-memory buffer only: fileobj= given, no file name."""
    keywords = {keyword.arg for keyword in call.keywords}
    if call.args or "name" in keywords or None in keywords:
        return "calls tarfile.open() with a file name (only fileobj= is pure)"
    if "fileobj" not in keywords:
        return "calls tarfile.open() without fileobj="
    return None


def offences(source: str, filename: str) -> list[str]:
    """Every impure construct in `source`, as '<filename>:<line>: <what>'."""
    return _Checker(source, filename).run()


def _modules() -> list[Path]:
    return sorted(COMPILER.rglob("*.py"))


def test_the_walker_sees_the_whole_compiler() -> None:
    paths = [str(path.relative_to(ROOT)) for path in _modules()]
    names = {Path(path).name for path in paths}
    assert {"__init__.py", "compile.py", "render.py", "transport.py", "units.py"} <= names
    assert PACKAGE_FILES in paths
    for package in ("passes", "slurm", "runtime", "importers"):
        assert f"compiler/{package}/__init__.py" in paths
    assert "compiler/importers/fractal.py" in paths
    assert len(paths) >= 25


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_compiler_module_is_pure(path: Path) -> None:
    name = str(path.relative_to(ROOT))
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
text = Path("x").read_text()
import io
data = io.open("f")
import builtins
raw = builtins.open("f")
import sys
line = sys.stdin.read()
home = os.environ["HOME"]
from pathlib import Path
"""


def test_the_walker_catches_impure_code() -> None:
    assert offences(IMPURE_SNIPPET, "compiler/bad.py") == [
        "compiler/bad.py:2: imports 'os'",
        "compiler/bad.py:3: imports 'os.path'",
        "compiler/bad.py:4: imports from 'subprocess'",
        "compiler/bad.py:5: imports 'time'",
        "compiler/bad.py:6: imports from 'datetime'",
        "compiler/bad.py:7: calls .now()",
        "compiler/bad.py:8: calls .today()",
        "compiler/bad.py:9: calls print()",
        "compiler/bad.py:10: calls open()",
        "compiler/bad.py:12: imports 'effects.cli'",
        "compiler/bad.py:13: imports from 'effects'",
        "compiler/bad.py:14: imports dynamically with __import__()",
        "compiler/bad.py:15: imports 'importlib'",
        "compiler/bad.py:16: imports dynamically with .import_module()",
        "compiler/bad.py:17: imports from 'urllib.request'",
        "compiler/bad.py:18: imports from 'http'",
        "compiler/bad.py:19: imports 'random'",
        "compiler/bad.py:20: calls .read_text()",
        "compiler/bad.py:22: calls .open()",
        "compiler/bad.py:22: uses io.open",
        "compiler/bad.py:23: imports 'builtins'",
        "compiler/bad.py:24: calls .open()",
        "compiler/bad.py:26: uses sys.stdin",
        "compiler/bad.py:27: uses os.environ",
        "compiler/bad.py:28: imports from 'pathlib'",
    ]


MISUSED_ALLOWED_MODULES = """\
import io, sys, tarfile, posixpath, shlex
import sys as system
from io import FileIO
from jinja2 import FileSystemLoader
from posixpath import expanduser
buffer = io.BytesIO()
with tarfile.open(fileobj=buffer, mode="w") as tar:
    tar.addfile(tarfile.TarInfo("a"), io.BytesIO(b""))
    tar.add("/etc/passwd")
with tarfile.open("plan.tar", "w") as named:
    named.extractall("/tmp")
tarfile.open(name="plan.tar")
tarfile.open(mode="r")
order = sys.byteorder
system.stdout.write("x")
stream = getattr(sys, "stdin")
home = posixpath.expanduser("~")
where = posixpath.abspath("x")
lexer = shlex.shlex()
registry = referencing.Registry(retrieve=fetch)
from tarfile import open as tar_open
archive = tar_open("plan.tar")
"""


def test_the_walker_sees_the_impure_members_of_allowed_modules() -> None:
    assert offences(MISUSED_ALLOWED_MODULES, "compiler/runtime/bad.py") == [
        "compiler/runtime/bad.py:3: imports 'FileIO' from 'io'",
        "compiler/runtime/bad.py:4: imports 'FileSystemLoader' from 'jinja2'",
        "compiler/runtime/bad.py:5: imports 'expanduser' from 'posixpath'",
        "compiler/runtime/bad.py:9: uses .add of a tar archive",
        "compiler/runtime/bad.py:10: calls tarfile.open() with a file name (only fileobj= is pure)",
        "compiler/runtime/bad.py:11: uses .extractall of a tar archive",
        "compiler/runtime/bad.py:12: calls tarfile.open() with a file name (only fileobj= is pure)",
        "compiler/runtime/bad.py:13: calls tarfile.open() without fileobj=",
        "compiler/runtime/bad.py:15: uses sys.stdout",
        "compiler/runtime/bad.py:16: uses the module sys other than as sys.<member>",
        "compiler/runtime/bad.py:17: uses posixpath.expanduser",
        "compiler/runtime/bad.py:18: uses posixpath.abspath",
        "compiler/runtime/bad.py:19: uses shlex.shlex",
        "compiler/runtime/bad.py:20: passes retrieve= (would fetch unknown $refs)",
        "compiler/runtime/bad.py:22: calls tarfile.open() with a file name (only fileobj= is pure)",
    ]


def test_relative_imports_are_checked_as_the_modules_they_name() -> None:
    snippet = "from . import quoting\nfrom ..plan import Plan\nfrom ... import effects\n"
    assert offences(snippet, "compiler/slurm/x.py") == [
        "compiler/slurm/x.py:3: imports from '...' (<beyond the top-level package>)",
    ]


def test_only_package_files_may_read_and_only_what_it_needs() -> None:
    reading = (
        "from importlib import resources\nfrom pathlib import Path\n"
        "text = Path(__file__).parent.joinpath('x').read_text(encoding='utf-8')\n"
    )
    assert offences(reading, PACKAGE_FILES) == []
    assert offences(reading, "compiler/layout.py") == [
        "compiler/layout.py:1: imports from 'importlib'",
        "compiler/layout.py:2: imports from 'pathlib'",
        "compiler/layout.py:3: calls .read_text()",
    ]
    more = (
        "import os\nfrom importlib import import_module\nimport re\n"
        "data = Path('x').read_bytes()\nopen('x')\n"
    )
    assert offences(more, PACKAGE_FILES) == [
        f"{PACKAGE_FILES}:1: imports 'os'",
        f"{PACKAGE_FILES}:2: imports 'import_module' from 'importlib'",
        f"{PACKAGE_FILES}:3: imports 're'",
        f"{PACKAGE_FILES}:4: calls .read_bytes()",
        f"{PACKAGE_FILES}:5: calls open()",
    ]


def test_the_walker_allows_pure_code() -> None:
    pure = (
        "import posixpath\nimport json, re, shlex\nfrom dataclasses import dataclass\n"
        "import io, sys, tarfile\nfrom compiler.plan import Plan\nfrom . import layout\n"
        "buffer = io.BytesIO()\n"
        "with tarfile.open(fileobj=buffer, mode='w', format=tarfile.USTAR_FORMAT) as tar:\n"
        "    tar.addfile(tarfile.TarInfo('a'), io.BytesIO(b''))\n"
        "big = sys.byteorder == 'big'\nname = posixpath.basename(shlex.quote('a'))\n"
    )
    assert offences(pure, "compiler/good.py") == []
