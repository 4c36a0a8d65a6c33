"""Run.fetch: copy tasks' stdout and stderr from the cluster into a local folder.

Locally the files are copied; through sudo each is read with `cat` as the user (the
only reading command the sudo rule allows); over ssh one `tar` streams them all
(compiler.runtime.fetch).  Files land at DEST/tasks/<id>.out and .err, as in the
workdir.  Every file that could be read is written before a missing one is reported.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from slurmplan.compiler import Plan
from slurmplan.compiler.errors import SlurmplanError
from slurmplan.compiler.runtime.commands import read_files_argv
from slurmplan.compiler.runtime.fetch import (
    Wanted,
    missing_by_task,
    tar_argv,
    tar_names,
    wanted_files,
)
from slurmplan.compiler.transport import TransportKind
from slurmplan.effects.execute import Completed, Executor


class FetchIncomplete(SlurmplanError):
    """Some requested files do not exist on the cluster (a task that never ran, or was
    killed before it wrote them); the others were fetched."""

    def __init__(self, fetched: Mapping[str, Path], missing: Mapping[str, list[str]]) -> None:
        self.fetched = dict(fetched)
        self.missing = dict(missing)
        first = next(iter(self.missing.items()))
        super().__init__(
            f"{sum(map(len, self.missing.values()))} file(s) of {len(self.missing)} task(s) "
            f"do not exist on the cluster (first: task {first[0]}: {', '.join(first[1])}); "
            f"the other {len(self.fetched)} were fetched"
        )


def fetch(
    plan: Plan, executor: Executor, dest: str | os.PathLike[str], task_ids: Iterable[str] | None
) -> dict[str, Path]:
    """Copy the files into `dest`; returns {path on the cluster: local path}.  Raises
    FetchIncomplete (after copying the rest) when some do not exist."""
    files = wanted_files(plan, task_ids)
    root = Path(dest)
    match plan.transport.kind:
        case TransportKind.LOCAL:
            got = _copy(files, root)
        case TransportKind.SUDO:
            got = _cat_each(plan, executor, files, root)
        case TransportKind.SSH:
            got = _tar_stream(plan, executor, files, root)
    fetched = {f.remote: root / f.relative for f in files if f.relative in got}
    missing = missing_by_task(files, got)
    if missing:
        raise FetchIncomplete(fetched, missing)
    return fetched


class _Writer:
    """Writes fetched files under `root`, making each folder once (a fetch of 100,000
    tasks writes 200,000 files into one `tasks/` folder)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: set[str] = set()

    def place(self, relative: str) -> Path:
        """The local path of `relative`, its folder made (once)."""
        folder, _, _ = relative.rpartition("/")
        if folder not in self.made:
            (self.root / folder).mkdir(parents=True, exist_ok=True)
            self.made.add(folder)
        return self.root / relative

    def __call__(self, relative: str, data: bytes) -> None:
        fd = os.open(self.place(relative), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)


def _copy(files: Sequence[Wanted], root: Path) -> set[str]:
    place = _Writer(root).place
    got: set[str] = set()
    for f in files:
        try:
            shutil.copyfile(f.remote, place(f.relative))
        except FileNotFoundError:
            continue
        got.add(f.relative)
    return got


def _cat_each(plan: Plan, executor: Executor, files: Sequence[Wanted], root: Path) -> set[str]:
    def missing(done: Completed) -> bool:
        return done.exit_code == 1 and "No such file or directory" in done.stderr

    write = _Writer(root)
    got: set[str] = set()
    for f in files:
        done = executor.run(read_files_argv(plan, [f.remote]), accept=missing)
        if done.ok:
            write(f.relative, done.stdout_bytes)
            got.add(f.relative)
    return got


def _tar_stream(plan: Plan, executor: Executor, files: Sequence[Wanted], root: Path) -> set[str]:
    done = executor.run(tar_argv(plan), stdin=tar_names(files))
    wanted = {f.relative for f in files}
    write = _Writer(root)
    got: set[str] = set()
    with tarfile.open(fileobj=io.BytesIO(done.stdout_bytes), mode="r|") as tar:
        for member in tar:
            # Only the regular files asked for, written by us: no links, no other paths.
            if member.isfile() and member.name in wanted:
                data = tar.extractfile(member)
                write(member.name, data.read() if data is not None else b"")
                got.add(member.name)
    return got
