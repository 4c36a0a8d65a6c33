"""submit, resume, cancel and wait against a fake Slurm (tests/fake_slurm.py): no cluster,
no real time (the Executor's runner, clock and sleep are stand-ins), every transport.

The journal is a real file; the scripts of local and sudo plans are really written.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from fake_slurm import (
    ACCEPT,
    CRASH_AFTER_SBATCH,
    CRASH_BEFORE_SBATCH,
    FATAL,
    GARBAGE,
    TRANSIENT,
    TRANSIENT_BUT_CREATED,
    Crash,
    FakeClock,
    FakeJob,
    FakeSlurm,
    done_marker,
    lane_file,
)
from sample_inputs import one_task_per_job_config, profile, tasks

from slurmplan.compiler import Plan, SubmitStep, compile_plan
from slurmplan.compiler.layout import cluster_lock_file
from slurmplan.compiler.runtime.retry import PollPolicy, RetryPolicy
from slurmplan.compiler.runtime.settle import all_settled
from slurmplan.compiler.slurm.states import RunState
from slurmplan.effects.cancel import cancel
from slurmplan.effects.cli import main, run_commands
from slurmplan.effects.cli.plan_files import dump_plan
from slurmplan.effects.errors import ExecutionError, Interrupted
from slurmplan.effects.execute import Completed, Executor
from slurmplan.effects.journal import read_state
from slurmplan.effects.observe import NotSubmitted, Observer, wait
from slurmplan.effects.submit import SubmitReport, submit

TRANSPORTS = ["local", "sudo", "ssh"]
SSH = {"host": "login", "key_path": "/k", "known_hosts_path": "/kh"}


class Notes:
    """A submit/cancel Progress that keeps what it was told."""

    def __init__(self) -> None:
        self.done = 0
        self.lines: list[str] = []

    def advance(self, message: str, step: int = 1) -> None:
        self.done += step
        self.lines.append(message)

    def note(self, message: str) -> None:
        self.lines.append(message)

    def close(self) -> None:
        pass


class Bench:
    """One plan, its fake Slurm, a fake clock and the journal's path."""

    def __init__(self, tmp_path: Path, transport: str, n_jobs: int, **config: Any) -> None:
        extra: dict[str, Any] = {"transport": transport}
        if transport == "ssh":
            extra["ssh"] = SSH
        runner_config = one_task_per_job_config(
            n_jobs, scripts_dir=str(tmp_path / "scripts"), **config
        )
        self.plan: Plan = compile_plan(
            runner_config, profile(str(tmp_path / "project"), **extra), tasks(n_jobs)
        )
        assert len(self.plan.jobs) == n_jobs
        if transport != "ssh":  # the runner writes these itself; its mkdir goes to the fake
            for job in self.plan.jobs:
                os.makedirs(os.path.dirname(job.script_path), exist_ok=True)
        self.slurm = FakeSlurm(self.plan)
        self.clock = FakeClock()
        self.journal = str(tmp_path / "plan.journal")
        self.notes = Notes()

    def executor(self, retries: int = 2) -> Executor:
        return Executor(
            policy=RetryPolicy(retries=retries, first_delay=1.0, max_seconds=300.0),
            runner=self.slurm,
            clock=self.clock,
            sleep=self.clock.sleep,
        )

    def submit(self, retries: int = 2) -> SubmitReport:
        return submit(self.plan, self.journal, self.executor(retries), self.notes, PollPolicy())

    def ids(self) -> dict[int, str]:
        return dict(read_state(self.journal, self.plan).submitted)

    def run(self) -> str:
        run = read_state(self.journal, self.plan).run
        assert run is not None
        return run

    def events(self) -> list[dict[str, Any]]:
        with open(self.journal) as handle:
            return [json.loads(line) for line in handle]

    def copies(self, job: int) -> int:
        """How many Slurm jobs (of any run) carry this plan job's name."""
        return len(self.slurm.jobs_of(self.plan.jobs[job].name))

    def programs(self) -> list[str]:
        return [c[0] if c[0] != "sh" else "round" for c in self.slurm.commands]


