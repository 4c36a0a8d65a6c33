"""Writing fetched files below DEST: each folder made and opened once, no link written
through, every path checked to stay below DEST (effects.fetch and effects.fetch_sudo).
A file whose write fails (a full disk, Ctrl-C) is removed again: no part of one stays,
and the error names it.  (A temporary name and a rename would also cover a kill -9, but
cost 9 us a file on tmpfs, 40% more than the rest of the write: +1.8 s on a fetch of
200,000 files that takes 4 to 5 s.)"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

# DEST is the caller's: its folders are followed as mkdir follows them
_DEST_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
_COPY_BYTES = 1 << 20


def plain_relative(path: str) -> bool:
    """A relative path of names, none empty, '.' or '..': it stays below its folder."""
    return all(part not in ("", ".", "..") for part in path.split("/"))


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Writer:
    """Writes fetched files under `root`, making and opening each folder once (a fetch of
    100,000 tasks writes 200,000 files into one `tasks/` folder); a context manager that
    closes the folders."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folders: dict[str, int] = {}

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *_: object) -> None:
        for fd in self.folders.values():
            os.close(fd)
        self.folders.clear()

    def _folder(self, local: str) -> tuple[int, str]:
        """The open folder of `local` below root (made once) and its name there.  The
        path is checked again here (its folder once)."""
        folder, _, name = local.rpartition("/")
        at = self.folders.get(folder)
        checked = at is not None and name not in ("", ".", "..")  # its folder was
        if not checked and not plain_relative(local):
            raise ValueError(f"refusing to write {local!r}: not a plain path below {self.root}")
        if at is None:
            (self.root / folder).mkdir(parents=True, exist_ok=True)
            at = self.folders[folder] = os.open(self.root / folder, _DEST_DIR_FLAGS)
        return at, name

    def write_with(self, local: str, fill: Callable[[int], None]) -> None:
        """The file `local` below root, its bytes written by `fill(fd)`; a link in its
        place is not written through.  On failure the file is removed (no part of it
        stays) and the OSError names it."""
        at, name = self._folder(local)
        try:
            fd = os.open(name, _FILE_FLAGS, 0o666, dir_fd=at)
        except OSError as error:
            raise OSError(error.errno, error.strerror, str(self.root / local)) from None
        try:
            try:
                fill(fd)
            finally:
                os.close(fd)
        except BaseException as error:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=at)
            if isinstance(error, OSError):
                raise OSError(error.errno, error.strerror, str(self.root / local)) from None
            raise

    def __call__(self, local: str, data: bytes | memoryview) -> None:
        self.write_with(local, lambda fd: write_all(fd, data))

    def copy(self, local: str, source: int) -> None:
        """The rest of the open file `source` as the file `local`."""

        def fill(fd: int) -> None:
            while chunk := os.read(source, _COPY_BYTES):
                write_all(fd, chunk)

        self.write_with(local, fill)
