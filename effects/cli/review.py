"""`slurmplan check` as a review: what changed, in a few lines, before the unified diff.

The summary names the files that differ with their removed and added lines, then the
distinct changed lines, each with how many files it changed in:
`#SBATCH --qos=normal → #SBATCH --qos=high  in 15 scripts`. A changed line is a removed
line paired with the added line in its place (within one hunk, a run of removals
followed by as many additions); a removal or addition with no partner is listed alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slurmplan.compiler.golden_form import PLAN_FILE
from slurmplan.effects.cli.golden import Change, Difference
from slurmplan.effects.cli.tables import table_lines

MAX_FILES = 10  # files listed one by one; the rest are counted
MAX_CHANGES = 20  # distinct changed lines listed; the rest are counted
MAX_LINE = 100  # characters of a line shown in the summary (the diff has it whole)


@dataclass(frozen=True, slots=True)
class _Edit:
    old: str | None
    new: str | None


_ID_LINE = '"plan_id": '
_DIGEST_LINE = '"digest": '


def _json_value(line: str) -> str:
    return line.strip().rstrip(",").split(": ", 1)[-1].strip('"')


def _counts(diff: str) -> tuple[int, int]:
    lines = diff.splitlines()
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    return removed, added


def _edits(diff: str) -> list[_Edit]:
    """The changed lines of one unified diff, paired where a run of removals is replaced
    by as many additions."""
    edits: list[_Edit] = []
    removed: list[str] = []
    added: list[str] = []

    def flush() -> None:
        if len(removed) == len(added):
            edits.extend(_Edit(old, new) for old, new in zip(removed, added, strict=True))
        else:
            edits.extend([*(_Edit(old, None) for old in removed),
                          *(_Edit(None, new) for new in added)])  # fmt: skip
        removed.clear()
        added.clear()

    for line in diff.splitlines():
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("-"):
            if added:  # a removal after additions starts a new run
                flush()
            removed.append(line[1:])
        elif line.startswith("+"):
            added.append(line[1:])
        else:
            flush()
    flush()
    return edits


def _n(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _short(line: str) -> str:
    line = line.strip()
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"


def _edit_text(edit: _Edit) -> str:
    if edit.old is None:
        return f"added   {_short(edit.new or '')}"
    if edit.new is None:
        return f"removed {_short(edit.old)}"
    return f"{_short(edit.old)} → {_short(edit.new)}"


def _where(files: Sequence[str]) -> str:
    scripts = sum(1 for f in files if f != PLAN_FILE)
    parts = []
    if scripts:
        parts.append(_n(scripts, "script"))
    if PLAN_FILE in files:
        parts.append(PLAN_FILE)
    return "in " + " and ".join(parts)


_CHANGE_WORDS = {
    Change.CHANGED: "changed",
    Change.MISSING: "new (not in the golden folder)",
    Change.EXTRA: "gone (not in the plan)",
}


def summary_lines(differences: Sequence[Difference], directory: str) -> list[str]:
    """The review's summary: files, line counts, and the distinct changed lines."""
    counted = [(d, *_counts(d.diff)) for d in differences]
    removed = sum(r for _, r, _ in counted)
    added = sum(a for _, _, a in counted)
    files = "file differs" if len(differences) == 1 else "files differ"
    lines = [f"{len(differences)} {files} from {directory}: {_n(removed, 'line')} removed, "
             f"{added} added"]  # fmt: skip
    rows = [(d.relative, f"-{r}", f"+{a}", _CHANGE_WORDS[d.change]) for d, r, a in counted]
    lines += table_lines(rows[:MAX_FILES], right=frozenset({1, 2}), indent="  ")
    if len(rows) > MAX_FILES:
        rest = counted[MAX_FILES:]
        lines.append(f"  ... and {len(rest)} more files: -{sum(r for _, r, _ in rest)} "
                     f"+{sum(a for _, _, a in rest)}")  # fmt: skip
    # Whole new or gone files are named above; their lines would only bury the changes.
    where: dict[_Edit, list[str]] = {}
    for difference in differences:
        if difference.change is not Change.CHANGED:
            continue
        for edit in _edits(difference.diff):
            found = where.setdefault(edit, [])
            if not found or found[-1] != difference.relative:
                found.append(difference.relative)
    # The id and the digest (a hash of the whole plan) change with any change:
    # one line says so, the diff has both lines.
    ids = [edit for edit in where if edit.old is not None and edit.new is not None
           and edit.old.lstrip().startswith(_ID_LINE) and edit.new.lstrip().startswith(_ID_LINE)
           and where[edit] == [PLAN_FILE]]  # fmt: skip
    for edit in ids:
        del where[edit]
        old, new = (_json_value(line) for line in (edit.old or "", edit.new or ""))
        lines.append(f"plan id {old} → {new} (in {PLAN_FILE}, with its digest)")
        for digest in [e for e in where if (e.old or "").lstrip().startswith(_DIGEST_LINE)]:
            del where[digest]
    if where:
        ranked = sorted(where.items(), key=lambda item: -len(item[1]))  # stable: diff order
        lines.append("changed lines:")
        lines += [f"  {_edit_text(edit)}  {_where(files)}" for edit, files in ranked[:MAX_CHANGES]]
        if len(ranked) > MAX_CHANGES:
            lines.append(f"  ... and {len(ranked) - MAX_CHANGES} more distinct changed "
                         "lines (see the diff)")  # fmt: skip
    return lines
