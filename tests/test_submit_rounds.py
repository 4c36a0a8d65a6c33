"""Submit rounds: one sbatch per command locally and with sudo, a chain of them over ssh.

The ssh chain is run here by a real `sh -c` (as the remote shell would run it)
against a stand-in `sbatch` that records its arguments and can be told to fail,
so what `read_round` reads is what a real chain prints.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sample_inputs import one_task_per_job_config, profile, tasks

from slurmplan.compiler import Plan, SubmitStep, compile_plan
from slurmplan.compiler.layout import cluster_lock_file
from slurmplan.compiler.runtime import rounds as submit_rounds
from slurmplan.compiler.runtime.rounds import SSH_ROUND_JOBS, SubmitRound, next_round, read_round
from slurmplan.compiler.slurm.parsers import Submitted

SSH = {"host": "login", "key_path": "/k", "known_hosts_path": "/kh"}
RUN = "5f2a9c1e"


def _plan(transport: str, n_jobs: int) -> Plan:
    extra: dict[str, object] = {"transport": transport}
    if transport == "ssh":
        extra["ssh"] = SSH
    config = one_task_per_job_config(n_jobs, scripts_dir="/srv/scripts")
    plan = compile_plan(config, profile(**extra), tasks(n_jobs))
    assert len(plan.jobs) == n_jobs
    return plan


def _submits(plan: Plan) -> list[SubmitStep]:
    return [s for s in plan.steps if isinstance(s, SubmitStep)]


@pytest.mark.parametrize("transport", ["local", "sudo"])
def test_without_ssh_each_round_is_one_plan_step(transport: str) -> None:
    plan = _plan(transport, 3)
    steps = _submits(plan)
    for room in (None, 1, 5):
        round_ = next_round(plan, steps[1:], room, RUN)
        # the plan's step, with the run's name for the job after --parsable
        at = steps[1].argv.index("--parsable") + 1
        named = f"--job-name={plan.jobs[1].name}.{RUN}"
        argv = (*steps[1].argv[:at], named, *steps[1].argv[at:])
        stdin = plan.jobs[1].script.encode() if transport == "sudo" else None  # no file
        assert round_ == SubmitRound(jobs=(1,), argv=argv, numbered=False, stdin=stdin)


def test_an_ssh_round_takes_the_next_jobs_up_to_its_size_and_the_room() -> None:
    plan = _plan("ssh", SSH_ROUND_JOBS + 7)
    steps = _submits(plan)
    assert next_round(plan, steps, None, RUN).jobs == tuple(range(SSH_ROUND_JOBS))
    assert next_round(plan, steps[SSH_ROUND_JOBS:], None, RUN).jobs == tuple(
        range(SSH_ROUND_JOBS, SSH_ROUND_JOBS + 7)
    )
    assert next_round(plan, steps[3:], 2, RUN).jobs == (3, 4)
    with pytest.raises(ValueError, match="room for one job"):
        next_round(plan, steps, 0, RUN)
    with pytest.raises(ValueError, match="at least one step"):
        next_round(plan, [], None, RUN)


def test_an_ssh_round_is_one_remote_sh_command_over_the_plans_ssh_prefix() -> None:
    plan = _plan("ssh", 2)
    steps = _submits(plan)
    round_ = next_round(plan, steps, None, RUN)
    prefix = steps[0].argv[:-1]  # everything up to the remote command string
    assert round_.numbered and round_.argv[:-1] == prefix and prefix[-1] == "--"
    chain = " && ".join(
        f"sbatch --parsable --job-name={plan.jobs[j].name}.{RUN} {plan.jobs[j].script_path}"
        f" && echo :{j}"
        for j in (0, 1)
    )
    lock = f".slurmplan-{plan.name}-{plan.plan_id[:12]}.lock"  # in the user's home
    assert shlex.split(round_.argv[-1]) == ["flock", lock, "sh", "-c", f"echo :locked && {chain}"]


def test_an_ssh_round_keeps_its_remote_command_within_the_argument_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = _plan("ssh", 20)
    one = len(next_round(plan, _submits(plan), 1, RUN).argv[-1])
    monkeypatch.setattr(submit_rounds, "ARGV_CHUNK_CHARS", 3 * one)
    round_ = next_round(plan, _submits(plan), None, RUN)
    assert 1 < len(round_.jobs) < 5 and len(round_.argv[-1]) <= 3 * one
    monkeypatch.setattr(submit_rounds, "ARGV_CHUNK_CHARS", 1)  # one job always goes
    assert next_round(plan, _submits(plan), None, RUN).jobs == (0,)


_FAKE_SBATCH = """#!/bin/sh
# records its arguments; prints ids 1001, 1002, ... or fails on call $FAIL_AT
n=$(( $(cat "$STATE/count") + 1 ))
echo "$n" >"$STATE/count"
printf '%s\\n' "$*" >>"$STATE/args"
if [ "$n" = "${FAIL_AT:-0}" ]; then
    echo "sbatch: error: ${FAIL_WITH:-Batch job submission failed}" >&2
    exit 1
