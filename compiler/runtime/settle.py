"""Where each job and task stands: pure decisions over what squeue and the files say.

A job is *settled* when it will not change any more: squeue shows it in a
terminal state, or its done marker says how it ended, or squeue no longer knows
it and scontrol confirms that (Slurm forgets finished jobs after MinJobAge).  A
job gone from squeue is settled by its done marker: the marker's failure count
says COMPLETED or FAILED.  Without a marker squeue's silence alone proves nothing
(squeue has printed nothing, exit 0, for a job still running): scontrol is asked
about it (to_confirm); a state it shows is the job's state (settled if terminal),
and a job it forgot too was killed before its script ended (cancelled, timed
out, node failure) and then forgotten: LOST.  A job sbatch refused for good (the
journal says "refused") is REFUSED, and settled: it has no id to ask about.  A job a
cancelled run never submitted is CANCELLED, settled (NEVER_SENT): submit refuses a
cancelled plan, so it will never run.  Tasks get their exit codes and times from the
lane status files.

Every run of a plan writes the same files, so a done marker or a lane status file
counts only when it names this run (the last word of its job's Slurm name) and the
Slurm job id the journal holds for the job (this_runs_markers, this_runs_lines): what
an earlier run left is never this run's, even when Slurm gave its job the same id.
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from itertools import repeat

from slurmplan.compiler import layout
from slurmplan.compiler.plan import Plan
from slurmplan.compiler.runtime.journal_state import JournalState
from slurmplan.compiler.slurm.parsers import DoneMarker, LaneFile, QueuedJob
from slurmplan.compiler.slurm.signals import killed_by_signal, signal_name
from slurmplan.compiler.slurm.states import RunState, SlurmState

NOT_SUBMITTED = RunState.NOT_SUBMITTED
REFUSED = RunState.REFUSED  # sbatch refused it for good
LOST = RunState.LOST  # gone from squeue without a done marker
SUCCEEDED = RunState.COMPLETED

# Why a job or task is LOST, for a person (JobView.reason, TaskResult.reason).
FORGOTTEN = (
    "gone from squeue with no done marker of this run, and scontrol no longer knows it: "
    "killed before its script ended (cancelled, timed out, node failure), then forgotten"
)
UNCONFIRMED = "squeue shows no row for it; scontrol is asked before it counts as ended"
NO_LINE = "its job ended COMPLETED but left no status line of this run for the task"
# A job a cancelled run never submitted: submit refuses a cancelled plan, so it never runs.
NEVER_SENT = "the run was cancelled before this job was submitted"

# The states of a job Slurm killed: a task the signal killed (exit code 128 + signal)
# takes the job's state rather than FAILED.
KILLED_BY_SLURM = frozenset(
    {
        RunState.TIMEOUT,
        RunState.OUT_OF_MEMORY,
        RunState.CANCELLED,
        RunState.NODE_FAIL,
        RunState.PREEMPTED,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobView:
    """Where one job of the plan stands in one observation (Snapshot.jobs, Run.poll_jobs):
    `job_id` None while it has no Slurm id (not submitted, refused, never sent);
    `settled` True once it cannot change any more."""

    index: int
    name: str
    job_id: str | None
    state: RunState
    settled: bool
    tasks: int
    failed_tasks: int | None  # from the done marker, when there is one
    reason: str | None = None  # why it is REFUSED or LOST, in words for a person


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskResult:
    """One task's result in one observation (Snapshot.tasks): its state (a RunState,
    equal to its name), exit code, start and end (epoch seconds, from its lane status
    line; None without one), its job's index and Slurm id ("" while it has none), and
    its stdout and stderr paths on the cluster."""

    task_id: str
    job: int
    job_id: str
    exit_code: int | None
    state: RunState
    stdout: str
    stderr: str
    started: int | None = None  # epoch seconds, from its lane status line
    ended: int | None = None
    reason: str | None = None  # why it is REFUSED or LOST, in words for a person

    @property
    def seconds(self) -> int | None:
        """How long the task ran (None: it has no status line)."""
        if self.started is None or self.ended is None:
            return None
        return max(0, self.ended - self.started)

    @property
    def signal(self) -> str | None:
        """The signal that killed the task, by the shell's exit code 128 + n (None: none)."""
        if self.exit_code is None or not killed_by_signal(self.exit_code):
            return None
        return signal_name(self.exit_code - 128)

    def to_json(self) -> dict[str, object]:
        """What `collect --json` prints for the task (docs/effects.md)."""
        return {
            "exit_code": self.exit_code,
            "signal": self.signal,
            "state": self.state,
            "job_id": self.job_id,
            "started": self.started,
            "ended": self.ended,
            "seconds": self.seconds,
            "reason": self.reason,
            "stdout": self.stdout,
            "stderr": self.stderr,
        }


