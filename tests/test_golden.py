"""Golden files: each tests/golden/<case>/ holds its inputs beside the expected plan.

A case compiles config.json + profile.json + tasks.json and must give exactly
its plan.json and scripts/ in the golden form (the plan id as a placeholder, the
scripts as files: compiler/golden_form.py), the comparison of `slurmplan check`. A missing
expected file fails; `pytest --update-goldens` rewrites them for review.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from slurmplan.compiler import compile_plan
from slurmplan.effects.cli import golden

GOLDEN = Path(__file__).parent / "golden"
INPUTS = ("config.json", "profile.json", "tasks.json")
# Listed, not only discovered, so that a deleted case folder fails too.
CASES = (
    "gpu",
    "gpu_fallback",
    "heterogeneous_groups",
    "mem_per_cpu",
    "quoting",
    "sbatch_extra_lines",
    "seed_example",
    "task_outputs",
    "time_per_task",
    "transport_local",
    "transport_ssh",
    "transport_sudo",
    "user_batching",
)


def _load(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return value


def test_every_case_folder_is_listed() -> None:
    found = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())
    assert found == sorted(CASES)


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case: str, update_goldens: bool) -> None:
    folder = GOLDEN / case
    plan = compile_plan(*(_load(folder / name) for name in INPUTS))
    if update_goldens:
        golden.update(plan, str(folder))
        return
    differences = golden.compare(plan, str(folder))
    if differences:
        report = "".join(d.diff for d in differences)
        pytest.fail(
            f"{len(differences)} file(s) of {folder} differ from the compiled plan "
            f"(rerun with --update-goldens and review the diff):\n{report}",
            pytrace=False,
        )


def test_a_case_without_plan_json_fails(tmp_path: Path) -> None:
    case = GOLDEN / "transport_local"
    plan = compile_plan(*(_load(case / name) for name in INPUTS))
    for name in INPUTS:
        (tmp_path / name).write_bytes((case / name).read_bytes())
    differences = golden.compare(plan, str(tmp_path))
    assert {d.relative for d in differences} == {"plan.json", *golden.golden_files(plan)}
    assert all(d.change is golden.Change.MISSING for d in differences)
    assert not (tmp_path / "plan.json").exists()  # never created by a comparison


# srun's stand-in runs the step's command for real (so the real `env` and /bin/sh lie
# between it and the task), its stdout going to --output, as srun would.
FAKE_SRUN = """\
import os, sys
args = sys.argv[1:]
options, argv = args[: args.index("--")], args[args.index("--") + 1 :]
output = next(o.split("=", 1)[1] for o in options if o.startswith("--output="))
fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.dup2(fd, 1)
os.execvp(argv[0], argv)
"""
# Each task's program is this recorder, on PATH under the program's name: it prints
# the argv and the environment it was started with.
RECORDER = """\
import json, os, sys
argv = [os.path.basename(sys.argv[0]), *sys.argv[1:]]
json.dump({"argv": argv, "env": {k: os.environ.get(k) for k in ("A", "B", "EMPTY")}}, sys.stdout)
"""


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_quoting_case_delivers_every_argv_unchanged(tmp_path: Path) -> None:
    """Run the golden scripts with bash (srun replaced by a recorder): what each task
    receives must be exactly its argv and env from tasks.json."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tasks = _load(GOLDEN / "quoting" / "tasks.json")["tasks"]
    programs = {task["command"][0]: RECORDER for task in tasks}
    for name, text in {"srun": FAKE_SRUN, **programs}.items():
        (bin_dir / name).write_text(f"#!{sys.executable}\n{text}")
        (bin_dir / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("A", "B", "EMPTY")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", PYTHONUTF8="1")
    env.update(SLURM_JOB_ID="4242", SLURM_JOB_NAME="quoting.run")  # as Slurm sets them
    # The scripts as the plan has them: the golden files with the plan id put back.
    jobs = golden.read_plan_json(str(GOLDEN / "quoting"))["jobs"]
    assert len(jobs) == 4
    for job in jobs:
        script = tmp_path / os.path.basename(job["script_path"])
        script.write_bytes(job["script"].encode("utf-8", "surrogateescape"))
        run_dir = tmp_path / script.stem
        (run_dir / "tasks").mkdir(parents=True)
        done = subprocess.run(
            ["bash", str(script)], check=False, cwd=run_dir, env=env, capture_output=True
        )
        assert done.returncode == 0, done.stderr
        marker = (run_dir / f"{script.stem}.done").read_text()
        assert marker.endswith(" tasks=2 failed=0\n")
    for task in tasks:
        [out] = tmp_path.glob(f"job-*/tasks/{task['id']}.out")
        received = json.loads(out.read_text())
        assert received["argv"] == task["command"]
        env_given = task.get("env", {})
        assert received["env"] == {k: env_given.get(k) for k in ("A", "B", "EMPTY")}
