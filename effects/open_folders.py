"""Open folder descriptors by path, at most OPEN_FOLDERS at once.

fetch opens each folder once and names files relative to it (no link followed, no path
parsed again), but a fetch of 100,000 tasks with outputs has a folder per task: keeping
them all open ran past the process's limit on open files (1,024 by default).  Files
come in task order, so the folders a task uses are used one after another and a few
dozen kept open lose nothing; the least recently used is closed first.
"""

from __future__ import annotations

import os
from collections import OrderedDict

OPEN_FOLDERS = 64


class OpenFolders:
    """A cache of open folder descriptors; `close()` closes those still open.  A
    descriptor from `get` or `put` stays open until the next `put` (at least two are
    kept: a folder and the one just opened in it)."""

    def __init__(self, limit: int = OPEN_FOLDERS) -> None:
        self._limit = max(limit, 2)
        self._fds: OrderedDict[str, int] = OrderedDict()

    def get(self, path: str) -> int | None:
        fd = self._fds.get(path)
        if fd is not None:
            self._fds.move_to_end(path)
        return fd

    def put(self, path: str, fd: int) -> int:
        """Keep `fd` as `path`'s (closing the least recently used past the limit)."""
        self._fds[path] = fd
        while len(self._fds) > self._limit:
            os.close(self._fds.popitem(last=False)[1])
        return fd

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
