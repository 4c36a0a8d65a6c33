"""`slurmplan report PLAN --html FILE` and `show PLAN --html FILE`, against the fake Slurm
(tests/fake_slurm.py): each task's box at its real start and runtime, in its state's
colour; tasks without times apart; the summary and the time_per_task suggestion."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from fake_slurm import FakeSlurm, done_marker, lane_file
from sample_inputs import one_task_per_job_config, profile
from sample_inputs import tasks as task_list_of
from test_effects_with_fake_slurm import Bench, Cli

from slurmplan.compiler import compile_plan
from slurmplan.compiler.slurm.states import RunState
from slurmplan.effects.cli import main, picture, report
from slurmplan.effects.cli.plan_files import dump_plan

SVG = "{http://www.w3.org/2000/svg}"
T0 = 1_700_000_000  # the run's first task start, epoch seconds


def lanes_bench(tmp_path: Path) -> Bench:
    """A Bench whose plan has 2 jobs of 4 tasks in 2 lanes (a lane runs two in a row)."""
    bench = Bench(tmp_path, "local", 2)
    config = {
        "default_slurm_config": {
            "partition": "main", "cpus_per_task": 1, "mem": "100M", "time_per_task": "00:05:00",
        },
        "batching_config": {
            "target_cpus_per_job": 2, "max_cpus_per_job": 2,
            "target_mem_per_job": "1G", "max_mem_per_job": "1G",
            "target_num_jobs": 2, "max_num_jobs": 2,
        },
        "scripts_dir": str(tmp_path / "scripts"),
    }  # fmt: skip
    task_list = {"name": "t", "tasks": [{"id": f"t{i}", "command": ["true"]} for i in range(8)]}
    bench.plan = compile_plan(config, profile(str(tmp_path / "project")), task_list)
    assert [(j.ntasks, len(j.tasks)) for j in bench.plan.jobs] == [(2, 4), (2, 4)]
    for job in bench.plan.jobs:
        os.makedirs(os.path.dirname(job.script_path), exist_ok=True)
    bench.slurm = FakeSlurm(bench.plan)
    return bench


def settled(tmp_path: Path, states: tuple[str, str]) -> tuple[Bench, list[list[list[str]]]]:
    """A submitted lanes_bench whose two jobs squeue shows in `states`, and their lanes."""
    bench = lanes_bench(tmp_path)
    bench.submit()
    for job_id, state in zip(bench.ids().values(), states, strict=True):
        bench.slurm.jobs[job_id].timeline = [state]
    return bench, [picture.lanes(job) for job in bench.plan.jobs]


def finish(bench: Bench, job: int, lines: dict[str, tuple[int, int, int]]) -> None:
    """Lane status lines `<id> <code> <job id> <start> <end>` for the tasks in `lines`
    ((exit code, start, end) each) and the done marker (templates/job.sbatch.j2)."""
    plan_job = bench.plan.jobs[job]
    job_id = bench.ids()[job]
    name = bench.slurm.jobs[job_id].name
    for path, tasks in zip(plan_job.lane_status_paths, picture.lanes(plan_job), strict=True):
        bench.slurm.files[path] = lane_file(job, job_id, name, "".join(
            f"{t} {lines[t][0]} {job_id} {lines[t][1]} {lines[t][2]}\n" for t in tasks if t in lines
        ))  # fmt: skip
    failed = len(plan_job.tasks) - sum(1 for t in plan_job.tasks if lines.get(t, (1,))[0] == 0)
    bench.slurm.files[plan_job.done_path] = done_marker(
        job, job_id, name, len(plan_job.tasks), failed
    )


def svg_of(page: str) -> ET.Element:
    """The inline SVG of a page (the page itself is HTML, not XML)."""
    match = re.search(r"<svg .*</svg>", page, re.S)
    assert match is not None
    return ET.fromstring(match.group(0))


def task_rects(root: ET.Element) -> dict[str, ET.Element]:
    rects = [r for r in root.iter(f"{SVG}rect") if r.attrib.get("class") == "task"]
    return {r.attrib["data-task"]: r for r in rects}


def test_report_draws_each_task_at_its_start_for_its_runtime_in_its_states_colour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench, (job0, job1) = settled(tmp_path, ("FAILED", "TIMEOUT"))
    times = {  # task: (exit code, start, end); job 1's last lane task never ended
        job0[0][0]: (0, T0, T0 + 10), job0[0][1]: (0, T0 + 10, T0 + 25),
        job0[1][0]: (3, T0 + 1, T0 + 4), job0[1][1]: (0, T0 + 4, T0 + 30),
        job1[0][0]: (0, T0 + 2, T0 + 12), job1[0][1]: (143, T0 + 12, T0 + 62),
        job1[1][0]: (0, T0 + 5, T0 + 9),
    }  # fmt: skip
    finish(bench, 0, times)
    finish(bench, 1, times)
    cli = Cli(bench, monkeypatch, capsys)
    out_file = tmp_path / "report.html"

    code, out, err = cli("report", "--html", str(out_file))
    assert code == 0, err
    page = out_file.read_text()
    rects = task_rects(svg_of(page))
    assert sorted(rects) == sorted(t for job in bench.plan.jobs for t in job.tasks)
    scale = report.AXIS / 62  # the last end is T0 + 62
    expected_state = {job0[1][0]: "FAILED", job1[0][1]: "TIMEOUT"}
    for task, (_, start, end) in times.items():
        rect = rects[task]
        state = expected_state.get(task, "COMPLETED")
        assert rect.attrib["data-state"] == state
        assert rect.attrib["fill"] == report.STATE_COLOURS[RunState(state)]
        left, right = round((start - T0) * scale), round((end - T0) * scale)
        assert int(rect.attrib["x"]) == picture.LABEL + left + 1  # 1 px from the one before
        assert int(rect.attrib["width"]) == max(2, right - left - 1)
        assert rect.find(f"{SVG}title").text.startswith(f"{task}: {state}, {end - start} s")  # type: ignore[union-attr]
    # Lane tracks: a task's box is on the track of the lane its script runs it in.
    for job, lanes in zip(bench.plan.jobs, (job0, job1), strict=True):
        for lane, tasks in enumerate(lanes):
            assert {rects[t].attrib["data-lane"] for t in tasks} == {str(lane)}, job.index
    # The one task without a status line: an outline after the axis, not a box at 0.
    untimed = rects[job1[1][1]]
    assert untimed.attrib["data-timed"] == "no"
    assert untimed.attrib["fill"] == "white"
    assert untimed.attrib["stroke"] == report.STATE_COLOURS[RunState.TIMEOUT]
    assert int(untimed.attrib["x"]) > picture.LABEL + report.AXIS
    # The legend names each state with its count; the summary says the same.
    legend = {g.attrib["data-state"] for g in svg_of(page).iter(f"{SVG}g")
              if g.attrib.get("class") == "legend"}  # fmt: skip
    assert legend == {"COMPLETED", "FAILED", "TIMEOUT"}
    assert "states: COMPLETED 5, TIMEOUT 2, FAILED 1" in out
    assert "wall time: 00:01:02 from the first task start to the last end" in out
    assert "tasks without start/end: 1 (" in out
    # 5 completed: 10, 15, 26, 10, 4 s -> 26 s; but the killed task ran 50 s -> 75 s -> 2 min.
    assert "time per task in the plan: 00:05:00 (00:10:00 per job, 2 tasks a lane)" in out
    assert "suggested time_per_task: 00:02:00 (a task killed at its time limit ran 50 s" in out
    assert "suggested time_per_task: 00:02:00" in page
    assert out.rstrip().endswith(f"wrote {out_file}")


def _completed_bench(tmp_path: Path, runtimes: list[int]) -> Bench:
    bench = Bench(tmp_path, "local", len(runtimes))
    bench.submit()
    for job, seconds in enumerate(runtimes):
        bench.slurm.jobs[bench.ids()[job]].timeline = ["COMPLETED"]
        finish(bench, job, {f"t{job}": (0, T0 + job, T0 + job + seconds)})
    return bench


@pytest.mark.parametrize(
    ("runtimes", "said"),
    [
        ([40, 50, 60, 70, 80, 90], "suggested time_per_task: 00:03:00 (95th percentile of 6 "
         "completed tasks = 90 s, x1.5 headroom, rounded up to whole minutes)"),
        ([5, 6, 7, 8], "no time_per_task suggested: 4 completed task(s) with measured "
         "runtimes, at least 5 are needed"),
    ],
)  # fmt: skip
def test_report_prints_the_suggestion_or_why_there_is_none(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    runtimes: list[int],
    said: str,
) -> None:
    cli = Cli(_completed_bench(tmp_path, runtimes), monkeypatch, capsys)
    code, out, err = cli("report")  # no --html: the summary alone
    assert code == 0, err
    assert out.splitlines()[-1] == said
    assert out.splitlines()[-2] == (
        "time per task in the plan: no limit of its own (the partition's default)"
    )
    assert "states: COMPLETED " + str(len(runtimes)) in out


def test_report_of_jobs_not_settled_draws_no_task_at_time_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = Bench(tmp_path, "local", 2)
    bench.submit()
    ids = bench.ids()
    bench.slurm.jobs[ids[0]].timeline = ["RUNNING"]
    bench.slurm.jobs[ids[1]].timeline = ["PENDING"]
    cli = Cli(bench, monkeypatch, capsys)
    out_file = tmp_path / "r.html"
    code, out, err = cli("report", "--html", str(out_file))
    assert code == 0, err
    assert f">{report.UNTIMED_LABEL}</text>" in out_file.read_text()  # the column's label
    rects = task_rects(svg_of(out_file.read_text()))
    assert {t: r.attrib["data-state"] for t, r in rects.items()} == {
        "t0": "RUNNING", "t1": "PENDING"
    }  # fmt: skip
    for rect in rects.values():
        assert rect.attrib["data-timed"] == "no" and rect.attrib["fill"] == "white"
        assert int(rect.attrib["x"]) > picture.LABEL + report.AXIS
    assert "not every job settled" in out and "tasks without start/end: 2 (" in out
    assert "no time_per_task suggested: 0 completed task(s)" in out


def test_every_state_has_a_colour_and_the_common_ones_differ() -> None:
    common = [RunState.COMPLETED, RunState.FAILED, RunState.TIMEOUT, RunState.CANCELLED,
              RunState.OUT_OF_MEMORY, RunState.LOST, RunState.REFUSED, RunState.PENDING,
              RunState.RUNNING, RunState.NOT_SUBMITTED, RunState.NODE_FAIL,
              RunState.PREEMPTED]  # fmt: skip
    assert len({report.colour(s) for s in common}) == len(common)
    assert all(re.fullmatch(r"#[0-9A-F]{6}", report.colour(s)) for s in RunState)
    assert report.OTHER_COLOUR not in {report.colour(s) for s in common}


def _one_line_exit_2(code: int, err: str) -> str:
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_report_refuses_bad_input_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = Bench(tmp_path, "local", 1)
    cli = Cli(bench, monkeypatch, capsys)
    code, _, err = cli("report", "--html", str(tmp_path / "r.html"))  # never submitted
    line = _one_line_exit_2(code, err)
    assert "no run to report" in line and "slurmplan submit" in line
    assert not (tmp_path / "r.html").exists()

    bench.submit()
    unwritable = tmp_path / "no" / "such" / "r.html"
    code, _, err = cli("report", "--html", str(unwritable))
    assert _one_line_exit_2(code, err).startswith(f"{unwritable}: cannot be written: ")

    missing = tmp_path / "missing.json"
    assert main(["report", str(missing), "--html", str(tmp_path / "r.html")]) == 2
    assert _one_line_exit_2(2, capsys.readouterr().err).startswith(str(missing))


def test_show_html_is_the_plans_picture_in_a_self_contained_page(tmp_path: Path) -> None:
    plan = lanes_bench(tmp_path).plan
    path = tmp_path / "plan.json"
    path.write_text(dump_plan(plan))
    page_file, svg_file = tmp_path / "plan.html", tmp_path / "plan.svg"
    assert main(["show", str(path), "--html", str(page_file), "--svg", str(svg_file)]) == 0
    page = page_file.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # Self-contained: no script, no reference to another file or site.
    assert not re.search(r"<script|\b(src|href)=|url\(|@import", page, re.I)
    assert re.findall(r"https?://[^\"']+", page) == ["http://www.w3.org/2000/svg"]
    drawn = svg_of(page)
    assert ET.tostring(drawn) == ET.tostring(ET.fromstring(svg_file.read_bytes()))  # one drawing
    rects = task_rects(drawn)
    assert sorted(rects) == sorted(t for job in plan.jobs for t in job.tasks)
    for task, rect in rects.items():
        assert rect.find(f"{SVG}title").text.startswith(task)  # type: ignore[union-attr]


def test_report_json_of_collect_and_the_picture_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What report draws is what collect --json says, task by task (one Run.poll each)."""
    bench = _completed_bench(tmp_path, [3, 9, 4, 20, 7])
    cli = Cli(bench, monkeypatch, capsys)
    _, out, _ = cli("collect", "--json")
    collected = json.loads(out)["tasks"]
    code, _, err = cli("report", "--html", str(tmp_path / "r.html"))
    assert code == 0, err
    assert report.UNTIMED_LABEL not in (tmp_path / "r.html").read_text()  # every task timed
    rects = task_rects(svg_of((tmp_path / "r.html").read_text()))
    t0 = min(t["started"] for t in collected.values())
    for task, result in collected.items():
        assert rects[task].attrib["data-state"] == result["state"]
        assert int(rects[task].attrib["data-start"]) == result["started"] - t0
        assert int(rects[task].attrib["data-seconds"]) == result["seconds"]


