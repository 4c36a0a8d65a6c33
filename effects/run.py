"""`Run`: one run of a plan, for a program that carries plans out from its own process.

The command line's submit/status/wait/cancel/collect are this class's methods.  A
Run holds its journal's path (one journal, one run: docs/effects.md, "Runs") and one
Observer, so what is settled is read once; `cancel()` may be called from another
thread while `wait()` polls, and wakes it.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from slurmplan.compiler import Plan
from slurmplan.compiler.errors import UnknownTask
from slurmplan.compiler.runtime.commands import read_files_argv, task_outputs
from slurmplan.compiler.runtime.fetch import chosen_tasks
from slurmplan.compiler.runtime.retry import PollPolicy, RetryPolicy
from slurmplan.compiler.runtime.settle import (
    JobView,
    TaskResult,
    all_settled,
    all_succeeded,
    is_final,
)
from slurmplan.effects.cancel import cancel
from slurmplan.effects.errors import NotEnded
from slurmplan.effects.execute import Executor, Runner, prepare_transport, run_once
from slurmplan.effects.fetch import fetch
from slurmplan.effects.journal import read_state
from slurmplan.effects.observe import Observer, wait
from slurmplan.effects.submit import Progress, SubmitReport, submit

STREAMS = ("stdout", "stderr")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One observation of a run: each job's view and each task's result."""

    run: str | None  # the journal's run id (None: nothing submitted yet)
    jobs: tuple[JobView, ...]
    tasks: Mapping[str, TaskResult]

    @property
    def done(self) -> bool:
        """Every job is settled: nothing will change any more."""
        return all_settled(self.jobs)

    @property
    def succeeded(self) -> bool:
        """Every task ran and exited 0."""
        return all_succeeded(self.tasks)


class _Quiet:
    """A Progress that says nothing (a library caller gets the report instead)."""

    done = 0

    def advance(self, message: str, step: int = 1) -> None:
        self.done += step

    def note(self, message: str) -> None:
        pass

    def close(self) -> None:
        pass


