"""Crash points: `submit` and `cancel` killed at every point, then carried on by new
processes, against the fake Slurm (tests/fake_slurm.py), on every transport, for plans
of 1 to 4 jobs of 1 to 3 tasks, with and without max_jobs_in_queue.

The other effects tests kill a command case by case; this one walks every point of a
process.  A *process* is a fresh `slurmplan.Run` with its own Executor: nothing in
memory outlives it, only the journal file and the fake cluster (World).  A process
that nothing stops is recorded first; then, for each of its points, a scenario
replays it and stops or faults it there:

- a command: not run, or run (its effect in Slurm) and the answer never read, or
  answered with a signal's exit (-9; a round: or a time limit) after it ran; an sbatch
  (over ssh: each sbatch of a round) also killed before or after Slurm took the job,
  killed by a signal (-9; 137 from the round's `sh -c`) or timed out with or without
  the job created, a transient failure after the job was created, a fatal refusal;
- a journal write: the file keeps a prefix of it, cut at every byte (plan "1x1") or
  a byte either side of each line's end, and the process is killed;
- a script write: the process killed before it or after it.

A kill is fake_slurm.Crash, a BaseException raised from the hooked command or write:
slurmplan runs no cleanup that writes (its `finally`s close files and drop the flock,
which the kernel does for a killed process too), so what is on disk is what a SIGKILL
leaves.  Then new processes carry on (THENS: a submit and another, the jobs ending
first, a cancel, a submit or a cancel killed again at a later point and one more), the
cluster ends every job it holds (some tasks exit 0, some fail, some jobs are cancelled
or killed and forgotten), and a new Run polls and waits.  Checked after every step:

- each plan job is in Slurm at most once under this run's name, exactly once after a
  submit that returned, every job in Slurm is this run's, and the journal's ids are
  those jobs;
- a task is COMPLETED or exit 0 only when the fake job of this run's name really ran
  it to exit 0 (World.truth): an earlier run's files, seeded under the very job ids
  this run gets, never count; a run whose every task did run to exit 0 succeeds;
- after `cancel` returns, no job is pending or running, it named every job of the
  run, and no job is sent afterwards (a submit refuses);
- never more jobs queued at once than max_jobs_in_queue;
- the journal is always readable (a torn last line is ignored), and one torn in the
  middle is refused by every command naming the file and the line, nothing sent;
  every exception is one the API documents; a snapshot names the journal's run.

Interleaved (walk_interleaved): another process's whole cancel, submit, submit killed
after its sbatch, or submit killed in its back-off, at every point of a submit where
that submit does not hold the journal's flock (elsewhere the other would block until
the unlock, which is a point of its own).  And cancel killed at every point
(walk_cancel_crashes).  Time passes only when a process sleeps: every second sleep,
the oldest active job ends (a retry's back-off alone ends nothing).

By default each fault is carried on two ways (a journal cut one), chosen by a hash, in
about 20 s; SLURMPLAN_CRASH_POINTS=all carries every fault every way, on more plans.
"""

from __future__ import annotations

import os
import types
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from fake_slurm import (
    ACTIVE,
    CRASH_AFTER_SBATCH,
    CRASH_BEFORE_SBATCH,
    FATAL,
    TRANSIENT_BUT_CREATED,
    Crash,
    FakeClock,
    FakeJob,
    FakeSlurm,
    Reply,
    done_marker,
    lane_file,
)
from sample_inputs import config, profile

import slurmplan
from slurmplan.compiler import Plan, compile_plan
from slurmplan.compiler.layout import run_job_name
from slurmplan.compiler.runtime.journal_state import JournalError, cancelled_event, encode
from slurmplan.compiler.runtime.retry import PollPolicy, RetryPolicy
from slurmplan.effects import journal as journal_module
from slurmplan.effects import submit as submit_module
from slurmplan.effects.execute import Completed, Executor
from slurmplan.effects.journal import Journal, read_state

SSH = {"host": "login", "key_path": "/k", "known_hosts_path": "/kh"}
# SLURMPLAN_CRASH_POINTS=all: every way on after every fault, more plans (minutes);
# by default some of them, chosen by a hash of the fault (seconds).
FULL = os.environ.get("SLURMPLAN_CRASH_POINTS") == "all"
# How the walked submit's first sbatch is answered in walk_interleaved.
REPLIES: tuple[tuple[str, ...], ...] = ((), ("transient_created",), ("timeout_none",), ("fatal",))
STALE_RUN = "0badc0de"  # an earlier run of the plan, whose files are in the workdir
FIRST_ID = 100  # the fake's first job id: the earlier run's files name the same ids

