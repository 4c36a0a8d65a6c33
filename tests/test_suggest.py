"""The time_per_task suggestion (compiler/runtime/suggest.py): nearest-rank 95th percentile
of the completed tasks' runtimes, x1.5, rounded up to whole minutes; none below 5 samples;
tasks killed at their limit covered too."""

from __future__ import annotations

import pytest

from slurmplan.compiler.runtime.suggest import (
    MIN_SAMPLES,
    nearest_rank,
    suggest_time_per_task,
)
from slurmplan.compiler.slurm.units import parse_time_seconds


@pytest.mark.parametrize(
    ("values", "percentile", "expected"),
    [
        (list(range(1, 101)), 95, 95),  # rank 95 of 100
        (list(range(1, 21)), 95, 19),  # ceil(19.0) = 19
        (list(range(1, 22)), 95, 20),  # ceil(19.95) = 20
        ([7, 3, 5, 1, 9], 95, 9),  # ceil(4.75) = 5: the largest of five
        ([7, 3, 5, 1, 9], 50, 5),  # the median
        ([4], 1, 4),
    ],
)
def test_nearest_rank(values: list[int], percentile: int, expected: int) -> None:
    assert nearest_rank(values, percentile) == expected


@pytest.mark.parametrize("percentile", [0, 101])
def test_nearest_rank_refuses_a_percentile_out_of_range(percentile: int) -> None:
    with pytest.raises(ValueError, match="percentile"):
        nearest_rank([1, 2], percentile)


@pytest.mark.parametrize(
    ("runtimes", "seconds", "time"),
    [
        ([10, 20, 30, 40, 50], 120, "00:02:00"),  # 50 x 1.5 = 75 -> 2 minutes
        ([40] * 5, 60, "00:01:00"),  # 60 exactly: no rounding up
        ([1] * 5, 60, "00:01:00"),  # at least a minute: Slurm's unit
        ([41] * 5, 120, "00:02:00"),  # 61.5 -> 62 s -> 2 minutes
        ([*range(1, 100), 100_000], 180, "00:03:00"),  # one outlier of 100 does not count
        ([3000] * 10, 4500, "01:15:00"),
        ([60_000] * 5, 90_000, "1-01:00:00"),  # Slurm's days form
    ],
)
def test_the_suggestion_rule(runtimes: list[int], seconds: int, time: str) -> None:
    advice = suggest_time_per_task(runtimes)
    assert (advice.seconds, advice.time) == (seconds, time)
    assert advice.samples == len(runtimes)
    assert parse_time_seconds(time) == seconds  # a value time_per_task accepts
    assert advice.text.startswith(f"suggested time_per_task: {time} (95th percentile of ")


def test_too_few_measurements_give_no_suggestion_and_say_why() -> None:
    advice = suggest_time_per_task([30] * (MIN_SAMPLES - 1), timed_out=[500])
    assert (advice.seconds, advice.time, advice.quantile_seconds) == (None, None, None)
    assert advice.text == (
        "no time_per_task suggested: 4 completed task(s) with measured runtimes, "
        "at least 5 are needed"
    )
    assert suggest_time_per_task([]).samples == 0


def test_a_task_killed_at_its_limit_raises_the_suggestion_and_says_so() -> None:
    advice = suggest_time_per_task([10] * 5, timed_out=[200, 290])
    assert (advice.seconds, advice.quantile_seconds, advice.timeout_seconds) == (480, 10, 290)
    assert "a task killed at its time limit ran 290 s" in advice.text  # 435 s -> 8 minutes
    # A killed task shorter than the suggestion changes nothing.
    assert suggest_time_per_task([100] * 5, timed_out=[20]).seconds == 180


def test_the_order_of_the_runtimes_does_not_matter() -> None:
    runtimes = [5, 90, 17, 44, 3, 61, 8]
    assert suggest_time_per_task(runtimes) == suggest_time_per_task(sorted(runtimes))
