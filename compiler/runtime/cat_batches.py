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
    exit_code: int | None, stderr: str, parts: Sequence[bytes], count: int, separator_path: str
) -> Outcome:
    """What a batch's `cat` (exit code, stderr, output cut at each separator) says of its
    `count` files.

    Exit 0 and `count` parts: every part is its file.  Exit 1, `count` parts, and every
    stderr line cat's word that a name other than the separator is not a file: a file
    that was not a file gave nothing, so each non-empty part is its file; the empty ones
    are those files (when as many as the lines) or empty files among them (else: each
    is read again).  Anything else: every file is read again.  A separator that cat
    could not read leaves the parts uncut where it stood, and a file holding the
    separator's bytes could make up for it: so a line naming the separator refuses all."""
    everything = tuple(range(count))
    if len(parts) != count or exit_code not in (0, 1):
        return Outcome((), (), everything)
    if exit_code == 0:
        return Outcome(everything, (), ())
    lines = stderr.splitlines()
    if not lines or not all(
        _NOT_A_FILE_LINE.fullmatch(line) and separator_path not in line for line in lines
    ):
        return Outcome((), (), everything)
    empty = tuple(i for i, part in enumerate(parts) if not part)
    read = tuple(i for i, part in enumerate(parts) if part)
    if len(empty) == len(lines):
        return Outcome(read, empty, ())
    return Outcome(read, (), empty)
