"""Progress on stderr: a bar redrawn in place on a terminal, plain lines otherwise."""

from __future__ import annotations

import shutil
import sys
from typing import TextIO


class Progress:
    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total = total
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.done = 0
        self._drawn = False

    def advance(self, message: str, step: int = 1) -> None:
        """Count `step` more done; on a terminal redraw the bar, else print `message`."""
        self.done += step
        if self.tty:
            self._draw(message)
        else:
            self.stream.write(f"[{self.done}/{self.total}] {message}\n")
            self.stream.flush()

    def note(self, message: str) -> None:
        """A line that stays (a retry, a wait), printed above the bar."""
        self._clear()
        self.stream.write(message + "\n")
        self.stream.flush()
        if self.tty and self._drawn:
            self._draw("")

    def close(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def _clear(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\r\x1b[K")

    def _draw(self, message: str) -> None:
        width = shutil.get_terminal_size((80, 24)).columns
        bar_width = 30
        filled = bar_width * self.done // self.total if self.total else bar_width
        bar = "#" * filled + "." * (bar_width - filled)
        line = f"{self.label} [{bar}] {self.done}/{self.total} {message}"
        self.stream.write("\r\x1b[K" + line[: max(width - 1, 10)])
        self.stream.flush()
        self._drawn = True