# -- submit ----------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_submit_places_the_scripts_submits_every_job_once_and_journals_its_id(
    tmp_path: Path, transport: str
) -> None:
    bench = Bench(tmp_path, transport, 3)
    report = bench.submit()
    assert (report.submitted, report.already) == (3, 0)
    ids = bench.ids()
    assert sorted(ids) == [0, 1, 2]
    run = bench.run()
    for job in bench.plan.jobs:
        assert bench.slurm.jobs[ids[job.index]].name == f"{job.name}.{run}"
        if transport == "ssh":  # uploaded: the tar stream the fake's tar unpacked
            assert bench.slurm.files[job.script_path] == job.script
        elif transport == "sudo":  # on sbatch's stdin: the runner writes no script file
            assert not Path(job.script_path).exists()
        else:  # written by the runner itself
            assert Path(job.script_path).read_text() == job.script
    if transport == "sudo":
        assert bench.slurm.scripts_read == [job.script for job in bench.plan.jobs]
    assert bench.plan.workdir in bench.slurm.dirs
    sbatches = [c for c in bench.slurm.argvs if "sbatch" in " ".join(c)]
    if transport == "ssh":
        # one squeue of the user's jobs (none of the plan queued), then one round for three
        assert bench.programs() == ["squeue", "mkdir", "tar", "round"]
    else:  # each submit step's argv, with the run's name for the job after --parsable
        assert sbatches == [
            (*s.argv[: s.argv.index("--parsable") + 1],
             f"--job-name={bench.plan.jobs[s.job].name}.{run}",
             *s.argv[s.argv.index("--parsable") + 1 :])
            for s in bench.plan.steps if isinstance(s, SubmitStep)
        ]  # fmt: skip
    assert bench.clock.slept == []

    commands = len(bench.slurm.commands)
    again = bench.submit()  # nothing left: no command at all
    assert (again.submitted, again.already) == (0, 3)
    assert len(bench.slurm.commands) == commands and len(bench.slurm.jobs) == 3


# -- resume after a cut-off intent -----------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_job_cut_off_after_sbatch_is_found_by_name_and_never_submitted_twice(
    tmp_path: Path, transport: str
) -> None:
    bench = Bench(tmp_path, transport, 3)
    # Over ssh the whole round of three is cut off, while its first sbatch ran.
    bench.slurm.replies = (
        [CRASH_AFTER_SBATCH] if transport == "ssh" else [ACCEPT, CRASH_AFTER_SBATCH]
    )
    with pytest.raises(Crash):
        bench.submit()
    cut = 0 if transport == "ssh" else 1
    expected = {0, 1, 2} if transport == "ssh" else {1}
    assert read_state(bench.journal, bench.plan).cut_off == expected

    report = bench.submit()
    assert report.found == 1
    assert sorted(bench.ids()) == [0, 1, 2]
    assert [bench.copies(j) for j in range(3)] == [1, 1, 1]
    assert {"event": "submitted", "how": "found", "job": cut,
            "job_id": bench.ids()[cut]} in bench.events()  # fmt: skip
    # cut-off jobs are looked up by this run's names of them only
    lookups = [c for c in bench.slurm.named("squeue") if "--name=" in " ".join(c)]
    names = {n for c in lookups for a in c if a.startswith("--name=") for n in a[7:].split(",")}
    assert names and all(n.endswith(f".{bench.run()}") for n in names)


def test_over_ssh_the_rounds_and_the_look_ups_by_name_hold_the_plans_cluster_lock(
    tmp_path: Path,
) -> None:
    """Each ssh round, and each squeue whose answer decides what is sent again (this
    run's names, the user's jobs), runs under `flock` of the plan's lock; the poll
    and the queue count wait for nothing."""
    bench = Bench(tmp_path, "ssh", 3, submission={"max_jobs_in_queue": 10})
    bench.slurm.replies = [CRASH_AFTER_SBATCH]
    with pytest.raises(Crash):
        bench.submit()
    bench.submit()
    Observer(bench.plan, bench.journal, bench.executor()).observe()  # a poll
    lock = cluster_lock_file(bench.plan.name, bench.plan.plan_id)
    locked, free = [], []
    for argv in bench.slurm.argvs:
        remote = shlex.split(argv[-1])
        (locked if remote[:2] == ["flock", lock] else free).append(remote)
    assert {" ".join(r[2:4]) for r in locked} == {"sh -c", "squeue --noheader"}
    assert sum(r[2] == "sh" for r in locked) == 2  # the cut-off round, the one after
    assert any("--name=" in " ".join(r) for r in locked)  # the cut-off look-up
    assert all("flock" not in r and r[0] != "sh" for r in free)
    assert {r[0] for r in free} >= {"squeue", "mkdir", "tar"}  # poll and count: no lock
    assert not any("--name=" in " ".join(r) for r in free)
    assert set(bench.slurm.locks) == {lock}


