"""Pausing Python's cyclic garbage collector while a bulk step builds objects.

A fetch of 100,000 tasks builds 200,000 file records and 200,000 `Path`s that live on
until it returns.  Each lasting object counts toward the collector's next full
collection, and each full collection walks every object of the process (a workflow
server's too): five of them took 0.63 s of a 4.9 s fetch.  None of those objects is
part of a reference cycle, which is all the collector is for; reference counting
frees them as usual.  So the steps that build them pause the collector, which
collects as before once they end (the objects were counted, so one collection may
follow soon after).

The switch is the process's: pauses from several threads are counted, and the
collector is turned back on when the last one ends, if it was on when the first
began.  A program that turns the collector off itself during a pause finds it on
again afterwards.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pauses:
    """How many pauses are on (from any thread), and whether the collector was on when
    the first of them began."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.was_on = False


_pauses = _Pauses()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Within: no automatic cyclic collection (reference counting frees as usual)."""
    with _pauses.lock:
        if _pauses.count == 0:
            _pauses.was_on = gc.isenabled()
            gc.disable()
        _pauses.count += 1
    try:
        yield
    finally:
        with _pauses.lock:
            _pauses.count -= 1
            if _pauses.count == 0 and _pauses.was_on:
                gc.enable()
