"""`slurmplan show PLAN --svg FILE`: the plan's batching as a picture (standard library only).

One row per job, one track per lane in it, and each task a box in its lane's track, in
the order the lane runs them: how many jobs, how wide each is and how long its lanes
are, at a glance. Groups are told apart by colour; hovering a box names its task. Which
task runs in which lane is read from the job's script (its `_slurmplan_task` lines),
not worked out again, so the picture shows what the script does.
"""

from __future__ import annotations

import re
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


@dataclass(frozen=True, slots=True)
class Box:
    job: int
    lane: int
    slot: int  # the task's place in its lane: 0 runs first
    task: str


def lanes(job: Job) -> list[list[str]]:
    """The task ids each lane of the job runs, in order, as its script says."""
    out: list[list[str]] = [[] for _ in range(job.ntasks)]
    for match in _TASK_LINE.finditer(job.script):
        out[int(match.group(1))].append(match.group(2))
    return out


def boxes(plan: Plan) -> list[Box]:
    return [
        Box(job=job.index, lane=lane, slot=slot, task=task)
        for job in plan.jobs
        for lane, tasks in enumerate(lanes(job))
        for slot, task in enumerate(tasks)
    ]


def svg(plan: Plan) -> str:
    """The picture as an SVG document."""
    job_lanes = {job.index: lanes(job) for job in plan.jobs}
    longest = max((len(t) for ls in job_lanes.values() for t in ls), default=1)
    width = max(LABEL + longest * BOX + 20, MIN_WIDTH)
    y = TOP
    rows: list[str] = []
    for job in plan.jobs:
        colour = COLOURS[job.group % len(COLOURS)]
        height = job.ntasks * BOX
        label = f"job {job.index} ({job.ntasks} lanes, {len(job.tasks)} tasks)"
        rows.append(
            f'<g class="job" data-job="{job.index}" data-group="{job.group}">'
            f"<title>{escape(job.name)}</title>"
            f'<text x="4" y="{y + min(height, BOX) - 3}">{escape(label)}</text>'
        )
        for lane, tasks in enumerate(job_lanes[job.index]):
            top = y + lane * BOX
            rows.append(
                f'<rect class="lane" x="{LABEL}" y="{top}" width="{longest * BOX}" '
                f'height="{BOX}" fill="#f4f4f4"/>'
            )
            rows += [
                f'<rect class="task" data-task={quoteattr(task)} data-lane="{lane}" '
                f'data-slot="{slot}" x="{LABEL + slot * BOX + 1}" y="{top + 1}" '
                f'width="{BOX - 2}" height="{BOX - 2}" fill="{colour}">'
                f"<title>{escape(task)} (job {job.index}, lane {lane}, #{slot + 1})</title>"
                "</rect>"
                for slot, task in enumerate(tasks)
            ]
        rows.append("</g>")
        y += height + GAP
    n_tasks = sum(len(job.tasks) for job in plan.jobs)
    title = (
        f"{plan.name} ({plan.plan_id}): {n_tasks} tasks in {len(plan.jobs)} jobs; a row per "
        "job, a track per lane, a box per task in the order its lane runs it"
    )
    return "".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>\n',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y + 10}" '
            f'viewBox="0 0 {width} {y + 10}" font-family="sans-serif" font-size="11">\n',
            f'<text x="4" y="20" font-size="13">{escape(title)}</text>\n',
            "\n".join(rows),
            "\n</svg>\n",
        ]
    )