# (tasks, tasks_per_job, parallel_tasks_per_job): 1 to 4 jobs of 1 to 3 tasks.
SHAPES = {
    "1x1": (1, 1, 1),
    "1x3": (3, 3, 2),
    "2x2": (4, 2, 1),
    "3x2": (5, 2, 2),
    "4x1": (4, 1, 1),
}

# How the cluster ends a job it holds, for the outcome of each (scenario, job).
OUTCOMES = ("ok", "ok_forgotten", "fail", "cancelled_mid", "killed_forgotten")


class Stuck(Exception):
    """A process slept too often: it waits for something the scenario never brings."""


# -- the world that survives a process: the cluster, the journal file ---------------------


class World:
    def __init__(self, plan: Plan, journal: str, *, stale: bool, seed: int) -> None:
        self.plan = plan
        self.journal = journal
        self.slurm = FakeSlurm(plan, first_id=FIRST_ID)
        self.clock = FakeClock()
        self.seed = seed
        # Slurm job id -> {task id: exit code} of the tasks that job really ran.
        self.truth: dict[str, dict[str, int]] = {}
        self.peak = 0  # the most jobs active at once, as each sbatch creates one
        self.slurm.after_sbatch = lambda job: self._count_queue()
        if os.path.exists(journal):
            os.unlink(journal)
        self.slurm.dirs.add(plan.workdir)
        if stale:  # Slurm lost its state since: this run's jobs get the same ids
            for job in plan.jobs:
                fake = FakeJob(str(FIRST_ID + job.index), f"{job.name}.{STALE_RUN}")
                self._leave_files(job.index, fake, dict.fromkeys(job.tasks, 0), marker=True)

    def _count_queue(self) -> None:
        active = sum(1 for fake in self.slurm.jobs.values() if fake.state in ACTIVE)
        self.peak = max(self.peak, active)

    def run_name(self, job: int, run: str) -> str:
        return run_job_name(self.plan.jobs[job].name, run)

    def copies(self, run: str) -> list[list[FakeJob]]:
        """Each plan job's jobs in Slurm under run `run`'s name for it."""
        return [self.slurm.job_named(self.run_name(j, run)) for j in range(len(self.plan.jobs))]

    def end_one(self, fake: FakeJob, outcome: str) -> None:
        """The cluster ends a job it holds (active): `outcome` of OUTCOMES."""
        base, _, _ = fake.name.rpartition(".")
        index = next((j.index for j in self.plan.jobs if j.name == base), None)
        if index is None:
            fake.timeline = ["COMPLETED"]
            return
        tasks = self.plan.jobs[index].tasks
        if outcome in ("ok", "ok_forgotten"):
            codes = dict.fromkeys(tasks, 0)
        elif outcome == "fail":
            codes = {t: (3 if k == 0 else 0) for k, t in enumerate(tasks)}
        else:  # killed while its first task's successor ran: only the first has a line
            codes = {tasks[0]: 0}
        self.truth[fake.job_id] = codes
        marker = outcome in ("ok", "ok_forgotten", "fail")
        self._leave_files(index, fake, codes, marker=marker)
        fake.timeline = [
            {
                "ok": "COMPLETED",
                "fail": "FAILED",
                "cancelled_mid": "CANCELLED",
                "ok_forgotten": None,
                "killed_forgotten": None,
            }[outcome]
        ]

    def _leave_files(
        self, index: int, fake: FakeJob, codes: dict[str, int], *, marker: bool
    ) -> None:
        """What the job's script writes (templates/job.sbatch.j2): its stdout's start
        line, a lane file per lane (task k in lane k % lanes), the done marker."""
        job = self.plan.jobs[index]
        lanes = job.lane_status_paths
        for lane, path in enumerate(lanes):
            lines = "".join(
                f"{t} {codes[t]} {fake.job_id} 1000 1007\n"
                for k, t in enumerate(job.tasks)
                if k % len(lanes) == lane and t in codes
            )
            self.slurm.files[path] = lane_file(index, fake.job_id, fake.name, lines)
        start = f"slurmplan-start job={index} slurm_job={fake.job_id} name={fake.name}\n"
        self.slurm.files[job.stdout] = start
        if marker:
            failed = sum(1 for t in job.tasks if codes.get(t, 1) != 0)
            text = done_marker(index, fake.job_id, fake.name, len(job.tasks), failed)
            self.slurm.files[job.done_path] = text
        else:
            self.slurm.files.pop(job.done_path, None)

    def ran_to_exit_0(self, run: str) -> bool:
        """Each plan job ran once in run `run`, every task of it to exit 0."""
        copies = self.copies(run)
        return all(
            len(jobs) == 1
            and self.truth.get(jobs[0].job_id) == dict.fromkeys(self.plan.jobs[j].tasks, 0)
            for j, jobs in enumerate(copies)
        )

    def outcome(self, fake: FakeJob) -> str:
        return OUTCOMES[zlib.crc32(f"{self.seed}:{fake.job_id}".encode()) % len(OUTCOMES)]

    def end_all(self) -> None:
        """The cluster runs and ends every job still active."""
        for fake in list(self.slurm.jobs.values()):
            if fake.state in ACTIVE:
                self.end_one(fake, self.outcome(fake))

    def tick(self) -> None:
        """Time passes (a process sleeps): the oldest active job ends."""
        for fake in self.slurm.jobs.values():
            if fake.state in ACTIVE:
                self.end_one(fake, self.outcome(fake))
                return


