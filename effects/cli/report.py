"""`slurmplan report PLAN [--html FILE]`: a run as it really went, and a `time_per_task`.

The plan's picture (picture.draw: a row per job, a track per lane) with each task's box
where it really ran: x is wall time from the run's first task start, the width its
runtime, the colour its state. A task with no start and end (never run, or its job not
settled yet: lane lines are read only for settled jobs) has no place on that axis: it is
an outline in a column of its own after the axis, never a box at time 0. The data is one
observation, `Run.poll()`, as `collect` makes; nothing is submitted. The summary and the
suggestion (compiler/runtime/suggest.py) are printed and are in the page too.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Mapping
from xml.sax.saxutils import escape

from slurmplan.compiler import Job, Plan
from slurmplan.compiler.runtime.settle import TaskResult
from slurmplan.compiler.runtime.suggest import Suggestion, suggest_time_per_task
from slurmplan.compiler.slurm.states import RunState
from slurmplan.compiler.slurm.units import format_time, parse_time_seconds
from slurmplan.effects.atomic import write_atomic
from slurmplan.effects.cli import picture
from slurmplan.effects.cli.inputs_io import InputError

# The run-time commands' options, error handling and Run: report is one of them.
from slurmplan.effects.cli.run_commands import (
    add_run_options,
    guarded,
    journal_path,
    load_run_plan,
    run_of_args,
)
from slurmplan.effects.run import Snapshot

AXIS = 600  # the time axis, in pixels
TICK_LABEL = 60  # about the width of a tick's label, "+00:00:10", in pixels
UNTIMED_GAP = 40  # between the axis and the column of tasks without times
HEAD = 44  # the legend's and the axis labels' band
TICKS = 4  # about this many steps of the axis, each a round number of seconds
_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
          86400)  # fmt: skip
UNTIMED_LABEL = "no start/end"
UNTIMED_MIN = 80  # the untimed column is at least as wide as its label
# Okabe-Ito where it can (colour-blind safe): done green, failed vermillion, killed at the
# limit orange, memory purple, cancelled grey, lost black, refused brown; not ended blues.
STATE_COLOURS: Mapping[RunState, str] = {
    RunState.COMPLETED: "#009E73",
    RunState.FAILED: "#D55E00",
    RunState.TIMEOUT: "#E69F00",
    RunState.OUT_OF_MEMORY: "#CC79A7",
    RunState.CANCELLED: "#999999",
    RunState.LOST: "#000000",
    RunState.REFUSED: "#8B4513",
    RunState.NODE_FAIL: "#F0E442",
    RunState.PREEMPTED: "#6A3D9A",
    RunState.PENDING: "#56B4E9",
    RunState.RUNNING: "#0072B2",
    RunState.NOT_SUBMITTED: "#CCCCCC",
}
OTHER_COLOUR = "#7F7F7F"  # Slurm's rarer states (BOOT_FAIL, DEADLINE, ...)


def colour(state: RunState) -> str:
    return STATE_COLOURS.get(state, OTHER_COLOUR)


def times(results: Mapping[str, TaskResult]) -> list[tuple[int, int]]:
    """(start, end) of each task that has both."""
    return [
        (r.started, r.ended)
        for r in results.values()
        if r.started is not None and r.ended is not None
    ]


def first_start(results: Mapping[str, TaskResult]) -> int | None:
    """The run's time 0: its earliest task start (None: no task has times)."""
    return min((start for start, _ in times(results)), default=None)


def suggestion(results: Mapping[str, TaskResult]) -> Suggestion:
    def seconds(state: RunState) -> list[int]:
        return [r.seconds for r in results.values() if r.state == state and r.seconds is not None]

    return suggest_time_per_task(seconds(RunState.COMPLETED), seconds(RunState.TIMEOUT))


