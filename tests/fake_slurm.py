"""A fake Slurm (and the few shell commands a plan runs) for the effects tests.

`FakeSlurm` is an `effects.execute.Runner`: it takes the argv the plan's command
lines produce for any transport, strips what the compiler put in front (`sudo --set-home
--non-interactive -u USER`, or `ssh ... --` and its one remote string), and
answers as the cluster would:

- sbatch --parsable [--job-name=NAME] SCRIPT: the next scripted `Reply` (by
  default: a new job, its id printed), named NAME (else the script's own name);
  a remote `sh -c 'A && B && ...'` runs its parts in order and stops at the
  first that fails, as a shell does.
- squeue --jobs=IDS | --name=NAMES | --user=U [--states=all] --format=...: rows
  of the jobs it knows (--format=%i: the ids of active ones); each job shows
  the first state of its `timeline`, and a poll by id moves it on to the next
  (None: Slurm forgot the job: no row).  A job with `silent` polls left is left
  out of the next polls by id (exit 0, even asked about alone), as a squeue that
  lost sight of a job it still runs; its state stays.
- scontrol -o show job ID: the job's one line with its JobState=, or, for a job
  Slurm forgot, exit 1 and `Invalid job id specified` (as Slurm 22.05 says it).
  `after_sbatch`, when set, is called with each job sbatch creates (before it answers).
- scancel IDS, mkdir -p DIRS, ls -1 -- DIR, cat -- FILES, tar -x ... -C DIR: on a
  small in-memory file system (`files`, `dirs`).
- flock LOCKFILE COMMAND...: the command (over ssh, a round and the look-ups by name run
  under the cluster lock), its lock file recorded (`locks`); `flock_fails` maps the
  command's program (`sh` for a round) to the (exit code, stderr) of a flock that is
  missing or cannot take the lock, answered instead.

Given a `sink` (a streamed command: fetch's tar), it hands the command's stdout to it
in pieces of uneven sizes (`in_pieces`), as a pipe would.

It records every argv it is given (`argvs`, and stripped, `commands`).  It holds
no decision of slurmplan's: what the answers mean is the code under test's job.
"""

from __future__ import annotations

import io
import os
import posixpath
import shlex
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slurmplan.compiler import Plan
from slurmplan.compiler.slurm.parsers import LANE_FILE_MARK
from slurmplan.effects.execute import DEFAULT_TIMEOUT_S, Completed, Sink

SOCKET_TIMEOUT = (
    "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation"
)
INVALID_JOB_ID = "slurm_load_jobs error: Invalid job id specified\n"
INVALID_PARTITION = "sbatch: error: Batch job submission failed: Invalid partition name specified"


PIECE_SIZES = (1, 700, 512, 3, 4096, 10_000)  # pieces cut across headers and files


# What a job's script leaves (templates/job.sbatch.j2; test_render runs the real script).
def run_of(name: str) -> str:
    """The run a job's script names: the last dot-word of its Slurm job name."""
    return name.rpartition(".")[2]


def lane_file(job: int, job_id: str, name: str, lines: str) -> str:
    """A lane status file: its first line names the job, its Slurm job and the run of
    the Slurm job's `name`; then `lines`, `<id> <code> <job id> <start> <end>` each."""
    return f"{LANE_FILE_MARK}job={job} slurm_job={job_id} run={run_of(name)}\n{lines}"


def done_marker(job: int, job_id: str, name: str, tasks: int, failed: int) -> str:
    """A job's done marker, written when its script ends."""
    return (
        f"slurmplan-done job={job} slurm_job={job_id} run={run_of(name)} tasks={tasks}"
        f" failed={failed}\n"
    )


def in_pieces(done: Completed, sink: Sink) -> Completed:
    """`done` as a runner given a sink answers: stdout handed to the sink in pieces of
    PIECE_SIZES in turn, not returned."""
    data, at, k = done.stdout_bytes, 0, 0
    while at < len(data):
        size = PIECE_SIZES[k % len(PIECE_SIZES)]
        sink(data[at : at + size])
        at, k = at + size, k + 1
    return Completed(done.argv, done.exit_code, "", done.stderr, data=b"")


class Crash(BaseException):
    """The runner was killed mid-command (like a SIGKILL): nothing after it runs."""


@dataclass(frozen=True)
class Reply:
    """One sbatch answer.  `stdout` may hold `{id}`, the new job's id; `exit_code` None is
    the runner's time limit, a negative one a signal (as subprocess reports them)."""

    exit_code: int | None = 0
    stdout: str = "{id}\n"
    stderr: str = ""
    creates_job: bool = True
    crash: bool = False  # raise Crash after answering Slurm: the caller never sees it