# -- a process, and where it stops --------------------------------------------------------


@dataclass(frozen=True)
class Point:
    kind: str  # "cmd", "round" (sbatch commands), "journal", "write", "lock", "unlock"
    size: int = 0  # journal: bytes of the write; round: sbatches in it
    label: str = ""
    ends: tuple[int, ...] = ()  # journal: where each line of the write ends
    locked: bool = False  # the process holds the journal's lock there


@dataclass(frozen=True)
class Fault:
    at: int  # the index of the point in the process
    mode: str
    arg: int = 0  # journal: bytes kept; round: which sbatch of the round


def faults_at(at: int, point: Point, *, every_byte: bool) -> list[Fault]:
    """Every way the process can stop or fail at `point`."""
    if point.kind == "journal":
        if every_byte:
            cuts = set(range(point.size + 1))
        else:  # a cut only matters by the whole lines it keeps, and whether one is torn
            cuts = {0, 1} | {c for e in point.ends for c in (e - 1, e, e + 1)}
        return [Fault(at, "cut", c) for c in sorted(cuts) if c <= point.size]
    if point.kind == "write":
        return [Fault(at, "before"), Fault(at, "after")]
    if point.kind == "cmd":
        return [Fault(at, "before"), Fault(at, "after"), Fault(at, "signal_after")]
    if point.kind == "round":
        out = [Fault(at, m) for m in ("before", "after", "signal_after", "timeout_after")]
        for k in range(point.size):  # at each sbatch of the round (one unless ssh)
            out += [Fault(at, m, k) for m in SBATCH_MODES]
        return out
    return []


SBATCH_MODES = (
    "crash_before",  # killed before sbatch reached Slurm
    "crash_after",  # killed after Slurm took the job, before its id was read
    "killed_created",  # sbatch killed by a signal (-9 / 137 over ssh) after Slurm took it
    "killed_none",
    "timeout_created",  # at the time limit
    "timeout_none",
    "transient_created",  # Socket timed out, yet the job was created
    "fatal",  # refused for good
)


def sbatch_reply(mode: str, transport: str) -> Reply:
    signal = 137 if transport == "ssh" else -9
    return {
        "crash_before": CRASH_BEFORE_SBATCH,
        "crash_after": CRASH_AFTER_SBATCH,
        "killed_created": Reply(exit_code=signal, stdout="", creates_job=True),
        "killed_none": Reply(exit_code=signal, stdout="", creates_job=False),
        "timeout_created": Reply(exit_code=None, stdout="", creates_job=True),
        "timeout_none": Reply(exit_code=None, stdout="", creates_job=False),
        "transient_created": TRANSIENT_BUT_CREATED,
        "fatal": FATAL,
    }[mode]


_current: list[Process] = []  # the process running now (a stack: interleaved ones nest)