def gone_means_empty(job_ids: Sequence[str], exit_code: int | None, stderr: str) -> bool:
    """squeue asked for exactly one job id that Slurm has forgotten fails as scontrol
    does (several unknown ids just print nothing): the same as no rows."""
    return len(job_ids) == 1 and scontrol_forgot(exit_code, stderr)


def scontrol_forgot(exit_code: int | None, stderr: str) -> bool:
    """`scontrol show job <one id>` of a job Slurm has forgotten fails with 'Invalid
    job id specified' (exit 1): the second source agrees the job is gone."""
    return exit_code == 1 and "Invalid job id specified" in stderr


def this_runs_rows(
    plan: Plan, state: JournalState, rows: Iterable[QueuedJob]
) -> tuple[QueuedJob, ...]:
    """The rows (squeue's, or scontrol's as parsers.parse_scontrol_row gives them) of
    this run's jobs: a row counts only under the name the run gave the job whose id the
    journal holds.  Slurm numbers jobs again after its saved state is lost, or past
    MaxJobId: the id may then be another job's, whose state says nothing of this run's
    job, which Slurm has forgotten (review adv3: a stranger's RUNNING kept a run
    unsettled, its COMPLETED settled this run's job COMPLETED)."""
    names: dict[str, str] = {}
    for job, job_id in state.submitted.items():
        run = state.run_of(job)
        if run is not None:
            names[job_id] = layout.run_job_name(plan.jobs[job].name, run)
    return tuple(row for row in rows if names.get(row.job_id) == row.name)


def to_confirm(
    state: JournalState,
    rows: Iterable[QueuedJob],
    polled: Iterable[str],
    markers: Mapping[int, DoneMarker],
) -> tuple[str, ...]:
    """The ids squeue was asked about and showed no row for, of jobs without a done
    marker: squeue's silence is not proof they ended, so scontrol is asked (one
    command each; rare: a job that ended normally has its marker)."""
    seen = {row.job_id for row in rows}
    asked = set(polled)
    return tuple(
        job_id
        for job, job_id in sorted(state.submitted.items())
        if job_id in asked and job_id not in seen and job not in markers
    )


def confirmed_state(shown: SlurmState | None) -> tuple[RunState, bool]:
    """(state, settled) of a job gone from squeue without a marker, by what scontrol
    showed: None (it forgot the job too) is LOST, settled; a state is that state,
    settled only when terminal (else it is polled again)."""
    if shown is None:
        return LOST, True
    return RunState.of(shown), shown.terminal