@pytest.mark.parametrize(
    ("program", "exit_code", "stderr", "reason"),
    [
        ("squeue", 127, "bash: line 1: flock: command not found\n", "flock is not installed"),
        ("sh", 127, "bash: line 1: flock: command not found\n", "flock is not installed"),
        ("sh", 66, "flock: cannot open lock file x: Permission denied\n", "could not take"),
    ],
)
def test_over_ssh_a_lock_that_cannot_be_taken_on_the_cluster_stops_submit_naming_flock(
    tmp_path: Path, program: str, exit_code: int, stderr: str, reason: str
) -> None:
    """Fatal at once, and nothing is refused: no sbatch ran (the round printed no
    `:locked`), so the jobs stay intents for the submit after flock is fixed."""
    bench = Bench(tmp_path, "ssh", 2)
    bench.slurm.flock_fails = {program: (exit_code, stderr)}
    with pytest.raises(ExecutionError, match=reason) as raised:
        bench.submit()
    assert "~/.slurmplan-" in str(raised.value) and bench.clock.slept == []
    assert bench.slurm.jobs == {}
    assert "refused" not in [e["event"] for e in bench.events()]
    bench.slurm.flock_fails = {}
    report = bench.submit()
    assert report.submitted == 2 and [bench.copies(j) for j in range(2)] == [1, 1]


def test_a_job_cut_off_before_sbatch_reached_slurm_is_submitted_again(tmp_path: Path) -> None:
    bench = Bench(tmp_path, "local", 2)
    bench.slurm.replies = [CRASH_BEFORE_SBATCH]
    with pytest.raises(Crash):
        bench.submit()
    report = bench.submit()
    assert (report.submitted, report.found, report.ran) == (2, 0, 0)
    assert [bench.copies(j) for j in range(2)] == [1, 1]


def test_a_cut_off_job_slurm_forgot_but_whose_stdout_names_this_run_is_recorded_started(
    tmp_path: Path,
) -> None:
    bench = Bench(tmp_path, "local", 2)
    bench.slurm.replies = [CRASH_AFTER_SBATCH]
    with pytest.raises(Crash):
        bench.submit()
    (forgotten,) = bench.slurm.jobs.values()
    forgotten.timeline = [None]
    bench.slurm.files[bench.plan.jobs[0].stdout] = (
        "module loaded\n"  # what the job itself printed is skipped
        f"slurmplan-start job=0 slurm_job={forgotten.job_id} name={forgotten.name}\n"
    )
    report = bench.submit()
    assert (report.submitted, report.found, report.ran) == (1, 0, 1)
    assert read_state(bench.journal, bench.plan).submitted[0] == forgotten.job_id
    assert {"event": "submitted", "how": "started", "job": 0,
            "job_id": forgotten.job_id} in bench.events()  # fmt: skip
    assert bench.copies(0) == 1


# -- cancel ----------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_cancel_looks_up_cut_off_jobs_then_cancels_every_job_in_one_scancel(
    tmp_path: Path, transport: str
) -> None:
    bench = Bench(tmp_path, transport, 3)
    # Locally the third job is cut off; over ssh the round of all three is.
    bench.slurm.replies = (
        [CRASH_AFTER_SBATCH] if transport == "ssh" else [ACCEPT, ACCEPT, CRASH_AFTER_SBATCH]
    )
    with pytest.raises(Crash):
        bench.submit()
    ids = cancel(bench.plan, bench.journal, bench.executor(), bench.notes)
    assert ids == tuple(sorted(bench.slurm.jobs, key=int))
    assert [c for c in bench.slurm.commands if c[0] == "scancel"] == [("scancel", *ids)]
    assert {job.state for job in bench.slurm.jobs.values()} == {"CANCELLED"}
    with pytest.raises(Interrupted, match="cancelled"):
        bench.submit()