fi
echo "$((1000 + n))${CLUSTER:+;$CLUSTER}"
"""


def _chain_env(tmp_path: Path, **env: str) -> dict[str, str]:
    """The environment of a round run here: the stand-in sbatch first on the PATH."""
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir(exist_ok=True)
    state.mkdir(exist_ok=True)
    (tmp_path / "home").mkdir(exist_ok=True)
    (bin_dir / "sbatch").write_text(_FAKE_SBATCH)
    (bin_dir / "sbatch").chmod(0o755)
    (state / "count").write_text("0\n")
    (state / "args").write_text("")
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "STATE": str(state), **env}


def _run_chain(
    round_: SubmitRound, tmp_path: Path, **env: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the round's remote command as the remote shell would (in the user's home:
    tmp_path/home), with the stand-in sbatch and the real flock."""
    environ = _chain_env(tmp_path, **env)
    done = subprocess.run(
        ["sh", "-c", round_.argv[-1]], capture_output=True, text=True, env=environ,
        cwd=tmp_path / "home", check=False,
    )  # fmt: skip
    return done, (tmp_path / "state" / "args").read_text().splitlines()


def test_a_whole_ssh_round_reads_back_every_id_in_order(tmp_path: Path) -> None:
    plan = _plan("ssh", 5)
    round_ = next_round(plan, _submits(plan)[1:], None, RUN)
    done, args = _run_chain(round_, tmp_path, CLUSTER="c1")
    assert done.returncode == 0, done.stderr
    # flock made the lock file in the user's home, the folder ssh starts commands in
    assert [p.name for p in (tmp_path / "home").iterdir()] == [
        cluster_lock_file(plan.name, plan.plan_id)
    ]
    assert args == [
        f"--parsable --job-name={plan.jobs[j].name}.{RUN} {plan.jobs[j].script_path}"
        for j in (1, 2, 3, 4)
    ]
    outcome = read_round(round_, done.returncode, done.stdout)
    assert outcome.error is None and outcome.failed is None
    assert outcome.submitted == tuple(
        (job, Submitted(job_id=str(1000 + k), cluster="c1"))
        for k, job in enumerate((1, 2, 3, 4), 1)
    )


def _hold_lock(plan: Plan, tmp_path: Path) -> int:
    """Take the plan's cluster lock in tmp_path/home, as a look-up or another round would."""
    fd = os.open(
        tmp_path / "home" / cluster_lock_file(plan.name, plan.plan_id), os.O_RDWR | os.O_CREAT
    )
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_an_ssh_round_waits_for_the_plans_cluster_lock(tmp_path: Path) -> None:
    """A round runs no sbatch while a look-up (or another round) holds the lock; the
    look-ups wait for a round in the same way (flock is symmetric)."""
    plan = _plan("ssh", 2)
    round_ = next_round(plan, _submits(plan), None, RUN)
    environ = _chain_env(tmp_path)
    fd = _hold_lock(plan, tmp_path)
    proc = subprocess.Popen(
        ["sh", "-c", round_.argv[-1]], stdout=subprocess.PIPE, text=True, env=environ,
        cwd=tmp_path / "home",
    )  # fmt: skip
    try:
        time.sleep(0.5)
        assert proc.poll() is None and (tmp_path / "state" / "args").read_text() == ""
    finally:
        os.close(fd)  # the lock is free: the round goes on
    stdout, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert read_round(round_, 0, stdout).submitted == (
        (0, Submitted(job_id="1001", cluster=None)),
        (1, Submitted(job_id="1002", cluster=None)),
    )


