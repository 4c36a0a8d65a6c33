"""Run.fetch: copy tasks' stdout, stderr and output files from the cluster into a local folder.

Locally the files are copied; through sudo they are read with `cat` as the user (the
only reading command the sudo rule allows), many per `cat` with a separator file
between them (effects.fetch_sudo); over ssh one `tar` streams them all
(compiler.runtime.fetch).  Logs land at DEST/tasks/<id>.out and .err, as in the
workdir, a task's output files at DEST/tasks/<id>.outputs/<path> (effects.fetch_writer
writes them).  Every file that could be read is written before a missing one is
reported.

The workdir is the user's: a task may leave a symbolic link, a folder or a FIFO where
a file is expected.  None is followed or read (a link to the runner's own files would
be copied home as the task's output; a FIFO would block): locally every name is opened
without following links; over ssh tar stores a link as a link, which is not taken.
Through sudo `cat` follows a link, but reads only what the user may read.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from slurmplan.compiler import Plan
from slurmplan.compiler.errors import Refused, SlurmplanError
from slurmplan.compiler.runtime.fetch import (
    Wanted,
    changed_while_read,
    files_of,
    missing_by_task,
    not_ended,
    spoiled_by_change,
    tar_argv,
    tar_names,
)
from slurmplan.compiler.runtime.settle import TaskResults
from slurmplan.compiler.runtime.tar_reader import TarReader
from slurmplan.compiler.transport import TransportKind
from slurmplan.effects.collector import collector_paused
from slurmplan.effects.errors import ExecutionError
from slurmplan.effects.execute import Completed, Executor
from slurmplan.effects.fetch_sudo import cat_batched
from slurmplan.effects.fetch_writer import Writer, plain_relative
from slurmplan.effects.open_folders import OpenFolders


class FetchIncomplete(SlurmplanError):
    """Some requested files were not fetched, the others were: `missing` (task -> paths)
    are not on the cluster as regular files (a task killed before it wrote them, or
    that did not write an output it names); `not_ended` (task -> state) are tasks that
    did not end in this run, whose files were not even looked for (an earlier run's
    would pass for this run's)."""

    def __init__(
        self,
        fetched: Mapping[str, Path],
        missing: Mapping[str, list[str]],
        not_ended: Mapping[str, str] | None = None,
    ) -> None:
        self.fetched = dict(fetched)
        self.missing = dict(missing)
        self.not_ended = dict(not_ended or {})
        said = []
        if self.not_ended:
            task, state = next(iter(self.not_ended.items()))
            said.append(
                f"{len(self.not_ended)} task(s) did not end in this run, so nothing of theirs "
                f"was fetched (first: task {task}: {state})"
            )
        if self.missing:
            task, paths = next(iter(self.missing.items()))
            said.append(
                f"{sum(map(len, self.missing.values()))} file(s) of {len(self.missing)} task(s) "
                f"are not on the cluster as regular files (first: task {task}: {', '.join(paths)})"
            )
        super().__init__(f"{'; '.join(said)}; the other {len(self.fetched)} were fetched")


def fetch(
    plan: Plan,
    executor: Executor,
    dest: str | os.PathLike[str],
    chosen: Sequence[str],
    results: TaskResults,
) -> dict[str, Path]:
    """Copy the files of the `chosen` tasks (compiler.runtime.fetch.chosen_tasks) that
    ended in this run (`results`, one observation) into `dest`; returns {path on the
    cluster: local path}.  Raises FetchIncomplete (after copying the rest) when some do
    not exist or some tasks did not end."""
    root = Path(dest)
    if plan.transport.kind is not TransportKind.SSH:  # the workdir is on this machine
        refuse_dest_in_workdir(root, plan.workdir)
    unended = not_ended(results, chosen)
    with collector_paused():  # 200,000 records for 100,000 tasks, none in a cycle
        files = files_of(plan, [task for task in chosen if task not in unended])
    got: set[str] = set()
    match plan.transport.kind:
        case _ if not files:  # no task ended in this run: no command, nothing written
            pass
        case TransportKind.LOCAL:
            got = _copy(plan, files, root)
        case TransportKind.SUDO:
            got = cat_batched(plan, executor, files, root)
        case TransportKind.SSH:
            got = _tar_stream(plan, executor, files, root)
    with collector_paused():
        fetched = _local_paths(root, files, got)
    missing = missing_by_task(files, got)
    if missing or unended:
        raise FetchIncomplete(fetched, missing, unended)
    return fetched


def refuse_dest_in_workdir(dest: Path, workdir: str) -> None:
    """Refused (a ValueError) when `dest`, or the `tasks/` fetch writes into, is the
    workdir or below it (a link resolved): DEST/tasks/t0.out would be the log being read,
    and writing it would destroy it on the cluster.  (Writer also refuses to write over
    the very file it copies, whatever passed this check: a bind mount.)"""
    work = os.path.realpath(workdir)
    for place in (dest, dest / "tasks"):
        real = os.path.realpath(place)
        if real == work or real.startswith(work.rstrip("/") + "/"):
            raise Refused(
                f"refusing to fetch into {dest}: {place} is the plan's workdir {workdir}"
                f" or below it ({real}); fetch copies the workdir's files, choose a DEST"
                " outside it"
            )


def _local_paths(root: Path, files: Sequence[Wanted], got: set[str]) -> dict[str, Path]:
    """{path on the cluster: local path} of the files brought home.  Each folder's Path
    is made once and a file's is its child: on Python 3.11 `root / "tasks/a.out"` parses
    both names, twice the cost, and a fetch of 100,000 tasks returns 200,000 Paths."""
    folders: dict[str, Path] = {}
    paths: dict[str, Path] = {}
    for f in files:
        if f.relative in got:
            folder, _, name = f.local.rpartition("/")
            at = folders.get(folder)
            if at is None:
                at = folders[folder] = root / folder
            paths[f.remote] = at.joinpath(name)
    return paths


# Not a regular file there: missing, a link (O_NOFOLLOW), a link or file where a folder
# was expected, a socket.
_NOT_THERE = frozenset({errno.ENOENT, errno.ELOOP, errno.ENOTDIR, errno.ENXIO})
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO: no wait


def _open_regular(
    folder: int, relative: str, folders: OpenFolders
) -> tuple[int, os.stat_result] | None:
    """A descriptor of the regular file `relative` below the open folder, reached
    without following a link, and its fstat; None when there is none.  `folders` keeps the folders
    opened on the way, by path, for the next file (the caller closes them)."""
    parent, _, name = relative.rpartition("/")
    try:
        at = folder
        if parent:
            below = folders.get(parent)
            at = _open_folders(folder, parent, folders) if below is None else below
        fd = os.open(name, _FILE_FLAGS, dir_fd=at)
    except OSError as error:
        if error.errno in _NOT_THERE:
            return None
        raise
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode):
        os.close(fd)
        return None
    return fd, status


