"""compiler.transport and the plan's steps: exact argv per transport (docs/architecture.md §5)."""

from __future__ import annotations

import io
import shlex
import tarfile
from typing import Any

import pytest
import sample_inputs

from slurmplan.compiler import (
    MkdirStep,
    Plan,
    SubmitStep,
    Transport,
    UploadStep,
    WriteStep,
    compile_plan,
)
from slurmplan.compiler.runtime.commands import (
    cancel_argv,
    list_workdir_argv,
    poll_argv,
    read_files_argv,
)
from slurmplan.compiler.runtime.upload import scripts_tar
from slurmplan.compiler.transport import SUDO_COMMANDS, SshTarget, TransportKind, as_runner, as_user

SSH_TARGET = SshTarget(
    host="login.example.org",
    port=2222,
    key_path="/keys/id_alice",
    known_hosts_path="/keys/known_hosts",
    control_path="~/.ssh/slurmplan-%C",
)
LOCAL = Transport(kind=TransportKind.LOCAL, user="alice")
SUDO = Transport(kind=TransportKind.SUDO, user="alice")
SSH = Transport(kind=TransportKind.SSH, user="alice", ssh=SSH_TARGET)
SSH_PREFIX = (
    "ssh",
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=yes",
    "-o", "UserKnownHostsFile=/keys/known_hosts",
    "-o", "IdentitiesOnly=yes",
    "-o", "ControlMaster=auto",
    "-o", "ControlPath=~/.ssh/slurmplan-%C",
    "-o", "ControlPersist=60",
    "-o", "ConnectTimeout=20",
    "-p", "2222",
    "-i", "/keys/id_alice",
    "alice@login.example.org",
)  # fmt: skip
TRICKY = ("sbatch", "--parsable", "/a dir/it's $HOME;rm -rf x")


def test_local_runs_argv_as_is() -> None:
    assert as_user(LOCAL, TRICKY) == TRICKY
    assert as_runner(LOCAL, ("squeue", "-h")) == ("squeue", "-h")


def test_sudo_wraps_user_commands_with_the_users_home() -> None:
    # --set-home, as fractal-server: where sudoers keeps the caller's HOME, sbatch would
    # otherwise export the runner's HOME into the user's job.
    assert as_user(SUDO, TRICKY) == (
        "sudo", "--set-home", "--non-interactive", "-u", "alice", *TRICKY
    )  # fmt: skip
    assert as_runner(SUDO, ("squeue", "-h")) == ("squeue", "-h")  # squeue runs as the runner


def test_sudo_runs_only_the_five_commands_as_the_user() -> None:
    assert set(SUDO_COMMANDS) == {"sbatch", "scancel", "cat", "ls", "mkdir"}
    for command in ("squeue", "rm", "bash", "sh", "tar", "sudo", "/usr/bin/sbatch"):
        with pytest.raises(ValueError, match="not one of the commands"):
            as_user(SUDO, (command, "x"))


def test_ssh_argv_exact_with_one_remote_string() -> None:
    argv = as_user(SSH, TRICKY)
    assert argv == (*SSH_PREFIX, "--", shlex.join(TRICKY))
    assert shlex.split(argv[-1]) == list(TRICKY)  # the remote shell gets the same words back
    assert as_runner(SSH, ("squeue", "-h")) == (*SSH_PREFIX, "--", "squeue -h")


# --- the steps of whole plans -------------------------------------------------------------


def _plan(transport: str, n: int = 3, **profile: Any) -> Plan:
    config = sample_inputs.one_task_per_job_config(10, scripts_dir="/srv/scripts")
    raw_profile: dict[str, Any] = {
        "username": "alice", "transport": transport, "project_dir": "/home/alice/p", **profile,
    }  # fmt: skip
    if transport == "ssh":
        raw_profile["ssh"] = {
            "host": "login.example.org", "port": 2222, "key_path": "/keys/id_alice",
            "known_hosts_path": "/keys/known_hosts",
        }  # fmt: skip
    tasks = {"name": "tr", "tasks": [{"id": f"t{i}", "command": ["true"]} for i in range(n)]}
    return compile_plan(config, raw_profile, tasks)


