"""Writing files so that a reader never sees half of one: temp file, (fsync,) rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import BinaryIO


@contextlib.contextmanager
def atomic_file(path: str, mode: int = 0o644, *, durable: bool = True) -> Iterator[BinaryIO]:
    """A binary file to write; it becomes `path` in one step when the block ends without error.

    Until then `path` keeps its old content (or stays absent): the bytes go to a
    temporary file in the same directory, so `os.replace` is a rename on one file
    system, and that file is removed again if anything fails before the rename
    (the block raising included). `durable` fsyncs the data before the rename, so
    that it survives a power cut; job scripts skip that (see docs/decisions.md):
    sbatch copies a script into slurmctld, and a script not yet submitted is
    written again by the next run.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".slurmplan-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fchmod(out.fileno(), mode)  # mkstemp makes 0600; umask does not apply here
            if durable:
                os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def write_atomic(path: str, data: bytes, mode: int = 0o644, *, durable: bool = True) -> None:
    """Write `data` to `path` in one step: the old file or the new one, never a mix."""
    with atomic_file(path, mode, durable=durable) as out:
        out.write(data)
