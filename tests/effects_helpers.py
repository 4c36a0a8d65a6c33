"""Helpers for the effects tests that run on the real testbed (scripts/testbed.sh).

The CLI runs as the testbed's users (alice for `local`, runner for `sudo` and
`ssh`) with `setpriv` (it execs, so a SIGKILL reaches Python itself) and a clean
environment.  Those users cannot read root's Python, so a small venv with the
two runtime dependencies is made once under /var/tmp, readable by everyone; the
code comes from this checkout through PYTHONPATH.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from slurmplan.compiler import Plan, compile_plan
from slurmplan.compiler.layout import cluster_lock_file
from slurmplan.compiler.transport import TransportKind
from slurmplan.effects.cli.plan_files import dump_plan

REPO = Path(__file__).resolve().parents[1]
TESTBED = REPO / "scripts" / "testbed.sh"
VENV = Path(os.environ.get("SLURMPLAN_EFFECTS_VENV", "/var/tmp/slurmplan-effects-venv"))
WORK_ROOT = Path("/var/tmp/slurmplan-effects-tests")
SYSTEM_PYTHON = "/usr/bin/python3"


def _unavailable(reason: str) -> None:
    """Skip, or fail when CI=true: CI must run these tests, not skip them."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"testbed test cannot run in CI: {reason}")
    pytest.skip(reason)


def bed_facts() -> dict[str, str]:
    """The testbed's facts (`scripts/testbed.sh env`); skips when it is not up."""
    if os.geteuid() != 0:
        _unavailable("the effects testbed tests switch users: run them as root")
    status = subprocess.run(
        ["bash", str(TESTBED), "status"], capture_output=True, text=True, check=False
    )
    if status.returncode != 0:
        _unavailable(f"testbed is not up ({(status.stderr or status.stdout).strip()}); "
                     "run `bash scripts/testbed.sh up` as root")  # fmt: skip
    out = subprocess.run(
        ["bash", str(TESTBED), "env"], capture_output=True, text=True, check=True
    ).stdout
    env: dict[str, str] = {}
    for line in out.splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export ") :].partition("=")
            env[key] = value.strip('"')
    return env


def user_python() -> str:
    """A Python the testbed users can run, with jinja2 and jsonschema (made once)."""
    python = VENV / "bin" / "python"
    lock_path = Path("/var/tmp/slurmplan-effects-venv.lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ok = python.exists() and subprocess.run(
            [str(python), "-c", "import jinja2, jsonschema"], capture_output=True, check=False
        ).returncode == 0  # fmt: skip
        if not ok:
            if not Path(SYSTEM_PYTHON).exists():
                _unavailable(f"{SYSTEM_PYTHON} (for a venv the test users can run) is missing")
            shutil.rmtree(VENV, ignore_errors=True)
            subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(VENV)], check=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "jinja2>=3.1", "jsonschema>=4.18"],
                check=True,
            )
            subprocess.run(["chmod", "-R", "a+rX", str(VENV)], check=True)
    return str(python)


@dataclass(frozen=True)
class Workspace:
    """A fresh folder under /var/tmp that the testbed users can reach."""

    root: Path

    def dir_for(self, user: str) -> Path:
        path = self.root / user
        path.mkdir(exist_ok=True)
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        return path


@contextmanager
def workspace() -> Iterator[Workspace]:
    WORK_ROOT.mkdir(mode=0o755, exist_ok=True)
    os.chmod(WORK_ROOT, 0o755)
    root = WORK_ROOT / uuid.uuid4().hex[:12]
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    began = time.time()
    try:
        yield Workspace(root)
    finally:
        # A job killed by scancel may still be writing its logs while we delete.
        for _ in range(10):
            shutil.rmtree(root, ignore_errors=True)
            if not root.exists():
                break
            time.sleep(0.5)
        _forget_cluster_locks_since(began)


def _forget_cluster_locks_since(began: float) -> None:
    """Remove the lock files ssh plans made in the users' homes while this workspace
    was in use (layout.cluster_lock_file; flock creates one and never writes it, and
    testbed tests run one at a time), whichever test made them."""
    for user in ("alice", "bob"):
        try:
            home = Path(pwd.getpwnam(user).pw_dir)
        except KeyError:
            continue
        for lock in home.glob(".slurmplan-*.lock"):
            with contextlib.suppress(FileNotFoundError):
                if lock.stat().st_mtime >= began - 1:
                    lock.unlink()