def test_local_steps() -> None:
    plan = _plan("local")
    work = plan.workdir
    assert work == f"/home/alice/p/jobs/tr-{plan.plan_id[:12]}"
    assert plan.script_dir == work
    scripts = [f"{work}/job-00000{i}.sbatch" for i in range(3)]
    assert plan.steps == (
        MkdirStep(argv=("mkdir", "-p", "--", work, f"{work}/tasks")),
        *(WriteStep(path=scripts[i], job=i) for i in range(3)),
        *(SubmitStep(job=i, argv=("sbatch", "--parsable", scripts[i])) for i in range(3)),
    )
    assert [j.script_path for j in plan.jobs] == scripts


def test_sudo_steps() -> None:
    plan = _plan("sudo")
    work = plan.workdir
    folder = f"/srv/scripts/tr-{plan.plan_id[:12]}"
    assert plan.script_dir == folder
    sudo = ("sudo", "--set-home", "--non-interactive", "-u", "alice")
    scripts = [f"{folder}/job-00000{i}.sbatch" for i in range(3)]
    assert [j.script_path for j in plan.jobs] == scripts  # named, but nothing is written there:
    assert plan.steps == (  # each script goes to sbatch on its stdin (docs/decisions.md)
        MkdirStep(argv=(*sudo, "mkdir", "-p", "--", work, f"{work}/tasks")),
        *(SubmitStep(job=i, argv=(*sudo, "sbatch", "--parsable")) for i in range(3)),
    )


def test_ssh_steps() -> None:
    plan = _plan("ssh")
    work = plan.workdir
    scripts = [f"{work}/job-00000{i}.sbatch" for i in range(3)]
    assert plan.steps == (
        MkdirStep(argv=(*SSH_PREFIX, "--", f"mkdir -p -- {work} {work}/tasks")),
        UploadStep(
            argv=(*SSH_PREFIX, "--", f"tar -x -m -f - -C {work}"), directory=work, jobs=(0, 1, 2)
        ),
        *(
            SubmitStep(job=i, argv=(*SSH_PREFIX, "--", f"sbatch --parsable {scripts[i]}"))
            for i in range(3)
        ),
    )


def _all_argvs(plan: Plan) -> list[tuple[str, ...]]:
    argvs = [s.argv for s in plan.steps if not isinstance(s, WriteStep)]
    return [
        *argvs,
        poll_argv(plan, ["1", "2"]),
        cancel_argv(plan, ["1", "2"]),
        list_workdir_argv(plan),
        read_files_argv(plan, [plan.jobs[0].done_path]),
    ]


def test_sudo_only_ever_wraps_the_allowed_commands() -> None:
    plan = _plan("sudo")
    wrapped = [argv for argv in _all_argvs(plan) if argv[0] == "sudo"]
    assert {argv[5] for argv in wrapped} == {"mkdir", "sbatch", "scancel", "ls", "cat"}
    for argv in wrapped:
        assert argv[:5] == ("sudo", "--set-home", "--non-interactive", "-u", "alice")
    unwrapped = {argv[0] for argv in _all_argvs(plan) if argv[0] != "sudo"}
    assert unwrapped == {"squeue"}  # polling; the scripts go to sbatch on stdin


def test_ssh_reuses_one_connection_and_one_remote_string() -> None:
    plan = _plan("ssh")
    for argv in _all_argvs(plan):
        assert argv[: len(SSH_PREFIX)] == SSH_PREFIX
        assert argv[len(SSH_PREFIX)] == "--"
        assert len(argv) == len(SSH_PREFIX) + 2  # everything remote is one string


def test_scripts_tar_is_deterministic_and_holds_the_scripts() -> None:
    plan = _plan("ssh")
    first, second = scripts_tar(plan, (0, 1, 2)), scripts_tar(plan, (0, 1, 2))
    assert first == second
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == [f"job-00000{i}.sbatch" for i in range(3)]
        for member, job in zip(members, plan.jobs, strict=True):
            assert (member.mtime, member.uid, member.gid, member.mode) == (0, 0, 0, 0o600)
            extracted = tar.extractfile(member)
            assert extracted is not None
            assert extracted.read().decode() == job.script
