"""Pure parsers of what Slurm and the job scripts write."""

from __future__ import annotations

import re
from dataclasses import dataclass

from slurmplan.compiler.errors import SlurmplanError
from slurmplan.compiler.slurm.states import SlurmState


class ParseError(SlurmplanError, ValueError):
    """Output that is not in the expected form; the message quotes it."""


_JOB_ID = re.compile(r"[0-9]{1,20}")  # Slurm's ids fit 20 digits, as the journal holds them


@dataclass(frozen=True, slots=True, kw_only=True)
class Submitted:
    job_id: str
    cluster: str | None


def parse_sbatch_parsable(stdout: str) -> Submitted:
    """`sbatch --parsable` prints `<id>` or `<id>;<cluster>` (warnings may precede it)."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise ParseError("sbatch --parsable printed nothing (expected '<job id>[;<cluster>]')")
    job_id, _, cluster = lines[-1].partition(";")
    if _JOB_ID.fullmatch(job_id) is None or (cluster and not re.fullmatch(r"[\w.-]+", cluster)):
        raise ParseError(
            f"sbatch --parsable printed {lines[-1]!r} (expected '<job id>[;<cluster>]')"
        )
    return Submitted(job_id=job_id, cluster=cluster or None)


# The squeue format that runtime.poll_argv asks for: id, state, name.
SQUEUE_FORMAT = "%i %T %j"


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuedJob:
    job_id: str
    state: SlurmState
    name: str


def parse_squeue(stdout: str) -> tuple[QueuedJob, ...]:
    """Rows of `squeue --noheader --format='%i %T %j'`."""
    rows: list[QueuedJob] = []
    for line in stdout.splitlines():
        if not line.strip():
            continue
        fields = line.split(maxsplit=2)
        if len(fields) != 3 or _JOB_ID.fullmatch(fields[0]) is None:
            raise ParseError(f"unexpected squeue line {line!r} (expected '<id> <STATE> <name>')")
        try:
            state = SlurmState(fields[1].rstrip("+"))  # "CANCELLED+" on some versions
        except ValueError:
            raise ParseError(
                f"unknown Slurm job state {fields[1]!r} in squeue line {line!r}"
            ) from None
        rows.append(QueuedJob(job_id=fields[0], state=state, name=fields[2].strip()))
    return tuple(rows)


def parse_scontrol_job(stdout: str, job_id: str) -> SlurmState:
    """The JobState= of job `job_id` in `scontrol -o show job <job_id>` (one line of
    Key=Value fields, `JobId=<id> JobName=... JobState=<STATE> Reason=...`)."""
    return parse_scontrol_row(stdout, job_id).state


def parse_scontrol_row(stdout: str, job_id: str) -> QueuedJob:
    """Job `job_id`'s id, JobState= and JobName= in `scontrol -o show job <job_id>`, as
    squeue's row would give them.

    The first `JobState=` after the line's start is taken: it comes right after the
    job's name, account and QOS, which do not hold spaces (the job names are
    slurmplan's own).  The name is what stands between `JobName=` and ` UserId=`, the
    fields scontrol prints next; a line without them gives the name "" (no run's).
    """
    lines = [line for line in stdout.splitlines() if line.startswith(f"JobId={job_id} ")]
    if len(lines) != 1:
        raise ParseError(
            f"scontrol show job {job_id} printed {stdout.strip()[:200]!r} "
            f"(expected one line 'JobId={job_id} ... JobState=<STATE> ...')"
        )
    match = re.search(r" JobState=(\S+)", lines[0])
    if match is None:
        raise ParseError(f"scontrol show job {job_id} printed no JobState= in {lines[0][:200]!r}")
    try:
        state = SlurmState(match.group(1).rstrip("+"))
    except ValueError:
        raise ParseError(
            f"unknown Slurm job state {match.group(1)!r} in scontrol show job {job_id}"
        ) from None
    name = re.match(rf"JobId={job_id} JobName=(.*?) UserId=", lines[0])
    return QueuedJob(job_id=job_id, state=state, name=name.group(1) if name else "")


_TASK_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_LANE_LINE = re.compile(r"(\S+) ([0-9]{1,3}) ([0-9]{1,20}) ([0-9]{1,20}) ([0-9]{1,20})")
_LANE_FORM = "'<task id> <exit code> <slurm job id> <start> <end>'"
# One well-formed line, whole (from a line's start through its newline): the line, its task
# id and its Slurm job id.  The same form as _LANE_LINE with the task id checked.
_LANE_LINES = re.compile(
    r"^(([A-Za-z0-9._-]{1,128}) [0-9]{1,3} ([0-9]{1,20}) [0-9]{1,20} [0-9]{1,20})\n", re.M
)


# (line, task id, Slurm job id) of one lane status line, the line without its newline.
LaneLine = tuple[str, str, str]


# A lane status file's first line, written when its lane starts: `# slurmplan-lane
# job=J slurm_job=ID run=RUN`.  "#" is in no task id, so the mark is found wherever it
# is, even right after a line another file's write left cut off.
LANE_FILE_MARK = "# slurmplan-lane "
_LANE_HEADER = re.compile(r"job=([0-9]{1,9}) slurm_job=([0-9]{1,20}) run=(\S*)")


@dataclass(frozen=True, slots=True, kw_only=True)
class LaneFile:
    """One lane status file: the job, Slurm job and run its first line names, and its
    task lines (parse_lane_lines)."""

    job: int
    job_id: str
    run: str
    lines: list[LaneLine]


def parse_lane_files(text: str) -> list[LaneFile]:
    """The lane status files in `text` (one, or several read by one `cat`), each cut at
    its first line (LANE_FILE_MARK), so a file's last line cut off mid-write stays that
    file's, and is ignored, rather than joining the next file's first line into a line
    for another task.

    A file whose first line is not whole and well formed (the lane was killed as it
    began, or someone else wrote it) names no run: it is skipped, as is any text before
    the first mark.  Its task lines cannot be told to be this run's.
    """
    files: list[LaneFile] = []
    for piece in text.split(LANE_FILE_MARK)[1:]:
        header, newline, body = piece.partition("\n")
        match = _LANE_HEADER.fullmatch(header)
        if newline and match is not None:
            job, job_id, run = match.groups()
            files.append(
                LaneFile(job=int(job), job_id=job_id, run=run, lines=parse_lane_lines(body))
            )
    return files


def parse_lane_lines(text: str) -> list[LaneLine]:
    """Each line `<task id> <exit code> <slurm job id> <start> <end>` of one lane status
    file's task lines (parse_lane_files), checked, as (line, task id, job id): the rest
    of a line is read when its task's result is built (settle.TaskResults).

    A last line without its newline is a write cut off mid-way; it is ignored.
    """
    complete = text[: text.rfind("\n") + 1]
    lines: list[LaneLine] = _LANE_LINES.findall(complete)
    # Each match is one whole line, newline included: as many matches as newlines
    # means every line is well formed.  Otherwise (blank lines, or a bad line to
    # quote in the error) line by line.
    if len(lines) == complete.count("\n"):
        return lines
    out: list[LaneLine] = []
    for line in complete.split("\n")[:-1]:
        if not line:
            continue
        match = _LANE_LINE.fullmatch(line)
        if match is None or _TASK_ID.fullmatch(match.group(1)) is None:
            raise ParseError(f"unexpected lane status line {line!r} (expected {_LANE_FORM})")
        out.append((line, match.group(1), match.group(3)))
    return out


# The run is the last dot-word of the job's name (layout.run_job_name), whatever it is:
# a marker of a job someone named otherwise is read, and is no run's.
_DONE = re.compile(
    r"slurmplan-done job=([0-9]+) slurm_job=([0-9]{1,20}) run=(\S*) tasks=([0-9]+)"
    r" failed=(-?[0-9]+)"
)
_DONE_FORM = "'slurmplan-done job=<J> slurm_job=<ID> run=<RUN> tasks=<N> failed=<K>'"


@dataclass(frozen=True, slots=True, kw_only=True)
class DoneMarker:
    job: int
    job_id: str  # the Slurm job that wrote it
    run: str  # its job name's last word: Slurm may give a job id again, never a run's id
    tasks: int
    failed: int

    @property
    def succeeded(self) -> bool:
        return self.failed == 0


def parse_done_markers(text: str) -> tuple[DoneMarker, ...]:
    """Every `slurmplan-done job=J slurm_job=ID run=RUN tasks=N failed=K` line (markers
    may be concatenated)."""
    out: list[DoneMarker] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _DONE.fullmatch(line.strip())
        if match is None:
            raise ParseError(f"unexpected done marker line {line!r} (expected {_DONE_FORM})")
        job, job_id, run, tasks, failed = match.groups()
        out.append(
            DoneMarker(job=int(job), job_id=job_id, run=run, tasks=int(tasks), failed=int(failed))
        )
    return tuple(out)


_START = re.compile(r"slurmplan-start job=([0-9]+) slurm_job=([0-9]{1,20}) name=(\S+)")


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStart:
    """The line a job's script prints first to the job's stdout: which Slurm job, of
    which name (the name carries the run), started the plan's job `job`."""

    job: int
    job_id: str
    name: str


def parse_start_lines(text: str) -> tuple[JobStart, ...]:
    """Every `slurmplan-start job=J slurm_job=ID name=NAME` line of jobs' stdout files
    (concatenated); any other line is the job's own output and is skipped."""
    out: list[JobStart] = []
    for line in text.splitlines():
        match = _START.fullmatch(line.strip())
        if match is not None:
            job, job_id, name = match.groups()
            out.append(JobStart(job=int(job), job_id=job_id, name=name))
    return tuple(out)