def job_views(
    plan: Plan,
    state: JournalState,
    rows: Iterable[QueuedJob],
    markers: Mapping[int, DoneMarker],
    known: Mapping[int, JobView] | None = None,
    *,
    shown: Mapping[str, SlurmState | None] | None = None,
) -> tuple[JobView, ...]:
    """Each job's state from the journal's ids, one squeue's rows, the done markers
    read and what scontrol showed (`shown`, by job id: None when it forgot the job)
    of jobs squeue was silent about; views in `known` that are still final (is_final)
    are kept as they are.  A job gone from squeue without a marker that
    scontrol was not asked about is not settled: it keeps its last known state
    (LOST when there is none)."""
    by_id = {row.job_id: row for row in rows}
    confirmed = shown or {}
    views: list[JobView] = []
    for job in plan.jobs:
        previous = (known or {}).get(job.index)
        if previous is not None and is_final(previous, state):
            views.append(previous)
            continue
        job_id = state.submitted.get(job.index)
        marker = markers.get(job.index)
        if marker is not None and (
            marker.job_id != job_id or marker.run != state.run_of(job.index)
        ):
            marker = None  # an earlier run's: it says nothing about this run's job
        reason = None
        if job_id is None and job.index in state.refused:
            job_state, settled = REFUSED, True
            reason = f"sbatch refused it: {state.refused[job.index]}"
        elif job_id is None and state.cancelled:  # no submit will send it: wait can end
            job_state, settled, reason = RunState.CANCELLED, True, NEVER_SENT
        elif job_id is None:
            job_state, settled = NOT_SUBMITTED, False
        elif job_id is not None and job_id in by_id:
            slurm_state = by_id[job_id].state
            job_state, settled = RunState.of(slurm_state), slurm_state.terminal
        elif marker is not None:
            job_state, settled = (SUCCEEDED if marker.succeeded else RunState.FAILED), True
        elif job_id in confirmed:
            job_state, settled = confirmed_state(confirmed[job_id])
            reason = FORGOTTEN if job_state == LOST else None
        else:  # squeue's silence alone: not proof that it ended
            job_state, settled = (previous.state if previous is not None else LOST), False
            reason = UNCONFIRMED if job_state == LOST else None
        views.append(
            JobView(
                index=job.index,
                name=job.name,
                job_id=job_id,
                state=job_state,
                settled=settled,
                tasks=len(job.tasks),
                failed_tasks=marker.failed if marker is not None else None,
                reason=reason,
            )
        )
    return tuple(views)


def is_final(view: JobView, state: JournalState) -> bool:
    """A settled view stays final while the journal still says what it was made from:
    the same job id, and for a REFUSED job its refusal (a later submit that tries the
    job again writes an intent, then its id: the job is looked at again)."""
    if not view.settled or state.submitted.get(view.index) != view.job_id:
        return False
    return view.state != REFUSED or view.index in state.refused


def ids_to_poll(state: JournalState, settled: Iterable[int]) -> tuple[str, ...]:
    """The job ids still worth asking squeue about: submitted and not settled yet."""
    done = set(settled)
    return tuple(state.submitted[j] for j in sorted(state.submitted) if j not in done)


def markers_wanted(
    state: JournalState,
    rows: Iterable[QueuedJob],
    polled: Iterable[str],
    skip: Iterable[int] = (),
) -> tuple[int, ...]:
    """Jobs whose done marker is worth reading now: those squeue shows ended, and those
    it was asked about but no longer knows (the marker decides how they ended).  Jobs
    in `skip` (this run's marker read, or settled before) are left out."""
    seen = {row.job_id: row for row in rows}
    asked = set(polled)
    index_of = {job_id: job for job, job_id in state.submitted.items()}
    gone = {j for j, i in state.submitted.items() if i in asked and i not in seen}
    ended = {index_of[i] for i, row in seen.items() if i in index_of and row.state.terminal}
    return tuple(sorted((gone | ended) - set(skip)))


def this_runs_markers(state: JournalState, markers: Iterable[DoneMarker]) -> dict[int, DoneMarker]:
    """The done markers written by the Slurm job the journal holds for their job, named
    for this run; one an earlier run left says nothing about this run, even with the
    same job id (Slurm numbers jobs again after its state is lost, or past MaxJobId)."""
    return {
        m.job: m
        for m in markers
        if m.job in state.submitted
        and state.submitted[m.job] == m.job_id
        and m.run == state.run_of(m.job)
    }


def lane_files_present(plan: Plan, listed: Iterable[str], jobs: Iterable[int]) -> tuple[str, ...]:
    """The lane status files of `jobs` that `ls` of the workdir showed (absolute paths).

    Callers pass settled jobs only: a running lane's results are not final yet (its
    last line may be mid-write).
    """
    names = set(listed)
    return tuple(
        path
        for j in sorted(set(jobs))
        for path in plan.jobs[j].lane_status_paths
        if _listed(plan, path, names)
    )


def done_files_present(plan: Plan, listed: Iterable[str], jobs: Iterable[int]) -> tuple[str, ...]:
    """The done markers of `jobs` that `ls` of the workdir showed (absolute paths)."""
    names = set(listed)
    return tuple(
        plan.jobs[j].done_path for j in jobs if _listed(plan, plan.jobs[j].done_path, names)
    )


