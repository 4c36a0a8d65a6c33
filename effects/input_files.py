"""Reading a file slurmplan is handed (plan, config, profile, task list, journal): a
regular file only, and at most MAX_FILE_BYTES of it.

A FIFO would block the command forever (no writer) and a device such as /dev/zero never
ends: both are refused before they are read, by a stat that opens nothing, and again on
the descriptor (opened with O_NONBLOCK, so a FIFO swapped in between cannot block).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable

# Far above any real file: a plan of 100,000 tasks is about 32 MB (1,000,000 tasks: 225 MB),
# a journal of 1,000 jobs about 170 KB. Past it the file is refused, not read into memory.
MAX_FILE_BYTES = 1 << 30
LIMIT_WORDS = "1 GiB (1,073,741,824 bytes)"

_KINDS: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class UnusableFile(OSError):
    """Not a regular file, or larger than the limit; str() is a phrase to put after the path."""

    def __str__(self) -> str:
        return str(self.strerror)


def kind_of(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    return next((words for test, words in _KINDS if test(mode)), "not a regular file")


def check_regular(info: os.stat_result, path: str, limit: int = MAX_FILE_BYTES) -> None:
    """UnusableFile unless `info` is a regular file of at most `limit` bytes."""
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
    if not stat.S_ISREG(info.st_mode):
        raise UnusableFile(errno.EINVAL, f"is {kind_of(info.st_mode)}, not a regular file", path)
    if info.st_size > limit:
        raise too_large(path, limit, f"it holds {info.st_size:,} bytes")


def too_large(path: str, limit: int, holds: str = "") -> UnusableFile:
    words = LIMIT_WORDS if limit == MAX_FILE_BYTES else f"{limit:,} bytes"
    return UnusableFile(
        errno.EFBIG, f"is larger than the {words} slurmplan reads of a file ({holds})", path
    )


def read_regular(path: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file `path` (a link to one is followed).

    OSError as open(2) gives it (FileNotFoundError, PermissionError, IsADirectoryError),
    or UnusableFile for anything else than a regular file, or one past `limit` bytes
    (also when it grows past it while being read).
    """
    check_regular(os.stat(path), path, limit)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        info = os.fstat(fd)
        check_regular(info, path, limit)
        return read_up_to(fd, info.st_size, path, limit)
    finally:
        os.close(fd)


def read_up_to(fd: int, size: int, path: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """All of `fd` from where it stands, `size` bytes expected: one read when it holds
    what fstat said (one byte more asked, to see it grew), UnusableFile past `limit`."""
    chunks: list[bytes] = []
    total, want = 0, size + 1
    while True:
        chunk = os.read(fd, min(want, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)  # one chunk: joined without a copy
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise too_large(path, limit, "it grew past that while being read")
        want = 1 << 20
