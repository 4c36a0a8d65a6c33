"""Fetch through sudo: many files read by one `cat`, cut apart by a separator file.

`cat` is the only reading command the sudo rule allows, and one `cat` per file costs a
sudo each (7.5 ms on the testbed: 25 minutes for 100,000 tasks' logs).  One `cat` of
many files returns their contents with no boundaries, so the runner writes a file of
random bytes (the separator) and names it between every two files:

    cat -- /w/tasks/a.out SEP /w/tasks/a.err SEP /w/tasks/b.out

The output is cut at each copy of the separator.  Its parts are taken only when they
are exactly as many as the files and `cat` said nothing but that some names are not
files (batch_outcome); anything else (a file holding the separator, a read error, a
separator the user cannot read, a refusal by sudo) leaves the batch's files to be read
one `cat` each, as before.  A cut never depends on what a file holds: a copy of the
separator inside a file makes one part too many, which is refused.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from typing import NamedTuple

from slurmplan.compiler.plan import Plan
from slurmplan.compiler.runtime.commands import READ_CHUNK_BYTES
from slurmplan.compiler.runtime.fetch import Wanted
from slurmplan.compiler.transport import as_user

# Files per batch: spreads a sudo over many files, while a batch whose output passes
# BATCH_BYTES (held in memory until its command ends) is read again one file at a time.
BATCH_FILES = 1_000
BATCH_BYTES = 64 << 20

# What cat says of a name that is not a file it can read: reported as missing.
NOT_A_FILE = ("No such file or directory", "Is a directory", "Not a directory")
_NOT_A_FILE_LINE = re.compile(rf"cat: .*: (?:{'|'.join(NOT_A_FILE)})")
# Names cat writes as they are, never quoted: when every path of a batch is one, no line
# of cat's naming one path can be another path's quoted form.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._/+-]*")


def batches(files: Sequence[Wanted], separator_path: str) -> tuple[tuple[Wanted, ...], ...]:
    """`files` in runs for batch_argv: at most BATCH_FILES each, and their paths, each
    with a separator after it, within one argument list's READ_CHUNK_BYTES."""
    extra = len(shlex.quote(separator_path).encode()) + 1
    runs: list[tuple[Wanted, ...]] = []
    run: list[Wanted] = []
    size = 0
    for f in files:
        cost = len(shlex.quote(f.remote).encode()) + 1 + extra
        if run and (size + cost > READ_CHUNK_BYTES or len(run) == BATCH_FILES):
            runs.append(tuple(run))
            run, size = [], 0
        run.append(f)
        size += cost
    if run:
        runs.append(tuple(run))
    return tuple(runs)


def batch_argv(plan: Plan, batch: Sequence[Wanted], separator_path: str) -> tuple[str, ...]:
    """One `cat` as the user of the batch's files, the separator between each two."""
    paths: list[str] = []
    for f in batch:
        if paths:
            paths.append(separator_path)
        paths.append(f.remote)
    return as_user(plan.transport, ("cat", "--", *paths))


class Outcome(NamedTuple):
    """Indices into a batch: files read whole, files that are not files (missing), and
    files to read again one `cat` each."""

    read: tuple[int, ...]
    missing: tuple[int, ...]
    again: tuple[int, ...]


def batch_outcome(
    exit_code: int | None,
    stderr: str,
    parts: Sequence[bytes],
    paths: Sequence[str],
    separator_path: str,
) -> Outcome:
    """What a batch's `cat` of `paths` (exit code, stderr, output cut at each separator)
    says of each file.

    Exit 0 and a part per path: every part is its file.  Exit 1, a part per path, and
    every stderr line cat's word that a name other than the separator is not a file: a
    file that was not a file gave nothing, and the others were read whole.  When each
    line names one of `paths` as given (cat quotes a name with spaces or other special
    characters: then it does not), those files are missing and every other part is its
    file, empty or not (only when every path is plain: a path holding quotes could
    otherwise be another's quoted form).  Otherwise each non-empty part is its file,
    and the empty ones are the missing files (when as many as the lines) or empty files
    among them (else: each is read again).  Anything else: every file is read again.

    A separator that cat could not read leaves the parts uncut where it stood, and a
    file holding the separator's bytes could make up for it: a line naming the
    separator refuses the batch."""
    everything = tuple(range(len(paths)))
    if len(parts) != len(paths) or exit_code not in (0, 1):
        return Outcome((), (), everything)
    if exit_code == 0:
        return Outcome(everything, (), ())
    lines = stderr.splitlines()
    if not lines or not all(
        _NOT_A_FILE_LINE.fullmatch(line) and separator_path not in line for line in lines
    ):
        return Outcome((), (), everything)
    named = _named(lines, paths) if all(map(_PLAIN_PATH.fullmatch, paths)) else None
    if named is not None:
        if any(parts[i] for i in named):  # a file cat named gave bytes: not what cat does
            return Outcome((), (), everything)
        return Outcome(tuple(i for i in everything if i not in named), tuple(sorted(named)), ())
    empty = tuple(i for i, part in enumerate(parts) if not part)
    read = tuple(i for i, part in enumerate(parts) if part)
    if len(empty) == len(lines):
        return Outcome(read, empty, ())
    return Outcome(read, (), empty)


def alone_missing(exit_code: int | None, stderr: str, output: bytes) -> bool:
    """Whether a `cat` of one file says that file is missing: exit 1, no output, and
    stderr nothing but cat's one not-a-file line.  Anything else (sudo refusing with
    "No such file or directory" inside its own message, a read error) is not an answer
    about the file, and is left to the retry policy."""
    lines = stderr.splitlines()
    return (
        exit_code == 1 and not output and len(lines) == 1
        and _NOT_A_FILE_LINE.fullmatch(lines[0]) is not None
    )  # fmt: skip


def _named(lines: Sequence[str], paths: Sequence[str]) -> set[int] | None:
    """The indices of the paths cat's lines name, each line exactly `cat: <path>:
    <reason>`; None when a line names none of them so."""
    said: dict[str, list[int]] = {}
    for i, path in enumerate(paths):
        for reason in NOT_A_FILE:
            said.setdefault(f"cat: {path}: {reason}", []).append(i)
    named: set[int] = set()
    for line in lines:
        indices = said.get(line)
        if indices is None:
            return None
        named.update(indices)
    return named
