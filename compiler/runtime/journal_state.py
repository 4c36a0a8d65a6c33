"""The submission journal's lines and what they add up to (the file I/O is in effects).

One JSON object per line, appended and fsync'd:

    {"event": "header", "format": "slurmplan-journal/1", "plan_id": "...", "name": "..."}
    {"event": "intent", "job": 3, "name": "hello.0123abcd.3"}      before its sbatch
    {"event": "submitted", "job": 3, "job_id": "1234", "how": "sbatch"|"found"}
    {"event": "ran", "job": 3}            Slurm forgot it, but its stdout shows it ran
    {"event": "refused", "job": 3}        sbatch failed for good: it was not submitted
    {"event": "cancelled", "job_ids": ["1234", ...]}

A job with an "intent" and nothing after it was cut off: it may or may not have
reached Slurm, so it is looked up by name before it is ever submitted again.
A last line without its newline was cut off mid-write and is ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from compiler.errors import SlurmplanError

JOURNAL_FORMAT = "slurmplan-journal/1"

Event = dict[str, Any]


class JournalError(SlurmplanError, ValueError):
    """A journal that cannot be used with this plan; the message says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalState:
    plan_id: str | None = None
    submitted: Mapping[int, str] = field(default_factory=dict)  # job index -> Slurm job id
    ran: frozenset[int] = frozenset()  # ran, but Slurm no longer knows its id
    cut_off: frozenset[int] = frozenset()  # intent without an outcome
    cancelled: bool = False
    events: int = 0

    def is_done(self, job: int) -> bool:
        """The job reached Slurm (its id is known, or its output shows it ran)."""
        return job in self.submitted or job in self.ran

    @property
    def job_ids(self) -> tuple[str, ...]:
        """The known Slurm job ids, in job order."""
        return tuple(self.submitted[j] for j in sorted(self.submitted))


def header_event(plan_id: str, name: str) -> Event:
    return {"event": "header", "format": JOURNAL_FORMAT, "plan_id": plan_id, "name": name}


def intent_event(job: int, name: str) -> Event:
    return {"event": "intent", "job": job, "name": name}


def submitted_event(job: int, job_id: str, how: str) -> Event:
    return {"event": "submitted", "job": job, "job_id": job_id, "how": how}


def ran_event(job: int) -> Event:
    return {"event": "ran", "job": job}


def refused_event(job: int) -> Event:
    return {"event": "refused", "job": job}


def cancelled_event(job_ids: Sequence[str]) -> Event:
    return {"event": "cancelled", "job_ids": list(job_ids)}


def encode(event: Event) -> bytes:
    """One journal line: compact JSON, keys sorted, ASCII, newline-terminated."""
    text = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return (text + "\n").encode("ascii")


def complete_lines(data: bytes) -> tuple[list[str], int]:
    """The newline-terminated lines of `data` and how many bytes they take.

    The bytes after the last newline are a write cut off mid-way.
    """
    end = data.rfind(b"\n") + 1
    text = data[:end].decode("ascii", errors="replace")
    return [line for line in text.split("\n") if line.strip()], end


def parse_line(line: str, number: int) -> Event:
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        raise JournalError(f"journal line {number} is not JSON: {line[:120]!r}") from None
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        raise JournalError(f"journal line {number} is not an event: {line[:120]!r}")
    return event


def fold(events: Iterable[Event], start: JournalState | None = None) -> JournalState:
    """The state after `events`, continuing from `start` (default: an empty journal)."""
    state = start or JournalState()
    plan_id, cancelled, count = state.plan_id, state.cancelled, state.events
    submitted, ran, cut_off = dict(state.submitted), set(state.ran), set(state.cut_off)
    for event in events:
        count += 1
        kind = event["event"]
        if kind == "header":
            if event.get("format") != JOURNAL_FORMAT:
                raise JournalError(
                    f"journal format {event.get('format')!r} is not {JOURNAL_FORMAT!r}"
                )
            if plan_id is not None and event["plan_id"] != plan_id:
                raise JournalError(
                    f"journal has headers of two plans ({plan_id}, {event['plan_id']})"
                )
            plan_id = event["plan_id"]
            continue
        if plan_id is None:
            raise JournalError(f"journal line {count} comes before the header line")
        if kind == "cancelled":
            cancelled = True
            continue
        job = _job_of(event, count)
        if kind == "intent":
            if job not in submitted and job not in ran:
                cut_off.add(job)
        elif kind == "submitted":
            job_id = event.get("job_id")
            if not isinstance(job_id, str) or not job_id.isdigit():
                raise JournalError(f"journal line {count} has no valid job_id: {event!r}")
            submitted[job] = job_id
            cut_off.discard(job)
        elif kind == "ran":
            ran.add(job)
            cut_off.discard(job)
        elif kind == "refused":
            cut_off.discard(job)
        else:
            raise JournalError(f"journal line {count} has an unknown event {kind!r}")
    return JournalState(
        plan_id=plan_id,
        submitted=submitted,
        ran=frozenset(ran),
        cut_off=frozenset(cut_off),
        cancelled=cancelled,
        events=count,
    )


def _job_of(event: Event, number: int) -> int:
    job = event.get("job")
    if not isinstance(job, int) or isinstance(job, bool) or job < 0:
        raise JournalError(f"journal line {number} has no valid job index: {event!r}")
    return job


def read(data: bytes) -> JournalState:
    """The state of a whole journal file's bytes."""
    lines, _ = complete_lines(data)
    return fold(parse_line(line, n) for n, line in enumerate(lines, start=1))


def check_for_plan(state: JournalState, plan_id: str, n_jobs: int, path: str) -> None:
    """Refuse a journal written for another plan (or naming jobs this plan lacks)."""
    if state.plan_id is not None and state.plan_id != plan_id:
        raise JournalError(
            f"{path} is the journal of plan {state.plan_id}, not of this plan ({plan_id}); "
            "give another --journal"
        )
    known = set(state.submitted) | state.ran | state.cut_off
    beyond = sorted(j for j in known if j >= n_jobs)
    if beyond:
        raise JournalError(f"{path} names job {beyond[0]}, but the plan has {n_jobs} jobs")
