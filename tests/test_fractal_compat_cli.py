"""`slurmplan compile` says what an admin must see (issue 11): the plan's warnings on
stderr (exit 0 still), and thousands of problems as a readable, capped list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sample_inputs

from slurmplan.effects.cli import main
from slurmplan.effects.cli.inputs_io import MAX_PROBLEM_LINES


def _files(tmp_path: Path, config: Any, profile: Any, tasks: Any) -> list[str]:
    args = ["compile"]
    for flag, doc in (("--config", config), ("--profile", profile), ("--tasks", tasks)):
        path = tmp_path / f"{flag[2:]}.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        args += [flag, str(path)]
    return [*args, "-o", str(tmp_path / "plan.json")]


def test_compile_prints_the_plans_warnings_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = {**sample_inputs.tasks(3), "needs_gpu": True}
    args = _files(tmp_path, sample_inputs.config(), sample_inputs.profile(), tasks)
    assert main(args) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "warning: the task list needs a GPU but the runner config has no gpu_slurm_config; "
        "using default_slurm_config"
    ]
    plan = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert len(plan["warnings"]) == 1


def test_a_group_warning_names_its_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = {**sample_inputs.tasks(4), "tasks_per_job": 2, "parallel_tasks_per_job": 5}
    assert main(_files(tmp_path, sample_inputs.config(), sample_inputs.profile(), tasks)) == 0
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("warning: group 0: parallel_tasks_per_job=5 exceeds")


def test_no_warning_no_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _files(tmp_path, sample_inputs.config(), sample_inputs.profile(), sample_inputs.tasks())
    assert main(args) == 0
    assert capsys.readouterr().err == ""


def test_thousands_of_problems_are_capped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = sample_inputs.tasks(2_000)
    for task in tasks["tasks"]:
        task["meta"] = {"mem": "1.5G"}
    args = _files(tmp_path, sample_inputs.config(), sample_inputs.profile(), tasks)
    assert main(args) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == MAX_PROBLEM_LINES + 1
    assert err[0].endswith("(got '1.5G')") and "/tasks/0/meta/mem" in err[0]
    assert err[-1] == f"... and {2_000 - MAX_PROBLEM_LINES} more problems"


def test_a_few_problems_are_all_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tasks = sample_inputs.tasks(MAX_PROBLEM_LINES + 1)
    for task in tasks["tasks"]:
        task["meta"] = {"mem": "1.5G"}
    assert main(_files(tmp_path, sample_inputs.config(), sample_inputs.profile(), tasks)) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == MAX_PROBLEM_LINES + 1 and "more problems" not in err[-1]
