"""`slurmplan report --html` after a real run on the testbed (scripts/testbed.sh), opened
in headless chromium: a plan of 2 jobs, each 4 tasks in 2 lanes, run to the end as alice;
each task's box where and as long as it really ran, in its state's colour, and a
time_per_task suggested from the measured runtimes."""

from __future__ import annotations

import itertools
from collections import Counter

import browser
import pytest
from effects_helpers import (
    base_config,
    bed_facts,
    collect_json,
    compile_to,
    run_cli,
    scancel_plan,
    show,
    workspace,
)
from test_browser_render import SIZE, rgb
from test_report import svg_of, task_rects

from slurmplan.compiler.slurm.states import RunState
from slurmplan.effects.cli import picture, report

pytestmark = pytest.mark.testbed


def test_report_of_a_real_run_draws_its_real_times_and_suggests_a_time_per_task() -> None:
    bed_facts()
    with workspace() as ws:
        home = ws.dir_for("alice")
        profile = {"username": "alice", "transport": "local", "project_dir": str(home / "p")}
        tasks = [{"id": f"s{i}", "command": ["sleep", str(1 + i % 3)]} for i in range(7)]
        tasks.append({"id": "fails", "command": ["sh", "-c", "sleep 1; exit 3"]})
        task_list = {"name": "report", "tasks_per_job": 4, "parallel_tasks_per_job": 2,
                     "tasks": tasks}  # fmt: skip
        plan_path = home / "plan.json"
        plan = compile_to(base_config(), profile, task_list, plan_path, "alice")
        assert [(job.ntasks, len(job.tasks)) for job in plan.jobs] == [(2, 4), (2, 4)]
        page = home / "report.html"
        try:
            done = run_cli("alice", ["submit", str(plan_path)])
            assert done.returncode == 0, show(done)
            waited = run_cli(
                "alice", ["wait", str(plan_path), "--timeout", "240", "--poll-max", "3"],
                timeout=260,
            )  # fmt: skip
            assert waited.returncode == 1, show(waited)  # `fails` exits 3
            reported = run_cli("alice", ["report", str(plan_path), "--html", str(page)])
            assert reported.returncode == 0, show(reported)
        finally:
            scancel_plan(plan)
        collected = collect_json("alice", plan_path)["tasks"]
        out = reported.stdout
        assert "states: COMPLETED 7, FAILED 1" in out, out
        # 7 runs of 1 to 3 s (and the queue's latency): x1.5 stays within one minute.
        assert "suggested time_per_task: 00:01:00 (95th percentile of 7 completed" in out, out
        assert "time per task in the plan: 00:02:30 (00:05:00 per job, 2 tasks a lane)" in out
        assert out.rstrip().endswith(f"wrote {page}")

        text = page.read_text()
        rects = task_rects(svg_of(text))
        t0 = min(task["started"] for task in collected.values())
        for task_id, task in collected.items():
            rect = rects[task_id]
            assert rect.attrib["data-state"] == task["state"]
            assert rect.attrib["fill"] == report.STATE_COLOURS[RunState(task["state"])]
            assert int(rect.attrib["data-start"]) == task["started"] - t0
            assert int(rect.attrib["data-seconds"]) == task["seconds"] >= 1
        # A lane runs its tasks one after another: each box starts after the one before.
        for job in plan.jobs:
            for lane in picture.lanes(job):
                for a, b in itertools.pairwise(lane):
                    assert collected[b]["started"] >= collected[a]["ended"]
                    assert int(rects[b].attrib["x"]) > int(rects[a].attrib["x"])

        image = browser.screenshot(page, ws.root / "report.png", SIZE)
        assert (image.width, image.height) == SIZE
        pixels = Counter(image.pixel(x, y) for y in range(image.height) for x in range(image.width))
        for state in ("COMPLETED", "FAILED"):
            area = sum(int(r.attrib["width"]) * int(r.attrib["height"])
                       for r in rects.values() if r.attrib["data-state"] == state)  # fmt: skip
            seen = pixels[rgb(report.STATE_COLOURS[RunState(state)])]
            assert area <= seen <= area + 12 * 12, (state, area, seen)  # boxes and swatch
        assert len(browser.dom(page).split('<rect class="task"')) == 1 + len(rects) == 9
