"""A `time_per_task` suggested from a run's measured task runtimes (`slurmplan report`).

The rule (docs/decisions.md, "report"): the nearest-rank 95th percentile of the seconds
of the tasks that COMPLETED, times 1.5 for headroom, rounded up to whole minutes (Slurm
counts time limits in minutes and rounds seconds up) and at least one minute. With fewer
than MIN_SAMPLES completed tasks there is no suggestion: a quantile of three numbers is
their maximum, and one slow or fast task would set the limit. Tasks killed at their time
limit (TIMEOUT) ran at least as long as measured, so the suggestion also covers the
longest of them with the same headroom, and says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from slurmplan.compiler.slurm.units import format_time

MIN_SAMPLES = 5
PERCENTILE = 95
HEADROOM = (3, 2)  # x1.5, as a fraction: integer arithmetic, no rounding of floats
MINUTE = 60


@dataclass(frozen=True, slots=True, kw_only=True)
class Suggestion:
    seconds: int | None  # the suggested time_per_task; None: too few measurements
    samples: int  # completed tasks with a measured runtime
    quantile_seconds: int | None  # their 95th percentile (nearest rank)
    timeout_seconds: int | None  # the longest run of a task killed at its limit
    text: str  # one line for a person

    @property
    def time(self) -> str | None:
        """The suggestion in Slurm's time format, as `time_per_task` takes it."""
        return None if self.seconds is None else format_time(self.seconds)


def nearest_rank(values: Iterable[int], percentile: int) -> int:
    """The smallest value with at least `percentile`% of the values at or below it."""
    ordered = sorted(values)
    if not ordered or not 0 < percentile <= 100:
        raise ValueError(f"need values and a percentile in 1..100 (got {percentile})")
    rank = -(-percentile * len(ordered) // 100)  # ceil(p * n / 100), at least 1
    return ordered[rank - 1]


def _with_headroom(seconds: int) -> int:
    """seconds x HEADROOM, rounded up to whole minutes, at least one minute."""
    num, den = HEADROOM
    padded = -(-seconds * num // den)
    return max(MINUTE, -(-padded // MINUTE) * MINUTE)


def suggest_time_per_task(completed: Iterable[int], timed_out: Iterable[int] = ()) -> Suggestion:
    """The suggestion from the runtimes (seconds) of COMPLETED tasks and of TIMEOUT ones."""
    done = list(completed)
    killed = max(timed_out, default=None)
    if len(done) < MIN_SAMPLES:
        return Suggestion(
            seconds=None, samples=len(done), quantile_seconds=None, timeout_seconds=killed,
            text=f"no time_per_task suggested: {len(done)} completed task(s) with measured "
            f"runtimes, at least {MIN_SAMPLES} are needed",
        )  # fmt: skip
    high = nearest_rank(done, PERCENTILE)
    seconds = _with_headroom(high)
    text = (
        f"suggested time_per_task: {format_time(seconds)} ({PERCENTILE}th percentile of "
        f"{len(done)} completed tasks = {high} s, x1.5 headroom, rounded up to whole minutes)"
    )
    if killed is not None and _with_headroom(killed) > seconds:
        seconds = _with_headroom(killed)
        text = (
            f"suggested time_per_task: {format_time(seconds)} (a task killed at its time "
            f"limit ran {killed} s, and may need longer: x1.5 of that, rounded up to whole "
            f"minutes; the {PERCENTILE}th percentile of {len(done)} completed tasks is {high} s)"
        )
    return Suggestion(
        seconds=seconds, samples=len(done), quantile_seconds=high, timeout_seconds=killed,
        text=text,
    )  # fmt: skip