def test_over_ssh_cancel_still_cancels_the_jobs_it_knows_when_the_cluster_lock_fails(
    tmp_path: Path,
) -> None:
    """cancel's look-up of a cut-off job runs under the cluster lock (c1e5391); when flock
    fails there (lockd gone on an NFS home: flock exits 71 'No locks available'), cancel
    stopped before its scancel: the 50 jobs the journal records went on running, and
    a submit running meanwhile could go on sending (review adv4).  Now it cancels
    them, marks the run cancelled, and still fails, naming the lock."""
    bench = Bench(tmp_path, "ssh", 51)
    bench.slurm.replies = [ACCEPT] * 50 + [CRASH_AFTER_SBATCH]  # the second round is cut off
    with pytest.raises(Crash):
        bench.submit()
    known = sorted(bench.ids().values(), key=int)
    assert len(known) == 50
    bench.slurm.flock_fails = {"squeue": (71, "flock: .lock: No locks available\n")}
    with pytest.raises(ExecutionError, match="could not take"):
        cancel(bench.plan, bench.journal, bench.executor(), bench.notes)
    assert all(bench.slurm.jobs[i].state == "CANCELLED" for i in known)
    assert bench.events()[-1] == {"event": "cancelled", "job_ids": known}
    with pytest.raises(Interrupted, match="cancelled"):
        bench.submit()


# -- wait ------------------------------------------------------------------------


def _finish(bench: Bench, job: int, exit_codes: list[int]) -> None:
    """What a job's script leaves when it ends (templates/job.sbatch.j2; test_render runs
    the real script): its stdout's start line, lane status lines, done marker."""
    plan_job = bench.plan.jobs[job]
    job_id = bench.ids()[job]
    name = bench.slurm.jobs[job_id].name
    (lane,) = plan_job.lane_status_paths
    lines = "".join(
        f"{task} {code} {job_id} 1000 1007\n"
        for task, code in zip(plan_job.tasks, exit_codes, strict=True)
    )
    bench.slurm.files[lane] = lane_file(job, job_id, name, lines)
    failed = sum(1 for code in exit_codes if code)
    bench.slurm.files[plan_job.done_path] = done_marker(job, job_id, name, len(exit_codes), failed)
    start = f"slurmplan-start job={job} slurm_job={job_id} name={name}\n"
    bench.slurm.files[plan_job.stdout] = start