class Run:
    """One run of `plan`, recorded in `journal` (a new file starts a new run; the command
    line's default is PLAN.journal).  `executor` runs the commands (default: real
    processes, with `retry`); tests hand in one with a fake Slurm and clock, or just a
    `runner` (the fake Slurm) to keep the Run's own sleep, which cancel() wakes."""

    def __init__(
        self,
        plan: Plan,
        journal: str | os.PathLike[str],
        *,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        executor: Executor | None = None,
        runner: Runner | None = None,
    ) -> None:
        self.plan = plan
        self.journal = os.fspath(journal)
        self.poll_policy = poll or PollPolicy()
        self._wake = threading.Event()  # set by cancel(): a waiting wait() polls now
        self._cancelling = False
        if executor is not None and (retry is not None or runner is not None):
            raise ValueError("give either an executor, or retry/runner for the Run to make one")
        if executor is None:
            if runner is None:
                prepare_transport(plan)
            executor = Executor(
                policy=retry or RetryPolicy(), sleep=self._sleep, runner=runner or run_once
            )
        self.executor = executor
        self._observer = Observer(plan, self.journal, executor)

    def _sleep(self, seconds: float) -> None:
        # After cancel(), poll at the first interval: the cancelled states come quickly.
        limit = min(seconds, self.poll_policy.first) if self._cancelling else seconds
        if self._wake.wait(limit):
            self._wake.clear()

    # -- carrying it out ---------------------------------------------------------

    def submit(self, *, adopt: bool = False, progress: Progress | None = None) -> SubmitReport:
        """Submit every job not in Slurm yet; resumable, never submits a job twice."""
        return submit(
            self.plan, self.journal, self.executor, progress or _Quiet(), self.poll_policy,
            adopt=adopt,
        )  # fmt: skip

    def cancel(self, progress: Progress | None = None) -> tuple[str, ...]:
        """One scancel of every job of this run; a wait() in another thread returns soon."""
        self._cancelling = True
        try:
            return cancel(self.plan, self.journal, self.executor, progress or _Quiet())
        finally:
            self._wake.set()

    # -- looking at it -------------------------------------------------------------

    def poll(self) -> Snapshot:
        """One observation: one squeue for the unsettled jobs, the files of ended ones."""
        return self._snapshot(self._observer.observe())

    def poll_jobs(self) -> tuple[JobView, ...]:
        """poll() without the tasks: each job's view only (no lane file is read)."""
        return self._observer.observe()

    @property
    def polls(self) -> int:
        """How many observations this Run made."""
        return self._observer.polls

    def wait(
        self,
        timeout: float | None = None,
        on_change: Callable[[Snapshot], None] | None = None,
    ) -> Snapshot:
        """Poll with back-off until every job is settled or `timeout` seconds passed
        (then `done` is False); `on_change(snapshot)` first and on each change."""
        return self._wait(timeout, on_change, None)

    def _wait(
        self,
        timeout: float | None,
        on_change: Callable[[Snapshot], None] | None,
        stop: threading.Event | None,
    ) -> Snapshot:
        def changed(views: tuple[JobView, ...]) -> None:
            if on_change is not None:
                on_change(self._snapshot(views))

        views = wait(self._observer, self.poll_policy, changed, timeout, stop)
        return self._snapshot(views)

    async def wait_async(
        self,
        timeout: float | None = None,
        on_change: Callable[[Snapshot], None] | None = None,
    ) -> Snapshot:
        """wait() in a worker thread: the event loop keeps running meanwhile.

        Cancelling the awaiting task (task.cancel(), asyncio.wait_for's timeout) stops
        the thread too: it wakes from its sleep and returns, no more squeue and no more
        on_change, after the command it may be running (else it would poll until every
        job settled, and asyncio.run would wait for it at exit)."""
        stop = threading.Event()
        try:
            return await asyncio.to_thread(self._wait, timeout, on_change, stop)
        except asyncio.CancelledError:
            stop.set()
            self._wake.set()  # the Run's own sleep wakes now; another sleep ends in time
            raise

    def read(self, task_id: str, stream: str = "stdout", limit: int = 65536) -> bytes:
        """The first `limit` bytes of a task's stdout or stderr, read with `cat` as the
        user (the only reading command sudo allows, so the whole file crosses).

        Only a task that ended in this run is read, as with fetch: NotEnded (with its
        state) otherwise, since the file under its name may be an earlier or a later
        run's.  An observation (none once this Run saw the job settled) and the job's
        lane files read again say so; the journal is read again first, so a job this Run
        saw refused that a later submit sent is observed again.  KeyError for a task the
        plan does not have, ValueError for another stream or a negative limit,
        ExecutionError when `cat` fails (the file does not exist)."""
        if stream not in STREAMS:
            raise ValueError(f"stream must be one of {', '.join(STREAMS)} (got {stream!r})")
        if limit < 0:  # a slice would drop the last bytes: a cut log passing for the whole
            raise ValueError(f"limit must be a number of bytes, 0 or more (got {limit})")
        try:
            job = self._observer.job_of(task_id)
        except KeyError:
            raise UnknownTask(f"no task {task_id!r} in plan {self.plan.plan_id}") from None
        views = self._observer.views
        # The journal is a local file: reading it again tells, with no command, whether
        # a view seen settled is still final (a refused job a later submit sent is not).
        if views is None or not is_final(views[job], read_state(self.journal, self.plan)):
            self._observer.observe()
        results = self._observer.results_now([job])  # the file may be a later run's by now
        if not results.has_ended(task_id):
            raise NotEnded(task_id, str(results[task_id].state))
        path = task_outputs(self.plan, task_id)[STREAMS.index(stream)]
        return self.executor.run(read_files_argv(self.plan, [path])).stdout_bytes[:limit]

    def fetch(
        self, dest: str | os.PathLike[str], task_ids: Iterable[str] | None = None
    ) -> dict[str, Path]:
        """Copy each task's stdout and stderr (default: every task's) into `dest` as
        dest/tasks/<id>.out and .err, and the output files its task list names as
        dest/tasks/<id>.outputs/<path>; returns {path on the cluster: local path}.  Over
        ssh one tar stream for all; through sudo a `cat` per batch of files
        (effects.fetch_sudo); locally a copy.

        Only tasks that ended in this run (one poll, and their lane files read again,
        say which) are fetched: the files of a task that never started, is still running
        or was killed may be an earlier run's, and a later run's once it started.  Those
        tasks (FetchIncomplete.not_ended, with their states) and files that do not exist
        or are not regular files (.missing, per task) are reported after the rest came.
        ValueError, before anything is read, for an id the plan does not have or (not
        over ssh) a `dest` in the workdir; TypeError for one id given as a str."""
        chosen = chosen_tasks(self.plan, task_ids)  # an unknown id fails before any command
        self._observer.observe()  # one observation: the results below are of it
        # The lane files read again: a later run of the plan may have rewritten the files.
        jobs = {self._observer.job_of(task) for task in chosen}
        return fetch(self.plan, self.executor, dest, chosen, self._observer.results_now(jobs))

    @property
    def run_id(self) -> str | None:
        """The journal's run id (None before the first submit).  A journal's header never
        changes: once an observation read it, the journal is not read again for it."""
        run = self._observer.run
        return run if run is not None else read_state(self.journal, self.plan).run

    def _snapshot(self, views: tuple[JobView, ...]) -> Snapshot:
        return Snapshot(run=self.run_id, jobs=views, tasks=self._observer.results())
