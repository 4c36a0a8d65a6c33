"""`slurmplan show PLAN --svg FILE`: a row per job, a track per lane, a box per task, each
where the job's script runs it."""

from __future__ import annotations

import itertools
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from slurmplan.compiler import Plan, compile_plan
from slurmplan.effects.cli import main, picture
from slurmplan.effects.cli.plan_files import dump_plan

GOLDEN = Path(__file__).parent / "golden"
SVG = "{http://www.w3.org/2000/svg}"


def _case(case: str) -> Plan:
    kinds = ("config", "profile", "tasks")
    return compile_plan(*(json.loads((GOLDEN / case / f"{k}.json").read_text()) for k in kinds))


def _drawn(tmp_path: Path, plan: Plan) -> ET.Element:
    path = tmp_path / "plan.json"
    path.write_text(dump_plan(plan))
    out = tmp_path / "plan.svg"
    assert main(["show", str(path), "--svg", str(out)]) == 0
    return ET.fromstring(out.read_bytes())  # well-formed XML, or this raises


@pytest.mark.parametrize("case", ["user_batching", "heterogeneous_groups", "quoting"])
def test_every_task_is_one_box_in_its_lane(tmp_path: Path, case: str) -> None:
    plan = _case(case)
    root = _drawn(tmp_path, plan)
    assert root.tag == f"{SVG}svg"
    jobs = root.findall(f"{SVG}g")
    assert [int(g.attrib["data-job"]) for g in jobs] == [job.index for job in plan.jobs]
    bottoms = []
    for g, job in zip(jobs, plan.jobs, strict=True):
        assert int(g.attrib["data-group"]) == job.group
        tracks = [r for r in g.findall(f"{SVG}rect") if r.attrib["class"] == "lane"]
        assert len(tracks) == job.ntasks
        tops = [int(t.attrib["y"]) for t in tracks]
        tasks = [r for r in g.findall(f"{SVG}rect") if r.attrib["class"] == "task"]
        assert sorted(r.attrib["data-task"] for r in tasks) == sorted(job.tasks)
        for r in tasks:
            lane, slot = int(r.attrib["data-lane"]), int(r.attrib["data-slot"])
            # The script's rule: lane k runs the job's tasks k, k + lanes, k + 2 lanes, ...
            assert r.attrib["data-task"] == job.tasks[lane + slot * job.ntasks]
            assert int(r.attrib["x"]) == picture.LABEL + slot * picture.BOX + 1
            assert int(r.attrib["y"]) == tops[lane] + 1
        bottoms.append((tops[0], tops[-1] + picture.BOX))
    assert all(a[1] < b[0] for a, b in itertools.pairwise(bottoms))  # rows apart
    assert float(root.attrib["height"]) > bottoms[-1][1]


def test_lanes_are_read_from_the_script() -> None:
    job = _case("user_batching").jobs[0]
    assert picture.lanes(job) == [[task] for task in job.tasks]  # 5 tasks, 5 lanes


def test_an_unwritable_picture_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(dump_plan(_case("gpu")))
    out = tmp_path / "no" / "such" / "plan.svg"
    assert main(["show", str(path), "--svg", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"{out}: cannot be written: ")
