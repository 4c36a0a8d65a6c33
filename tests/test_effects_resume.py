"""Nothing lost, nothing duplicated: submit killed (SIGKILL) mid-way and run again.

The checks are by name in squeue (every job of the plan exactly once) against
the journal's ids, on the real testbed, with the CLI running as alice.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from effects_helpers import (
    as_user,
    bed_facts,
    cli_argv,
    compile_to,
    forget_cluster_lock,
    run_cli,
    scancel_plan,
    show,
    squeue_rows,
    ssh_block,
    ssh_control,
    user_python,
    workspace,
)
from sample_inputs import one_task_per_job_config

from slurmplan.compiler import Plan
from slurmplan.compiler.plan import script_bytes

pytestmark = pytest.mark.testbed


def _plan(
    alice_dir: Path, n_jobs: int, name: str, ssh: dict[str, Any] | None = None
) -> tuple[Plan, Path]:
    """A plan of `n_jobs` one-task jobs; over ssh when `ssh` is given (the plan file
    then lives in the runner's folder beside alice's)."""
    tasks = {
        "name": name,
        "tasks_per_job": 1,
        "parallel_tasks_per_job": 1,
        "tasks": [{"id": f"t{i}", "command": ["true"]} for i in range(n_jobs)],
    }
    profile: dict[str, Any] = {
        "username": "alice", "transport": "local", "project_dir": str(alice_dir / "p"),
    }  # fmt: skip
    owner, folder = "alice", alice_dir
    if ssh is not None:
        profile |= {"transport": "ssh", "ssh": ssh}
        owner, folder = "runner", alice_dir.parent / "runner"
    plan_path = folder / "plan.json"
    config = one_task_per_job_config(max(n_jobs, 1))
    plan = compile_to(config, profile, tasks, plan_path, owner)
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


def _kill_after_intents(
    user: str,
    plan_path: Path,
    intents: int,
    delay: float = 0,
    env: Mapping[str, str] | None = None,
) -> bool:
    """Start submit and SIGKILL it `delay` s after this run added `intents` intent lines
    to the journal (over ssh a round writes all its intents at once); False when it
    ended, or a minute passed, before that."""
    journal = Path(f"{plan_path}.journal")
    before = journal.read_bytes().count(b'"event":"intent"') if journal.exists() else 0
    proc = subprocess.Popen(
        cli_argv(user, ["submit", str(plan_path)], env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd="/",
    )
    deadline = time.monotonic() + 60
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if journal.exists() and journal.read_bytes().count(b'"event":"intent"') >= (
                before + intents
            ):
                time.sleep(delay)
                os.kill(proc.pid, signal.SIGKILL)  # setpriv/env exec: this pid is Python
                return True
            time.sleep(0.001)
        return False
    finally:
        proc.wait(timeout=30)


# Several cut points, each run resuming the last: (new intents, then seconds).
# Locally one intent precedes each sbatch.  Over ssh a round of up to 50 jobs
# writes its intents, then runs one remote command: killed as the second
# round begins, then twice mid-round.
CUTS = {
    "local": (8, [(2, 0.0), (1, 0.0), (3, 0.0)]),
    "ssh": (60, [(51, 0.0), (1, 0.05), (1, 0.1)]),
}


@pytest.mark.parametrize("transport", sorted(CUTS))
def test_submit_killed_at_any_point_then_resumed_submits_every_job_exactly_once(
    transport: str,
) -> None:
    tb = bed_facts()
    n_jobs, cuts = CUTS[transport]
    user = "alice" if transport == "local" else "runner"
    with workspace() as ws:
        ws.dir_for("runner")
        ssh = ssh_block(tb, f"~/.ssh/sp-{ws.root.name}-%C") if transport == "ssh" else None
        plan, plan_path = _plan(ws.dir_for("alice"), n_jobs, f"resume-{transport}", ssh)
        try:
            for intents, delay in cuts:
                _kill_after_intents(user, plan_path, intents, delay)
            done = run_cli(user, ["submit", str(plan_path)])
            assert done.returncode == 0, show(done)
            again = run_cli(user, ["submit", str(plan_path)])  # a no-op now
            assert again.returncode == 0, show(again)
            assert f"0 submitted now, {n_jobs} before" in again.stdout
            _assert_each_job_once(plan, plan_path)
            if transport == "local":
                wait = run_cli(user, ["wait", str(plan_path), "--poll-interval", "0.5"])
                assert wait.returncode == 0, show(wait)
        finally:
            scancel_plan(plan)
            if ssh is not None:
                ssh_control({"ssh": ssh}, "exit")
                forget_cluster_lock(plan)


def test_cut_off_jobs_are_looked_up_before_any_resubmission() -> None:
    """Job 0 reached Slurm but its id was never recorded; job 1 ran and Slurm forgot
    it (its stdout's start line names this run); job 2 never got past its intent."""
    bed_facts()
    with workspace() as ws:
        plan, plan_path = _plan(ws.dir_for("alice"), 3, "resume-cut")
        try:
            subprocess.run([*as_user("alice"), "mkdir", "-p", plan.workdir], check=True)
            for job in plan.jobs:
                path = Path(job.script_path)
                path.write_bytes(script_bytes(job.script))
                os.chown(path, *_ids("alice"))
            run = "5f2a9c1e"
            by_hand = subprocess.run(
                [*as_user("alice"), "sbatch", "--parsable",
                 f"--job-name={plan.jobs[0].name}.{run}", plan.jobs[0].script_path],
                capture_output=True, text=True, check=True, cwd="/",
            ).stdout.strip()  # fmt: skip
            stdout1 = Path(plan.jobs[1].stdout)  # what job 1's script printed first
            stdout1.write_text(
                f"slurmplan-start job=1 slurm_job=99999 name={plan.jobs[1].name}.{run}\n"
            )
            os.chown(stdout1, *_ids("alice"))
            header = {"event": "header", "format": "slurmplan-journal/2",
                      "plan_id": plan.plan_id, "name": plan.name, "run": run}  # fmt: skip
            lines = [header] + [
                {"event": "intent", "job": j.index, "name": f"{j.name}.{run}"} for j in plan.jobs
            ]
            journal = Path(f"{plan_path}.journal")
            journal.write_text("".join(json.dumps(e) + "\n" for e in lines))
            os.chown(journal, *_ids("alice"))

            done = run_cli("alice", ["submit", str(plan_path)])
            assert done.returncode == 0, show(done)
            assert f"was submitted as {by_hand} before" in done.stderr
            assert "ran as 99999 already (Slurm forgot it; its stdout names this run)" in (
                done.stderr
            )
            assert "1 submitted now" in done.stdout

            rows = squeue_rows([j.name for j in plan.jobs])
            names = sorted(r[2] for r in rows)
            assert names == sorted([plan.jobs[0].name, plan.jobs[2].name])  # job 1: not again
            assert [r[0] for r in rows if r[2] == plan.jobs[0].name] == [by_hand]
            outcome = [(e["event"], e.get("how")) for e in _events(plan_path)[4:]]
            assert outcome == [("submitted", "found"), ("submitted", "started"),
                               ("intent", None), ("submitted", "sbatch")]  # fmt: skip
        finally:
            scancel_plan(plan)


def _ids(user: str) -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def test_an_sbatch_that_outlives_its_killed_submit_is_waited_for_not_sent_again() -> None:
    """A submit killed (SIGKILL) while its sbatch still runs leaves that sbatch running;
    the next submit must not look for the job before it can have landed (review round 3,
    docs/effects.md "submit and its journal"): the sbatch holds the journal's lock, handed
    down, so the next submit waits for it, then finds its job.  The sbatch here is slow:
    a wrapper first on alice's PATH sleeps, then runs the real one."""
    bed_facts()
    with workspace() as ws:
        alice_dir = ws.dir_for("alice")
        plan, plan_path = _plan(alice_dir, 1, "outlived")
        wrappers = alice_dir / "bin"
        wrappers.mkdir()
        slow = wrappers / "sbatch"
        slow.write_text('#!/bin/sh\nsleep 3\nexec /usr/bin/sbatch "$@"\n')
        slow.chmod(0o755)
        env = {"PATH": f"{wrappers}:/usr/bin:/bin:/usr/sbin:/sbin"}
        try:
            # killed once the slow sbatch has started and sleeps
            assert _kill_after_intents("alice", plan_path, 1, 0.5, env), "no intent written"
            done = run_cli("alice", ["submit", str(plan_path)], env=env)
            assert done.returncode == 0, show(done)
            time.sleep(4)  # had the killed submit's sbatch not been waited for, it lands now
            _assert_each_job_once(plan, plan_path)
        finally:
            scancel_plan(plan)


HOLDER = """
import fcntl, os, sys, threading, time
from slurmplan.effects.execute import run_once
lock, fifo = sys.argv[1:3]
fd = os.open(lock, os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
argv = ["sudo", "--set-home", "--non-interactive", "-u", "alice", "cat", fifo]
threading.Thread(target=run_once, args=(argv,), kwargs={"pass_fds": [fd]}).start()
print("started", flush=True)
time.sleep(120)
"""


def test_through_sudo_a_lock_handed_down_lasts_until_the_users_command_ends() -> None:
    """What the sudo transport relies on (docs/effects.md, "submit and its journal"):
    the runner hands the journal's locked file to `sudo -u alice sbatch`, and is killed;
    sudo's process keeps the file, so the lock lasts until alice's command ends.  The
    command here is an allowed `cat` of a FIFO, which waits until the test writes it."""
    bed_facts()
    with workspace() as ws:
        folder = ws.dir_for("runner")
        lock, fifo = folder / "journal", folder / "fifo"
        lock.write_text("")
        lock.chmod(0o666)
        os.mkfifo(fifo, 0o666)
        fifo.chmod(0o666)  # whatever the umask: alice reads it, the test writes it
        proc = subprocess.Popen(
            [*as_user("runner"), user_python(), "-c", HOLDER, str(lock), str(fifo)],
            stdout=subprocess.PIPE, text=True, cwd="/",
        )  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline() == "started\n"
        time.sleep(1)  # sudo has started alice's cat, which waits for a writer
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        with open(lock, "rb") as probe:
            with pytest.raises(BlockingIOError):  # still held: by sudo's process
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with open(fifo, "w") as writer:  # alice's cat reads this and ends
                writer.write("end\n")
            deadline = time.monotonic() + 30
            while True:
                try:
                    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    assert time.monotonic() < deadline, "the lock outlived alice's command"
                    time.sleep(0.05)


def _alices_cat_stopped(runner_script: str, printed: str) -> None:
    """Run `runner_script` as the runner with a FIFO nobody writes: it runs an allowed
    `sudo -u alice cat` of it through run_once and stops it; alice's cat must be gone."""
    bed_facts()
    with workspace() as ws:
        fifo = ws.dir_for("runner") / "never-written"
        os.mkfifo(fifo, 0o666)
        fifo.chmod(0o666)
        done = subprocess.run(
            [*as_user("runner"), user_python(), "-c", runner_script, str(fifo)],
            capture_output=True, text=True, timeout=60, cwd="/", check=False,
        )  # fmt: skip
        assert done.stdout == printed, (done.stdout, done.stderr)
        time.sleep(0.5)
        pgrep = ["pgrep", "-u", "alice", "-f", f"cat {fifo}"]
        left = subprocess.run(pgrep, capture_output=True, check=False)
        try:
            assert left.returncode == 1, f"alice's cat still runs: {left.stdout!r}"
        finally:
            subprocess.run(["pkill", "-u", "alice", "-f", f"cat {fifo}"], check=False)


TIMED_OUT = """
import sys
from slurmplan.effects.execute import run_once
argv = ["sudo", "--set-home", "--non-interactive", "-u", "alice", "cat", sys.argv[1]]
done = run_once(argv, timeout=1)
print(done.exit_code, flush=True)
"""


def test_through_sudo_a_command_at_its_time_limit_is_stopped_with_the_users_process() -> None:
    """At --command-timeout the command is stopped, alice's process too (docs/effects.md,
    "submit and its journal"): SIGKILL stopped sudo alone, and alice's sbatch, which the
    runner cannot signal, went on and could create its job after the look-up.  SIGTERM
    first, which sudo passes on.  The command is an allowed `cat` of a FIFO nobody writes."""
    _alices_cat_stopped(TIMED_OUT, "None\n")  # killed at its limit


# Over ssh the remote PATH is sshd's (/usr/local/bin:/usr/bin:/bin:... on the testbed,
# whatever the runner's), so the slow sbatch goes in /usr/local/bin, for every user:
# it is slow once, for the sbatch that takes its marker, and otherwise the real one.
SLOW_ONCE = "/usr/local/bin/sbatch"
SLOW_SECONDS = 5


@contextmanager
def _slow_sbatch_once(mark: Path) -> Iterator[Path]:
    """A `sbatch` first on the ssh session's PATH: the call that removes `mark` (alice
    may: her folder) sleeps SLOW_SECONDS first; removed again however the test ends."""
    wrapper = Path(SLOW_ONCE)
    if wrapper.exists() or wrapper.is_symlink():
        pytest.skip(f"{SLOW_ONCE} exists: not ours to replace")
    wrapper.write_text(
        "#!/bin/sh\n# slurmplan tests/test_effects_resume.py: slow once, then the real one\n"
        f'if rm -- "{mark}" 2>/dev/null; then sleep {SLOW_SECONDS}; fi\n'
        'exec /usr/bin/sbatch "$@"\n'
    )
    try:
        wrapper.chmod(0o755)
        mark.touch()
        yield mark
    finally:
        wrapper.unlink()


def _each_job_once_after_a_slow_ssh_round(name: str, submit: Callable[[Path], None]) -> None:
    """A 2-job plan over ssh (as runner) whose first sbatch on the cluster is slow:
    `submit(plan_path)` submits it, in a way that leaves the round running; once the
    round could have landed, every job is in Slurm once."""
    tb = bed_facts()
    with workspace() as ws:
        ws.dir_for("runner")
        alice_dir = ws.dir_for("alice")
        ssh = ssh_block(tb, f"~/.ssh/sp-{ws.root.name}-%C")
        plan, plan_path = _plan(alice_dir, 2, name, ssh)
        try:
            with _slow_sbatch_once(alice_dir / "slow-once") as mark:
                submit(plan_path)
                assert not mark.exists(), "the slow sbatch never ran"
            time.sleep(SLOW_SECONDS + 1)  # had the round not been waited for, it lands now
            _assert_each_job_once(plan, plan_path)
        finally:
            scancel_plan(plan)
            ssh_control({"ssh": ssh}, "exit")
            forget_cluster_lock(plan)


def test_over_ssh_a_round_that_outlives_its_killed_submit_is_waited_for_not_sent_again() -> None:
    """The ssh form of the test above: the submit (as runner, over ssh) is killed while
    its round's first sbatch sleeps on the cluster, where nothing stops the round.  The
    next submit must not look for the round's jobs before the round has ended."""

    def killed_then_resumed(plan_path: Path) -> None:
        # killed while the round runs: its first sbatch sleeps on the cluster
        assert _kill_after_intents("runner", plan_path, 1, 1.0), "no intent"
        done = run_cli("runner", ["submit", str(plan_path)])
        assert done.returncode == 0, show(done)

    _each_job_once_after_a_slow_ssh_round("outlived-ssh", killed_then_resumed)


def test_over_ssh_a_round_left_running_at_the_command_timeout_is_waited_for_not_sent_again() -> (
    None
):
    """The local ssh is killed at --command-timeout while the round's first sbatch still
    sleeps on the cluster; the retry looks the round's jobs up by name, and must not
    before the round has ended (its look-up times out meanwhile, and is tried again)."""

    def timed_out(plan_path: Path) -> None:
        options = ["--command-timeout", "2", "--retries", "10", "--retry-delay", "0.5"]
        done = run_cli("runner", ["submit", str(plan_path), *options])
        assert done.returncode == 0, show(done)
        assert "timed out" in done.stderr, show(done)  # the round was cut off

    _each_job_once_after_a_slow_ssh_round("timed-out-ssh", timed_out)


INTERRUPTED = """
import signal, sys
from slurmplan.effects.execute import run_once
argv = ["sudo", "--set-home", "--non-interactive", "-u", "alice", "cat", sys.argv[1]]
def interrupt(signum, frame):
    raise KeyboardInterrupt
signal.signal(signal.SIGALRM, interrupt)
signal.setitimer(signal.ITIMER_REAL, 1.0)
try:
    run_once(argv, timeout=60)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_through_sudo_an_interrupted_command_is_stopped_with_the_users_process() -> None:
    """Ctrl-C (KeyboardInterrupt) while `sudo -u alice sbatch` runs stops alice's process
    too, as the time limit does (review adv4): SIGKILL at once stopped sudo alone, and
    alice's command went on after `submit` said 'interrupted; run the same command
    again'.  The command is an allowed `cat` of a FIFO nobody writes."""
    _alices_cat_stopped(INTERRUPTED, "interrupted\n")
