"""Writing fetched files below DEST: each folder made and opened once, no link written
through, every path checked to stay below DEST (effects.fetch and effects.fetch_sudo).
DEST itself is the caller's and followed as given; the folders fetch makes below it are
opened name by name without following a link, and a file already at a name is removed
and a new one created (O_EXCL), never rewritten: it may be a hard link to a file outside
DEST, or the very file being copied.  A file whose write fails (a full disk, Ctrl-C) is
removed again: no part of one stays, and the error names it.  (A temporary name and a
rename would also cover a kill -9, but cost 9 us a file on tmpfs, 40% more than the rest
of the write: +1.8 s on a fetch of 200,000 files that takes 4 to 5 s.)"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from pathlib import Path

from slurmplan.effects.open_folders import OpenFolders

# DEST is the caller's: its own path is followed as mkdir follows it; below it, no link
_DEST_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_DIR_FLAGS = _DEST_DIR_FLAGS | os.O_NOFOLLOW
# O_EXCL, not O_TRUNC: a file at the name is removed first (see _create)
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
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
    100,000 tasks writes 200,000 files into one `tasks/` folder; a few dozen folders are
    kept open, effects.open_folders); a context manager that closes the folders."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folders = OpenFolders()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *_: object) -> None:
        self.folders.close()

    def _folder(self, local: str) -> tuple[int, str]:
        """The open folder of `local` below root (made once) and its name there.  The
        path is checked again here (its folder once)."""
        folder, _, name = local.rpartition("/")
        at = self.folders.get(folder)
        checked = at is not None and name not in ("", ".", "..")  # its folder was
        if not checked and not plain_relative(local):
            raise ValueError(f"refusing to write {local!r}: not a plain path below {self.root}")
        if at is None:
            at = self._open_folder(folder)
        return at, name

    def _open_folder(self, folder: str) -> int:
        """`folder` below root, made and opened name by name relative to its parent's
        descriptor, never through a link (a planted DEST/tasks -> elsewhere)."""
        at = self.folders.get("")
        if at is None:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except FileExistsError:  # mkdir's errno for a file there: say what is wrong
                raise OSError(errno.ENOTDIR, "not a folder", str(self.root)) from None
            at = self.folders.put("", os.open(self.root, _DEST_DIR_FLAGS))
        done = ""
        for name in folder.split("/") if folder else ():
            done = f"{done}/{name}" if done else name
            below = self.folders.get(done)
            if below is None:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, dir_fd=at)
                try:
                    below = self.folders.put(done, os.open(name, _DIR_FLAGS, dir_fd=at))
                except OSError as error:
                    if error.errno in (errno.ELOOP, errno.ENOTDIR):
                        reason = "not a folder (a link there is not followed)"
                        raise OSError(error.errno, reason, str(self.root / done)) from None
                    raise OSError(error.errno, error.strerror, str(self.root / done)) from None
            at = below
        return at

    def _create(self, at: int, name: str, local: str, source: os.stat_result | None) -> int:
        """A new file `name` in the folder `at`.  Whatever is there is removed first (a
        hard link would carry the write outside DEST), unless it is `source`, the file
        being copied: removing or rewriting it would lose the task's file."""
        try:
            return os.open(name, _FILE_FLAGS, 0o666, dir_fd=at)
        except FileExistsError:
            pass
        if source is not None:
            there = os.stat(name, dir_fd=at, follow_symlinks=False)
            if (there.st_dev, there.st_ino) == (source.st_dev, source.st_ino):
                raise ValueError(f"refusing to write {self.root / local}: it is the file fetched")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=at)
        return os.open(name, _FILE_FLAGS, 0o666, dir_fd=at)

    def write_with(
        self, local: str, fill: Callable[[int], None], source: os.stat_result | None = None
    ) -> None:
        """The file `local` below root, new, its bytes written by `fill(fd)`; a link in
        its place is replaced, not written through; ValueError if it is `source` (the
        file being copied).  On failure the file is removed (no part of it stays) and
        the OSError names it."""
        at, name = self._folder(local)
        try:
            fd = self._create(at, name, local, source)
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

    def copy(self, local: str, source: int, source_stat: os.stat_result) -> None:
        """The rest of the open file `source` (its fstat: `source_stat`) as the file
        `local`, never written over `source` itself."""

        def fill(fd: int) -> None:
            while chunk := os.read(source, _COPY_BYTES):
                write_all(fd, chunk)

        self.write_with(local, fill, source_stat)