def end_jobs(bench: Bench, jobs: Sequence[int] | None = None) -> None:
    """The jobs (default: all) ran to the end in this run: squeue shows them COMPLETED, and
    their lane lines and markers name this run's job ids, every task exiting 0."""
    ids = bench.ids()
    for job in range(len(bench.plan.jobs)) if jobs is None else jobs:
        bench.slurm.jobs[ids[job]].timeline = ["COMPLETED"]
        _finish(bench, job, [0] * len(bench.plan.jobs[job].tasks))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_wait_polls_with_back_off_until_every_job_settled_then_collects_exit_codes(
    tmp_path: Path, transport: str
) -> None:
    bench = Bench(tmp_path, transport, 2)
    bench.submit()
    ids = bench.ids()
    bench.slurm.jobs[ids[0]].timeline = ["PENDING", "RUNNING", "RUNNING", "COMPLETED"]
    bench.slurm.jobs[ids[1]].timeline = ["RUNNING", None]  # ended, then forgotten
    _finish(bench, 0, [0])
    _finish(bench, 1, [3])
    observer = Observer(bench.plan, bench.journal, bench.executor())
    seen: list[tuple[str, ...]] = []
    views = wait(
        observer,
        PollPolicy(first=2.0, factor=1.5, max=30.0),
        lambda changed: seen.append(tuple(v.state for v in changed)),
    )
    assert [v.state for v in views] == [RunState.COMPLETED, RunState.FAILED]
    assert seen == [  # the first views, then each change
        ("PENDING", "RUNNING"), ("RUNNING", "FAILED"), ("COMPLETED", "FAILED"),
    ]  # fmt: skip
    assert observer.polls == 4
    assert bench.clock.slept == [2.0, 2.0, 3.0]  # back to the start on a change, then slower
    results = observer.results()
    assert {r.task_id: (r.exit_code, r.state) for r in results.values()} == {
        "t0": (0, RunState.COMPLETED),
        "t1": (3, RunState.FAILED),
    }
    polls = [c for c in bench.slurm.named("squeue") if c[3].startswith("--jobs=")]
    assert polls[0][3] == f"--jobs={ids[0]},{ids[1]}"
    assert polls[-1][3] == f"--jobs={ids[0]}"  # settled jobs are not asked about again


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_squeue_silent_about_a_running_job_does_not_make_it_lost_scontrol_says_it_runs(
    tmp_path: Path, transport: str
) -> None:
    """Issue 8, observation 6: squeue printed nothing (exit 0) for a job that was running."""
    bench = Bench(tmp_path, transport, 1)
    bench.submit()
    (job_id,) = bench.ids().values()
    bench.slurm.jobs[job_id].timeline = ["RUNNING", "COMPLETED"]
    bench.slurm.jobs[job_id].silent = 1  # the first poll shows no row, and exits 0

    def sleep(seconds: float) -> None:  # meanwhile the job ends and leaves its marker
        bench.clock.sleep(seconds)
        _finish(bench, 0, [0])

    executor = Executor(
        policy=RetryPolicy(retries=2, first_delay=1.0, max_seconds=300.0),
        runner=bench.slurm,
        clock=bench.clock,
        sleep=sleep,
    )
    observer = Observer(bench.plan, bench.journal, executor)
    first = observer.observe()
    assert [(v.state, v.settled) for v in first] == [(RunState.RUNNING, False)]
    views = wait(observer, PollPolicy(first=2.0, max=2.0), lambda s: None)
    assert views is not None
    assert [(v.state, v.settled) for v in views] == [(RunState.COMPLETED, True)]
    results = observer.results()
    assert {r.task_id: (r.exit_code, r.state) for r in results.values()} == {
        "t0": (0, RunState.COMPLETED)
    }
    assert bench.slurm.named("scontrol") == [("scontrol", "-o", "show", "job", job_id)]
    slurm = bench.slurm
    (argv,) = [a for a, c in zip(slurm.argvs, slurm.commands, strict=True) if c[0] == "scontrol"]
    assert argv[0] == ("ssh" if transport == "ssh" else "scontrol")  # as the runner (no sudo)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_job_gone_from_squeue_without_a_marker_is_lost_once_scontrol_forgot_it_too(
    tmp_path: Path, transport: str
) -> None:
    bench = Bench(tmp_path, transport, 2)
    bench.submit()
    ids = bench.ids()
    bench.slurm.jobs[ids[0]].timeline = ["RUNNING", None]  # killed, then forgotten
    bench.slurm.jobs[ids[1]].timeline = ["RUNNING", None]  # ended, then forgotten
    _finish(bench, 1, [0])
    observer = Observer(bench.plan, bench.journal, bench.executor())
    views = wait(observer, PollPolicy(first=2.0, max=2.0), lambda s: None)
    assert views is not None
    assert [(v.state, v.settled) for v in views] == [
        (RunState.LOST, True),
        (RunState.COMPLETED, True),
    ]
    # only the job gone without a marker pays one scontrol
    assert bench.slurm.named("scontrol") == [("scontrol", "-o", "show", "job", ids[0])]


def test_squeue_silent_about_a_job_scontrol_shows_ended_settles_it_in_that_state(
    tmp_path: Path,
) -> None:
    bench = Bench(tmp_path, "local", 1)
    bench.submit()
    (job_id,) = bench.ids().values()
    bench.slurm.jobs[job_id].timeline = ["CANCELLED"]
    bench.slurm.jobs[job_id].silent = 5
    observer = Observer(bench.plan, bench.journal, bench.executor())
    views = wait(observer, PollPolicy(first=2.0, max=2.0), lambda s: None)
    assert views is not None
    assert [(v.state, v.settled) for v in views] == [(RunState.CANCELLED, True)]
    assert observer.polls == 1 and len(bench.slurm.named("scontrol")) == 1


def test_wait_gives_up_at_its_timeout_on_the_fake_clock(tmp_path: Path) -> None:
    bench = Bench(tmp_path, "local", 1)
    bench.submit()
    observer = Observer(bench.plan, bench.journal, bench.executor())
    views = wait(observer, PollPolicy(first=5.0, max=5.0), lambda s: None, timeout=12.0)
    assert not all_settled(views) and views[0].state == RunState.PENDING
    assert bench.clock.slept == [5.0, 5.0, 2.0]  # the last poll at the timeout


def test_wait_refuses_a_plan_not_submitted_yet(tmp_path: Path) -> None:
    bench = Bench(tmp_path, "local", 2)
    observer = Observer(bench.plan, bench.journal, bench.executor())
    with pytest.raises(NotSubmitted, match="2 of 2 jobs"):
        wait(observer, PollPolicy(), lambda s: None)
    assert bench.slurm.commands == []


