"""Golden files of a plan: a folder an admin keeps under review, and a diff against it.

The golden form of a plan is `plan.json` (the canonical dump) plus
`scripts/<basename>` for each job's script, so reviewers read scripts as files.
Other files in the folder (such as the inputs kept beside a case) are not part
of the golden form and are left alone; only `scripts/` is checked for extras.
"""

from __future__ import annotations

import difflib
import os
import posixpath
from dataclasses import dataclass
from enum import StrEnum

from compiler import Plan
from compiler.plan import script_bytes
from effects.atomic import write_atomic
from effects.cli.plan_files import plan_bytes

PLAN_FILE = "plan.json"
SCRIPTS_DIR = "scripts"


class Change(StrEnum):
    CHANGED = "changed"
    MISSING = "missing"  # the plan has the file, the golden folder does not
    EXTRA = "extra"  # the golden folder has a script the plan does not


@dataclass(frozen=True, slots=True, kw_only=True)
class Difference:
    relative: str  # e.g. "scripts/job-000000.sbatch"
    change: Change
    diff: str  # a unified diff, golden -> plan


def golden_files(plan: Plan) -> dict[str, bytes]:
    """Relative path -> bytes of every file of the plan's golden form."""
    files = {PLAN_FILE: plan_bytes(plan)}
    for job in plan.jobs:
        relative = posixpath.join(SCRIPTS_DIR, posixpath.basename(job.script_path))
        assert relative not in files, f"two jobs share the script name {relative!r}"
        files[relative] = script_bytes(job.script)
    return files


def _present_scripts(directory: str) -> set[str]:
    root = os.path.join(directory, SCRIPTS_DIR)
    found: set[str] = set()
    for parent, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(parent, name)
            found.add(os.path.relpath(path, directory).replace(os.sep, "/"))
    return found


def _read(path: str) -> bytes | None:
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        return f.read()


def compare(plan: Plan, directory: str) -> list[Difference]:
    """Every difference between the plan's golden form and `directory`, in path order."""
    return _compare(golden_files(plan), directory)


def _compare(expected: dict[str, bytes], directory: str) -> list[Difference]:
    differences: list[Difference] = []
    for relative in sorted(expected.keys() | _present_scripts(directory)):
        new = expected.get(relative)
        old = _read(os.path.join(directory, relative))
        if old == new:
            continue
        change = Change.MISSING if old is None else Change.EXTRA if new is None else Change.CHANGED
        diff = unified_diff(relative, directory, old, new)
        differences.append(Difference(relative=relative, change=change, diff=diff))
    return differences


def update(plan: Plan, directory: str) -> list[str]:
    """Make `directory` hold the plan's golden form; one line per file touched."""
    expected = golden_files(plan)
    done: list[str] = []
    os.makedirs(os.path.join(directory, SCRIPTS_DIR), exist_ok=True)
    for difference in _compare(expected, directory):
        path = os.path.join(directory, difference.relative)
        if difference.change is Change.EXTRA:
            os.unlink(path)
            done.append(f"removed {path}")
        else:
            write_atomic(path, expected[difference.relative])
            done.append(f"{'wrote' if difference.change is Change.MISSING else 'updated'} {path}")
    return done


# Control characters (an argv may hold any) would act on the reader's terminal:
# diffs show them escaped. The comparison itself is on bytes.
_VISIBLE = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F] if c not in (0x09, 0x0A)}


def _lines(data: bytes | None) -> list[str]:
    if data is None:
        return []
    text = data.decode("utf-8", "backslashreplace").translate(_VISIBLE)
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1] + "\n\\ No newline at end of file\n")
    return lines


def unified_diff(relative: str, directory: str, old: bytes | None, new: bytes | None) -> str:
    """A unified diff from the golden file (old) to the plan's file (new)."""
    golden = os.path.join(directory, relative)
    return "".join(
        difflib.unified_diff(
            _lines(old),
            _lines(new),
            fromfile=f"{golden} (golden)" if old is not None else f"{golden} (missing)",
            tofile=f"{relative} (plan)" if new is not None else f"{relative} (not in the plan)",
        )
    )