class Process:
    """One slurmplan process: a Run with an Executor of its own over the world's fake
    Slurm.  It counts its points; `fault` stops or fails it at one; `at_point`, when
    given, runs between points where this process does not hold the journal's lock
    (another process's whole command)."""

    def __init__(
        self,
        world: World,
        fault: Fault | None = None,
        at_point: Callable[[int, Point], None] | None = None,
        replies: Sequence[str] = (),
        *,
        die_asleep: bool = False,
    ) -> None:
        self.world = world
        self.die_asleep = die_asleep  # killed at its first sleep (a back-off, a full queue)
        self.fault = fault
        self.at_point = at_point
        self.replies = list(replies)  # SBATCH_MODES answering this process's first sbatches
        self.points: list[Point] = []
        self.holds_lock = 0
        self.sleeps = 0
        self.transport = world.plan.transport.kind.value
        executor = Executor(
            policy=RetryPolicy(retries=2, first_delay=1.0, max_seconds=300.0),
            runner=self.runner,
            clock=world.clock,
            sleep=self.sleep,
        )
        self.run = slurmplan.Run(world.plan, world.journal, executor=executor, poll=PollPolicy())

    @contextmanager
    def active(self) -> Iterator[None]:
        _current.append(self)
        try:
            yield
        finally:
            _current.pop()

    def submit(self) -> slurmplan.SubmitReport:
        with self.active():
            return self.run.submit()

    def submit_quietly(self) -> None:
        """submit(), whatever stops it (for a recording: the scenario checks)."""
        with suppress(Crash, slurmplan.SlurmplanError):
            self.submit()

    def cancel(self) -> tuple[str, ...]:
        with self.active():
            return self.run.cancel()

    def _point(self, point: Point) -> Fault | None:
        at = len(self.points)
        point = replace(point, locked=self.holds_lock > 0)
        self.points.append(point)
        if self.at_point is not None and not self.holds_lock:
            self.at_point(at, point)
        if self.fault is not None and self.fault.at == at:
            return self.fault
        return None

    # hooks -------------------------------------------------------------------------

    def runner(self, argv: Sequence[str], **kwargs: Any) -> Completed:
        sbatches = sum(1 for a in _remote(argv) if a == "sbatch")
        kind = "round" if sbatches else "cmd"
        fault = self._point(Point(kind, sbatches, " ".join(_remote(argv))[:60]))
        slurm = self.world.slurm
        if fault is None and sbatches and self.replies:
            fault = Fault(len(self.points) - 1, self.replies.pop(0))
        if fault is None:
            return slurm(argv, **kwargs)
        if fault.mode == "auto":  # a kill somewhere later: after the command
            fault = Fault(fault.at, "after")
        if fault.mode == "before":
            raise Crash(f"killed before {argv[0]}")
        if fault.mode in SBATCH_MODES:
            slurm.replies = [Reply()] * fault.arg + [sbatch_reply(fault.mode, self.transport)]
            try:
                return slurm(argv, **kwargs)
            finally:
                slurm.replies = []
        done = slurm(argv, **kwargs)
        if fault.mode == "after":
            raise Crash(f"killed after {argv[0]} ran")
        if fault.mode == "signal_after":
            return Completed(done.argv, -9, "", "")
        assert fault.mode == "timeout_after", fault
        return Completed(done.argv, None, "", "")

    def sleep(self, seconds: float) -> None:
        self._point(Point("sleep"))  # outside the lock: another process may run
        self.sleeps += 1
        if self.die_asleep:
            raise Crash("killed while it slept")
        if self.sleeps > 200:
            raise Stuck(f"slept {self.sleeps} times")
        self.world.clock.sleep(seconds)
        if self.sleeps % 2 == 0:  # not at once: a retry's back-off may end no job
            self.world.tick()

    def append(self, journal: Journal, data: bytes) -> None:
        """Before a journal write of `data`: at a fault, the file keeps a prefix of it
        and the process is killed."""
        ends = tuple(i + 1 for i, byte in enumerate(data) if byte == 0x0A)
        fault = self._point(Point("journal", len(data), ends=ends))
        if fault is None:
            return
        keep = fault.arg if fault.mode == "cut" else len(data) // 2
        os.write(journal._fd, data[:keep])  # what the kill left in the file
        raise Crash(f"killed writing the journal ({keep} of {len(data)} bytes)")

    def write(self, path: str) -> Fault | None:
        return self._point(Point("write", label=path))

    def flock(self, operation: int) -> None:
        if operation == journal_module.fcntl.LOCK_EX:
            self._point(Point("lock"))
            self.holds_lock += 1
        else:
            self.holds_lock -= 1
            self._point(Point("unlock"))


def _remote(argv: Sequence[str]) -> list[str]:
    """The words of the command as the login node runs them (an ssh round's `sh -c`)."""
    words = list(argv)
    if words[0] == "ssh":
        words = words[-1].split()
    return [w.strip("'\"") for w in words]


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Route the journal's writes and locks and submit's script writes through the
    process running now (none: as they are).  A kill is not a power cut: what was
    written is in the file without fsync, which the scenarios skip for speed."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    append_many = Journal.append_many

    def append_hooked(self: Journal, events: Sequence[dict[str, Any]]) -> None:
        if _current and events and self._locked:
            self._check_same_file()  # as append_many does first
            _current[-1].append(self, b"".join(map(encode, events)))
        append_many(self, events)

    monkeypatch.setattr(Journal, "append_many", append_hooked)
    write_atomic = submit_module.write_atomic

    def write_hooked(path: str, data: bytes, mode: int, *, durable: bool = True) -> None:
        fault = _current[-1].write(path) if _current else None
        if fault is not None and fault.mode == "before":
            raise Crash(f"killed before writing {path}")
        write_atomic(path, data, mode, durable=durable)
        if fault is not None:
            raise Crash(f"killed after writing {path}")

    monkeypatch.setattr(submit_module, "write_atomic", write_hooked)
    real = journal_module.fcntl

    def flock(fd: int, operation: int) -> None:
        process = _current[-1] if _current else None
        if process is not None and operation == real.LOCK_EX:
            process.flock(operation)
        real.flock(fd, operation)
        if process is not None and operation == real.LOCK_UN:
            process.flock(operation)

    fake = types.SimpleNamespace(flock=flock, LOCK_EX=real.LOCK_EX, LOCK_UN=real.LOCK_UN)
    monkeypatch.setattr(journal_module, "fcntl", fake)