# -- the four guarantees the seeded bugs broke -------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_retry_budget_starts_again_once_a_job_is_submitted(
    tmp_path: Path, transport: str
) -> None:
    """Two transient failures per job with --retries 2: every job gets its own budget."""
    bench = Bench(tmp_path, transport, 3)
    bench.slurm.replies = [TRANSIENT, TRANSIENT, ACCEPT] * 3
    report = bench.submit(retries=2)
    assert report.submitted == 3
    assert [bench.copies(j) for j in range(3)] == [1, 1, 1]
    assert bench.clock.slept == [1.0, 2.0] * 3


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_job_sbatch_refuses_for_good_is_journaled_refused(tmp_path: Path, transport: str) -> None:
    bench = Bench(tmp_path, transport, 3)
    bench.slurm.replies = [ACCEPT, FATAL]
    with pytest.raises(ExecutionError, match="Invalid partition"):
        bench.submit()
    said = "sbatch: error: Batch job submission failed: Invalid partition name specified"
    assert {"event": "refused", "job": 1, "message": said} in bench.events()  # sbatch's words
    state = read_state(bench.journal, bench.plan)
    expected_cut_off = {2} if transport == "ssh" else set()  # never ran, after the failed one
    assert (sorted(state.submitted), state.cut_off) == ([0], expected_cut_off)
    assert bench.clock.slept == []  # fatal: no retry


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_sbatch_output_that_is_not_an_id_stops_submit_and_leaves_the_job_to_look_up(
    tmp_path: Path, transport: str
) -> None:
    bench = Bench(tmp_path, transport, 2)
    bench.slurm.replies = [GARBAGE]
    with pytest.raises(ExecutionError, match=r"expected '<job id>\[;<cluster>\]'"):
        bench.submit()
    state = read_state(bench.journal, bench.plan)
    assert (dict(state.submitted), state.cut_off) == ({}, {0} if transport != "ssh" else {0, 1})
    # Nothing after the bad answer (over ssh the round's chain had run on).
    assert len(bench.slurm.jobs) == (2 if transport == "ssh" else 1)


@pytest.mark.parametrize("transport", ["local", "ssh"])
def test_submit_never_fills_the_queue_past_max_jobs_in_queue(
    tmp_path: Path, transport: str
) -> None:
    bench = Bench(tmp_path, transport, 4, submission={"max_jobs_in_queue": 2})
    assert bench.plan.max_jobs_in_queue == 2

    def wait_a_while(seconds: float) -> None:  # meanwhile the queued jobs end
        bench.clock.sleep(seconds)
        for job in bench.slurm.jobs.values():
            job.timeline = ["COMPLETED"]

    executor = bench.executor()
    executor.sleep = wait_a_while
    report = submit(bench.plan, bench.journal, executor, bench.notes, PollPolicy(first=5.0))
    assert report.submitted == 4
    sbatch = "round" if transport == "ssh" else "sbatch"
    one_round = [sbatch] if transport == "ssh" else [sbatch, sbatch]
    placing = ["mkdir", "tar"] if transport == "ssh" else ["mkdir"]
    # the first squeue looks the plan's jobs up by name (none queued yet), then the counts
    assert bench.programs() == [
        "squeue",
        *placing,
        "squeue",
        *one_round,
        "squeue",
        "squeue",
        *one_round,
    ]
    assert bench.clock.slept == [5.0]
    assert any("queue full (2 jobs of alice queued, max_jobs_in_queue=2)" in n
               for n in bench.notes.lines)  # fmt: skip


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_job_an_sbatch_created_while_it_failed_takes_queue_room(
    tmp_path: Path, transport: str
) -> None:
    """max_jobs_in_queue=2; job 0's sbatch times out on the socket yet creates it. After
    the back-off it is found by name: it takes the room it would have taken submitted.
    Before, the room counted before it stayed 2, and jobs 1 and 2 went in beside it:
    three queued (found by tests/test_effects_crash_points.py)."""
    bench = Bench(tmp_path, transport, 3, submission={"max_jobs_in_queue": 2})
    queued: list[int] = []
    bench.slurm.after_sbatch = lambda job: queued.append(
        sum(1 for j in bench.slurm.jobs.values() if j.state == "PENDING")
    )
    bench.slurm.replies = [TRANSIENT_BUT_CREATED]

    def wait_a_while(seconds: float) -> None:  # the back-off ends nothing; a wait for room does
        bench.clock.sleep(seconds)
        if len(bench.clock.slept) > 1:
            for job in bench.slurm.jobs.values():
                job.timeline = ["COMPLETED"]

    executor = bench.executor()
    executor.sleep = wait_a_while
    report = submit(bench.plan, bench.journal, executor, bench.notes, PollPolicy(first=5.0))
    assert (report.found, report.submitted) == (1, 2)
    assert [bench.copies(j) for j in range(3)] == [1, 1, 1]
    assert max(queued) == 2, queued


