"""Submitting jobs in rounds: which jobs go in one command, that command, and its answer.

Each job is submitted with its run's name (commands.sbatch_words).  Locally and
through sudo each sbatch is its own command (sudo may run nothing but sbatch
itself, and sbatch reads the script on stdin).  Over ssh every command costs a
network round trip, several times the cost of an sbatch, so one remote command
submits a run of jobs in order, through `sh -c` whatever the user's login shell:

    sbatch --parsable --job-name=N.3.RUN /w/job-000003.sbatch && echo :3 && sbatch ... && echo :4

After each job's sbatch output comes a line `:<job index>`; the chain stops at
the first sbatch that fails.  `submit` journals every job's intent before the command
and every id after it, so a round cut off anywhere leaves intents only, and
those jobs are looked up by name before any resubmission, as for single jobs.

The chain runs under `flock` of the plan's lock on the cluster
(commands.under_cluster_lock), which the look-ups by name take too: a round that
outlives its ssh (nothing stops it on the cluster) has ended before they look.  Its
first line, `:locked`, says the lock is held and the chain began; a round whose ssh
is gone by then dies writing it (SIGPIPE), before any sbatch.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from slurmplan.compiler.plan import Plan, SubmitStep
from slurmplan.compiler.runtime.commands import (
    ARGV_CHUNK_CHARS,
    sbatch_argv,
    sbatch_stdin,
    sbatch_words,
    under_cluster_lock,
)
from slurmplan.compiler.runtime.journal_state import MESSAGE_CHARS
from slurmplan.compiler.runtime.retry import SSH_FAILED, Verdict
from slurmplan.compiler.slurm.parsers import ParseError, Submitted, parse_sbatch_parsable
from slurmplan.compiler.transport import TransportKind, as_user

# Jobs per ssh round: enough to spread one round trip thin (~10 ms against
# ~4 ms per sbatch), few enough that progress moves and a cut-off round leaves
# few jobs to look up.
SSH_ROUND_JOBS = 50

# The round's first line: it holds the cluster lock, and whoever sent it still reads.
LOCKED_LINE = ":locked"


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitRound:
    jobs: tuple[int, ...]  # in plan order
    argv: tuple[str, ...]
    numbered: bool  # LOCKED_LINE, then each job's sbatch output followed by a line `:<job>`
    stdin: bytes | None = None  # through sudo, the one job's script (commands.sbatch_stdin)


def _chained(plan: Plan, jobs: Sequence[int], run: str) -> tuple[str, ...]:
    chain = " && ".join(
        [f"echo {LOCKED_LINE}"]
        + [f"{shlex.join(sbatch_words(plan, job, run))} && echo :{job}" for job in jobs]
    )
    return as_user(plan.transport, under_cluster_lock(plan, ("sh", "-c", chain)))


def next_round(plan: Plan, steps: Sequence[SubmitStep], room: int | None, run: str) -> SubmitRound:
    """The next round of run `run`: the first of `steps` (those left to submit, in
    order) and, over ssh, the ones after it that fit, at most `room` jobs (None: no
    limit).
    """
    if not steps or (room is not None and room < 1):
        raise ValueError("a submit round needs at least one step and room for one job")
    if plan.transport.kind is not TransportKind.SSH:
        job = steps[0].job
        return SubmitRound(
            jobs=(job,),
            argv=sbatch_argv(plan, job, run),
            numbered=False,
            stdin=sbatch_stdin(plan, job),
        )
    limit = SSH_ROUND_JOBS if room is None else min(room, SSH_ROUND_JOBS)
    jobs = [steps[0].job]
    for step in steps[1:limit]:  # the remote command is one argument: keep it short
        if len(_chained(plan, [*jobs, step.job], run)[-1]) > ARGV_CHUNK_CHARS:
            break
        jobs.append(step.job)
    return SubmitRound(jobs=tuple(jobs), argv=_chained(plan, jobs, run), numbered=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoundOutcome:
    submitted: tuple[tuple[int, Submitted], ...]  # the jobs that printed an id, in order
    failed: int | None  # the job whose sbatch failed, when known
    error: str | None  # output that made no sense: the rest stay unknown


def read_round(round_: SubmitRound, exit_code: int | None, stdout: str) -> RoundOutcome:
    """What a round's command did, from its exit code and output.

    Jobs neither submitted nor `failed` may or may not have reached Slurm (the
    command was cut off), or never ran (after the failed one): either way the
    journal leaves them as intents, to be looked up by name.
    """
    if not round_.numbered:
        if exit_code != 0:
            return RoundOutcome(submitted=(), failed=round_.jobs[0], error=None)
        try:
            return RoundOutcome(
                submitted=((round_.jobs[0], parse_sbatch_parsable(stdout)),),
                failed=None,
                error=None,
            )
        except ParseError as error:
            return RoundOutcome(submitted=(), failed=None, error=str(error))
    # A last line without its newline was cut off (or is a failed sbatch's output).
    lines = stdout.split("\n")[:-1]
    if lines[:1] != [LOCKED_LINE]:
        # The chain never began: flock failed or is missing on the cluster, ssh failed,
        # or it was cut off waiting for the lock.  No sbatch ran, so none failed.
        if exit_code != 0:
            return RoundOutcome(submitted=(), failed=None, error=None)
        return RoundOutcome(
            submitted=(), failed=None, error=f"expected the line {LOCKED_LINE!r} first"
        )
    submitted: list[tuple[int, Submitted]] = []
    output: list[str] = []  # the current job's lines so far
    for line in lines[1:]:
        if not line.startswith(":"):
            output.append(line)
            continue
        try:
            if len(submitted) == len(round_.jobs):
                raise ParseError(f"a line {line!r} after the round's last job")
            job = round_.jobs[len(submitted)]
            if line != f":{job}":
                raise ParseError(f"expected the line ':{job}' after job {job}'s id, got {line!r}")
            submitted.append((job, parse_sbatch_parsable("\n".join(output))))
        except ParseError as error:
            return RoundOutcome(submitted=tuple(submitted), failed=None, error=str(error))
        output = []
    done = len(submitted)
    if exit_code == 0:
        if done == len(round_.jobs):
            return RoundOutcome(submitted=tuple(submitted), failed=None, error=None)
        missing = f"{len(round_.jobs) - done} of {len(round_.jobs)} jobs printed no id"
        return RoundOutcome(submitted=tuple(submitted), failed=None, error=missing)
    # The remote shell ran the chain and stopped at the first failed sbatch,
    # unless ssh failed (255) or the command timed out (None): then who knows.
    known = exit_code is not None and exit_code != SSH_FAILED and done < len(round_.jobs)
    return RoundOutcome(
        submitted=tuple(submitted), failed=round_.jobs[done] if known else None, error=None
    )


def refusal_message(stderr: str) -> str:
    """What the journal keeps of sbatch's refusal, for `status`, `wait` and `collect` to
    show: its last lines (warnings may come first), on one line, within the journal's
    limit; "(sbatch printed nothing)" when it said nothing."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()][-3:]
    text = " / ".join(lines) or "(sbatch printed nothing)"
    if len(text) > MESSAGE_CHARS:
        text = "..." + text[-(MESSAGE_CHARS - 3) :]
    return text


@dataclass(frozen=True, slots=True, kw_only=True)
class RoundResult:
    """What `submit` does after a round's command: the journal lines and what next."""

    submitted: tuple[tuple[int, Submitted], ...]  # journal their ids ("submitted")
    refused: int | None  # journal "refused": sbatch refused this job for good
    bad_output: str | None  # the command succeeded but its output made no sense: stop
    progress: bool  # some job got an id: the retry budget starts again
    failed: bool  # the command failed: back off and retry, or give up (retry policy)


def round_result(
    round_: SubmitRound, exit_code: int | None, stdout: str, verdict: Verdict | None
) -> RoundResult:
    """The outcome of a round's command (`verdict`: its failure's classify(), None when
    it exited 0).  Jobs neither submitted nor refused stay intents, to be looked up by
    name: after a transient failure (the job may have been created), after a fatal one
    (the jobs after the failed one never ran), or after output that made no sense."""
    outcome = read_round(round_, exit_code, stdout)
    ok = exit_code == 0
    refused = outcome.failed if not ok and verdict is Verdict.FATAL else None
    return RoundResult(
        submitted=outcome.submitted,
        refused=refused,
        bad_output=outcome.error if ok else None,
        progress=bool(outcome.submitted),
        failed=not ok,
    )