# -- scenarios ---------------------------------------------------------------------------


def make_plan(tmp_path: Path, transport: str, shape: str, queue: int | None) -> Plan:
    n, per_job, parallel = SHAPES[shape]
    extra: dict[str, Any] = {"transport": transport}
    if transport == "ssh":
        extra["ssh"] = SSH
    runner_config = {**config(), "scripts_dir": str(tmp_path / "scripts")}
    if queue is not None:
        runner_config["submission"] = {"max_jobs_in_queue": queue}
    task_list = {
        "name": "crash", "tasks_per_job": per_job, "parallel_tasks_per_job": parallel,
        "tasks": [{"id": f"t{i}", "command": ["true"]} for i in range(n)],
    }  # fmt: skip
    plan = compile_plan(runner_config, profile(str(tmp_path / "project"), **extra), task_list)
    if transport != "ssh":
        for job in plan.jobs:
            os.makedirs(os.path.dirname(job.script_path), exist_ok=True)
    return plan


class Scenario:
    """One world and what its processes did; `problems` are the invariants broken."""

    def __init__(self, plan: Plan, journal: str, name: str, *, stale: bool, seed: int) -> None:
        self.world = World(plan, journal, stale=stale, seed=seed)
        self.name = name
        self.problems: list[str] = []
        self.cancelled = False  # a cancel returned
        self.ids_at_cancel: set[str] | None = None  # the jobs in Slurm when it first did

    def problem(self, message: str) -> None:
        self.problems.append(f"{self.name}: {message}")

    def attempt(
        self, call: Callable[[], Any], allowed: tuple[type[BaseException], ...], what: str
    ) -> Any:
        """call(); an exception in `allowed` is returned, any other is a problem."""
        try:
            return call()
        except allowed as error:
            return error
        except BaseException as error:
            self.problem(f"{what} raised {type(error).__name__}: {error}")
            return error

    def journal_run(self) -> str | None:
        try:
            return read_state(self.world.journal, self.world.plan).run
        except JournalError as error:
            self.problem(f"the journal cannot be read: {error}")
            return None

    def check_slurm(self, *, complete: bool, what: str) -> None:
        """At most one job per plan job under this run's name (exactly one after a
        submit that returned); every job in Slurm is this run's; the journal's ids
        are those jobs."""
        run = self.journal_run()
        world = self.world
        for fake in world.slurm.jobs.values():
            if run is None or not fake.name.endswith("." + run):
                self.problem(f"after {what}: {fake.job_id} {fake.name} is not of run {run}")
        limit = world.plan.max_jobs_in_queue
        if limit is not None and world.peak > limit:
            self.problem(f"after {what}: {world.peak} jobs queued, max_jobs_in_queue={limit}")
        if run is None:
            return
        for job, copies in enumerate(world.copies(run)):
            if len(copies) > 1 or (complete and len(copies) != 1):
                ids = [c.job_id for c in copies]
                self.problem(f"after {what}: job {job} is in Slurm {len(copies)} times {ids}")
        state = read_state(world.journal, world.plan)
        for job, job_id in state.submitted.items():
            fake = world.slurm.jobs.get(job_id)
            if fake is None or fake.name != world.run_name(job, run):
                self.problem(f"after {what}: the journal holds {job_id} for job {job}")
        if self.cancelled:
            active = [f.job_id for f in world.slurm.jobs.values() if f.state in ACTIVE]
            if active:
                self.problem(f"after {what}: cancel returned, yet {active} are active")
            sent = sorted(set(world.slurm.jobs) - (self.ids_at_cancel or set()))
            if sent:
                self.problem(f"after {what}: {sent} were sent after cancel returned")

    def submit(
        self,
        fault: Fault | None = None,
        *,
        what: str,
        replies: Sequence[str] = (),
        at_point: Callable[[int, Point], None] | None = None,
        die_asleep: bool = False,
    ) -> None:
        """A new process submits; with no fault it must finish every job, and after a
        cancel it must refuse and send nothing.  `replies` answer its first sbatches;
        `at_point` runs another process between two of its points."""
        process = Process(self.world, fault, at_point, replies, die_asleep=die_asleep)
        was_cancelled = self.cancelled
        allowed: tuple[type[BaseException], ...] = ()
        if was_cancelled:
            allowed = (slurmplan.Interrupted,)
        elif fault is not None or replies or at_point is not None or die_asleep:
            # a crash, or a fault that is fatal (sbatch refused it, retries ran out), or
            # the other process cancelled the run
            allowed = (Crash, slurmplan.ExecutionError, slurmplan.Interrupted)
        before = len(self.world.slurm.jobs)
        result = self.attempt(process.submit, allowed, what)
        if was_cancelled:
            if not isinstance(result, slurmplan.Interrupted):
                self.problem(f"{what} of a cancelled run did not refuse: {result!r}")
            if len(self.world.slurm.jobs) != before:
                self.problem(f"{what} of a cancelled run sent jobs")
        if type(result) is slurmplan.Interrupted and not self.cancelled:
            self.problem(f"{what} stopped as cancelled, but no cancel ran: {result}")
        self.check_slurm(complete=isinstance(result, slurmplan.SubmitReport), what=what)

    def cancel(
        self,
        fault: Fault | None = None,
        *,
        what: str,
        at_point: Callable[[int, Point], None] | None = None,
    ) -> None:
        """A new process cancels: once it returns, none of the run's jobs is active, it
        named every one, and no job of the run is sent afterwards."""
        process = Process(self.world, fault, at_point)
        result = self.attempt(process.cancel, (Crash,) if fault else (), what)
        if isinstance(result, tuple):
            self.cancelled = True
            if self.ids_at_cancel is None:
                self.ids_at_cancel = set(self.world.slurm.jobs)
            run = self.journal_run()
            mine = {f.job_id for copies in self.world.copies(run or "") for f in copies}
            if not mine <= set(result):
                self.problem(f"{what} returned {result}, not every job of the run {mine}")
        self.check_slurm(complete=False, what=what)

    def observe(self) -> None:
        """The cluster ends every job; a new Run polls and waits: no false done."""
        world = self.world
        process = Process(world)
        with process.active():
            before = self.attempt(process.run.poll, (), "poll before the jobs end")
            if isinstance(before, slurmplan.Snapshot):
                self.check_snapshot(before, "poll")
            world.end_all()
            snap = self.attempt(lambda: process.run.wait(timeout=3600), (), "wait")
        if not isinstance(snap, slurmplan.Snapshot):
            return
        self.check_snapshot(snap, "wait")
        if not snap.done:
            self.problem(f"wait did not settle every job: {[v.state for v in snap.jobs]}")
        if world.ran_to_exit_0(snap.run or "") and not snap.succeeded:
            states = {t: (r.state, r.exit_code) for t, r in snap.tasks.items()}
            self.problem(f"every task ran to exit 0 but the run did not succeed: {states}")

    def check_snapshot(self, snap: slurmplan.Snapshot, what: str) -> None:
        world = self.world
        run = self.journal_run()
        if snap.run != run:
            self.problem(f"{what}: snapshot of run {snap.run}, the journal holds {run}")
        for task, result in snap.tasks.items():
            if result.state != "COMPLETED" and result.exit_code != 0:
                continue
            fake = world.slurm.jobs.get(result.job_id)
            ours = fake is not None and fake.name == world.run_name(result.job, run or "")
            if not ours or world.truth.get(result.job_id, {}).get(task) != 0:
                self.problem(
                    f"{what}: FALSE DONE: task {task} {result.state} exit {result.exit_code} "
                    f"in {result.job_id}, which did not run it to exit 0 in run {run}"
                )

    def torn_in_the_middle(self) -> None:
        """The journal's torn last line followed by a whole one (no writer of slurmplan's
        leaves that: each cuts a torn line off first): every command refuses it, naming
        the file and the line, and sends nothing (not taken for "nothing submitted")."""
        path = self.world.journal
        data = Path(path).read_bytes()
        torn = data.count(b"\n") + 1  # the torn line's number
        Path(path).write_bytes(data + encode(cancelled_event([])))
        before = len(self.world.slurm.jobs)
        for what in ("submit", "cancel", "poll"):
            process = Process(self.world)
            with process.active():
                result = self.attempt(getattr(process.run, what), (JournalError,), what)
            if f"{path}: line {torn}: " not in str(result):  # a JournalError's message
                self.problem(f"{what} of a journal torn at line {torn}: {result!r}")
        if len(self.world.slurm.jobs) != before:
            self.problem("a journal torn in the middle was taken for one with fewer jobs")