def test_an_ssh_round_whose_reader_is_gone_when_it_gets_the_lock_sends_nothing(
    tmp_path: Path,
) -> None:
    """Its ssh was killed (at --command-timeout) while it waited for the lock: its
    first line, `:locked`, kills it (SIGPIPE, 128 + 13 through flock) before any sbatch."""
    plan = _plan("ssh", 2)
    round_ = next_round(plan, _submits(plan), None, RUN)
    environ = _chain_env(tmp_path)
    fd = _hold_lock(plan, tmp_path)
    proc = subprocess.Popen(
        ["sh", "-c", round_.argv[-1]], stdout=subprocess.PIPE, env=environ,
        cwd=tmp_path / "home",
    )  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.close()  # nobody reads what the round prints any more
    time.sleep(0.2)
    os.close(fd)
    assert proc.wait(timeout=30) == 128 + signal.SIGPIPE
    assert (tmp_path / "state" / "args").read_text() == ""  # no sbatch ran


def test_an_ssh_round_stops_at_the_first_failed_sbatch_and_names_it(tmp_path: Path) -> None:
    plan = _plan("ssh", 6)
    round_ = next_round(plan, _submits(plan), None, RUN)
    done, args = _run_chain(round_, tmp_path, FAIL_AT="3")
    assert done.returncode == 1 and "Batch job submission failed" in done.stderr
    assert len(args) == 3  # jobs 3, 4, 5 never ran
    outcome = read_round(round_, done.returncode, done.stdout)
    assert [(job, s.job_id) for job, s in outcome.submitted] == [(0, "1001"), (1, "1002")]
    assert outcome.failed == 2 and outcome.error is None


def test_a_cut_off_or_ssh_failed_round_names_no_failed_job() -> None:
    plan = _plan("ssh", 4)
    round_ = next_round(plan, _submits(plan), None, RUN)
    partial = ":locked\n1001\n:0\n1002\n"  # job 1's id, then cut off before its marker
    for exit_code in (255, None):  # ssh's own failure; killed at the time limit
        outcome = read_round(round_, exit_code, partial)
        assert [job for job, _ in outcome.submitted] == [0]
        assert outcome.failed is None and outcome.error is None


@pytest.mark.parametrize(
    ("stdout", "expected"),
    [
        (":locked\n1001\n:1\n", "expected the line ':0'"),
        (":locked\n1001\n:0\n1002\n:1\n:2\n", "after the round's last job"),
        (":locked\noops\n:0\n", "sbatch --parsable printed 'oops'"),
        (":locked\n1001\n:0\n", "1 of 2 jobs printed no id"),
        ("1001\n:0\n1002\n:1\n", "expected the line ':locked' first"),
        ("", "expected the line ':locked' first"),
    ],
)
def test_output_that_makes_no_sense_is_an_error(stdout: str, expected: str) -> None:
    plan = _plan("ssh", 2)
    outcome = read_round(next_round(plan, _submits(plan), None, RUN), 0, stdout)
    assert outcome.error is not None and expected in outcome.error
    assert outcome.failed is None


def test_a_single_sbatch_round_reads_its_id_or_its_failure() -> None:
    plan = _plan("local", 2)
    round_ = next_round(plan, _submits(plan)[1:], None, RUN)
    ok = read_round(round_, 0, "77\n")
    assert ok.submitted == ((1, Submitted(job_id="77", cluster=None)),) and ok.error is None
    assert read_round(round_, 1, "").failed == 1
    garbled = read_round(round_, 0, "hello\n")
    assert garbled.submitted == () and garbled.error is not None
