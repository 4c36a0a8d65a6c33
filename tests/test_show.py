"""`slurmplan show`: every directive a job carries, task ids that never overstate, --json,
and a screenful whatever the plan's size."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from slurmplan.compiler import Plan, compile_plan
from slurmplan.effects.cli import main
from slurmplan.effects.cli.plan_files import dump_plan
from slurmplan.effects.cli.show import FOLD_AFTER, script_header, summary, summary_json

GOLDEN = Path(__file__).parent / "golden"


def _case(case: str) -> Plan:
    raw = [
        json.loads((GOLDEN / case / f"{k}.json").read_text())
        for k in ("config", "profile", "tasks")
    ]
    return compile_plan(*raw)


def _file(tmp_path: Path, plan: Plan) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(dump_plan(plan))
    return path


def _site(n_tasks: int, *, odd_meta: dict[str, Any] | None = None) -> Plan:
    config = {
        "default_slurm_config": {"partition": "main", "cpus_per_task": 1, "mem": "1G",
                                 "time": "00:10:00"},
        "batching_config": {"target_cpus_per_job": 8, "max_cpus_per_job": 16,
                            "target_mem_per_job": "8G", "max_mem_per_job": "16G",
                            "target_num_jobs": 15, "max_num_jobs": 100000},
    }  # fmt: skip
    profile = {"username": "alice", "transport": "local", "project_dir": "/home/alice/p"}
    tasks: list[dict[str, Any]] = [
        {"id": f"well-{i:03d}", "command": ["segment", str(i)]} for i in range(n_tasks)
    ]
    if odd_meta is not None:
        for task in tasks[1::2]:
            task["meta"] = odd_meta
    task_list = {"name": "wells", "needs_gpu": False, "tasks_per_job": 8,
                 "parallel_tasks_per_job": 4, "tasks": tasks}  # fmt: skip
    return compile_plan(config, profile, task_list)


def test_every_directive_and_shell_line_of_a_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = _case("sbatch_extra_lines")
    assert main(["show", str(_file(tmp_path, plan))]) == 0
    out = capsys.readouterr().out
    script_lines = plan.jobs[0].script.split("\n")
    sbatch = [line.removeprefix("#SBATCH ") for line in script_lines if line.startswith("#SBATCH")]
    table = ("--partition=", "--ntasks=", "--cpus-per-task=", "--mem=", "--job-name=",
             "--time=", "--output=", "--error=", "--chdir=")  # fmt: skip
    expected = [option for option in sbatch if not option.startswith(table)]
    for field in ("gres", "gpus", "account", "qos", "constraint", "exclude", "nodelist", "nodes"):
        assert any(option.startswith(f"--{field}=") for option in expected), field
    assert "--licenses=matlab:1" in expected and "-s" in expected  # the extra #SBATCH lines
    start = out.index("\n  directives  ") + 1  # the plan's name is "directives" too
    shown = [line[14:] for line in out[start:].split("\n")[: len(expected)]]
    assert shown == expected
    assert "  shell       module load python\n              export A=1\n" in out
    assert out.count("--qos=normal") == 1  # once for the group, not per job


def test_exports_are_shown_with_the_shell_lines(capsys: pytest.CaptureFixture[str]) -> None:
    plan = _case("quoting")
    header = script_header(plan.jobs[0].script)
    assert header.shell == (
        "export DOLLAR='/home/alice/project/.fractal_cache/$HOME/x'",
        "export WITH_SPACE='/home/alice/project/.fractal_cache/my dir/lib'\"'\"'s data'",
    )
    assert header.directives == ()
    assert "  shell       export DOLLAR=" in summary(plan)


def _ids_column(out: str) -> list[str]:
    return [line.split("00:10:00  ", 1)[1] for line in out.splitlines() if "00:10:00  " in line]


def test_a_range_only_when_consecutive_in_the_task_list() -> None:
    one_group = summary(_site(24))
    assert _ids_column(one_group) == ["well-000..well-007", "well-008..well-015",
                                      "well-016..well-023"]  # fmt: skip
    # Odd tasks need more memory: each group's jobs skip the other group's tasks.
    two_groups = summary(_site(32, odd_meta={"mem": "2G"}))
    ids = _ids_column(two_groups)
    assert ids[0] == "first well-000, last well-014, 8 tasks"  # never well-000..well-014
    assert not any(".." in cell for cell in ids)


def test_two_tasks_are_both_named() -> None:
    plan = _case("heterogeneous_groups")
    assert "big0, big1" in summary(plan)


def test_json_is_the_same_as_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = _site(32, odd_meta={"mem": "2G", "constraint": "big"})
    assert main(["show", str(_file(tmp_path, plan)), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == summary_json(plan)
    assert (data["plan_id"], data["n_tasks"], data["n_jobs"]) == (plan.plan_id, 32, len(plan.jobs))
    assert [g["directives"] for g in data["groups"]] == [[], ["--constraint=big"]]
    job = data["jobs"][-1]
    assert job["directives"] == ["--constraint=big"] and job["group"] == 1
    assert job["tasks"] == {"first": plan.jobs[-1].tasks[0], "last": plan.jobs[-1].tasks[-1],
                            "count": len(plan.jobs[-1].tasks), "consecutive": False}  # fmt: skip


def test_a_group_whose_jobs_differ_shows_each_job() -> None:
    plan = _site(24)
    changed = dataclasses.replace(
        plan.jobs[1],
        script=plan.jobs[1].script.replace("#SBATCH --time", "#SBATCH --qos=x\n#SBATCH --time"),
    )
    out = summary(dataclasses.replace(plan, jobs=(plan.jobs[0], changed, *plan.jobs[2:])))
    assert "  directives and shell lines differ by job: see each job below" in out
    assert "  job 1 directives  --qos=x" in out
    assert "  job 0 directives  -" in out
    assert (
        summary_json(dataclasses.replace(plan, jobs=(plan.jobs[0], changed, *plan.jobs[2:])))[
            "groups"
        ][0]["directives"]
        is None
    )


def test_a_large_plan_prints_in_a_screenful(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = _site(100_000)
    assert len(plan.jobs) == 12_500
    folded = summary(plan).splitlines()
    assert len(folded) <= 30
    assert f"  ... {12_500 - 6} more jobs (--all lists them)" in folded
    assert any(line.lstrip().startswith("12499  wells.") for line in folded)  # the last job
    smaller = _site(2_000)  # --all through the command line: every job a row
    assert main(["show", str(_file(tmp_path, smaller)), "--all"]) == 0
    unfolded = capsys.readouterr().out.splitlines()
    assert sum(re.match(r" +\d+  wells\.", line) is not None for line in unfolded) == 250
    assert len(summary(_site(8 * FOLD_AFTER)).splitlines()) == len(
        summary(_site(8 * FOLD_AFTER), unfold=True).splitlines()
    )  # exactly FOLD_AFTER jobs: nothing folded