def test_retries_stop_at_retry_max_seconds_on_the_executors_clock(tmp_path: Path) -> None:
    bench = Bench(tmp_path, "local", 1)
    executor = bench.executor()
    executor.policy = RetryPolicy(retries=10, first_delay=1.0, max_seconds=5.0)
    unreachable = ("squeue", "--noheader")

    def down(argv: Sequence[str], **_: object) -> Completed:
        return Completed(tuple(argv), 1, "", "Unable to contact slurm controller\n")

    executor.runner = down
    with pytest.raises(ExecutionError, match=r"gave up after 4 attempts in 5\.0 s"):
        executor.run(unreachable)
    assert bench.clock.slept == [1.0, 2.0, 2.0]  # the last wait cut to the 5 s budget


def test_waiting_for_queue_room_does_not_use_up_the_retry_time_of_the_next_sbatch(
    tmp_path: Path,
) -> None:
    """--retry-max-seconds counts from a command's first attempt, not from the start of
    submit: a long wait for room before it leaves the transient failure its retries."""
    bench = Bench(tmp_path, "local", 1, submission={"max_jobs_in_queue": 1})
    bench.slurm.jobs["7"] = FakeJob("7", "someone-elses-job", ["RUNNING"])

    def wait_a_while(seconds: float) -> None:  # meanwhile the other job ends
        bench.clock.sleep(seconds)
        bench.slurm.jobs["7"].timeline = ["COMPLETED"]

    executor = bench.executor()
    executor.policy = RetryPolicy(retries=2, first_delay=1.0, max_seconds=300.0)
    executor.sleep = wait_a_while
    bench.slurm.replies = [TRANSIENT]
    report = submit(
        bench.plan, bench.journal, executor, bench.notes, PollPolicy(first=400.0, max=400.0)
    )
    assert report.submitted == 1
    assert bench.clock.slept == [400.0, 1.0]


# -- what wait, status and collect say of refused, cancelled and killed tasks ------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_job_sbatch_refused_for_good_is_settled_refused_with_its_tasks(
    tmp_path: Path, transport: str
) -> None:
    bench = Bench(tmp_path, transport, 2)
    bench.slurm.replies = [ACCEPT, FATAL]
    with pytest.raises(ExecutionError, match="Invalid partition"):
        bench.submit()
    bench.slurm.jobs[bench.ids()[0]].timeline = ["RUNNING", "COMPLETED"]
    _finish(bench, 0, [0])
    observer = Observer(bench.plan, bench.journal, bench.executor())
    views = wait(observer, PollPolicy(first=2.0, max=2.0), lambda s: None)
    assert views is not None
    assert [(v.state, v.settled) for v in views] == [
        (RunState.COMPLETED, True),
        (RunState.REFUSED, True),
    ]
    results = observer.results()
    assert {r.task_id: (r.exit_code, r.state) for r in results.values()} == {
        "t0": (0, RunState.COMPLETED),
        "t1": (None, RunState.REFUSED),
    }
    polls = [c for c in bench.slurm.named("squeue") if c[3].startswith("--jobs=")]
    assert polls and all(c[3] == f"--jobs={bench.ids()[0]}" for c in polls)


def test_wait_still_refuses_a_plan_with_jobs_never_tried_beside_a_refused_one(
    tmp_path: Path,
) -> None:
    bench = Bench(tmp_path, "local", 3)
    bench.slurm.replies = [ACCEPT, FATAL]  # job 2 never reached sbatch
    with pytest.raises(ExecutionError, match="Invalid partition"):
        bench.submit()
    observer = Observer(bench.plan, bench.journal, bench.executor())
    with pytest.raises(NotSubmitted, match=r"1 of 3 jobs are not submitted yet \(first: job 2\)"):
        wait(observer, PollPolicy(), lambda s: None)


