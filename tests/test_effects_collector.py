"""effects.collector: fetch pauses Python's cyclic collector while it builds its 200,000
records and Paths (docs/effects.md, "status, wait, cancel, collect", on fetch), and always
leaves it as it found it."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_api import TarOnTheCluster
from test_effects_with_fake_slurm import TRANSPORTS, end_jobs
from test_fetch_outputs import _bench, _ran

import slurmplan
from slurmplan.effects import fetch as fetch_module
from slurmplan.effects.collector import collector_paused


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    """Each test starts with the collector on and leaves it on, whatever it asserted."""
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_within_and_on_again_after() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_the_program_turned_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_the_collector_is_on_again_after_an_error_within() -> None:
    with pytest.raises(KeyError), collector_paused():
        raise KeyError("x")
    assert gc.isenabled()


def test_overlapping_pauses_end_when_the_last_one_ends() -> None:
    """Two threads' pauses overlap (not nested): the first to end leaves it off."""
    first, second = collector_paused(), collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_pauses_in_threads_leave_the_collector_on() -> None:
    inside = threading.Barrier(4)
    leave = threading.Event()

    def pause() -> None:
        with collector_paused():
            inside.wait()
            leave.wait()

    threads = [threading.Thread(target=pause) for _ in range(3)]
    for thread in threads:
        thread.start()
    inside.wait()  # all three are within
    assert not gc.isenabled()
    leave.set()
    for thread in threads:
        thread.join()
    assert gc.isenabled()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_fetch_builds_its_records_and_paths_with_the_collector_paused(
    tmp_path: Path, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both bulk steps run paused; the stream between them does not (it may last
    minutes); after a fetch that reports a missing file the collector is on."""
    seen: dict[str, bool] = {}

    def watched(name: str):  # type: ignore[no-untyped-def]
        real = getattr(fetch_module, name)

        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            seen[name] = gc.isenabled()
            return real(*args, **kwargs)

        return call

    commands: list[bool] = []  # the collector's state at each command

    class Watched(TarOnTheCluster):
        def __call__(self, argv, **kwargs):  # type: ignore[no-untyped-def]
            commands.append(gc.isenabled())
            return super().__call__(argv, **kwargs)

    for name in ("files_of", "_local_paths"):
        monkeypatch.setattr(fetch_module, name, watched(name))
    bench = _bench(tmp_path, transport)
    run = slurmplan.Run(bench.plan, bench.journal, runner=Watched(bench.slurm))
    run.submit()
    end_jobs(bench)
    _ran(bench, local=transport == "local")
    commands.clear()
    with pytest.raises(slurmplan.FetchIncomplete) as caught:  # t1's absent.json
        run.fetch(tmp_path / "home")
    assert len(caught.value.fetched) == 8
    assert seen == {"files_of": False, "_local_paths": False}
    assert commands and all(commands)  # its poll, and tar or each cat, run unpaused
    assert gc.isenabled()
