"""What `submit` does next, given the plan and its journal: pure decisions.

Running `submit` again on the same plan resumes: preparation steps are repeated
only for jobs still to submit (they are idempotent: mkdir -p, an atomic write, a
tar that overwrites), jobs the journal shows submitted are skipped, and jobs cut
off between their intent and their id are looked up before anything else.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import assert_never

from slurmplan.compiler.layout import run_job_name
from slurmplan.compiler.plan import MkdirStep, Plan, Step, SubmitStep, UploadStep, WriteStep
from slurmplan.compiler.runtime.journal_state import JournalState, is_run_id
from slurmplan.compiler.slurm.parsers import JobStart, QueuedJob


def left_to_submit(state: JournalState, steps: Iterable[SubmitStep]) -> list[SubmitStep]:
    """The submit steps whose jobs have not reached Slurm, per the journal as it is now."""
    return [step for step in steps if not state.is_done(step.job)]


def needs_lookup(state: JournalState, jobs: Iterable[int], traced: Collection[int] = ()) -> bool:
    """Whether any of `jobs` was cut off and not `traced` yet: then every cut-off job is
    looked up by name (one squeue) before these are submitted.  `traced` are the jobs a
    lookup in this process found no trace of (to be submitted again): looking them up
    again before their own round would find nothing new."""
    return any(job in state.cut_off and job not in traced for job in jobs)


def steps_to_run(plan: Plan, state: JournalState) -> tuple[Step, ...]:
    """The plan's steps still needed: everything for jobs not yet submitted, nothing else.

    An upload step is narrowed to the scripts of those jobs.
    """
    todo = {job.index for job in plan.jobs if not state.is_done(job.index)}
    if not todo:
        return ()
    out: list[Step] = []
    for step in plan.steps:
        match step:
            case MkdirStep():
                out.append(step)
            case WriteStep():
                if step.job in todo:
                    out.append(step)
            case UploadStep():
                jobs = tuple(j for j in step.jobs if j in todo)
                if jobs:
                    out.append(UploadStep(argv=step.argv, directory=step.directory, jobs=jobs))
            case SubmitStep():
                if step.job in todo:
                    out.append(step)
            case _:
                assert_never(step)
    return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class CutOffTrace:
    """The fate of jobs whose submission was cut off."""

    found: dict[int, str]  # job index -> job id: squeue knows this run's job: never resubmit
    started: dict[int, str]  # Slurm forgot it, but its stdout's start line names this run
    resubmit: frozenset[int]  # no trace of this run's job anywhere: it never reached Slurm
    duplicates: dict[int, tuple[str, ...]]  # several jobs of one name (should not happen)


def _ids_by_name(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Job ids by name, each name's ids distinct and in numeric order."""
    out: dict[str, set[str]] = {}
    for name, job_id in pairs:
        out.setdefault(name, set()).add(job_id)
    return {name: sorted(ids, key=int) for name, ids in out.items()}


def not_in_squeue(
    plan: Plan, run: str, jobs: Iterable[int], rows: Sequence[QueuedJob]
) -> tuple[int, ...]:
    """Of `jobs`, those squeue showed no job of this run's name for: their stdout
    files are read for a start line (Slurm may have forgotten a job that ran)."""
    names = {row.name for row in rows}
    return tuple(j for j in jobs if run_job_name(plan.jobs[j].name, run) not in names)


def trace_cut_off(
    plan: Plan,
    run: str,
    jobs: Iterable[int],
    rows: Sequence[QueuedJob],
    starts: Sequence[JobStart] = (),
) -> CutOffTrace:
    """Decide which cut-off jobs of run `run` (or jobs the journal has no line about:
    unrecorded_jobs) reached Slurm, from squeue's rows, in any state, for this run's
    names of them and the start lines read from their stdout files: only a job of
    this run's name counts (another run of the same plan writes the same files)."""
    queued_ids = _ids_by_name((row.name, row.job_id) for row in rows)
    started_ids = _ids_by_name((s.name, s.job_id) for s in starts)
    found: dict[int, str] = {}
    started: dict[int, str] = {}
    duplicates: dict[int, tuple[str, ...]] = {}
    resubmit: set[int] = set()
    for index in jobs:
        name = run_job_name(plan.jobs[index].name, run)
        queued, seen = queued_ids.get(name, []), started_ids.get(name, [])
        ids, into = (queued, found) if queued else (seen, started)
        if not ids:
            resubmit.add(index)
            continue
        into[index] = ids[0]
        if len(ids) > 1:
            duplicates[index] = tuple(ids)
    return CutOffTrace(
        found=found, started=started, resubmit=frozenset(resubmit), duplicates=duplicates
    )