def write_plan(plan: Plan, path: Path, owner: str) -> Path:
    path.write_text(dump_plan(plan), encoding="ascii")
    entry = pwd.getpwnam(owner)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


def compile_to(
    config: dict[str, Any],
    profile: dict[str, Any],
    tasks: dict[str, Any],
    path: Path,
    owner: str,
) -> Plan:
    plan = compile_plan(config, profile, tasks)
    write_plan(plan, path, owner)
    return plan


def base_config(**extra: Any) -> dict[str, Any]:
    """Small jobs: 100 MiB and 1 CPU per task, two tasks per job in two lanes."""
    return {
        "default_slurm_config": {
            "partition": "main", "cpus_per_task": 1, "mem": "100M", "time": "00:05:00",
        },
        "batching_config": {
            "target_cpus_per_job": 2, "max_cpus_per_job": 4,
            "target_mem_per_job": "1G", "max_mem_per_job": "2G",
            "target_num_jobs": 100, "max_num_jobs": 200,
        },
        **extra,
    }  # fmt: skip


def alice_profile(
    transport: str, project_dir: Path, tb: dict[str, str], ws: Workspace
) -> dict[str, Any]:
    """alice's profile for `transport`; over ssh with a ControlPath of the workspace's
    own (close it with close_ssh_master)."""
    profile: dict[str, Any] = {
        "username": "alice", "transport": transport, "project_dir": str(project_dir),
    }  # fmt: skip
    if transport == "ssh":
        profile["ssh"] = ssh_block(tb, _control_path(ws))
    return profile


class BedPlan(NamedTuple):
    plan: Plan
    path: Path  # the plan file, in the folder of who runs slurmplan
    runner: str  # who runs slurmplan: alice locally, the service user otherwise
    profile: dict[str, Any]


def bed_plan(ws: Workspace, tb: dict[str, str], transport: str, tasks: dict[str, Any]) -> BedPlan:
    """alice's plan of `tasks` for `transport` (base_config, alice_profile), compiled
    and written as the one who runs slurmplan for that transport."""
    runner = "alice" if transport == "local" else "runner"
    config = base_config(scripts_dir=tb["SLURMPLAN_TESTBED_SCRIPTS_DIR"])
    profile = alice_profile(transport, ws.dir_for("alice") / "project", tb, ws)
    path = ws.dir_for(runner) / "plan.json"
    return BedPlan(compile_to(config, profile, tasks, path, runner), path, runner, profile)


def clean_bed(plan: Plan, profile: dict[str, Any]) -> None:
    """Leave nothing of a bed_plan behind: its jobs, the sudo scripts' folder, the ssh
    master its profile started."""
    scancel_plan(plan)
    if plan.transport.kind is TransportKind.SUDO:
        shutil.rmtree(plan.script_dir, ignore_errors=True)
    if plan.transport.kind is TransportKind.SSH:
        ssh_control(profile, "exit")
        forget_cluster_lock(plan)


def forget_cluster_lock(plan: Plan) -> None:
    """Remove the empty lock file an ssh plan's commands leave in alice's home
    (layout.cluster_lock_file): each test plan has its own."""
    home = Path(pwd.getpwnam(plan.transport.user).pw_dir)
    (home / cluster_lock_file(plan.name, plan.plan_id)).unlink(missing_ok=True)


def close_ssh_master(tb: dict[str, str], ws: Workspace) -> None:
    """Stop the ssh master an alice_profile of this workspace may have left running."""
    ssh_control({"ssh": ssh_block(tb, _control_path(ws))}, "exit")


def _control_path(ws: Workspace) -> str:
    return f"~/.ssh/sp-{ws.root.name}-%C"


