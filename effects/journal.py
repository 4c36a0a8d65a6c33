"""The journal file: append-only, one JSON line per event, each fsync'd before going on.

What the lines mean is compiler.runtime.journal_state's business.  A new journal is
a new run: its header gets a fresh random run id (new_run_id) before anything else.  Writers take an
exclusive flock around each read-decide-append step, so two `submit`s (or a
`submit` and a `cancel`) of the same plan never act on a stale view; a writer
killed mid-line leaves a torn tail that the next writer cuts off.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator, Sequence

from slurmplan.compiler import Plan
from slurmplan.compiler.runtime import journal_state
from slurmplan.compiler.runtime.journal_state import (
    Event,
    JournalError,
    JournalState,
    complete_end,
    encode,
    fold,
    header_event,
)
from slurmplan.effects.atomic import FILE_MODE
from slurmplan.effects.errors import JournalLost
from slurmplan.effects.input_files import (
    MAX_FILE_BYTES,
    UnusableFile,
    check_regular,
    read_regular,
    too_large,
)


def default_path(plan_path: str) -> str:
    return plan_path + ".journal"


def new_run_id() -> str:
    """A run's id: 8 random hex digits (32 bits: two runs of one plan never share one
    in practice, and a shared one would still need the same job ids to be confused)."""
    return secrets.token_hex(4)


def _read_all(fd: int, path: str) -> bytes:
    size = os.fstat(fd).st_size
    if size > MAX_FILE_BYTES:  # what is read is at most `size`: refused before it is read
        raise JournalError(f"{path}: {too_large(path, MAX_FILE_BYTES, f'it holds {size:,} bytes')}")
    chunks: list[bytes] = []
    offset = 0
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _state_of(data: bytes, plan: Plan, path: str) -> JournalState:
    """The pure journal_state.read of the file's bytes, refusing another plan's journal
    (and any line that is not one of this plan's: the file is untrusted input)."""
    names = [job.name for job in plan.jobs]
    return journal_state.read(data, path, plan_id=plan.plan_id, job_names=names)


def read_state(path: str, plan: Plan) -> JournalState:
    """The journal as it is now, for commands that only read it (no file: nothing submitted)."""
    try:
        data = read_regular(path)
    except FileNotFoundError:
        return JournalState()
    except UnusableFile as error:  # a FIFO would block, /dev/zero never end
        raise JournalError(f"{path}: {error}") from None
    except OSError as error:
        raise JournalError(f"{path}: cannot be read: {error.strerror or error}") from None
    return _state_of(data, plan, path)


class Journal:
    """A journal open for appending.  Use `locked()` around every read-decide-append."""

    def __init__(self, path: str, plan: Plan, run: str | None = None) -> None:
        """Open (or create) the journal; a new one starts run `run` (default: new_run_id())."""
        self.path = path
        self.plan = plan
        existed = os.path.exists(path)
        try:
            if existed:  # a FIFO or a device is refused before it is opened
                check_regular(os.stat(path), path)
            # FILE_MODE less the umask, as open(2) applies it: 0600 under umask 077.
            # O_NONBLOCK: a FIFO put there since the check does not block the open.
            flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NONBLOCK
            self._fd = os.open(path, flags, FILE_MODE)
        except UnusableFile as error:
            raise JournalError(f"{path}: {error}") from None
        except OSError as error:
            raise JournalError(f"{path}: cannot be opened: {error.strerror or error}") from None
        opened = os.fstat(self._fd)
        try:
            check_regular(opened, path)
        except OSError as error:
            os.close(self._fd)
            raise JournalError(f"{path}: {error}") from None
        self._identity = (opened.st_dev, opened.st_ino)
        if not existed:  # the new name must survive a crash too
            _fsync_directory(os.path.dirname(os.path.abspath(path)))
        self._size = -1
        self.state = JournalState()
        self._locked = False
        # This process began the run with an id of its own: no job can carry it yet.
        self.new_run = False
        # How many times another process was found to have written since our last look
        # (what this process decided from the journal before may no longer hold).
        self.written_by_others = 0
        try:
            with self.locked():
                if self.state.events == 0:
                    self.append(header_event(plan.plan_id, plan.name, run or new_run_id()))
                    self.new_run = run is None
        except BaseException:
            os.close(self._fd)
            raise

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def run(self) -> str:
        """This journal's run id (from its header)."""
        if self.state.run is None:  # the header is written before anything else
            raise RuntimeError(f"{self.path}: no header read yet")
        return self.state.run

    @property
    def lock_fd(self) -> int:
        """The descriptor whose flock `locked()` takes: a process handed it keeps the
        lock held past this one's death (a SIGKILL while its sbatch runs)."""
        return self._fd

    @contextlib.contextmanager
    def locked(self) -> Iterator[JournalState]:
        """Hold the journal exclusively; the state is current inside."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self._locked = True
        try:
            self._check_same_file()
            self._refresh()
            yield self.state
        finally:
            self._locked = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _check_same_file(self) -> None:
        """Stop if the journal at `path` is no longer the file this process reads and
        writes (deleted, or replaced) or is shorter than what it read and wrote:
        appending then would write into the void, or after lost lines."""
        try:
            named = os.stat(self.path)
        except FileNotFoundError:
            raise _lost(self.path, "deleted") from None
        except OSError as error:
            raise _lost(self.path, f"made unreadable ({error.strerror or error})") from None
        if (named.st_dev, named.st_ino) != self._identity:
            raise _lost(self.path, "replaced by another file")
        size = os.fstat(self._fd).st_size
        if size < self._size:
            raise _lost(self.path, f"cut short ({size} bytes, {self._size} read and written)")

    def _refresh(self) -> None:
        size = os.fstat(self._fd).st_size
        if size == self._size:
            return  # nobody else wrote since our last look
        if self._size != -1:  # not our first read: someone else appended
            self.written_by_others += 1
        data = _read_all(self._fd, self.path)
        self.state = _state_of(data, self.plan, self.path)
        end = complete_end(data)  # read() ignores what follows, and so does the file now
        if end < len(data):  # a writer was killed mid-line: that line never happened
            os.ftruncate(self._fd, end)
            os.fsync(self._fd)
        self._size = end

    def append(self, event: Event) -> None:
        """Write one line and fsync it: when this returns, the event survives a crash."""
        self.append_many((event,))

    def append_many(self, events: Sequence[Event]) -> None:
        """Write the lines in one write and one fsync (a crash may keep a prefix of them)."""
        if not self._locked:
            raise RuntimeError("Journal.append outside Journal.locked()")
        if not events:
            return
        self._check_same_file()
        data = b"".join(map(encode, events))
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)
        self._size += len(data)
        self.state = fold(events, self.state)


def _lost(path: str, how: str) -> JournalLost:
    return JournalLost(
        f"the journal {path} was {how} while this command ran; stopping before anything "
        "more is submitted or recorded. The jobs submitted so far stay in Slurm: a new "
        "`submit` names those still queued or running and refuses to run until they are "
        "cancelled (scancel) or finished"
    )


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
