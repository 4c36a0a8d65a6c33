"""End to end on the real testbed over each transport: submit, wait, status, collect.

local: the CLI runs as alice.  sudo: it runs as the service user `runner` (with
umask 077, so the scripts folder must be made readable on purpose) and
impersonates alice.  ssh: it runs as `runner` and connects as alice@127.0.0.1:2222
with alice's key, the testbed's known_hosts and one ControlMaster connection.
"""

from __future__ import annotations

import json
import pwd
import re
import time
from pathlib import Path
from typing import Any

import pytest
from effects_helpers import (
    bed_facts,
    bed_plan,
    clean_bed,
    collect_json,
    read_as_root,
    run_cli,
    show,
    squeue_rows,
    ssh_control,
    workspace,
)

pytestmark = pytest.mark.testbed

# Arguments a shell would mangle if anything quoted them twice, or not at all.
SPECIAL = ["a b", "c'd", 'e"f', "$(id -un)", "`id`", "$HOME", "*", "x;y|z&", "", "tab\there"]


def _tasks(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "tasks": [
            {"id": "who", "command": ["sh", "-c", 'id -un; echo "$HOME"']},
            {"id": "args", "command": ["printf", "%s\\n", *SPECIAL]},
            {"id": "fail", "command": ["sh", "-c", "echo oops >&2; exit 3"]},
            {"id": "env", "command": ["sh", "-c", 'echo "$GREETING"'],
             "env": {"GREETING": "hi there $(x)"}},
            {"id": "last", "command": ["echo", "done"]},
        ],
    }  # fmt: skip


def _ssh_master_pid(profile: dict[str, Any]) -> str | None:
    match = re.search(r"Master running \(pid=(\d+)\)", ssh_control(profile, "check"))
    return match.group(1) if match else None


@pytest.mark.parametrize("transport", ["local", "sudo", "ssh"])
def test_a_multi_job_plan_runs_end_to_end(transport: str) -> None:
    tb = bed_facts()
    with workspace() as ws:
        plan, plan_path, runner, profile = bed_plan(ws, tb, transport, _tasks(f"e2e-{transport}"))
        assert [j.ntasks for j in plan.jobs] == [2, 2, 1]  # several jobs, ntasks > 1
        try:
            # umask 077 for the service user: the sudo scripts folder must still be readable
            submit = run_cli(runner, ["submit", str(plan_path)], umask="077")
            assert submit.returncode == 0, show(submit)
            assert "3 jobs: 3 submitted now" in submit.stdout
            master = _ssh_master_pid(profile) if transport == "ssh" else None

            wait = run_cli(runner, ["wait", str(plan_path), "--poll-interval", "0.5"])
            assert wait.returncode == 1, show(wait)  # the task `fail` exits 3
            assert "4/5 tasks succeeded" in wait.stdout
            assert "task fail: FAILED, exit code 3" in wait.stderr

            status = run_cli(runner, ["status", str(plan_path), "--json"])
            assert status.returncode == 0, show(status)
            jobs = json.loads(status.stdout)["jobs"]
            assert [(j["state"], j["settled"], j["failed_tasks"]) for j in jobs] == [
                ("COMPLETED", True, 0), ("FAILED", True, 1), ("COMPLETED", True, 0),
            ]  # fmt: skip

            tasks = collect_json(runner, plan_path)["tasks"]
            if transport == "ssh":  # one connection reused by every command of every run
                assert master is not None and _ssh_master_pid(profile) == master

            _check_results(plan.workdir, tasks, [j["job_id"] for j in jobs])
            rows = squeue_rows([j.name for j in plan.jobs])
            assert sorted((r[2], r[3]) for r in rows) == sorted(
                (j.name, "alice") for j in plan.jobs
            )  # each job exactly once, owned by alice
            if transport == "sudo":  # each script went to sbatch on stdin: no file anywhere
                assert not Path(plan.script_dir).exists()
        finally:
            clean_bed(plan, profile)


def _check_results(workdir: str, tasks: dict[str, Any], job_ids: list[str]) -> None:
    assert set(tasks) == {"who", "args", "fail", "env", "last"}
    for task_id, result in tasks.items():
        assert set(result) == {"exit_code", "signal", "state", "job_id", "started", "ended",
                               "seconds", "reason", "stdout", "stderr"}  # fmt: skip
        assert result["signal"] is None  # every task exited on its own
        # the lane's epoch seconds, from the node's clock (the same machine here)
        assert time.time() - 600 < result["started"] <= result["ended"] <= time.time()
        assert result["seconds"] == result["ended"] - result["started"]
        assert result["stdout"] == f"{workdir}/tasks/{task_id}.out"
        assert result["stderr"] == f"{workdir}/tasks/{task_id}.err"
        assert result["job_id"] in job_ids
    expected_codes = {"who": 0, "args": 0, "fail": 3, "env": 0, "last": 0}
    assert {t: r["exit_code"] for t, r in tasks.items()} == expected_codes
    assert {t: r["state"] for t, r in tasks.items()} == {
        t: ("FAILED" if code else "COMPLETED") for t, code in expected_codes.items()
    }
    assert [tasks[t]["job_id"] for t in ("who", "args", "fail", "env", "last")] == [
        job_ids[0], job_ids[0], job_ids[1], job_ids[1], job_ids[2],
    ]  # fmt: skip
    out = {t: read_as_root(r["stdout"]) for t, r in tasks.items()}
    # the task ran as the impersonated user, with her HOME (sudo --set-home; sbatch
    # exports the submitting environment into the job)
    assert out["who"] == f"alice\n{pwd.getpwnam('alice').pw_dir}\n"
    assert out["args"] == "".join(f"{a}\n" for a in SPECIAL)
    assert out["env"] == "hi there $(x)\n"
    assert out["last"] == "done\n"
    assert read_as_root(tasks["fail"]["stderr"]) == "oops\n"