def _open_folders(folder: int, path: str, folders: OpenFolders) -> int:
    """The folder `path` below `folder`, opened name by name without following links."""
    at, done = folder, []
    for name in path.split("/"):
        done.append(name)
        key = "/".join(done)
        below = folders.get(key)
        at = folders.put(key, os.open(name, _DIR_FLAGS, dir_fd=at)) if below is None else below
    return at


def _copy(plan: Plan, files: Sequence[Wanted], root: Path) -> set[str]:
    got: set[str] = set()
    try:
        workdir = os.open(plan.workdir, _DIR_FLAGS)
    except OSError as error:
        if error.errno in _NOT_THERE:
            return got
        raise
    folders = OpenFolders()
    try:
        with Writer(root) as write:
            for f in files:
                if not plain_relative(f.relative):
                    continue  # never read above the workdir, whatever built the plan
                opened = _open_regular(workdir, f.relative, folders)
                if opened is None:
                    continue
                fd, status = opened
                try:
                    write.copy(f.local, fd, status)
                finally:
                    os.close(fd)
                got.add(f.relative)
    finally:
        folders.close()
        os.close(workdir)
    return got


def _tar_stream(plan: Plan, executor: Executor, files: Sequence[Wanted], root: Path) -> set[str]:
    wanted = {f.relative.encode("utf-8", "surrogateescape"): f for f in files}

    def changed(done: Completed) -> bool:  # answered below, its files removed first
        return done.exit_code == 1 and bool(changed_while_read(done.stderr))

    with Writer(root) as write:
        done, unpack = executor.stream(
            tar_argv(plan), stdin=tar_names(files), sink=lambda: _Unpack(wanted, write),
            accept=changed,
        )  # fmt: skip
        unpack.close()
    if unpack.error is not None:  # what tar sent is not a tar stream
        raise ExecutionError(done.argv, done.exit_code, f"{unpack.error}\n{done.stderr}")
    spoiled = spoiled_by_change(files, unpack.got, changed_while_read(done.stderr))
    if spoiled:  # a member cut or padded is not the file: none of them stays
        for f in spoiled:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(root / f.local)
        raise ExecutionError(done.argv, done.exit_code, done.stderr, reason=(
            "files changed while tar read them (is another run writing the workdir?); "
            "what came of them was removed: fetch again once nothing writes them"
        ))  # fmt: skip
    return unpack.got


class _Unpack:
    """A sink for the tar stream: writes each regular file asked for as soon as all of
    its bytes arrived (never a part of one), and takes nothing else (links, other
    paths).  From a part that is not well formed on, it takes nothing more, and keeps
    the error; the files that came whole before it stay written."""

    def __init__(self, wanted: Mapping[bytes, Wanted], write: Writer) -> None:
        self.wanted = wanted
        self.write = write
        self.reader = TarReader()
        self.got: set[str] = set()
        self.error: ValueError | None = None

    def __call__(self, piece: bytes) -> None:
        if self.error is not None:
            return
        try:
            files = self.reader.feed(piece)
        except ValueError as error:
            self.error = error
            return
        for name, data in files:
            f = self.wanted.get(name)
            if f is not None:
                self.write(f.local, data)
                self.got.add(f.relative)

    def close(self) -> None:
        """The stream ended: keep the error if it ended inside a member."""
        if self.error is None:
            try:
                self.reader.close()
            except ValueError as error:
                self.error = error
