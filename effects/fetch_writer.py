"""Writing fetched files below DEST: each folder made and opened once, no link written
through, every path checked to stay below DEST (effects.fetch and effects.fetch_sudo)."""

from __future__ import annotations

import os
from pathlib import Path

# DEST is the caller's: its folders are followed as mkdir follows them
_DEST_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def plain_relative(path: str) -> bool:
    """A relative path of names, none empty, '.' or '..': it stays below its folder."""
    return all(part not in ("", ".", "..") for part in path.split("/"))


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

    def open(self, local: str) -> int:
        """A new file at `local` below root (its folder made once), for writing.  The
        path is checked again here (its folder once), and a link in its place is not
        written through."""
        folder, _, name = local.rpartition("/")
        at = self.folders.get(folder)
        checked = at is not None and name not in ("", ".", "..")  # its folder was
        if not checked and not plain_relative(local):
            raise ValueError(f"refusing to write {local!r}: not a plain path below {self.root}")
        if at is None:
            (self.root / folder).mkdir(parents=True, exist_ok=True)
            at = self.folders[folder] = os.open(self.root / folder, _DEST_DIR_FLAGS)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        return os.open(name, flags, 0o666, dir_fd=at)

    def __call__(self, local: str, data: bytes | memoryview) -> None:
        fd = self.open(local)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
