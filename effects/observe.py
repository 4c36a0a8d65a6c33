"""Looking at a submitted plan: `status`, `wait` and `collect`.

One observation is: read the journal; one squeue for every job not settled yet;
for jobs gone from squeue, `ls` the workdir and `cat` their done markers; for a job
gone from squeue without a marker, one `scontrol show job` (squeue's silence alone
does not settle it).
`wait` repeats that with back-off (compiler.runtime.retry.next_poll_delay) until every
job is settled; per-task results come from the lane status files of settled jobs.
Markers and status lines count only when they name this run's Slurm job id
(compiler.runtime.settle.this_runs_markers, this_runs_lines).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from slurmplan.compiler import Plan
from slurmplan.compiler.errors import SlurmplanError
from slurmplan.compiler.runtime.journal_state import JournalState
from slurmplan.compiler.runtime.retry import PollPolicy, next_poll_delay
from slurmplan.compiler.runtime.settle import (
    NOT_SUBMITTED,
    JobView,
    TaskResult,
    TaskResults,
    all_settled,
    done_files_present,
    ids_to_poll,
    is_final,
    job_views,
    lane_files_present,
    markers_wanted,
    summary_counts,
    task_jobs,
    this_runs_lines,
    this_runs_markers,
    this_runs_rows,
    to_confirm,
)
from slurmplan.compiler.slurm.parsers import DoneMarker, parse_done_markers, parse_lane_files
from slurmplan.compiler.slurm.states import RunState
from slurmplan.effects.errors import JournalLost
from slurmplan.effects.execute import Executor
from slurmplan.effects.journal import read_state
from slurmplan.effects.queries import list_workdir, poll, read_files, show_job


class NotSubmitted(SlurmplanError):
    """`wait` on a plan some of whose jobs were never submitted (a job sbatch refused
    for good is settled REFUSED instead, and one a cancelled run never submitted
    CANCELLED: wait reports them with the other results)."""


@dataclass
class Observer:
    plan: Plan
    journal_path: str
    executor: Executor
    markers: dict[int, DoneMarker] = field(default_factory=dict)
    views: tuple[JobView, ...] | None = None
    polls: int = 0
    # Lane lines (task id -> line) of jobs whose lanes were read: settled is final, so
    # they are read once.
    lines: dict[str, str] = field(default_factory=dict)
    lanes_read: set[int] = field(default_factory=set)
    final: dict[str, TaskResult] = field(default_factory=dict)  # built results of those jobs
    _job_of: dict[str, int] = field(default_factory=dict)  # each task's job, once needed
    # What the last observation read, for results() to use rather than read again.
    _state: JournalState | None = None
    _listing: tuple[str, ...] | None = None

    def observe(self) -> tuple[JobView, ...]:
        """Each job's state now (settled views are final and not asked about again).

        JournalLost when the journal no longer holds the run this Observer saw in it
        (deleted, or replaced by another run's): its settled views are that run's, and
        one snapshot must never mix two runs."""
        state = read_state(self.journal_path, self.plan)
        seen = self._state.run if self._state is not None else None
        if seen is not None and state.run != seen:
            now = f"holds run {state.run}" if state.run is not None else "is gone or empty"
            raise JournalLost(
                f"the journal {self.journal_path} {now}, not run {seen} this Run watched: "
                "one Run observes one run; make a new one to watch what the journal holds now"
            )
        self._state = state
        self._listing = None
        known = {v.index: v for v in self.views or ()}
        self._reopen([i for i, v in known.items() if v.settled and not is_final(v, state)])
        settled = [i for i, v in known.items() if is_final(v, state)]
        ids = ids_to_poll(state, settled)
        rows = this_runs_rows(self.plan, state, poll(self.plan, self.executor, ids))
        self.polls += 1
        wanted = markers_wanted(state, rows, ids, skip=[*settled, *self.markers])
        if wanted:
            listing = self._listing = list_workdir(self.plan, self.executor) or ()
            paths = done_files_present(self.plan, listing, wanted)
            if paths:
                text = read_files(self.plan, self.executor, paths)
                self.markers.update(this_runs_markers(state, parse_done_markers(text)))
        silent = to_confirm(state, rows, ids, self.markers)  # gone, no marker: ask scontrol
        # scontrol's rows count as squeue's do: under this run's name (this_runs_rows);
        # None: Slurm forgot the job, or gave its id to another.
        asked = [show_job(self.plan, self.executor, job_id) for job_id in silent]
        mine = this_runs_rows(self.plan, state, [row for row in asked if row is not None])
        states = {row.job_id: row.state for row in mine}
        shown = {job_id: states.get(job_id) for job_id in silent}
        self.views = job_views(self.plan, state, rows, self.markers, known, shown=shown)
        return self.views

    def _reopen(self, jobs: list[int]) -> None:
        """Forget what was read of `jobs`, settled views no longer final (a refused job a
        later submit sent): their markers and lanes are read again.  New dicts, not
        edits: an earlier snapshot's TaskResults keeps the ones it was made with."""
        if not jobs:
            return
        gone = set(jobs)
        for job in gone:
            self.markers.pop(job, None)
        self.lanes_read -= gone
        job_of = self._task_jobs()
        self.lines = {t: line for t, line in self.lines.items() if job_of[t] not in gone}
        self.final = {t: r for t, r in self.final.items() if job_of[t] not in gone}

    @property
    def run(self) -> str | None:
        """The run id in the journal the last observation read (None: none yet)."""
        return self._state.run if self._state is not None else None

    def results(self) -> TaskResults:
        """Per task: exit code and times (from the lane files of settled jobs), state,
        job id, logs; each task's result is built when first looked up."""
        views = self.views if self.views is not None else self.observe()
        settled = [v.index for v in views if v.settled and v.index not in self.lanes_read]
        if settled:
            self.lines.update(self._lane_lines(settled))
            self.lanes_read.update(settled)
        # A settled job whose lanes were read has final results: built once per run.
        final = {v.index for v in views if v.settled and v.index in self.lanes_read}
        return TaskResults(
            self.plan, views, self.lines, job_of=self._job_of, final=final,
            store=self.final,
        )  # fmt: skip

    def job_of(self, task: str) -> int:
        """The index of the job that runs `task`; KeyError for a task not in the plan."""
        return self._task_jobs()[task]

    def _task_jobs(self) -> dict[str, int]:
        """Each task's job index: made once, when first needed (TaskResults fill the same
        dict when they need it first)."""
        if not self._job_of:
            self._job_of.update(task_jobs(self.plan))
        return self._job_of

    def results_now(self, jobs: Iterable[int]) -> TaskResults:
        """results() of `jobs` with their lane files read again, not taken from what this
        Observer read before: a settled result is final, but the files on the cluster
        are not (a later run of the plan in the same workdir rewrites them, and its lane
        files name that run), so fetch and read go by what the files say now."""
        views = self.views if self.views is not None else self.observe()
        settled = sorted({j for j in jobs if views[j].settled})
        lines = self._lane_lines(settled) if settled else {}
        return TaskResults(
            self.plan, views, lines, job_of=self._job_of, final=set(settled), store={}
        )

    def _lane_lines(self, settled: Sequence[int]) -> dict[str, str]:
        """This run's lane lines of the `settled` jobs: one ls (unless the observation
        made one) and one cat of their lane files."""
        listing = self._listing
        if listing is None:
            listing = list_workdir(self.plan, self.executor) or ()
        paths = lane_files_present(self.plan, listing, settled)
        if not paths:
            return {}
        text = read_files(self.plan, self.executor, paths)
        state = self._state or read_state(self.journal_path, self.plan)
        return this_runs_lines(self.plan, state, parse_lane_files(text), settled)


def describe(views: tuple[JobView, ...]) -> str:
    """One line: how many jobs are settled and how many are in each state."""
    settled = sum(1 for v in views if v.settled)
    counts = " ".join(f"{state}={n}" for state, n in summary_counts(views).items())
    return f"{settled}/{len(views)} jobs settled ({counts})"


def wait(
    observer: Observer,
    policy: PollPolicy,
    on_change: Callable[[tuple[JobView, ...]], None],
    timeout: float | None = None,
    stop: threading.Event | None = None,
) -> tuple[JobView, ...]:
    """Poll until every job is settled, or `timeout` seconds passed, or `stop` is set
    (then some views may not be settled); `on_change` gets the views first and whenever a
    job's state changed.  A sleep that would pass the timeout is cut to it, and the last
    poll is at the timeout: a job that ended before it is seen (`timeout` 0: one poll).
    `stop` is looked at after each sleep, so whoever sets it also wakes the sleep
    (Run.wait_async: its task was cancelled, and nobody reads the answer)."""
    views = observer.observe()
    missing = [v.index for v in views if v.state == NOT_SUBMITTED]
    if missing:
        raise NotSubmitted(
            f"{len(missing)} of {len(views)} jobs are not submitted yet "
            f"(first: job {missing[0]}); run `slurmplan submit` first"
        )
    clock = observer.executor.clock
    start = clock()
    delay: float | None = None
    previous: list[RunState] = []
    while True:
        states = [v.state for v in views]
        changed = states != previous
        if changed:
            on_change(views)
        if all_settled(views):
            return views
        previous = states
        delay = next_poll_delay(policy, delay, changed)
        left = delay if timeout is None else timeout - (clock() - start)
        if left <= 0:
            return views
        observer.executor.sleep(min(delay, left))
        if stop is not None and stop.is_set():
            return views  # no more squeue, and no on_change, once stopped
        views = observer.observe()