ACCEPT = Reply()
TRANSIENT = Reply(exit_code=1, stdout="", stderr=SOCKET_TIMEOUT + "\n", creates_job=False)
TRANSIENT_BUT_CREATED = Reply(exit_code=1, stdout="", stderr=SOCKET_TIMEOUT + "\n")
FATAL = Reply(exit_code=1, stdout="", stderr=INVALID_PARTITION + "\n", creates_job=False)
GARBAGE = Reply(stdout="Submitted batch job {id}\n")  # sbatch without --parsable
CRASH_AFTER_SBATCH = Reply(crash=True)  # the job exists; its id never reached the journal
CRASH_BEFORE_SBATCH = Reply(creates_job=False, crash=True)


@dataclass
class FakeJob:
    job_id: str
    name: str
    timeline: list[str | None] = field(default_factory=lambda: ["PENDING"])
    silent: int = 0  # polls by id to come that leave it out (see the module's docstring)

    @property
    def state(self) -> str | None:
        return self.timeline[0]


@dataclass
class FakeClock:
    """`clock` and `sleep` for an Executor: sleeping only moves the time on."""

    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


ACTIVE = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED"}


class FakeSlurm:
    def __init__(self, plan: Plan, first_id: int = 100) -> None:
        self.user = plan.transport.user
        self.names = {job.script_path: job.name for job in plan.jobs}  # what sbatch reads
        self.replies: list[Reply] = []  # sbatch answers to come, in order
        self.jobs: dict[str, FakeJob] = {}
        self.next_id = first_id
        self.files: dict[str, str] = {}
        self.dirs: set[str] = set()
        self.argvs: list[tuple[str, ...]] = []
        self.commands: list[tuple[str, ...]] = []  # without the sudo/ssh/flock prefix
        self.stdins: list[bytes] = []
        self.scripts_read: list[str] = []  # scripts sbatch read on stdin (sudo)
        self.after_sbatch: Callable[[FakeJob], None] | None = None  # a hook: each new job
        self.locks: list[str] = []  # the lock file of each command run under flock
        self.flock_fails: dict[str, tuple[int, str]] = {}

    # -- the Runner ------------------------------------------------------------
    def __call__(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        umask: int | None = None,
        sink: Sink | None = None,
    ) -> Completed:
        done = self._answer(tuple(argv), stdin)
        return done if sink is None else in_pieces(done, sink)

    def _answer(self, argv: tuple[str, ...], stdin: bytes | None) -> Completed:
        self.argvs.append(argv)
        command = _strip_transport(argv)
        if command[0] == "flock":
            fails = self.flock_fails.get(command[2])
            if fails is not None:
                self.commands.append(command)
                return Completed(argv, *fails[:1], "", fails[1])
            self.locks.append(command[1])
            command = command[2:]
        self.commands.append(command)
        if stdin is not None:
            self.stdins.append(stdin)
        if command[:2] == ("sh", "-c"):  # an ssh round: `A && B && ...`
            out: list[str] = []
            for part in command[2].split(" && "):
                code, stdout, stderr = self._run(tuple(shlex.split(part)), stdin)
                out.append(stdout)
                if code != 0:
                    return Completed(argv, code, "".join(out), stderr)
            return Completed(argv, 0, "".join(out), "")
        return Completed(argv, *self._run(command, stdin))

    # -- what tests look at ----------------------------------------------------
    def named(self, *programs: str) -> list[tuple[str, ...]]:
        """The commands run (prefix stripped) whose program is one of `programs`."""
        return [c for c in self.commands if c[0] in programs]

    def job_named(self, name: str) -> list[FakeJob]:
        return [job for job in self.jobs.values() if job.name == name]

    def jobs_of(self, plan_job_name: str) -> list[FakeJob]:
        """The jobs any run submitted of a plan's job (named `<its name>.<run>`)."""
        return [job for job in self.jobs.values() if job.name.startswith(plan_job_name + ".")]

    # -- the commands ----------------------------------------------------------
    def _run(self, command: tuple[str, ...], stdin: bytes | None) -> tuple[int | None, str, str]:
        program, args = command[0], command[1:]
        if program == "sbatch":
            return self._sbatch(args, stdin)
        if program == "echo":
            return 0, " ".join(args) + "\n", ""
        if program == "squeue":
            return self._squeue(_options(args))
        if program == "scontrol":
            return self._scontrol(args)
        if program == "scancel":
            for job_id in args:
                if job_id in self.jobs and self.jobs[job_id].state in ACTIVE:
                    self.jobs[job_id].timeline = ["CANCELLED"]
            return 0, "", ""
        if program == "mkdir":
            self.dirs.update(a for a in args if not a.startswith("-"))
            return 0, "", ""
        if program == "ls":
            folder = args[-1]
            if folder not in self.dirs:
                return 2, "", f"ls: cannot access '{folder}': No such file or directory\n"
            names = sorted(
                posixpath.basename(p) for p in self.files if posixpath.dirname(p) == folder
            )
            return 0, "".join(n + "\n" for n in names), ""
        if program == "cat":  # as GNU cat: each file in turn, a line for each missing one
            out, errors = [], ""
            for path in (a for a in args if a != "--"):
                text = self.files.get(path)
                if text is None and os.path.isfile(path):  # made by the runner here (fetch's
                    text = Path(path).read_text()  # separator), not on the cluster
                if text is None:
                    errors += f"cat: {path}: No such file or directory\n"
                else:
                    out.append(text)
            return (1 if errors else 0), "".join(out), errors
        if program == "tar":
            folder = args[args.index("-C") + 1]
            with tarfile.open(fileobj=io.BytesIO(stdin or b"")) as tar:
                for member in tar.getmembers():
                    data = tar.extractfile(member)
                    text = data.read().decode() if data is not None else ""
                    self.files[posixpath.join(folder, member.name)] = text
            return 0, "", ""
        return 127, "", f"{program}: command not found in the fake Slurm\n"

    def _sbatch(self, args: tuple[str, ...], stdin: bytes | None) -> tuple[int | None, str, str]:
        assert args[0] == "--parsable", args
        on_stdin = args[-1].startswith("-")  # no script file: sbatch reads the script on stdin
        assert on_stdin == (stdin is not None), args
        if on_stdin:
            self.scripts_read.append(stdin.decode() if stdin is not None else "")
        reply = self.replies.pop(0) if self.replies else ACCEPT
        job_id = str(self.next_id)
        if reply.creates_job:
            options = _options(args[1:] if on_stdin else args[1:-1])
            default = None if on_stdin else self.names[args[-1]]
            name = options.get("job-name", default)
            assert name is not None, args
            self.jobs[job_id] = FakeJob(job_id, name)
            self.next_id += 1
            if self.after_sbatch is not None:
                self.after_sbatch(self.jobs[job_id])
        if reply.crash:
            raise Crash(f"killed while sbatch {args[-1]} ran")
        return reply.exit_code, reply.stdout.format(id=job_id), reply.stderr

    def _squeue(self, options: dict[str, str]) -> tuple[int, str, str]:
        if "jobs" in options:
            ids = options["jobs"].split(",")
            present = [self.jobs[i] for i in ids if i in self.jobs and self.jobs[i].state]
            known = [job for job in present if not job.silent]
            for job in present:
                job.silent = max(0, job.silent - 1)
            if len(ids) == 1 and not present:
                return 1, "", INVALID_JOB_ID
            rows = _rows(known)
            for job in known:  # the next poll sees the next state
                if len(job.timeline) > 1:
                    job.timeline.pop(0)
            return 0, rows, ""
        assert options.get("user") == self.user, options
        if "name" in options:
            names = set(options["name"].split(","))
            return 0, _rows([j for j in self.jobs.values() if j.state and j.name in names]), ""
        if options.get("states") == "all":  # every job of the user it still knows
            return 0, _rows([j for j in self.jobs.values() if j.state]), ""
        assert options.get("format") == "%i", options  # the count of queued jobs
        return 0, "".join(j.job_id + "\n" for j in self.jobs.values() if j.state in ACTIVE), ""

    def _scontrol(self, args: tuple[str, ...]) -> tuple[int, str, str]:
        assert args[:3] == ("-o", "show", "job") and len(args) == 4, args
        job = self.jobs.get(args[3])
        if job is None or job.state is None:
            return 1, "", INVALID_JOB_ID
        return (
            0,
            (
                f"JobId={job.job_id} JobName={job.name} UserId={self.user}(1001) GroupId=g(1001) "
                f"MCS_label=N/A Priority=1 Nice=0 Account=(null) QOS=(null) JobState={job.state} "
                "Reason=None Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 ExitCode=0:0\n"
            ),
            "",
        )


def _strip_transport(argv: tuple[str, ...]) -> tuple[str, ...]:
    if argv[0] == "sudo":
        assert argv[1:4] == ("--set-home", "--non-interactive", "-u"), argv
        return argv[5:]
    if argv[0] == "ssh":
        assert argv[-2] == "--", argv
        return tuple(shlex.split(argv[-1]))
    return argv


def _options(args: Sequence[str]) -> dict[str, str]:
    """`--key=value` arguments as {key: value}."""
    pairs = (a[2:].partition("=") for a in args if a.startswith("--") and "=" in a)
    return {key: value for key, _, value in pairs}


def _rows(jobs: Sequence[FakeJob]) -> str:
    return "".join(f"{j.job_id} {j.state} {j.name}\n" for j in jobs)
