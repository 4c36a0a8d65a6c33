"""Fetch through sudo: `cat` as the user, many files per command with a separator file
between them (compiler.runtime.cat_batches); the files a batch could not tell apart,
one `cat` each.  `cat` follows a link, but reads only what the user may read."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from slurmplan.compiler import Plan
from slurmplan.compiler.runtime.cat_batches import (
    BATCH_BYTES,
    Outcome,
    alone_missing,
    batch_argv,
    batch_outcome,
    batches,
)
from slurmplan.compiler.runtime.commands import read_files_argv
from slurmplan.compiler.runtime.fetch import Wanted
from slurmplan.effects.execute import Completed, Executor
from slurmplan.effects.fetch_writer import Writer


def cat_batched(plan: Plan, executor: Executor, files: Sequence[Wanted], root: Path) -> set[str]:
    """Through sudo: a `cat` per batch of files with a separator file between them
    (compiler.runtime.cat_batches); the files a batch could not tell apart, one `cat`
    each."""
    got: set[str] = set()
    again: list[Wanted] = []
    with Writer(root) as write, _separator() as (path, separator):
        for batch in batches(files, path):
            if len(batch) == 1:
                again.extend(batch)
                continue
            outcome, parts = _read_batch(plan, executor, batch, path, separator)
            for i in outcome.read:
                write(batch[i].local, parts[i])
                got.add(batch[i].relative)
            again.extend(batch[i] for i in outcome.again)
        got.update(_cat_each(plan, executor, again, write))
    return got


@contextmanager
def _separator() -> Iterator[tuple[str, bytes]]:
    """A file of random bytes the user's `cat` can read, and those bytes; removed after.
    Readable by all (0644, not the umask): it holds nothing but the random bytes, and
    the user's cat runs as another user."""
    separator = f"\n--slurmplan-separator-{secrets.token_hex(32)}--\n".encode()
    fd, path = tempfile.mkstemp(prefix="slurmplan-separator-")
    try:
        try:
            os.write(fd, separator)
            os.fchmod(fd, 0o644)
        finally:
            os.close(fd)
        yield path, separator
    finally:
        os.unlink(path)


class _TooMuch(Exception):
    """A batch's output passed BATCH_BYTES: its files are read one at a time."""


class _Held:
    """A sink that keeps a batch's output, up to BATCH_BYTES."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.size = 0

    def __call__(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > BATCH_BYTES:
            raise _TooMuch
        self.pieces.append(bytes(piece))


def _read_batch(
    plan: Plan, executor: Executor, batch: Sequence[Wanted], path: str, separator: bytes
) -> tuple[Outcome, list[bytes]]:
    def answered(done: Completed) -> bool:  # batch_outcome reads a failure too
        return done.exit_code == 1

    try:
        done, held = executor.stream(batch_argv(plan, batch, path), sink=_Held, accept=answered)
    except _TooMuch:
        return Outcome((), (), tuple(range(len(batch)))), []
    parts = b"".join(held.pieces).split(separator)
    remotes = [f.remote for f in batch]
    return batch_outcome(done.exit_code, done.stderr, parts, remotes, path), parts


def _cat_each(plan: Plan, executor: Executor, files: Sequence[Wanted], write: Writer) -> set[str]:
    def missing(done: Completed) -> bool:
        return alone_missing(done.exit_code, done.stderr, done.stdout_bytes)

    got: set[str] = set()
    for f in files:
        done = executor.run(read_files_argv(plan, [f.remote]), accept=missing)
        if done.ok:
            write(f.local, done.stdout_bytes)
            got.add(f.relative)
    return got