def ssh_block(tb: dict[str, str], control_path: str) -> dict[str, Any]:
    """A profile's `ssh` block: the runner connects as alice@127.0.0.1 with its copy
    of alice's key and the testbed's known_hosts.  A socket path holds at most 107
    bytes and ssh adds 17 while it starts: keep `control_path` short."""
    return {
        "host": tb["SLURMPLAN_TESTBED_SSH_HOST"],
        "port": int(tb["SLURMPLAN_TESTBED_SSH_PORT"]),
        "key_path": tb["SLURMPLAN_TESTBED_RUNNER_KEY_alice"],
        "known_hosts_path": tb["SLURMPLAN_TESTBED_KNOWN_HOSTS"],
        "control_path": control_path,
    }


def ssh_control(profile: dict[str, Any], operation: str) -> str:
    """`ssh -O check|exit` on the profile's ControlPath, as runner; returns its stderr."""
    ssh = profile["ssh"]
    done = subprocess.run(
        [*as_user("runner"), "ssh", "-O", operation, "-o", f"ControlPath={ssh['control_path']}",
         "-p", str(ssh["port"]), f"alice@{ssh['host']}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stderr


def as_user(user: str, env: Mapping[str, str] | None = None) -> list[str]:
    """An argv prefix running a command as `user` in a clean environment (setpriv execs)."""
    home = pwd.getpwnam(user).pw_dir
    clean = {
        "HOME": home, "USER": user, "LOGNAME": user, "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
        "LANG": "C.UTF-8", "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1",
        **(env or {}),
    }  # fmt: skip
    return [
        "setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups",
        "env", "-i", *(f"{k}={v}" for k, v in clean.items()),
    ]  # fmt: skip


def cli_argv(
    user: str, args: Sequence[str], env: Mapping[str, str] | None = None, umask: str = "022"
) -> list[str]:
    """argv running `python -m slurmplan ARGS` as `user`, with that umask."""
    return [
        *as_user(user, env),
        "sh", "-c", f'umask {umask} && exec "$@"', "sh",
        user_python(), "-m", "slurmplan", *args,
    ]  # fmt: skip


def run_cli(
    user: str,
    args: Sequence[str],
    *,
    timeout: float = 120,
    env: Mapping[str, str] | None = None,
    umask: str = "022",
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_argv(user, args, env, umask),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
        check=False,
    )


def ran_to_the_end(runner: str, plan_path: Path) -> None:
    """`slurmplan submit` then `wait` of the plan as `runner`: both must succeed."""
    submit = run_cli(runner, ["submit", str(plan_path)])
    assert submit.returncode == 0, show(submit)
    wait = run_cli(runner, ["wait", str(plan_path), "--poll-interval", "0.5"])
    assert wait.returncode == 0, show(wait)


def squeue_rows(names: Sequence[str]) -> list[tuple[str, str, str, str]]:
    """(id, state, name, user) of every job, any state, that some run submitted of one of
    these plan job names (as root).  In Slurm a job is named `<plan job name>.<run id>`;
    `name` here is the plan job name (use run_rows for the run ids)."""
    return [(job_id, state, name, user) for job_id, state, name, user, _ in run_rows(names)]


def run_rows(names: Sequence[str]) -> list[tuple[str, str, str, str, str]]:
    """squeue_rows with the run id each job's Slurm name carries, last."""
    out = subprocess.run(
        ["squeue", "--noheader", "--states=all", "--format=%i %T %j %u"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    wanted = set(names)
    rows = []
    for line in out.splitlines():
        job_id, state, slurm_name, user = line.split()
        name, _, run = slurm_name.rpartition(".")
        if name in wanted:
            rows.append((job_id, state, name, user, run))
    return rows


def scancel_plan(plan: Plan) -> None:
    """Leave nothing running behind a test (as root, by the plan's job names)."""
    ids = [r[0] for r in squeue_rows([j.name for j in plan.jobs])]
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True, check=False)


def collect_json(user: str, plan_path: Path, *extra: str) -> dict[str, Any]:
    done = run_cli(user, ["collect", str(plan_path), "--json", *extra])
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def read_as_root(path: str) -> str:
    return Path(path).read_text(encoding="utf-8", errors="surrogateescape")


def show(done: subprocess.CompletedProcess[str]) -> str:
    """A failed run, for assertion messages."""
    return f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