def stdout_files_present(plan: Plan, listed: Iterable[str], jobs: Iterable[int]) -> tuple[str, ...]:
    """The jobs' own stdout files that `ls` of the workdir showed (absolute paths)."""
    names = set(listed)
    return tuple(plan.jobs[j].stdout for j in jobs if _listed(plan, plan.jobs[j].stdout, names))


def _listed(plan: Plan, path: str, listed: set[str]) -> bool:
    return posixpath.dirname(path) == plan.workdir and posixpath.basename(path) in listed


def task_state(view: JobView, exit_code: int | None) -> RunState:
    """A task's state from its exit code (None: no status line) and its job's view.

    A task with an exit code is COMPLETED (0) or FAILED, except that one a signal
    killed (killed_by_signal) in a job Slurm killed (TIMEOUT, OUT_OF_MEMORY,
    CANCELLED, NODE_FAIL, PREEMPTED) takes the job's state: Slurm's SIGTERM at the
    time limit is why it ended.  A task without one takes its job's state (PENDING,
    RUNNING, CANCELLED, TIMEOUT, REFUSED, ...), except that a settled job that ended
    COMPLETED with no line for the task counts it as LOST.
    """
    if exit_code is not None:
        if exit_code == 0:
            return SUCCEEDED
        if killed_by_signal(exit_code) and view.state in KILLED_BY_SLURM:
            return view.state
        return RunState.FAILED
    if view.settled and view.state == SUCCEEDED:
        return LOST
    return view.state


def _task_result(
    prefix: str,
    view: JobView,
    task_id: str,
    line: tuple[int, int, int] | None,
    decided: tuple[RunState, str | None] | None = None,
) -> TaskResult:
    """One task's result from its line's (exit code, start, end) (None: no line);
    `prefix` is the workdir joined with "" (task_outputs' paths, without a join per task);
    `decided`, when given, is its (state, reason), already decided for its exit code."""
    code, started, ended = line if line is not None else (None, None, None)
    if decided is None:
        state = task_state(view, code)
        decided = state, _task_reason(view, state)
    state, reason = decided
    return TaskResult(
        task_id=task_id,
        job=view.index,
        job_id=view.job_id or "",
        exit_code=code,
        state=state,
        stdout=prefix + layout.task_output(task_id, "out"),
        stderr=prefix + layout.task_output(task_id, "err"),
        started=started,
        ended=ended,
        reason=reason,
    )


def _task_reason(view: JobView, state: RunState) -> str | None:
    if state == LOST and view.state != LOST:
        return NO_LINE
    return view.reason if state in (LOST, REFUSED) or view.reason == NEVER_SENT else None


