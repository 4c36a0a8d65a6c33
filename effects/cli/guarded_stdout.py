"""Standard output that cannot be written, while a command runs: a closed pipe (`| head`)
ends the command quietly, as it ends any Unix tool (exit 141); any other failure (a full
disk) is one line on stderr and `failed_exit`.  Never a traceback."""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO, cast

EXIT_BROKEN_PIPE = 141  # what a shell shows for a tool SIGPIPE killed (128 + 13)


def run(body: Callable[[], int], *, failed_exit: int) -> int:
    """`body()` with sys.stdout guarded; its exit status, or the status for stdout failing."""
    stdout = sys.stdout
    sys.stdout = cast(TextIO, _Guarded(stdout))
    try:
        status = body()
        sys.stdout.flush()  # here, not at exit, where a failure would be a traceback
    except _StdoutFailed as failed:
        return _failed(failed.error, stdout, failed_exit)
    finally:
        sys.stdout = stdout
    return status


class _StdoutFailed(Exception):
    """Standard output could not be written.  Not an OSError: a command's own `except
    OSError` (a script it could not write) must not take it for its own failure."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class _Guarded:
    """sys.stdout while a command runs: a write or flush that fails raises _StdoutFailed."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as error:
            raise _StdoutFailed(error) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as error:
            raise _StdoutFailed(error) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _failed(error: OSError, stdout: TextIO, failed_exit: int) -> int:
    """Standard output then goes to /dev/null, so that the interpreter's last flush of
    what is still buffered does not fail again (the Python docs' advice for SIGPIPE)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):  # a stream without a fd
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())
        os.close(devnull)
    if error.errno == errno.EPIPE:
        return EXIT_BROKEN_PIPE
    print(f"slurmplan: cannot write to standard output: {error.strerror or error}",
          file=sys.stderr)  # fmt: skip
    return failed_exit
