"""`slurmplan show PLAN --svg|--html FILE`: the plan's batching as a picture (standard
library only); `draw` is also what `slurmplan report` draws a run's real times with.

One row per job, one track per lane in it, and each task a box in its lane's track, in
the order the lane runs them: how many jobs, how wide each is and how long its lanes
are, at a glance. Groups are told apart by colour; hovering a box names its task. Which
task runs in which lane is read from the job's script (its `_slurmplan_task` lines),
not worked out again, so the picture shows what the script does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from slurmplan.compiler import Job, Plan

BOX = 14  # a task's box: width and track height, in pixels
GAP = 6  # between jobs
LABEL = 190  # the job labels' column
TOP = 40  # the title's band
MIN_WIDTH = 760  # room for the title
# Colour-blind-safe (Okabe-Ito), one per group, repeating past eight groups.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#999999")  # fmt: skip
# `    _slurmplan_task job-000000.lane-01.status <id> ...` (templates/job.sbatch.j2);
# a task id is letters, digits and . _ - (the task list's schema), never quoted.
_TASK_LINE = re.compile(r"^    _slurmplan_task \S*\.lane-(\d+)\.status ([A-Za-z0-9._-]+) ", re.M)


def lanes(job: Job) -> list[list[str]]:
    """The task ids each lane of the job runs, in order, as its script says."""
    out: list[list[str]] = [[] for _ in range(job.ntasks)]
    for match in _TASK_LINE.finditer(job.script):
        out[int(match.group(1))].append(match.group(2))
    return out


@dataclass(frozen=True, slots=True)
class Mark:
    """A task's box as drawn in its lane's track: where, how wide, what colour and hover."""

    task: str
    x: int  # from the track's left edge, in pixels
    width: int
    fill: str
    title: str  # the hover text; it starts with the task id
    data: tuple[tuple[str, str], ...] = ()  # more data-* attributes, for tests and readers
    hollow: bool = False  # an outline only: a task with no box of its own (report)


# What each task of a lane becomes, given its job, lane number and the lane's tasks.
Marker = Callable[[Job, int, list[str]], list[Mark]]


def _mark(mark: Mark, lane: int, top: int) -> str:
    data = "".join(f" data-{k}={quoteattr(v)}" for k, v in mark.data)
    paint = (
        f'fill="white" stroke="{mark.fill}" stroke-width="2" stroke-dasharray="3,2"'
        if mark.hollow
        else f'fill="{mark.fill}"'
    )
    return (
        f'<rect class="task" data-task={quoteattr(mark.task)} data-lane="{lane}"{data} '
        f'x="{LABEL + mark.x}" y="{top + 1}" width="{mark.width}" height="{BOX - 2}" {paint}>'
        f"<title>{escape(mark.title)}</title></rect>"
    )


def draw(
    plan: Plan,
    title: str,
    marker: Marker,
    *,
    track: int,
    head: Sequence[str] = (),
    head_height: int = 0,
) -> str:
    """The SVG document: `title`, then `head` (SVG elements, `head_height` pixels tall:
    a legend, an axis), then a row per job with a track per lane, `track` pixels wide,
    holding what `marker` makes of the lane's tasks."""
    width = max(LABEL + track + 20, MIN_WIDTH)
    y = TOP + head_height
    rows: list[str] = []
    for job in plan.jobs:
        height = job.ntasks * BOX
        label = f"job {job.index} ({job.ntasks} lanes, {len(job.tasks)} tasks)"
        rows.append(
            f'<g class="job" data-job="{job.index}" data-group="{job.group}">'
            f"<title>{escape(job.name)}</title>"
            f'<text x="4" y="{y + min(height, BOX) - 3}">{escape(label)}</text>'
        )
        for lane, tasks in enumerate(lanes(job)):
            top = y + lane * BOX
            rows.append(
                f'<rect class="lane" x="{LABEL}" y="{top}" width="{track}" '
                f'height="{BOX}" fill="#f4f4f4"/>'
            )
            rows += [_mark(mark, lane, top) for mark in marker(job, lane, tasks)]
        rows.append("</g>")
        y += height + GAP
    return "".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>\n',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y + 10}" '
            f'viewBox="0 0 {width} {y + 10}" font-family="sans-serif" font-size="11">\n',
            f'<text x="4" y="20" font-size="13">{escape(title)}</text>\n',
            *(f"{element}\n" for element in head),
            "\n".join(rows),
            "\n</svg>\n",
        ]
    )


def _slots(job: Job, lane: int, tasks: list[str]) -> list[Mark]:
    """The plan's picture: a box per task in the order its lane runs it, group colours."""
    colour = COLOURS[job.group % len(COLOURS)]
    return [
        Mark(
            task,
            x=slot * BOX + 1,
            width=BOX - 2,
            fill=colour,
            title=f"{task} (job {job.index}, lane {lane}, #{slot + 1})",
            data=(("slot", str(slot)),),
        )
        for slot, task in enumerate(tasks)
    ]


def svg(plan: Plan) -> str:
    """The plan's picture as an SVG document."""
    longest = max((len(t) for job in plan.jobs for t in lanes(job)), default=1)
    n_tasks = sum(len(job.tasks) for job in plan.jobs)
    title = (
        f"{plan.name} ({plan.plan_id}): {n_tasks} tasks in {len(plan.jobs)} jobs; a row per "
        "job, a track per lane, a box per task in the order its lane runs it"
    )
    return draw(plan, title, _slots, track=longest * BOX)


_STYLE = (
    "body{font-family:sans-serif;margin:1em;color:#222}"
    "h1{font-size:1.2em}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}"
    "svg{display:block}"
)


def html(title: str, svg_document: str, extra: str = "") -> str:
    """A self-contained page: the SVG inline (no file, script or font to fetch), a
    little CSS, and `extra` HTML (a report's summary) between the heading and it."""
    inline = svg_document.split("?>\n", 1)[1] if svg_document.startswith("<?xml") else svg_document
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n{extra}{inline}</body>\n</html>\n"
    )
