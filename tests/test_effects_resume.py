"""Nothing lost, nothing duplicated: submit killed (SIGKILL) mid-way and run again.

The checks are by name in squeue (every job of the plan exactly once) against
the journal's ids, on the real testbed, with the CLI running as alice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from effects_helpers import (
    as_user,
    base_config,
    bed_facts,
    cli_argv,
    compile_to,
    run_cli,
    scancel_plan,
    show,
    squeue_rows,
    workspace,
)

from compiler import Plan
from compiler.tarball import script_bytes

pytestmark = pytest.mark.testbed


def _plan(alice_dir: Path, n_jobs: int, name: str) -> tuple[Plan, Path]:
    tasks = {
        "name": name,
        "tasks_per_job": 1,
        "parallel_tasks_per_job": 1,
        "tasks": [{"id": f"t{i}", "command": ["true"]} for i in range(n_jobs)],
    }
    profile = {"username": "alice", "transport": "local", "project_dir": str(alice_dir / "p")}
    plan_path = alice_dir / "plan.json"
    plan = compile_to(base_config(), profile, tasks, plan_path, "alice")
    assert len(plan.jobs) == n_jobs
    return plan, plan_path


def _events(plan_path: Path) -> list[dict[str, object]]:
    text = Path(f"{plan_path}.journal").read_bytes().decode()
    return [json.loads(line) for line in text.split("\n")[:-1] if line]


def _assert_each_job_once(plan: Plan, plan_path: Path) -> None:
    rows = squeue_rows([j.name for j in plan.jobs])
    by_name: dict[str, list[str]] = {}
    for job_id, _state, name, user in rows:
        assert user == "alice"
        by_name.setdefault(name, []).append(job_id)
    assert {j.name: len(by_name.get(j.name, [])) for j in plan.jobs} == {
        j.name: 1 for j in plan.jobs
    }
    recorded = {e["job"]: e["job_id"] for e in _events(plan_path) if e["event"] == "submitted"}
    assert recorded == {j.index: by_name[j.name][0] for j in plan.jobs}


def _kill_after_intents(plan_path: Path, intents: int) -> None:
    """Start submit and SIGKILL it as soon as the journal holds `intents` intent lines."""
    journal = Path(f"{plan_path}.journal")
    proc = subprocess.Popen(
        cli_argv("alice", ["submit", str(plan_path)]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd="/",
    )
    deadline = time.monotonic() + 60
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if journal.exists() and journal.read_bytes().count(b'"event":"intent"') >= intents:
                os.kill(proc.pid, signal.SIGKILL)  # setpriv/env exec: this pid is Python
                break
            time.sleep(0.001)
    finally:
        proc.wait(timeout=30)


def test_submit_killed_at_any_point_then_resumed_submits_every_job_exactly_once() -> None:
    bed_facts()
    with workspace() as ws:
        plan, plan_path = _plan(ws.dir_for("alice"), 8, "resume-kill")
        try:
            for intents in (2, 3, 6):  # several cut points, each run resuming the last
                _kill_after_intents(plan_path, intents)
            done = run_cli("alice", ["submit", str(plan_path)])
            assert done.returncode == 0, show(done)
            again = run_cli("alice", ["submit", str(plan_path)])  # a no-op now
            assert again.returncode == 0 and "0 submitted now, 8 before" in again.stdout
            _assert_each_job_once(plan, plan_path)
            wait = run_cli("alice", ["wait", str(plan_path), "--poll-interval", "0.5"])
            assert wait.returncode == 0, show(wait)
        finally:
            scancel_plan(plan)


def test_cut_off_jobs_are_looked_up_before_any_resubmission() -> None:
    """Job 0 reached Slurm but its id was never recorded; job 1 ran and Slurm forgot
    it (its stdout file exists); job 2 never got past its intent."""
    bed_facts()
    with workspace() as ws:
        plan, plan_path = _plan(ws.dir_for("alice"), 3, "resume-cut")
        try:
            subprocess.run([*as_user("alice"), "mkdir", "-p", plan.workdir], check=True)
            for job in plan.jobs:
                path = Path(job.script_path)
                path.write_bytes(script_bytes(job.script))
                os.chown(path, *_ids("alice"))
            by_hand = subprocess.run(
                [*as_user("alice"), "sbatch", "--parsable", plan.jobs[0].script_path],
                capture_output=True, text=True, check=True, cwd="/",
            ).stdout.strip()  # fmt: skip
            stdout1 = Path(plan.jobs[1].stdout)
            stdout1.write_text("")
            os.chown(stdout1, *_ids("alice"))
            header = {"event": "header", "format": "slurmplan-journal/1",
                      "plan_id": plan.plan_id, "name": plan.name}  # fmt: skip
            lines = [header] + [
                {"event": "intent", "job": j.index, "name": j.name} for j in plan.jobs
            ]
            journal = Path(f"{plan_path}.journal")
            journal.write_text("".join(json.dumps(e) + "\n" for e in lines))
            os.chown(journal, *_ids("alice"))

            done = run_cli("alice", ["submit", str(plan_path)])
            assert done.returncode == 0, show(done)
            assert f"was submitted as {by_hand} before" in done.stderr
            assert "ran already (Slurm forgot its id)" in done.stderr
            assert "1 submitted now" in done.stdout

            rows = squeue_rows([j.name for j in plan.jobs])
            names = sorted(r[2] for r in rows)
            assert names == sorted([plan.jobs[0].name, plan.jobs[2].name])  # job 1: not again
            assert [r[0] for r in rows if r[2] == plan.jobs[0].name] == [by_hand]
            outcome = [(e["event"], e.get("how")) for e in _events(plan_path)[4:]]
            assert outcome == [("submitted", "found"), ("ran", None),
                               ("intent", None), ("submitted", "sbatch")]  # fmt: skip
        finally:
            scancel_plan(plan)


def _ids(user: str) -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid
