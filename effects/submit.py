"""`submit`: carry out a plan's steps, journaling each submission; run again to resume.

Jobs go in rounds (compiler.runtime.rounds): one sbatch locally and with sudo,
a chain of up to 50 over ssh.  For each round, under the journal's lock: the
"intent" lines of its jobs, then its command, then a "submitted" line per id —
each batch of lines fsync'd before going on.  Before the first round, jobs the
journal has no line about are looked up among the user's jobs: one of this run (a
journal that lost its last lines), in any state, is journaled as a cut-off job
is; one of another run of this plan still queued stops the run (a lost journal must
not double the plan).
Each job goes to Slurm under its run's name (the plan's job name and the run id of
the journal's header), so lookups by name find only this run's jobs.  The decisions (which steps
remain, what a cut-off job became, whether a failure is transient, whether the
queue has room) are compiler.runtime.resume / compiler.runtime.rounds / compiler.runtime.retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, assert_never

from slurmplan.compiler import MkdirStep, Plan, SubmitStep, UploadStep, WriteStep
from slurmplan.compiler.layout import run_job_name
from slurmplan.compiler.plan import script_bytes
from slurmplan.compiler.runtime.commands import queue_count_argv
from slurmplan.compiler.runtime.journal_state import (
    intent_event,
    refused_event,
    submitted_event,
)
from slurmplan.compiler.runtime.resume import (
    CutOffTrace,
    adoption,
    left_to_submit,
    needs_lookup,
    needs_queue_count,
    not_in_squeue,
    parse_queue_count,
    queue_room,
    room_after,
    steps_to_run,
    stray_jobs,
    stray_message,
    trace_cut_off,
    unrecorded_jobs,
    unrecorded_to_read,
)
from slurmplan.compiler.runtime.retry import PollPolicy, classify, next_poll_delay, stderr_tail
from slurmplan.compiler.runtime.rounds import next_round, refusal_message, round_result
from slurmplan.compiler.runtime.settle import stdout_files_present
from slurmplan.compiler.runtime.upload import scripts_tar
from slurmplan.compiler.slurm.parsers import JobStart, Submitted, parse_start_lines
from slurmplan.effects.atomic import write_atomic
from slurmplan.effects.errors import ExecutionError, Interrupted, JobsInSlurm, JournalLost
from slurmplan.effects.execute import Executor
from slurmplan.effects.journal import Journal
from slurmplan.effects.queries import list_workdir, lookup_by_name, read_files, user_jobs


class Progress(Protocol):
    """What submit and cancel tell as they go (the command line's is effects/cli/progress.py)."""

    done: int

    def advance(self, message: str, step: int = 1) -> None: ...

    def note(self, message: str) -> None: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class SubmitReport:
    """What Run.submit did: of `total` jobs, how many each way reached the journal."""

    total: int
    already: int = 0  # submitted by an earlier run, per the journal
    submitted: int = 0  # by this run's sbatch
    found: int = 0  # cut off earlier, found in Slurm by this run's name
    ran: int = 0  # cut off earlier, forgotten by Slurm, but its stdout names this run
    adopted: int = 0  # another run's, taken into this journal (submit --adopt)
    adopted_from: str | None = None  # that run's id


def look_up_cut_off(
    plan: Plan, journal: Journal, executor: Executor, progress: Progress
) -> CutOffTrace:
    """Look up every cut-off job of this run (call with the journal locked): by this
    run's name in squeue, then, for those squeue does not show, by the start line in
    their stdout files (Slurm forgets a finished job after a while).  Journals what
    they became and returns that."""
    jobs = sorted(journal.state.cut_off)
    if not jobs:
        return CutOffTrace(found={}, started={}, resubmit=frozenset(), duplicates={})
    run = journal.run
    rows = lookup_by_name(plan, executor, jobs, run)
    starts = _start_lines(plan, executor, not_in_squeue(plan, run, jobs, rows))
    return _journal_trace(plan, journal, trace_cut_off(plan, run, jobs, rows, starts), progress)


def look_up_unrecorded(
    plan: Plan, journal: Journal, executor: Executor, progress: Progress
) -> CutOffTrace:
    """Look up this run's jobs the journal has no line about (call with it locked): one
    squeue by this run's names, unless this process began the run (no job can carry its
    id).  A journal cut short may have lost jobs of this run that reached Slurm: those
    squeue shows are journaled found, as a cut-off job is (cancel: none is left behind)."""
    jobs = unrecorded_jobs(plan, journal.state)
    if not jobs or journal.new_run:
        return CutOffTrace(found={}, started={}, resubmit=frozenset(jobs), duplicates={})
    rows = lookup_by_name(plan, executor, jobs, journal.run)
    return _journal_trace(plan, journal, trace_cut_off(plan, journal.run, jobs, rows), progress)


def _journal_trace(
    plan: Plan, journal: Journal, outcome: CutOffTrace, progress: Progress
) -> CutOffTrace:
    """Journal the jobs of this run found in Slurm or by their start line; returns `outcome`."""
    for job, job_id in sorted(outcome.found.items()):
        journal.append(submitted_event(job, job_id, "found"))
        progress.note(f"job {job} ({plan.jobs[job].name}) was submitted as {job_id} before")
    for job, job_id in sorted(outcome.started.items()):
        journal.append(submitted_event(job, job_id, "started"))
        progress.note(
            f"job {job} ({plan.jobs[job].name}) ran as {job_id} already "
            "(Slurm forgot it; its stdout names this run)"
        )
    for job, ids in sorted(outcome.duplicates.items()):
        progress.note(f"warning: job {job} is in Slurm {len(ids)} times: {' '.join(ids)}")
    return outcome


def _start_lines(plan: Plan, executor: Executor, jobs: Sequence[int]) -> tuple[JobStart, ...]:
    """The start lines in the stdout files of `jobs` that exist (one ls, one cat)."""
    if not jobs:
        return ()
    paths = stdout_files_present(plan, list_workdir(plan, executor) or (), jobs)
    return parse_start_lines(read_files(plan, executor, paths)) if paths else ()


class _Submitter:
    def __init__(
        self, plan: Plan, journal: Journal, executor: Executor, progress: Progress,
        poll_policy: PollPolicy, *, adopt: bool,
    ) -> None:  # fmt: skip
        self.adopt = adopt
        self.plan = plan
        self.journal = journal
        self.executor = executor
        self.progress = progress
        self.poll_policy = poll_policy
        self.room: int | None = None  # submissions allowed before asking squeue again
        self.traced: set[int] = set()  # cut off, looked up here, no trace: to resubmit
        self._traced_at = 0  # journal.written_by_others when traced was last added to
        self._counted_at = -1  # journal.written_by_others at the last queue count
        self.report = SubmitReport(total=len(plan.jobs))

    def run(self) -> SubmitReport:
        with self.journal.locked() as state:
            if state.cancelled:
                raise _cancelled(self.journal.path)
            self.report.already = sum(1 for j in self.plan.jobs if state.is_done(j.index))
            self.progress.done = self.report.already
            if state.cut_off:
                self._cut_off(
                    look_up_cut_off(self.plan, self.journal, self.executor, self.progress)
                )
            self._look_up_unrecorded_jobs()
            steps = steps_to_run(self.plan, self.journal.state)
        submits = [step for step in steps if isinstance(step, SubmitStep)]
        # A plan's steps are what compiler.plan.derive_steps makes of its jobs and
        # transport (plan_from_json refuses a file whose steps differ), and the sbatch
        # commands come from compiler.runtime.rounds, not from the submit steps' argv.
        for step in steps:
            match step:
                case MkdirStep():
                    self.executor.run(step.argv)
                case WriteStep():  # the path is the job's script_path, under the workdir
                    job = self.plan.jobs[step.job]
                    write_atomic(step.path, script_bytes(job.script), step.mode, durable=False)
                case UploadStep():
                    self.executor.run(step.argv, stdin=scripts_tar(self.plan, step.jobs))
                case SubmitStep():
                    pass  # all together, after the steps that place the scripts
                case _:
                    assert_never(step)
        self._submit(submits)
        return self.report

    def _look_up_unrecorded_jobs(self) -> None:
        """Before this run's first submission (journal locked): one squeue of the user's
        jobs for those the journal has no line about (it was deleted, emptied or cut
        short).  This run's own, in any state or by their start line, are journaled as
        after a cut-off submit; another run's still queued or running stop the run
        (they would run twice)."""
        jobs = unrecorded_jobs(self.plan, self.journal.state)
        if not jobs:
            return
        rows = user_jobs(self.plan, self.executor)
        run = self.journal.run
        reads = unrecorded_to_read(self.plan, run, jobs, rows, new_run=self.journal.new_run)
        starts = _start_lines(self.plan, self.executor, reads)
        ours = trace_cut_off(self.plan, run, jobs, rows, starts)
        self._count(_journal_trace(self.plan, self.journal, ours, self.progress))
        jobs = tuple(j for j in jobs if j in ours.resubmit)
        strays = stray_jobs(self.plan, self.journal.state, jobs, rows)
        if not strays:
            return
        if not self.adopt:
            raise JobsInSlurm(stray_message(self.journal.path, strays))
        taken = adoption(self.plan, jobs, rows, strays)
        if taken.refusal is not None:
            raise JobsInSlurm(taken.refusal)
        self.journal.append_many(
            [
                submitted_event(job, job_id, "adopted", taken.run)
                for job, job_id in taken.jobs.items()
            ]
        )
        self.report.adopted, self.report.adopted_from = len(taken.jobs), taken.run
        for job, job_id in taken.jobs.items():
            self.progress.advance(f"job {job} adopted: {job_id}, of run {taken.run}")

    def _cut_off(self, outcome: CutOffTrace) -> None:
        """After a look-up of cut-off jobs: those without a trace go without another;
        those found take queue room (an sbatch that failed, yet created its job, was
        not counted when the room was)."""
        self.traced |= outcome.resubmit
        self._traced_at = self.journal.written_by_others
        self.room = room_after(self.room, len(outcome.found))
        self._count(outcome)

    def _count(self, outcome: CutOffTrace) -> None:
        """The jobs of this run a look-up found, in the report and the progress."""
        self.report.found += len(outcome.found)
        self.report.ran += len(outcome.started)
        for job in sorted([*outcome.found, *outcome.started]):
            self.progress.advance(f"job {job} already in Slurm")

    def _submit(self, steps: list[SubmitStep]) -> None:
        """Submit the jobs of `steps` in rounds (compiler.runtime.rounds), journaling
        each round's intents before its command and its ids after."""
        clock = self.executor.clock
        pending = steps
        failures, start = 0, 0.0  # failed attempts in a row; when the first of them began
        while True:
            # (checked again under the lock; this only saves a queue check)
            pending = left_to_submit(self.journal.state, pending)
            if not pending:
                return
            self._wait_for_room()
            with self.journal.locked() as state:
                if state.cancelled:
                    raise _cancelled(self.journal.path)
                pending = left_to_submit(state, pending)
                if not pending:
                    return
                if (
                    self.plan.max_jobs_in_queue is not None
                    and self.journal.written_by_others != self._counted_at
                ):  # another submit wrote since the count: its jobs may have taken the room
                    self.room = None
                    continue  # count again, outside the lock
                run = self.journal.run
                round_ = next_round(self.plan, pending, self.room, run)
                if self.journal.written_by_others != self._traced_at:
                    # Another submit wrote since this one's look-up: a cut-off intent now
                    # may be its, for a job its sbatch created; look every one up again.
                    self.traced.clear()
                if needs_lookup(state, round_.jobs, self.traced):
                    self._cut_off(
                        look_up_cut_off(self.plan, self.journal, self.executor, self.progress)
                    )
                    pending = left_to_submit(self.journal.state, pending)
                    if not pending:
                        return
                    if needs_queue_count(self.plan.max_jobs_in_queue, self.room):
                        continue  # a job found took the last room: wait, outside the lock
                    round_ = next_round(self.plan, pending, self.room, run)
                self.journal.append_many(
                    [
                        intent_event(job, run_job_name(self.plan.jobs[job].name, run))
                        for job in round_.jobs
                    ]
                )
                self.traced -= set(round_.jobs)  # a new intent: cut off again, look it up
                if failures == 0:  # --retry-max-seconds counts from here, not from
                    start = clock()  # before a wait for queue room or the last round
                # The sbatch keeps the journal's lock: killed now, this process would
                # leave it running, and the next submit must not look for its job before
                # it ends (locally; through sudo, sudo's own process keeps it; ssh closes
                # the files it is handed: docs/effects.md).
                done = self.executor.once(
                    round_.argv, stdin=round_.stdin, hold=self.journal.lock_fd
                )
                verdict = None if done.ok else classify(done.argv, done.exit_code, done.stderr)
                result = round_result(round_, done.exit_code, done.stdout, verdict)
                self._record(result.submitted)
                if result.bad_output is not None:
                    # Left as intents: the next run looks those jobs up by name.
                    tail = stderr_tail(done.stdout + done.stderr)
                    raise ExecutionError(done.argv, 0, tail, reason=result.bad_output)
                if result.refused is not None:
                    message = refusal_message(done.stderr)
                    self.journal.append(refused_event(result.refused, message))
            if result.progress:  # the retry budget starts again
                failures = 0
            if not result.failed:
                continue
            # Transient: the jobs left may or may not have reached Slurm; after the
            # back-off the journal shows them cut off, so they are looked up first.
            failures += 1
            self.executor.wait_or_raise(done, failures, clock() - start)

    def _record(self, submitted: Sequence[tuple[int, Submitted]]) -> None:
        try:
            self.journal.append_many(
                [submitted_event(job, s.job_id, "sbatch") for job, s in submitted]
            )
        except JournalLost as error:
            done = ", ".join(
                f"job {j} ({self.plan.jobs[j].name}) -> {s.job_id}" for j, s in submitted
            )
            raise JournalLost(f"{error}; just submitted, not recorded: {done}") from None
        self.room = room_after(self.room, len(submitted))
        for job, s in submitted:
            self.report.submitted += 1
            self.progress.advance(f"job {job} ({self.plan.jobs[job].name}) -> {s.job_id}")

    def _wait_for_room(self) -> None:
        """With submission.max_jobs_in_queue, wait (polling squeue) until a job fits."""
        limit = self.plan.max_jobs_in_queue
        if limit is None or not needs_queue_count(limit, self.room):
            return
        delay: float | None = None
        while True:
            done = self.executor.run(queue_count_argv(self.plan))
            queued = parse_queue_count(done.stdout)
            self.room = queue_room(limit, queued)
            self._counted_at = self.journal.written_by_others
            if self.room:
                return
            delay = next_poll_delay(self.poll_policy, delay, changed=False)
            self.progress.note(
                f"queue full ({queued} jobs of {self.plan.transport.user} queued, "
                f"max_jobs_in_queue={limit}); waiting {delay:.1f} s for room"
            )
            self.executor.sleep(delay)


def _cancelled(path: str) -> Interrupted:
    return Interrupted(
        f"the plan was cancelled (journal {path}); to run it again, submit with a new --journal"
    )


def submit(
    plan: Plan,
    journal_path: str,
    executor: Executor,
    progress: Progress,
    poll_policy: PollPolicy | None = None,
    *,
    adopt: bool = False,
) -> SubmitReport:
    """Run the plan's remaining steps; safe to call again after any interruption.

    With `adopt`, jobs of another run of the plan still in Slurm that would otherwise
    stop the run (JobsInSlurm) are recorded as this run's instead (resume.adoption)."""
    with Journal(journal_path, plan) as journal:
        submitter = _Submitter(
            plan, journal, executor, progress, poll_policy or PollPolicy(), adopt=adopt
        )
        try:
            return submitter.run()
        finally:
            progress.close()
