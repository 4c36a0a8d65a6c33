"""`slurmplan check` reads like a review: a summary of what changed, then the diff."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from slurmplan.compiler import compile_plan
from slurmplan.effects.cli import golden, main
from slurmplan.effects.cli.plan_files import dump_plan


def _inputs(qos: str, *, n_tasks: int = 120, time: str = "00:10:00") -> list[dict[str, Any]]:
    config = {
        "default_slurm_config": {"partition": "main", "cpus_per_task": 1, "mem": "1G",
                                 "time": time, "qos": qos},
        "batching_config": {"target_cpus_per_job": 8, "max_cpus_per_job": 16,
                            "target_mem_per_job": "8G", "max_mem_per_job": "16G",
                            "target_num_jobs": 15, "max_num_jobs": 100},
    }  # fmt: skip
    profile = {"username": "alice", "transport": "local", "project_dir": "/home/alice/p"}
    tasks = {"name": "wells", "needs_gpu": False, "tasks_per_job": 8, "parallel_tasks_per_job": 4,
             "tasks": [{"id": f"well-{i:03d}", "command": ["segment", str(i)]}
                       for i in range(n_tasks)]}  # fmt: skip
    return [config, profile, tasks]


def _site(tmp_path: Path, **before: Any) -> Path:
    """A golden folder of the site's plan with qos=normal; returns the folder."""
    folder = tmp_path / "golden"
    golden.update(compile_plan(*_inputs("normal", **before)), str(folder))
    return folder


def _plan(tmp_path: Path, qos: str, **kw: Any) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(dump_plan(compile_plan(*_inputs(qos, **kw))))
    return path


def test_the_summary_names_each_change_once_with_its_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _site(tmp_path)
    old_id = json.loads((folder / "plan.json").read_text())["plan_id"]
    plan = _plan(tmp_path, "high")
    new_id = json.loads(plan.read_text())["plan_id"]
    assert main(["check", str(plan), "--golden", str(folder), "--summary"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"16 files differ from {folder}: 17 lines removed, 17 added"
    assert out[1] == "  plan.json                  -2  +2  changed"
    assert out[2] == "  scripts/job-000000.sbatch  -1  +1  changed"
    assert out[11] == "  ... and 6 more files: -6 +6"
    assert out[12:] == [
        f"plan id {old_id} → {new_id} (in plan.json, with its digest)",
        "changed lines:",
        "  #SBATCH --qos=normal → #SBATCH --qos=high  in 15 scripts",
    ]  # --summary: no diff


def test_the_diff_follows_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _site(tmp_path)
    assert main(["check", str(_plan(tmp_path, "high")), "--golden", str(folder)]) == 1
    out = capsys.readouterr().out
    summary, diff = out.split("\n\n", 1)
    assert summary.endswith("#SBATCH --qos=normal → #SBATCH --qos=high  in 15 scripts")
    assert diff.startswith(f"--- {folder / 'plan.json'} (golden)\n+++ plan.json (plan)\n")
    assert diff.count("\n-#SBATCH --qos=normal\n+#SBATCH --qos=high\n") == 15


def test_new_and_gone_files_are_named_not_listed_line_by_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _site(tmp_path, n_tasks=16)  # 2 jobs
    plan = _plan(tmp_path, "normal", n_tasks=24)  # 3 jobs: one more script, other tasks
    assert main(["check", str(plan), "--golden", str(folder), "--summary"]) == 1
    out = capsys.readouterr().out
    assert "  scripts/job-000002.sbatch  -0  +" in out
    assert "new (not in the golden folder)" in out
    assert "#!/bin/bash" not in out  # the new script's lines are in the diff only


def test_unpaired_lines_and_many_changes_are_capped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _site(tmp_path)
    for script in (folder / "scripts").iterdir():  # each golden script one distinct line more
        text = script.read_text()
        script.write_text(text.replace("#!/bin/bash\n", f"#!/bin/bash\n# note {script.name}\n"))
    assert main(["check", str(_plan(tmp_path, "normal")), "--golden", str(folder),
                 "--summary"]) == 1  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    listed = [line for line in out if line.startswith("  removed # note ")]
    assert len(listed) == 15 and listed[0] == "  removed # note job-000000.sbatch  in 1 script"
    assert "plan id" not in "\n".join(out)  # the same plan: only the scripts differ


def test_more_distinct_changes_than_the_cap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _site(tmp_path, n_tasks=240)  # 30 jobs
    for script in (folder / "scripts").iterdir():
        text = script.read_text()
        script.write_text(text.replace("#!/bin/bash\n", f"#!/bin/bash\n# note {script.name}\n"))
    assert main(["check", str(_plan(tmp_path, "normal", n_tasks=240)), "--golden", str(folder),
                 "--summary"]) == 1  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("  removed # note ") for line in out) == 20
    assert out[-1] == "  ... and 10 more distinct changed lines (see the diff)"