def missing_directory(exit_code: int | None, stderr: str) -> bool:
    """`ls DIR` failed only because DIR does not exist (GNU ls exits 2)."""
    return exit_code == 2 and "No such file or directory" in stderr


def parse_listing(stdout: str) -> tuple[str, ...]:
    """Names printed by `ls -1`."""
    return tuple(line for line in stdout.split("\n") if line)


def unrecorded_to_read(
    plan: Plan, run: str, jobs: Iterable[int], rows: Sequence[QueuedJob], *, new_run: bool
) -> tuple[int, ...]:
    """Of `jobs` (unrecorded_jobs), those whose stdout files are read for a start line
    of run `run`: those squeue shows no job of this run's name for (a journal that
    lost its last lines may not know a job that ran and was forgotten), unless this
    very process began the run (`new_run`): no job can carry its id yet, and a re-run
    of a large plan need not read every stdout file an earlier run left."""
    return () if new_run else not_in_squeue(plan, run, jobs, rows)


def queue_room(max_jobs_in_queue: int | None, queued: int) -> int | None:
    """How many more jobs may be submitted now (None: no limit)."""
    if max_jobs_in_queue is None:
        return None
    return max(0, max_jobs_in_queue - queued)


def needs_queue_count(max_jobs_in_queue: int | None, room: int | None) -> bool:
    """Whether to count the user's queued jobs before the next round: there is a
    limit and no room left from the last count (None: not counted yet)."""
    return max_jobs_in_queue is not None and (room is None or room <= 0)


def room_after(room: int | None, submitted: int) -> int | None:
    """The room left once `submitted` more jobs went in (None: no limit, or not counted)."""
    return None if room is None else room - submitted


def parse_queue_count(stdout: str) -> int:
    """Jobs in the output of `squeue --noheader --format=%i` (one per line)."""
    return sum(1 for line in stdout.split("\n") if line.strip())


def unrecorded_jobs(plan: Plan, state: JournalState) -> tuple[int, ...]:
    """The jobs a run would submit that the journal has no line about at all.

    Before a run's first submission these are looked for among the user's jobs (one
    squeue): a journal deleted, emptied or missing its last lines knows fewer jobs
    than Slurm.  This run's own are traced (trace_cut_off, unrecorded_to_read) and
    recorded; another run's still queued stop the run (stray_jobs).  Cut-off jobs are
    looked up anyway (trace_cut_off); jobs the journal shows in Slurm are never
    submitted again.
    """
    return tuple(
        job.index
        for job in plan.jobs
        if not state.is_done(job.index) and job.index not in state.cut_off
    )


@dataclass(frozen=True, slots=True)
class StrayJob:
    """A job of this plan still queued or running in Slurm that the journal does not know."""

    job: int
    name: str
    job_id: str
    state: str
    run: str  # the run that submitted it


def run_of(index_of: Mapping[str, int], name: str) -> tuple[int, str] | None:
    """(job index, run id) of a Slurm job name that some run gave one of the jobs in
    `index_of` (plan job name -> index; layout.run_job_name), None for any other name."""
    base, dot, run = name.rpartition(".")
    if not dot or not is_run_id(run):
        return None
    index = index_of.get(base)
    return None if index is None else (index, run)


