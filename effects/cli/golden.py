"""Golden files of a plan: a folder an admin keeps under review, and a diff against it.

The golden form (`compiler/golden_form.py`) is `plan.json` plus `scripts/<basename>`
for each job's script, with the plan id written once and elsewhere as a placeholder,
so that a diff shows what changed and not the new id on every path. Other files in
the folder (such as the inputs kept beside a case) are not part of the golden form
and are left alone; only `scripts/` is checked for extras.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from slurmplan.compiler import Plan
from slurmplan.compiler.golden_form import PLAN_FILE, SCRIPTS_DIR, golden_texts, plan_json_of
from slurmplan.compiler.plan import PRIVATE_MODE, script_bytes
from slurmplan.effects.atomic import write_atomic


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
    return golden_file_bytes(plan.to_json())


def golden_file_bytes(doc: dict[str, Any]) -> dict[str, bytes]:
    """The golden files of a plan's JSON form (which need not be a valid plan)."""
    # plan.json is ASCII (JSON escapes); a script's raw argument bytes are lone surrogates.
    return {relative: script_bytes(text) for relative, text in golden_texts(doc).items()}


def read_plan_json(directory: str) -> dict[str, Any]:
    """The plan's JSON form back from a golden folder (OSError, KeyError when incomplete)."""
    texts: dict[str, str] = {}
    for relative in [PLAN_FILE, *_present_scripts(directory)]:
        with open(os.path.join(directory, relative), "rb") as f:
            texts[relative] = f.read().decode("utf-8", "surrogateescape")
    return plan_json_of(texts)


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
    return compare_files(golden_files(plan), directory)


def compare_files(expected: dict[str, bytes], directory: str) -> list[Difference]:
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


class UpdateFailed(Exception):
    """`update` could not finish; the folder is as it was.  str() follows '<folder>: '."""


def update(plan: Plan, directory: str) -> list[str]:
    """Make `directory` hold the plan's golden form; one line per file touched.

    All or nothing: the new `plan.json` and `scripts/` are written into a temporary
    folder inside `directory` (one file system), then `scripts/` is swapped whole and
    `plan.json` renamed over the old one; a failure before that (a full disk) leaves
    the folder as it was, and one during the swap puts `scripts/` back.  Other files
    of the folder are left alone; UpdateFailed says which file failed and why."""
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise UpdateFailed("is a file, not a folder of golden files")
    expected = golden_files(plan)
    differences = compare_files(expected, directory)
    if not differences:
        return []
    created = not os.path.exists(directory)
    try:
        os.makedirs(directory, exist_ok=True)
        stage = tempfile.mkdtemp(prefix=".slurmplan-update-", dir=directory)
    except OSError as error:
        raise UpdateFailed(f"cannot be updated: {error.strerror or error}") from None
    try:
        _write_stage(stage, expected)
        _swap(stage, directory)
    except UpdateFailed:
        if created:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    done: list[str] = []
    for difference in differences:
        path = os.path.join(directory, difference.relative)
        if difference.change is Change.EXTRA:
            done.append(f"removed {path}")
        else:
            done.append(f"{'wrote' if difference.change is Change.MISSING else 'updated'} {path}")
    return done


def _failed(relative: str, error: OSError) -> UpdateFailed:
    return UpdateFailed(
        f"cannot be updated: {relative}: {error.strerror or error}; nothing in it was changed"
    )


def _write_stage(stage: str, expected: dict[str, bytes]) -> None:
    os.mkdir(os.path.join(stage, SCRIPTS_DIR))
    for relative, data in expected.items():
        try:
            write_atomic(os.path.join(stage, relative), data, PRIVATE_MODE)  # env values
        except OSError as error:
            raise _failed(relative, error) from None


def _swap(stage: str, directory: str) -> None:
    """scripts/ whole, then plan.json, each a rename; scripts/ put back if plan.json fails."""
    scripts, old = os.path.join(directory, SCRIPTS_DIR), os.path.join(stage, "old-scripts")
    had_scripts = os.path.lexists(scripts)
    try:
        if had_scripts:
            os.rename(scripts, old)
        os.rename(os.path.join(stage, SCRIPTS_DIR), scripts)
    except OSError as error:
        if had_scripts and not os.path.lexists(scripts):
            os.rename(old, scripts)
        raise _failed(SCRIPTS_DIR, error) from None
    try:
        os.replace(os.path.join(stage, PLAN_FILE), os.path.join(directory, PLAN_FILE))
    except OSError as error:
        os.rename(scripts, os.path.join(stage, SCRIPTS_DIR))
        if had_scripts:
            os.rename(old, scripts)
        raise _failed(PLAN_FILE, error) from None


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
