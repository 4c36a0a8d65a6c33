"""examples/workflow_server.py on the real testbed, run as the service user through sudo
and over ssh (and as alice locally): the library API end to end (README, "As a
library"), SIGTERM cancelling the run's jobs, and wait_async and read as the service
user."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from effects_helpers import (
    REPO,
    Workspace,
    alice_profile,
    as_user,
    bed_facts,
    close_ssh_master,
    run_rows,
    user_python,
    workspace,
)

from slurmplan.compiler import compile_plan

pytestmark = pytest.mark.testbed

EXAMPLE = REPO / "examples" / "workflow_server.py"
TASKS = REPO / "examples" / "testbed" / "tasks.json"


def _inputs(
    ws: Workspace, transport: str, tb: dict[str, str], tasks: Any
) -> tuple[str, Path, list[str]]:
    """Who runs the example (alice locally, else the service user), that user's folder,
    and the config, profile and tasks files for it there, readable by the runner."""
    user = "alice" if transport == "local" else "runner"
    alice, folder = ws.dir_for("alice"), ws.dir_for(user)
    config = json.loads((REPO / "examples/testbed/config.json").read_text())
    config["scripts_dir"] = tb["SLURMPLAN_TESTBED_SCRIPTS_DIR"]
    profile = alice_profile(transport, alice / "project", tb, ws)
    paths = []
    for name, value in (("config", config), ("profile", profile), ("tasks", tasks)):
        path = folder / f"{name}.json"
        path.write_text(json.dumps(value))
        path.chmod(0o644)
        paths.append(str(path))
    return user, folder, paths


def _example(user: str, args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*as_user(user), user_python(), str(EXAMPLE), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/",
    )  # fmt: skip


@pytest.mark.parametrize("transport", ["local", "sudo", "ssh"])
def test_the_example_compiles_submits_waits_reports_and_fetches(transport: str) -> None:
    tb = bed_facts()
    with workspace() as ws:
        tasks = json.loads(TASKS.read_text())
        user, folder, inputs = _inputs(ws, transport, tb, tasks)
        try:
            process = _example(user, [*inputs, str(folder / "work")])
            out, err = process.communicate(timeout=300)
            assert process.returncode == 1, (out, err)  # the task `fails` exits 3 on purpose
            assert "Traceback" not in err, err
            lines = out.splitlines()
            assert lines[0].startswith("run ") and "job(s) submitted" in lines[0]
            assert any(line.endswith("jobs settled") for line in lines)
            assert "fails: FAILED exit=3 seconds=" in out
            assert "who: COMPLETED exit=0 seconds=" in out
            outputs = folder / "work" / "outputs" / "tasks"
            assert (outputs / "who.out").read_text() == "alice\n"
            assert (outputs / "fails.err").read_text() == "about to fail\n"
            # the file the task `result` writes and names as an output, beside its logs
            assert (outputs / "result.outputs/result.json").read_text() == '{"user": "alice"}\n'
            assert f"fetched {2 * len(tasks['tasks']) + 1} file(s)" in out
        finally:
            if transport == "ssh":
                close_ssh_master(tb, ws)


@pytest.mark.parametrize("transport", ["local", "sudo", "ssh"])
def test_sigterm_cancels_the_runs_jobs_and_wait_returns_their_states(transport: str) -> None:
    """The example's SIGTERM handler calls run.cancel() from another thread while the main
    thread is in run.wait(): wait wakes and returns the cancelled states."""
    tb = bed_facts()
    with workspace() as ws:
        tasks = {"name": f"sigterm-{transport}", "tasks": [
            {"id": f"s{i}", "command": ["sleep", "300"]} for i in range(2)]}  # fmt: skip
        user, folder, inputs = _inputs(ws, transport, tb, tasks)
        try:
            process = _example(user, [*inputs, str(folder / "work")])
            assert process.stdout is not None
            first = process.stdout.readline()  # printed once every job is in Slurm
            assert "job(s) submitted" in first, first
            time.sleep(1)
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=120)
            assert process.returncode == 1, (first, out, err)
            assert "s0: CANCELLED" in out and "s1: CANCELLED" in out, (out, err)
            # A task killed while it ran may still have its end recorded by the script
            # (exit 143, SIGTERM): it ended in this run and its two logs are fetched.
            # One that has no end recorded is named and nothing of it is fetched.
            exits = dict(re.findall(r"^(s\d): CANCELLED exit=(\w+) ", out, re.MULTILINE))
            assert set(exits) == {"s0", "s1"}, (out, err)
            assert set(exits.values()) <= {"None", "143"}, (out, err)
            unended = sorted(task for task, code in exits.items() if code == "None")
            if unended:
                assert f"not ended in this run: {unended}" in err, (out, err)
            else:
                assert "not ended" not in err, (out, err)
            assert f"fetched {2 * (2 - len(unended))} file(s)" in out, (out, err)
            plan = compile_plan(*(json.loads(Path(p).read_text()) for p in inputs))
            rows = run_rows([job.name for job in plan.jobs])
            assert rows and {row[1] for row in rows} == {"CANCELLED"}  # nothing left running
        finally:
            if transport == "ssh":
                close_ssh_master(tb, ws)


ASYNC_READ = """
import asyncio, json, sys
import slurmplan
config, profile, tasks, journal = sys.argv[1:5]
plan = slurmplan.compile_plan(*(json.load(open(p)) for p in (config, profile, tasks)))
run = slurmplan.Run(plan, journal=journal)
run.submit()
snap = asyncio.run(run.wait_async(timeout=300))
print(json.dumps({
    "done": snap.done,
    "states": {t: r.state for t, r in snap.tasks.items()},
    "who": run.read("who", "stdout").decode(),
    "fails": run.read("fails", "stderr", limit=5).decode(),
    "polls": run.polls,
}))
"""


@pytest.mark.parametrize("transport", ["local", "sudo", "ssh"])
def test_wait_async_and_read_as_the_service_user(transport: str) -> None:
    tb = bed_facts()
    with workspace() as ws:
        user, folder, inputs = _inputs(ws, transport, tb, json.loads(TASKS.read_text()))
        try:
            done = subprocess.run(
                [*as_user(user), user_python(), "-c", ASYNC_READ, *inputs,
                 str(folder / "plan.journal")],
                capture_output=True, text=True, timeout=300, check=False, cwd="/",
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            facts = json.loads(done.stdout)
            assert facts["done"] and facts["states"]["fails"] == "FAILED"
            assert facts["states"]["who"] == "COMPLETED"
            assert (facts["who"], facts["fails"]) == ("alice\n", "about")  # as alice, cut to 5
        finally:
            if transport == "ssh":
                close_ssh_master(tb, ws)