class Cli:
    """The CLI's run-time commands on a Bench: its plan file, journal and fake Slurm."""

    def __init__(
        self, bench: Bench, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        self.bench, self.capsys = bench, capsys
        self.plan_path = str(Path(bench.journal).parent / "plan.json")
        Path(self.plan_path).write_text(dump_plan(bench.plan))
        monkeypatch.setattr(run_commands, "_executor", lambda args, report: bench.executor())

    def __call__(self, command: str, *options: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([command, self.plan_path, "--journal", self.bench.journal, *options])
        out, err = self.capsys.readouterr()
        return code, out, err


def _no_python_none(*texts: str) -> None:
    for text in texts:
        assert "None" not in text, text


def test_the_cli_shows_a_refused_job_and_its_tasks_and_wait_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = Bench(tmp_path, "local", 2)
    bench.slurm.replies = [ACCEPT, FATAL]
    with pytest.raises(ExecutionError, match="Invalid partition"):
        bench.submit()
    bench.slurm.jobs[bench.ids()[0]].timeline = ["COMPLETED"]
    _finish(bench, 0, [0])
    cli = Cli(bench, monkeypatch, capsys)

    code, out, err = cli("status")
    assert code == 0
    assert "REFUSED" in out.splitlines()[2] and "REFUSED=1" in out
    said = "sbatch: error: Batch job submission failed: Invalid partition name specified"
    assert f"job 1: REFUSED: sbatch refused it: {said}" in out  # sbatch's own words
    _no_python_none(out, err)
    code, out, _ = cli("status", "--json")
    jobs = json.loads(out)["jobs"]
    assert [job["state"] for job in jobs] == ["COMPLETED", "REFUSED"]
    assert [job["reason"] for job in jobs] == [None, f"sbatch refused it: {said}"]

    code, out, err = cli("wait")
    assert code == 1, err
    assert "1/2 tasks succeeded" in out
    assert f"task t1: REFUSED (job 1: sbatch refused it: {said})" in err
    _no_python_none(out, err)

    code, out, err = cli("collect")
    assert code == 0
    (row,) = [line.split() for line in out.splitlines() if line.startswith("t1 ")]
    assert row[:4] == ["t1", "-", "REFUSED", "-"]
    _no_python_none(out, err)
    code, out, _ = cli("collect", "--json")
    t1 = json.loads(out)["tasks"]["t1"]
    assert (t1["state"], t1["exit_code"], t1["job_id"]) == ("REFUSED", None, "")
    assert t1["reason"] == f"sbatch refused it: {said}"


def test_the_cli_never_prints_none_for_a_cancelled_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = Bench(tmp_path, "local", 2)
    bench.submit()
    ids = bench.ids()
    bench.slurm.jobs[ids[0]].timeline = ["COMPLETED"]
    _finish(bench, 0, [0])
    bench.slurm.jobs[ids[1]].timeline = ["CANCELLED"]  # cancelled before its task ended
    cli = Cli(bench, monkeypatch, capsys)

    code, out, err = cli("wait")
    assert code == 1
    assert f"task t1: CANCELLED (job {ids[1]};" in err
    _no_python_none(out, err)
    code, out, err = cli("collect")
    (row,) = [line.split() for line in out.splitlines() if line.startswith("t1 ")]
    assert row[:4] == ["t1", ids[1], "CANCELLED", "-"]
    _no_python_none(out, err)
    code, out, _ = cli("collect", "--json")
    assert json.loads(out)["tasks"]["t1"]["exit_code"] is None  # JSON's null


def test_a_task_killed_at_its_jobs_time_limit_is_timeout_with_its_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = Bench(tmp_path, "local", 2)
    bench.submit()
    ids = bench.ids()
    bench.slurm.jobs[ids[0]].timeline = ["RUNNING", "TIMEOUT"]
    _finish(bench, 0, [143])  # SIGTERM from Slurm at the time limit
    bench.slurm.jobs[ids[1]].timeline = ["RUNNING", "TIMEOUT"]
    _finish(bench, 1, [2])  # exited on its own before the limit struck
    cli = Cli(bench, monkeypatch, capsys)

    code, out, err = cli("wait", "--poll-interval", "1")
    assert code == 1
    assert f"task t0: TIMEOUT, exit code 143, killed by SIGTERM (job {ids[0]};" in err
    assert f"task t1: FAILED, exit code 2 (job {ids[1]};" in err
    code, out, _ = cli("collect", "--json")
    tasks = json.loads(out)["tasks"]
    assert (tasks["t0"]["state"], tasks["t0"]["exit_code"]) == ("TIMEOUT", 143)
    assert (tasks["t1"]["state"], tasks["t1"]["exit_code"]) == ("FAILED", 2)