class _Timeline:
    """picture.Marker for a run: boxes on the time axis, outlines after it."""

    def __init__(self, results: Mapping[str, TaskResult]) -> None:
        self.results = results
        self.t0 = first_start(results) or 0
        last = max((end for _, end in times(results)), default=self.t0)
        self.span = max(1, last - self.t0)
        self.scale = AXIS / self.span  # pixels per second

    def __call__(self, job: Job, lane: int, tasks: list[str]) -> list[picture.Mark]:
        marks = []
        untimed = 0
        for task in tasks:
            result = self.results.get(task)
            state = result.state if result is not None else RunState.NOT_SUBMITTED
            where = f"job {result.job_id or '-'}" if result is not None else "no result"
            data = [("state", str(state))]
            if result is None or result.started is None or result.seconds is None:
                why = f": {result.reason}" if result is not None and result.reason else ""
                marks.append(picture.Mark(
                    task, x=AXIS + UNTIMED_GAP + untimed * picture.BOX + 1,
                    width=picture.BOX - 2, fill=colour(state), hollow=True,
                    title=f"{task}: {state}, no start/end recorded ({where}, lane {lane}){why}",
                    data=(*data, ("timed", "no")),
                ))  # fmt: skip
                untimed += 1
                continue
            offset = result.started - self.t0
            left, right = self.x(offset), self.x(offset + result.seconds)
            marks.append(picture.Mark(  # 1 px apart from the next task of the lane
                task, x=left + 1, width=max(2, right - left - 1), fill=colour(state),
                title=f"{task}: {state}, {result.seconds} s from +{offset} s ({where}, "
                f"lane {lane})",
                data=(*data, ("timed", "yes"), ("start", str(offset)),
                      ("seconds", str(result.seconds))),
            ))  # fmt: skip
        return marks

    def x(self, seconds: int) -> int:
        """Where on the axis a moment `seconds` after time 0 is, in pixels."""
        return round(seconds * self.scale)

    def untimed_column(self, plan: Plan) -> int:
        """How many untimed tasks the fullest lane has: the width of their column."""
        return max(
            (sum(1 for t in ts if self._untimed(t)) for job in plan.jobs
             for ts in picture.lanes(job)),
            default=0,
        )  # fmt: skip

    def _untimed(self, task: str) -> bool:
        result = self.results.get(task)
        return result is None or result.seconds is None


def _head(timeline: _Timeline, counts: Counter[RunState], untimed: int) -> list[str]:
    """The legend (each state of the run, its colour and count), then the axis labels."""
    out = []
    x = 4
    for state, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        out.append(
            f'<g class="legend" data-state="{state}"><rect x="{x}" y="{picture.TOP - 10}" '
            f'width="12" height="12" fill="{colour(state)}"/>'
            f'<text x="{x + 16}" y="{picture.TOP}">{state} {n}</text></g>'
        )
        x += 30 + 8 * len(f"{state} {n}")
    y = picture.TOP + HEAD - 6
    step = next((s for s in _STEPS if s * TICKS >= timeline.span), _STEPS[-1])
    for seconds in range(0, timeline.span + 1, step):
        left = picture.LABEL + timeline.x(seconds)
        # a label centred near the axis's end would run past the picture's right edge
        anchor = "end" if timeline.x(seconds) > AXIS - TICK_LABEL else "middle"
        out.append(
            f'<line x1="{left}" y1="{y + 2}" x2="{left}" y2="{y + 6}" stroke="#555"/>'
            f'<text class="tick" x="{left}" y="{y}" text-anchor="{anchor}">'
            f"+{format_time(seconds)}</text>"
        )
    if untimed:
        left = picture.LABEL + AXIS + UNTIMED_GAP
        out.append(f'<text x="{left}" y="{y}">{UNTIMED_LABEL}</text>')
    return out