@pytest.mark.parametrize(
    ("time", "said"),
    [
        ("00:30:00", "00:30:00 per job of one task a lane"),
        ("UNLIMITED", "UNLIMITED per job"),
    ],
)
def test_the_plans_time_per_task_is_said_beside_the_suggestion(time: str, said: str) -> None:
    config = one_task_per_job_config(2)
    config["default_slurm_config"]["time"] = time
    plan = compile_plan(config, profile(), task_list_of(2))
    assert report.limits_line(plan) == f"time per task in the plan: {said}"


def test_the_last_tick_label_ends_at_the_axis_instead_of_running_past_the_picture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench, (job0, job1) = settled(tmp_path, ("COMPLETED", "COMPLETED"))
    times = {task: (0, T0, T0 + 10) for lanes in (job0, job1) for lane in lanes for task in lane}
    finish(bench, 0, times)
    finish(bench, 1, times)
    out_file = tmp_path / "report.html"
    code, _, err = Cli(bench, monkeypatch, capsys)("report", "--html", str(out_file))
    assert code == 0, err
    ticks = [t for t in svg_of(out_file.read_text()).iter(f"{SVG}text") if t.get("class") == "tick"]
    assert [t.text for t in ticks][-1] == "+00:00:10"  # at the axis's end
    assert [t.get("text-anchor") for t in ticks] == ["middle"] * (len(ticks) - 1) + ["end"]