class TaskResults(Mapping[str, TaskResult]):
    """Per task: its exit code and times from its lane status line (`lines`, task id ->
    line, from this_runs_lines) and its state (task_state), as a mapping in plan order
    that builds a task's result when it is first looked up: a poll of 100,000 tasks
    builds only the results its caller reads.

    `final` (job indices) are the jobs whose lane files were read (settled: their
    results cannot change any more).  Only their lines count, so the mapping stays the
    observation it was made from while `lines` gains later jobs' lines; their tasks'
    results are kept in `store`, which the caller hands to the next observation's
    mapping: built once per run, not once per poll.  `job_of` (task id -> job index,
    task_jobs), when given empty, is filled on first need: mappings of a run share it.
    """

    __slots__ = ("_built", "_final", "_job_of", "_lines", "_plan", "_prefix", "_store", "_views")

    def __init__(
        self,
        plan: Plan,
        views: Sequence[JobView],
        lines: Mapping[str, str],
        *,
        job_of: dict[str, int] | None = None,
        final: Collection[int],
        store: MutableMapping[str, TaskResult] | None = None,
    ) -> None:
        if len(views) != len(plan.jobs):
            raise ValueError(f"{len(views)} views for {len(plan.jobs)} jobs")
        self._plan = plan
        self._views = views
        self._lines = lines
        self._job_of = {} if job_of is None else job_of
        self._final = final
        self._store: MutableMapping[str, TaskResult] = {} if store is None else store
        self._built: dict[str, TaskResult] = {}
        self._prefix = layout.join(plan.workdir, "")

    def __getitem__(self, task_id: str) -> TaskResult:
        job = self._jobs()[task_id]  # KeyError: not a task of the plan
        # Only final jobs' results go to and come from the shared store: an earlier
        # observation's mapping, where the job had not settled, keeps its own.
        built = self._store if job in self._final else self._built
        found = built.get(task_id)
        if found is None:
            self._build_job(job, built)
            found = built[task_id]
        return found

    def _build_job(self, job: int, built: MutableMapping[str, TaskResult]) -> None:
        """The results of every task of `job` not built yet: a job's tasks are mostly
        read together, and a loop over one job does each lookup once."""
        view = self._views[job]
        lines = self._lines if job in self._final else {}
        prefix = self._prefix
        exited_0 = (task_state(view, 0), _task_reason(view, task_state(view, 0)))
        for task_id in self._plan.jobs[job].tasks:
            if task_id in built:
                continue
            line = lines.get(task_id)
            if line is None:
                built[task_id] = _task_result(prefix, view, task_id, None)
                continue
            _, code, _, started, ended = line.split(" ")  # checked by parse_lane_lines
            fields = (int(code), int(started), int(ended))
            decided = exited_0 if fields[0] == 0 else None  # the common case, once per job
            built[task_id] = _task_result(prefix, view, task_id, fields, decided)

    def has_ended(self, task_id: str) -> bool:
        """Whether the task's result has an end (`self[task_id].ended is not None`: a
        lane line of this run), without building the result: a fetch of 100,000 tasks
        asks it of each."""
        return self._jobs()[task_id] in self._final and task_id in self._lines

    def __iter__(self) -> Iterator[str]:
        for job in self._plan.jobs:
            yield from job.tasks

    def __len__(self) -> int:
        return sum(len(job.tasks) for job in self._plan.jobs)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._jobs()

    def _jobs(self) -> dict[str, int]:
        if not self._job_of:
            self._job_of.update(task_jobs(self._plan))
        return self._job_of

    def __repr__(self) -> str:
        return f"<TaskResults of {len(self)} tasks in {len(self._views)} jobs>"


def task_jobs(plan: Plan) -> dict[str, int]:
    """Each task's job index."""
    out: dict[str, int] = {}
    for job in plan.jobs:
        out.update(dict.fromkeys(job.tasks, job.index))
    return out


def _task_job_ids(plan: Plan, state: JournalState, jobs: Iterable[int]) -> dict[str, str]:
    """The Slurm job id the journal holds for each task of `jobs` (submitted ones)."""
    job_id_of: dict[str, str] = {}
    for j in jobs:
        job_id = state.submitted.get(j)
        if job_id is not None:
            job_id_of.update(zip(plan.jobs[j].tasks, repeat(job_id)))  # no dict per job
    return job_id_of


def this_runs_lines(
    plan: Plan, state: JournalState, files: Sequence[LaneFile], jobs: Iterable[int]
) -> dict[str, str]:
    """Each task's lane status line in `files` (parse_lane_files of the lane files of
    `jobs`), task id -> line, counting only files whose first line names this run and the
    Slurm job id the journal holds for that job, and in them only lines that name the job
    id the journal holds for the task's job: an earlier run's line is not this run's,
    even under the same job id.  A later line for a task wins (a requeued job ran it
    again)."""
    # One pass over a file's lines: for 100,000 of them it is faster than checking and
    # keeping them a column at a time (four passes and three lists).
    expected = _task_job_ids(plan, state, jobs).get
    out: dict[str, str] = {}
    for f in files:
        if state.submitted.get(f.job) == f.job_id and f.run == state.run_of(f.job):
            out.update({task: line for line, task, job_id in f.lines if expected(task) == job_id})
    return out


def all_settled(views: Iterable[JobView]) -> bool:
    return all(v.settled for v in views)


def all_succeeded(results: Mapping[str, TaskResult]) -> bool:
    """Every task ran and exited 0."""
    return bool(results) and all(r.exit_code == 0 for r in results.values())


def summary_counts(views: Iterable[JobView]) -> dict[str, int]:
    """How many jobs are in each state (for a one-line progress report)."""
    counts: dict[str, int] = {}
    for v in views:
        counts[v.state] = counts.get(v.state, 0) + 1
    return dict(sorted(counts.items()))