THENS = ("resume", "ended", "cancel", "again", "cancel_again")


def carry_on(s: Scenario, then: str, later: int) -> None:
    """What new processes do after the first one stopped, then the observation."""
    if then == "resume":
        s.submit(what="resume")
        s.submit(what="second resume")
    elif then == "ended":  # the jobs Slurm holds run and end (some forgotten) first
        s.world.end_all()
        s.submit(what="resume after the jobs ended")
    elif then == "again":  # killed again, `later` points in, and resumed
        s.submit(Fault(later, "auto"), what=f"resume killed at point {later}")
        s.submit(what="last resume")
    elif then == "cancel":
        s.cancel(what="cancel")
        s.submit(what="submit after cancel")
    else:
        s.cancel(Fault(later, "auto"), what=f"cancel killed at point {later}")
        s.cancel(what="cancel again")
    s.observe()


def record(plan: Plan, journal: str, *, stale: bool) -> list[Point]:
    """The points of a submit that nothing stops."""
    world = World(plan, journal, stale=stale, seed=0)
    process = Process(world)
    process.submit()
    return process.points


def _some_thens(fault: Fault, key: int) -> tuple[str, ...]:
    """The ways on a fault is carried in a quick run: a cut (they are many) one, chosen
    by `key`; any other fault a resume and one more, chosen by `key`."""
    if fault.mode == "cut":
        return (THENS[key % len(THENS)],)
    return ("resume", THENS[1 + key % (len(THENS) - 1)])


