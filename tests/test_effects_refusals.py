"""Failures that retrying cannot fix stop at once with one clear message (real sudo, real ssh)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from effects_helpers import (
    base_config,
    bed_facts,
    compile_to,
    run_cli,
    show,
    workspace,
)

pytestmark = pytest.mark.testbed

TASKS = {"name": "refused", "tasks": [{"id": "t", "command": ["true"]}]}


def _journal_events(plan_path: Path) -> list[str]:
    journal = Path(f"{plan_path}.journal")
    if not journal.exists():
        return []
    return [json.loads(line)["event"] for line in journal.read_text().splitlines()]


def test_a_command_sudo_does_not_allow_is_refused_on_load_and_never_run() -> None:
    # A plan edited to run `touch` as alice: before issue 9 sudo's refusal was what stopped
    # it (exit 3); now loading the plan refuses the step (exit 2) and nothing runs.
    tb = bed_facts()
    with workspace() as ws:
        runner_dir = ws.dir_for("runner")
        profile = {"username": "alice", "transport": "sudo",
                   "project_dir": str(ws.dir_for("alice") / "p")}  # fmt: skip
        config = base_config(scripts_dir=tb["SLURMPLAN_TESTBED_SCRIPTS_DIR"])
        plan_path = runner_dir / "plan.json"
        compile_to(config, profile, TASKS, plan_path, "runner")
        raw = json.loads(plan_path.read_text())
        workdir = raw["workdir"]
        sudo = ["sudo", "--set-home", "--non-interactive", "-u", "alice"]
        raw["steps"][0]["argv"] = [*sudo, "touch", "--", f"{workdir} x"]
        plan_path.write_text(json.dumps(raw))
        done = run_cli("runner", ["submit", str(plan_path), "--retries", "3"])
        assert done.returncode == 2, show(done)
        assert done.stderr.splitlines()[0] == (
            f"{plan_path}: /steps/0/argv/5: not what the compiler derives from the plan's "
            "name, id, transport and jobs: expected 'mkdir' (got 'touch')"
        ), done.stderr
        assert "Traceback" not in done.stderr
        assert _journal_events(plan_path) == []  # nothing was run, not even the journal


def test_a_user_the_runner_may_not_impersonate_is_refused() -> None:
    tb = bed_facts()
    with workspace() as ws:
        runner_dir = ws.dir_for("runner")
        profile = {"username": "nobody", "transport": "sudo",
                   "project_dir": str(runner_dir / "p")}  # fmt: skip
        config = base_config(scripts_dir=tb["SLURMPLAN_TESTBED_SCRIPTS_DIR"])
        plan_path = runner_dir / "plan.json"
        compile_to(config, profile, TASKS, plan_path, "runner")
        done = run_cli("runner", ["submit", str(plan_path)])
        assert done.returncode == 3, show(done)
        failed = "command failed (exit 1): sudo --set-home --non-interactive -u nobody mkdir -p --"
        assert failed in done.stderr
        assert "as nobody" in done.stderr and "retry" not in done.stderr


def _ssh_profile(tb: dict[str, str], ws_dir: Path, **ssh: Any) -> dict[str, Any]:
    return {
        "username": "alice",
        "transport": "ssh",
        "project_dir": str(ws_dir / "p"),
        "ssh": {
            "host": "127.0.0.1",
            "port": int(tb["SLURMPLAN_TESTBED_SSH_PORT"]),
            "key_path": tb["SLURMPLAN_TESTBED_RUNNER_KEY_alice"],
            "known_hosts_path": tb["SLURMPLAN_TESTBED_KNOWN_HOSTS"],
            "control_path": f"~/.ssh/sp-{ws_dir.parent.name}-%C",
            **ssh,
        },
    }


def test_an_unknown_host_key_is_refused_at_once() -> None:
    tb = bed_facts()
    with workspace() as ws:
        runner_dir = ws.dir_for("runner")
        # known_hosts naming the right host with some other key
        key = runner_dir / "otherkey"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True)  # fmt: skip
        port = tb["SLURMPLAN_TESTBED_SSH_PORT"]
        known = runner_dir / "known_hosts"
        public = " ".join(Path(f"{key}.pub").read_text().split()[:2])
        known.write_text(f"[127.0.0.1]:{port} {public}\n")
        known.chmod(0o644)
        profile = _ssh_profile(tb, runner_dir, known_hosts_path=str(known))
        plan_path = runner_dir / "plan.json"
        compile_to(base_config(), profile, TASKS, plan_path, "runner")
        done = run_cli("runner", ["submit", str(plan_path), "--retries", "3"])
        assert done.returncode == 3, show(done)
        assert "command failed (exit 255): ssh -o BatchMode=yes" in done.stderr
        assert "Host key verification failed" in done.stderr
        assert "retry" not in done.stderr


def test_a_key_the_host_does_not_accept_is_refused_at_once() -> None:
    tb = bed_facts()
    with workspace() as ws:
        runner_dir = ws.dir_for("runner")
        profile = _ssh_profile(tb, runner_dir, key_path=tb["SLURMPLAN_TESTBED_RUNNER_KEY_bob"])
        plan_path = runner_dir / "plan.json"
        compile_to(base_config(), profile, TASKS, plan_path, "runner")
        done = run_cli("runner", ["status", str(plan_path), "--retries", "3"])
        assert done.returncode == 0, show(done)  # nothing submitted: no command needed
        done = run_cli("runner", ["submit", str(plan_path), "--retries", "3"])
        assert done.returncode == 3, show(done)
        assert "Permission denied (publickey)" in done.stderr
        assert "retry" not in done.stderr
