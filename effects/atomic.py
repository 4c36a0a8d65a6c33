"""Writing files so that a reader never sees half of one: temp file, (fsync,) rename."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

from slurmplan.effects.input_files import UnusableFile, kind_of

# Files slurmplan writes (plans, scripts, golden files) may hold secrets (task env,
# extra lines): they get at most this mode, narrowed by the umask (0600 under 077).
FILE_MODE = 0o644


def _temporary(directory: str, mode: int) -> tuple[int, str]:
    """A new file beside the target, created with `mode` less the umask (as open(2)
    does: mkstemp would make it 0600 and only a chmod could widen it, past the umask)."""
    while True:
        path = os.path.join(directory, f".slurmplan-{os.urandom(8).hex()}.tmp")
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
            return os.open(path, flags, mode), path
        except FileExistsError:
            continue


def _refuse_what_is_not_a_file(path: str) -> None:
    """UnusableFile when `path` (a link followed) is a FIFO, a device or a socket: the
    rename would replace it (`-o /dev/null` as root replaced the device node), and
    what it is for was never a file to replace.  A folder fails at the rename, as it did."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # nothing there (or nothing reachable): the rename says what it says
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise UnusableFile(errno.EINVAL, f"is {kind_of(mode)}, not a regular file", path)


@contextlib.contextmanager
def atomic_file(path: str, mode: int = FILE_MODE, *, durable: bool = True) -> Iterator[BinaryIO]:
    """A binary file to write; it becomes `path` in one step when the block ends without error.

    Until then `path` keeps its old content (or stays absent): the bytes go to a
    temporary file in the same directory, so `os.replace` is a rename on one file
    system, and that file is removed again if anything fails before the rename
    (the block raising included). `durable` fsyncs the data before the rename, so
    that it survives a power cut; job scripts skip that (see docs/decisions.md):
    sbatch copies a script into slurmctld, and a script not yet submitted is
    written again by the next run.  The file gets `mode` less the umask, never more.
    Only a regular file (or a link, which is replaced itself) is replaced: anything else
    there is an OSError before anything is written.
    """
    _refuse_what_is_not_a_file(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = _temporary(directory, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def write_atomic(path: str, data: bytes, mode: int = FILE_MODE, *, durable: bool = True) -> None:
    """Write `data` to `path` in one step: the old file or the new one, never a mix."""
    with atomic_file(path, mode, durable=durable) as out:
        out.write(data)