def walk_submit_crashes(plan: Plan, tmp_path: Path, *, every_byte: bool) -> tuple[int, list[str]]:
    """Every fault at every point of a submit, carried on every way (FULL) or some
    (_some_thens): (scenarios run, problems found)."""
    journal = str(tmp_path / "plan.journal")
    problems: list[str] = []
    count = 0
    for stale in (False, True):
        points = record(plan, journal, stale=stale)
        for at, point in enumerate(points):
            for fault in faults_at(at, point, every_byte=every_byte):
                key = zlib.crc32(f"{fault}:{stale}".encode())
                thens = THENS if FULL else _some_thens(fault, key)
                for k, then in enumerate(thens):
                    count += 1
                    name = f"[stale={stale}] {point.kind} {point.label} {fault} then {then}"
                    s = Scenario(plan, journal, name, stale=stale, seed=key + k)
                    s.submit(fault, what="the killed submit")
                    if k == 0 and (FULL or key % 4 == 0) and _torn(journal):
                        count += 1
                        torn = Scenario(plan, journal + ".torn", name, stale=stale, seed=key)
                        torn.world.slurm = s.world.slurm
                        Path(torn.world.journal).write_bytes(Path(journal).read_bytes())
                        torn.torn_in_the_middle()
                        problems += torn.problems
                    carry_on(s, then, later=(key >> 8) % (len(points) + 2) + k)
                    problems += s.problems
    return count, problems


def _torn(path: str) -> bool:
    """The journal ends in a line cut short."""
    data = Path(path).read_bytes()
    return bool(data) and not data.endswith(b"\n")


def first_faults(points: Sequence[Point]) -> list[Fault | None]:
    """How the run starts before the walked process: a submit not stopped, or killed
    at its first sbatch before or after Slurm took the job (a cut-off intent), or
    killed as it journals the job's id."""
    rounds = [at for at, p in enumerate(points) if p.kind == "round"]
    ids = [at for at, p in enumerate(points) if p.kind == "journal" and at > rounds[0]]
    return [
        None,
        Fault(rounds[0], "crash_before"),
        Fault(rounds[0], "crash_after"),
        Fault(ids[0], "cut", 0),
    ]


