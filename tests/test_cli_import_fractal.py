"""`slurmplan import-fractal`: files in, config.json and profile.json out, report on stderr.

The resource, profile and user are this project's own copies of the shapes in
fractal-server's docs (see tests/test_import_fractal.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_import_fractal import SSH_PROFILE, SUDO_PROFILE, USER, docs_resource, tasks

import slurmplan.effects.atomic
from slurmplan.effects.cli import main


def _write(path: Path, value: Any) -> str:
    path.write_text(json.dumps(value), encoding="utf-8")
    return str(path)


def _inputs(tmp_path: Path, kind: str = "slurm_sudo") -> list[str]:
    profile = SUDO_PROFILE if kind == "slurm_sudo" else SSH_PROFILE
    return [
        _write(tmp_path / "resource.json", docs_resource(kind)),
        "--profile", _write(tmp_path / "fractal-profile.json", profile),
        "--user", _write(tmp_path / "user.json", USER),
    ]  # fmt: skip


@pytest.mark.parametrize("kind", ["slurm_sudo", "slurm_ssh"])
def test_import_writes_config_and_profile_that_compile(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["import-fractal", *_inputs(tmp_path, kind), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert "changed: resource: /jobs_runner_config/gpu_slurm_config/extra_lines/0: " \
        '"#SBATCH --gres=gpu:v100:1" -> \'gres\': "gpu:v100:1"' in lines  # fmt: skip
    assert "not carried: resource: /jobs_poll_interval: slurmplan's status and wait poll on " \
        "their own schedule (docs/effects.md)" in lines  # fmt: skip
    assert all(line.startswith(("changed: ", "not carried: ", "wrote ")) for line in lines)
    assert f"wrote {out / 'config.json'}" in lines and f"wrote {out / 'profile.json'}" in lines
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    profile = json.loads((out / "profile.json").read_text(encoding="utf-8"))
    assert config["gpu_slurm_config"]["gres"] == "gpu:v100:1"
    assert profile["transport"] == kind.removeprefix("slurm_")
    task_list = _write(tmp_path / "tasks.json", tasks(3, needs_gpu=True))
    plan = tmp_path / "plan.json"
    compile_args = ["compile", "--config", str(out / "config.json"), "--profile",
                    str(out / "profile.json"), "--tasks", task_list, "-o", str(plan)]  # fmt: skip
    assert main(compile_args) == 0
    scripts = [job["script"] for job in json.loads(plan.read_text(encoding="utf-8"))["jobs"]]
    assert scripts and all("#SBATCH --gres=gpu:v100:1\n" in script for script in scripts)


def test_the_config_alone_into_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    resource = _write(tmp_path / "resource.json", docs_resource())
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["import-fractal", resource]) == 0
    assert sorted(os.listdir(work)) == ["config.json"]
    assert "not carried: resource: /type: \"slurm_sudo\": belongs in the profile: pass " \
        "--profile to carry it" in capsys.readouterr().err.splitlines()  # fmt: skip


def test_existing_files_are_kept_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "profile.json").write_text("mine", encoding="utf-8")
    args = ["import-fractal", *_inputs(tmp_path), "--out", str(out)]
    assert main(args) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{out / 'profile.json'}: already exists (--force overwrites it)"
    ]
    # nothing half done: config.json, which did not exist, was not written either
    assert sorted(os.listdir(out)) == ["profile.json"]
    assert (out / "profile.json").read_text(encoding="utf-8") == "mine"
    assert main([*args, "--force"]) == 0
    assert json.loads((out / "profile.json").read_text(encoding="utf-8"))["transport"] == "sudo"
    assert sorted(os.listdir(out)) == ["config.json", "profile.json"]


def test_a_failed_write_leaves_no_half_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    real_replace = os.replace
    calls: list[str] = []

    def replace_then_fail(src: str, dst: str) -> None:
        calls.append(os.path.basename(dst))
        if len(calls) == 2:  # the second file's rename: the first is already in place
            raise OSError(28, "No space left on device", dst)
        real_replace(src, dst)

    monkeypatch.setattr(slurmplan.effects.atomic.os, "replace", replace_then_fail)
    assert main(["import-fractal", *_inputs(tmp_path), "--out", str(out)]) == 2
    assert calls == ["profile.json", "config.json"]
    err = capsys.readouterr().err
    assert err == f"{out / 'config.json'}: cannot be written: No space left on device\n"
    assert os.listdir(out) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "resource.json: line 1, column 2: not valid JSON"),
        ("[1]", "resource.json: /: must be a JSON object {...} (got a list)"),
        (json.dumps({**docs_resource(), "jobs_runner_config": None}),
         "resource.json: /jobs_runner_config: expected a JSON object (fractal's SLURM runner "
         "config) (got null)"),
        (json.dumps({"jobs_runner_config": {"default_slurm_config": {"mem": "1.5G"},
                                            "batching_config": {}}}),
         "resource.json: /jobs_runner_config/default_slurm_config/mem: expected a positive "
         'integer of MB or text such as "100M", "8G", "1T" (fractal: G = 1000 MB) (got "1.5G")'),
    ],
)  # fmt: skip
def test_bad_input_exits_2_naming_file_and_field(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("resource.json").write_text(text, encoding="utf-8")
    assert main(["import-fractal", "resource.json", "--out", "out"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0].startswith(expected)
    assert "Traceback" not in err and "None" not in err
    assert not Path("out").exists()


def test_a_profile_for_another_resource_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    resource = _write(tmp_path / "resource.json", docs_resource())
    profile = _write(tmp_path / "p.json", {**SSH_PROFILE})
    args = ["import-fractal", resource, "--profile", profile, "--out", str(tmp_path / "o")]
    assert main(args) == 2
    assert capsys.readouterr().err.splitlines() == [
        f'{profile}: /resource_type: expected the resource\'s type "slurm_sudo" (got "slurm_ssh")',
    ]


def test_user_without_profile_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    resource = _write(tmp_path / "resource.json", docs_resource())
    user = _write(tmp_path / "user.json", USER)
    assert main(["import-fractal", resource, "--user", user, "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == f"{user}: --user goes with --profile (a user has no use " \
        "alone)\n"  # fmt: skip


def test_as_a_process(tmp_path: Path) -> None:
    resource = _write(tmp_path / "resource.json", docs_resource())
    broken = tmp_path / "broken.json"
    broken.write_text('{"jobs_runner_config": ', encoding="utf-8")
    root = Path(__file__).resolve().parent.parent

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "slurmplan", "import-fractal", *args],
            cwd=root, capture_output=True, text=True, check=False,
        )  # fmt: skip

    done = run(resource, "--out", str(tmp_path / "out"))
    assert (done.returncode, done.stdout) == (0, "")
    assert "changed: resource: /jobs_runner_config/gpu_slurm_config/extra_lines/0" in done.stderr
    assert json.loads((tmp_path / "out" / "config.json").read_text(encoding="utf-8"))
    failed = run(str(broken), "--out", str(tmp_path / "out2"))
    assert failed.returncode == 2
    assert failed.stderr.startswith(f"{broken}: line 1, column 24: not valid JSON")
    assert "Traceback" not in failed.stderr
    assert not (tmp_path / "out2").exists()