def stray_jobs(
    plan: Plan, state: JournalState, jobs: Iterable[int], rows: Sequence[QueuedJob]
) -> tuple[StrayJob, ...]:
    """Of squeue's rows of the user's jobs, those that block a new submission of `jobs`:
    a job of this plan from another run still pending or running (not terminal) that
    the journal does not record.  A finished job of an earlier run does not block
    (re-running a finished plan is allowed).  A job of this run (the journal's), in
    any state, is no stray: it is this run's job, traced and recorded before
    (trace_cut_off), never sent again.  In job order, then id order."""
    index_of = {plan.jobs[j].name: j for j in jobs}
    known = set(state.submitted.values())
    strays: list[StrayJob] = []
    for row in rows:
        of = run_of(index_of, row.name)
        if of is None or of[1] == state.run or row.state.terminal or row.job_id in known:
            continue
        strays.append(StrayJob(of[0], row.name, row.job_id, row.state.value, of[1]))
    return tuple(sorted(set(strays), key=lambda s: (s.job, int(s.job_id))))


@dataclass(frozen=True, slots=True, kw_only=True)
class Adoption:
    """What `submit --adopt` records of another run's jobs, or why it cannot."""

    jobs: dict[int, str]  # job index -> job id, journaled `submitted` (how "adopted")
    run: str | None  # the run they come from
    refusal: str | None  # why nothing is adopted (None: adopt `jobs`)


def adoption(
    plan: Plan, jobs: Iterable[int], rows: Sequence[QueuedJob], strays: Sequence[StrayJob]
) -> Adoption:
    """Which of squeue's rows a new run takes for its own when asked to (`--adopt`): every
    job, in any state Slurm still shows, of the one run whose jobs block it (`strays`),
    for the `jobs` the journal has no line about.  Jobs of that run that Slurm no longer
    shows are not adopted and are submitted again.  Strays of several runs, or one
    run with two jobs of one plan job, are refused: which to keep is not ours to guess."""
    runs = sorted({s.run for s in strays})
    if len(runs) != 1:
        return Adoption(jobs={}, run=None, refusal=(
            f"--adopt takes the jobs of one run, but jobs of {len(runs)} runs are queued "
            f"({', '.join(runs)}): cancel all but one run's jobs first"
        ))  # fmt: skip
    run = runs[0]
    index_of = {plan.jobs[j].name: j for j in jobs}
    ids: dict[int, set[str]] = {}
    for row in rows:
        of = run_of(index_of, row.name)
        if of is not None and of[1] == run:
            ids.setdefault(of[0], set()).add(row.job_id)
    twice = sorted(j for j, found in ids.items() if len(found) > 1)
    if twice:
        found = " ".join(sorted(ids[twice[0]], key=int))
        return Adoption(jobs={}, run=run, refusal=(
            f"--adopt: run {run} has job {twice[0]} in Slurm more than once ({found}): "
            "cancel the extra ones first"
        ))  # fmt: skip
    return Adoption(jobs={j: found.pop() for j, found in sorted(ids.items())}, run=run,
                    refusal=None)  # fmt: skip


def stray_message(journal_path: str, strays: Sequence[StrayJob]) -> str:
    """Why submit stops before submitting anything, and the two ways on."""
    ids = " ".join(s.job_id for s in strays)
    rows = "\n".join(
        f"  job {s.job} ({s.name}): {s.job_id} {s.state}, of run {s.run}" for s in strays
    )
    runs = ", ".join(sorted({s.run for s in strays}))
    return (
        f"{len(strays)} job(s) of this plan are still queued or running in Slurm, but the "
        f"journal {journal_path} does not record them (they belong to run {runs}: was "
        f"its journal deleted, emptied or cut short, or is that run still going?); "
        f"submitting nothing, so that no job runs twice:\n{rows}\n"
        f"Either cancel them (`slurmplan cancel` with the journal that recorded them, or "
        f"`scancel {ids}`) and submit again, or resume with the journal that recorded "
        f"them (`slurmplan submit PLAN --journal THAT_JOURNAL`; its header names run {runs}), "
        f"or take them into this journal's run with `slurmplan submit PLAN --adopt` (the jobs "
        f"of that run still in Slurm are recorded, not sent again; `cancel` then reaches them)."
    )