def limits_line(plan: Plan) -> str:
    """What the plan gives a task now, to hold the suggestion against: each job's limit
    shared by the tasks its fullest lane runs one after another."""
    budgets: dict[str, None] = {}  # in order, once each
    for job in plan.jobs:
        waves = max(len(lane) for lane in picture.lanes(job))
        if job.time is None:
            budgets["no limit of its own (the partition's default)"] = None
            continue
        limit = parse_time_seconds(job.time)
        if limit is None:
            budgets[f"{job.time} per job"] = None
        elif waves == 1:
            budgets[f"{job.time} per job of one task a lane"] = None
        else:
            budgets[f"{format_time(limit // waves)} ({job.time} per job, {waves} tasks a lane)"] = (
                None
            )
    shown = list(budgets)[:3]
    more = f", and {len(budgets) - 3} more" if len(budgets) > 3 else ""
    return f"time per task in the plan: {'; '.join(shown)}{more}"


def summary_lines(plan: Plan, snap: Snapshot, advice: Suggestion) -> list[str]:
    results = snap.tasks
    counts = Counter(r.state for r in results.values())
    states = ", ".join(f"{s} {n}" for s, n in sorted(counts.items(), key=lambda i: (-i[1], i[0])))
    timed = [r for r in results.values() if r.seconds is not None]
    lines = [
        f"run {snap.run} of plan {plan.name} ({plan.plan_id}): {len(results)} tasks in "
        f"{len(plan.jobs)} jobs; {'every job settled' if snap.done else 'not every job settled'}",
        f"states: {states}",
    ]
    if timed:
        span = max(end for _, end in times(results)) - min(start for start, _ in times(results))
        lines.append(f"wall time: {format_time(span)} from the first task start to the last end")
    if len(timed) < len(results):
        lines.append(
            f"tasks without start/end: {len(results) - len(timed)} (not run, or their job "
            "has not settled): drawn as outlines after the time axis"
        )
    done = sorted(
        r.seconds for r in timed if r.state == RunState.COMPLETED and r.seconds is not None
    )
    if done:
        lines.append(
            f"runtime of completed tasks: min {done[0]} s, median {done[len(done) // 2]} s, "
            f"max {done[-1]} s"
        )
    lines += [limits_line(plan), advice.text]
    return lines


def page(plan: Plan, snap: Snapshot) -> tuple[str, list[str]]:
    """The report as a self-contained HTML page, and its summary lines."""
    results = snap.tasks
    advice = suggestion(results)
    timeline = _Timeline(results)
    untimed = timeline.untimed_column(plan)
    track = AXIS + (UNTIMED_GAP + max(untimed * picture.BOX, UNTIMED_MIN) if untimed else 0)
    counts = Counter(r.state for r in results.values())
    title = f"run {snap.run} of {plan.name} ({plan.plan_id}): where and when each task ran"
    drawn = picture.draw(
        plan, title, timeline, track=track, head=_head(timeline, counts, untimed),
        head_height=HEAD,
    )  # fmt: skip
    lines = summary_lines(plan, snap, advice)
    items = "".join(f"<li>{escape(line)}</li>" for line in lines[:-1])
    extra = f'<ul>{items}</ul>\n<p class="suggestion"><b>{escape(lines[-1])}</b></p>\n'
    return picture.html(f"slurmplan report: {plan.name}", drawn, extra), lines


def _cmd_report(args: argparse.Namespace) -> int:
    plan = load_run_plan(args)
    snap = run_of_args(args, plan).poll()
    if snap.run is None:
        raise InputError([f"{args.plan}: no run to report: nothing was submitted with journal "
                          f"{journal_path(args)} (run `slurmplan submit` first)"])  # fmt: skip
    text, lines = page(plan, snap)
    if args.html is not None:
        try:
            write_atomic(args.html, text.encode("utf-8"), durable=False)
        except OSError as error:
            raise InputError(
                [f"{args.html}: cannot be written: {error.strerror or error}"]
            ) from None
    for line in lines:
        print(line)
    if args.html is not None:
        print(f"wrote {args.html}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "report", help="a run's real task times and states; suggests a time_per_task"
    )
    add_run_options(p)
    p.add_argument("--html", metavar="FILE", help="draw the run into FILE (self-contained HTML)")
    p.set_defaults(run=guarded("report", _cmd_report))