def walk_interleaved(plan: Plan, tmp_path: Path, other: str) -> tuple[int, list[str]]:
    """A submit (after each first_faults start, its first sbatch answered each way of
    REPLIES) with another process's whole `other` (a cancel, a submit, a submit killed
    after its sbatch, a submit killed in its back-off) at each of its points outside
    the journal's lock; then a submit to finish (unless cancelled), the jobs end, a Run
    waits."""
    journal = str(tmp_path / "plan.journal")
    problems: list[str] = []
    count = 0
    starts = first_faults(record(plan, journal, stale=False))
    for n, first in enumerate(starts):
        stale = n % 2 == 1  # the points differ with an earlier run's files: recorded so
        for replies in REPLIES if FULL else REPLIES[:2]:
            world = World(plan, journal, stale=stale, seed=0)
            Process(world, first).submit_quietly()
            recorder = Process(world, replies=replies)
            recorder.submit_quietly()
            for at, point in enumerate(recorder.points):
                if point.locked:
                    continue
                count += 1
                name = f"{first} then a submit answered {replies} with a {other} at {at} {point}"
                s = Scenario(plan, journal, name, stale=stale, seed=zlib.crc32(name.encode()))
                s.submit(first, what="the first submit")

                def meanwhile(i: int, _: Point, at: int = at, s: Scenario = s) -> None:
                    if i != at:
                        return
                    what = f"the other {other} at point {at}"
                    if other == "cancel":
                        s.cancel(what=what)
                    elif other == "submit":
                        s.submit(what=what)
                    elif other == "killed submit":  # its job created, its id never read
                        s.submit(what=what, replies=("crash_after",))
                    else:  # "stopped submit": killed where it slept (back-off, full queue)
                        s.submit(what=what, replies=("transient_created",), die_asleep=True)

                s.submit(what="the submit", replies=replies, at_point=meanwhile)
                if not s.cancelled:
                    s.submit(what="the last submit")
                s.observe()
                problems += s.problems
    return count, problems


def walk_cancel_crashes(plan: Plan, tmp_path: Path) -> tuple[int, list[str]]:
    """A cancel killed at every point, after each first_faults start; then a cancel
    again, a submit (which must refuse once a cancel returned), the jobs end, a Run
    waits."""
    journal = str(tmp_path / "plan.journal")
    problems: list[str] = []
    count = 0
    for n, first in enumerate(first_faults(record(plan, journal, stale=False))):
        stale = n % 2 == 1  # the points differ with an earlier run's files: recorded so
        world = World(plan, journal, stale=stale, seed=0)
        Process(world, first).submit_quietly()
        recorder = Process(world)
        with recorder.active():
            recorder.run.cancel()
        for at, point in enumerate(recorder.points):
            for fault in faults_at(at, point, every_byte=False):
                count += 1
                name = f"{first} then a cancel killed at {point.kind} {point.label} {fault}"
                s = Scenario(plan, journal, name, stale=stale, seed=zlib.crc32(name.encode()))
                s.submit(first, what="the first submit")
                s.cancel(fault, what="the killed cancel")
                s.cancel(what="the next cancel")
                s.submit(what="a submit after cancel")
                s.observe()
                problems += s.problems
    return count, problems


TRANSPORTS = ["local", "sudo", "ssh"]
# (shape, max_jobs_in_queue); every byte of every journal write is cut for "1x1"
PLANS = [("1x1", None), ("1x3", None), ("2x2", 1), ("3x2", 2), ("4x1", None)]
INTERLEAVED = [("3x2", 2)]
if FULL:
    PLANS += [("2x2", None), ("4x1", 2)]
    INTERLEAVED += [("2x2", None)]


def _report(count: int, problems: list[str]) -> str:
    return f"{len(problems)} problems in {count} scenarios:\n" + "\n".join(problems[:30])


@pytest.mark.usefixtures("hooks")
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("shape", "queue"), PLANS)
def test_submit_killed_at_every_point_then_carried_on(
    tmp_path: Path, transport: str, shape: str, queue: int | None
) -> None:
    plan = make_plan(tmp_path, transport, shape, queue)
    count, problems = walk_submit_crashes(plan, tmp_path, every_byte=shape == "1x1")
    print(f"{transport} {shape} {queue}: {count} scenarios")
    assert not problems, _report(count, problems)


@pytest.mark.usefixtures("hooks")
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("other", ["cancel", "submit", "killed submit", "stopped submit"])
@pytest.mark.parametrize(("shape", "queue"), INTERLEAVED)
def test_a_cancel_or_a_second_submit_at_every_point_of_a_submit(
    tmp_path: Path, transport: str, other: str, shape: str, queue: int | None
) -> None:
    plan = make_plan(tmp_path, transport, shape, queue)
    count, problems = walk_interleaved(plan, tmp_path, other)
    print(f"{transport} {shape} {queue} {other}: {count} scenarios")
    assert not problems, _report(count, problems)


@pytest.mark.usefixtures("hooks")
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("shape", "queue"), [("1x3", None), ("3x2", 2)])
def test_cancel_killed_at_every_point_then_cancelled_again(
    tmp_path: Path, transport: str, shape: str, queue: int | None
) -> None:
    plan = make_plan(tmp_path, transport, shape, queue)
    count, problems = walk_cancel_crashes(plan, tmp_path)
    print(f"{transport} {shape} {queue}: {count} scenarios")
    assert not problems, _report(count, problems)
