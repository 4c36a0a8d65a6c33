"""compiler.layout: the shortcuts agree with the one-path-at-a-time functions."""

from __future__ import annotations

import posixpath

import pytest

from slurmplan.compiler import layout


@pytest.mark.parametrize("directory", ["/w/run-1", "/w/run-1/", "/", "", "rel"])
def test_join_all_is_join_of_each(directory: str) -> None:
    names = ["job-000000.lane-00.status", "tasks/a.out", ".hidden"]
    assert layout.join_all(directory, names) == tuple(
        posixpath.join(directory, name) for name in names
    )


def test_lane_status_files() -> None:
    assert layout.lane_status_files(3, 2) == [
        "job-000003.lane-00.status",
        "job-000003.lane-01.status",
    ]
    assert layout.lane_status_files(0, 0) == []
