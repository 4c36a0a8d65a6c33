"""`choose` against the reference: fractal-server's SLURM batching heuristic (docs/architecture.md
§3).

fractal-server is an optional extra (`pip install fractal-server==2.18.5`); without it
these tests skip, except under CI=true (.ci/run installs it).  Its `fractal_server.logger`
reads the server's settings on import, so a stand-in logger module is put in its place
while the heuristic's module is imported; the stand-in's loggers record what the
reference logs, to compare with our warnings.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from property_tests.strategies import examples
from slurmplan.compiler.passes.batch import BatchingError, choose
from slurmplan.compiler.passes.parse import BatchingLimits

HEURISTICS_MODULE = "fractal_server.runner.executors.slurm_common._batching"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


RECORDS = _Records()


def _stand_in_logger_module() -> types.ModuleType:
    module = types.ModuleType("fractal_server.logger")
    module.set_logger = logging.getLogger  # type: ignore[attr-defined]
    return module


def _reference() -> types.ModuleType:
    if os.environ.get("CI") == "true":
        importlib.import_module("fractal_server")  # CI installs the extra: never skip there
    pytest.importorskip(
        "fractal_server",
        reason="the reference heuristic needs the optional extra fractal-server==2.18.5 "
        "(pip install '.[bench]')",
    )
    if HEURISTICS_MODULE in sys.modules:
        return sys.modules[HEURISTICS_MODULE]
    saved = sys.modules.get("fractal_server.logger")
    sys.modules["fractal_server.logger"] = _stand_in_logger_module()
    try:
        return importlib.import_module(HEURISTICS_MODULE)
    finally:
        if saved is None:
            del sys.modules["fractal_server.logger"]
        else:
            sys.modules["fractal_server.logger"] = saved


@pytest.fixture(scope="module")
def reference() -> Iterator[types.ModuleType]:
    """The reference's module, its logger recording into RECORDS while the tests run."""
    module = _reference()
    logger: logging.Logger = module.logger
    saved = (logger.disabled, logger.level, logger.propagate)
    logger.disabled, logger.propagate = False, False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(RECORDS)
    try:
        yield module
    finally:
        logger.removeHandler(RECORDS)
        logger.disabled, logger.propagate = saved[0], saved[2]
        logger.setLevel(saved[1])


# Any positive sizes, targets above maxes included: both sides are plain functions.
# `n` stays below 2**53, where the reference's float `math.ceil(n / k)` is exact.
SIZE = st.one_of(st.integers(1, 8), st.integers(1, 100), st.integers(1, 10**6))
N_TASKS = st.one_of(st.integers(1, 50), st.integers(1, 10**5), st.integers(1, 2**53 - 1))
GIVEN = st.one_of(
    st.just((None, None)),
    st.tuples(SIZE, SIZE),
    st.tuples(SIZE, st.none()),  # exactly one set: both must refuse
    st.tuples(st.none(), SIZE),
)


def _above_target_messages(records: list[logging.LogRecord]) -> int:
    """What the reference logs about a successful choice: clamps and targets exceeded.

    It logs "num_jobs > target_num_jobs" at DEBUG level and the rest as warnings; we
    turn all of them into plan warnings (docs/architecture.md §3: "warnings above targets").
    """
    count = 0
    for record in records:
        message = record.getMessage()
        if record.levelno == logging.WARNING or (
            record.levelno == logging.DEBUG and "num_jobs=" in message
        ):
            count += 1
    return count


@examples(1500)
@given(
    task=st.tuples(N_TASKS, SIZE, SIZE),
    sizes=st.lists(SIZE, min_size=6, max_size=6),
    given_=GIVEN,
)
def test_choose_is_the_reference_heuristic(
    reference: types.ModuleType,
    task: tuple[int, int, int],
    sizes: list[int],
    given_: tuple[int | None, int | None],
) -> None:
    """`task` is (number of tasks, cpus per task, MiB per task)."""
    n, cpus, mem = task
    per_job, parallel = given_
    lim = BatchingLimits(
        target_cpus_per_job=sizes[0], max_cpus_per_job=sizes[1],
        target_mem_per_job=sizes[2], max_mem_per_job=sizes[3],
        target_num_jobs=sizes[4], max_num_jobs=sizes[5],
    )  # fmt: skip
    heuristics: Callable[..., tuple[int, int]] = reference.heuristics
    RECORDS.records.clear()
    try:
        expected: tuple[int, int] | None = heuristics(
            tot_tasks=n, tasks_per_job=per_job, parallel_tasks_per_job=parallel,
            cpus_per_task=cpus, mem_per_task=mem,  # MiB on our side, "MB" on theirs
            target_cpus_per_job=lim.target_cpus_per_job, max_cpus_per_job=lim.max_cpus_per_job,
            target_mem_per_job=lim.target_mem_per_job, max_mem_per_job=lim.max_mem_per_job,
            target_num_jobs=lim.target_num_jobs, max_num_jobs=lim.max_num_jobs,
        )  # fmt: skip
    except reference.SlurmHeuristicsError:
        expected = None
    logged = list(RECORDS.records)
    kwargs: dict[str, Any] = {"tasks_per_job": per_job, "parallel_tasks_per_job": parallel}
    if expected is None:
        with pytest.raises(BatchingError):
            choose(n_tasks=n, cpus=cpus, mem_mb=mem, limits=lim, **kwargs)
        return
    got = choose(n_tasks=n, cpus=cpus, mem_mb=mem, limits=lim, **kwargs)
    assert (got.tasks_per_job, got.parallel_tasks_per_job) == expected
    assert len(got.warnings) == _above_target_messages(logged), (got.warnings, logged)


def test_stand_in_logger_is_removed_again(reference: types.ModuleType) -> None:
    """Nothing else in the test run sees the stand-in `fractal_server.logger`."""
    assert reference.__name__ == HEURISTICS_MODULE
    logger_module = sys.modules.get("fractal_server.logger")
    assert logger_module is None or getattr(logger_module, "__file__", None) is not None
