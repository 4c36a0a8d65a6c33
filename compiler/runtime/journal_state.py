"""The submission journal's lines and what they add up to (the file I/O is in effects).

One JSON object per line, appended and fsync'd:

    {"event": "header", "format": "slurmplan-journal/2", "plan_id": "...", "name": "...",
     "run": "5f2a9c1e"}
    {"event": "intent", "job": 3, "name": "hello.0123abcd.3.5f2a9c1e"}   before its sbatch
    {"event": "submitted", "job": 3, "job_id": "1234",
     "how": "sbatch"|"found"|"started"|"adopted"}    adopted: also "run", the lost run
                                          whose name the job has (submit --adopt)
    {"event": "refused", "job": 3, "message": "sbatch: error: ..."}   sbatch said no for
                                          good (its message): it was not submitted
    {"event": "cancelled", "job_ids": ["1234", ...]}

One journal is one run of the plan: the header's `run` (8 hex digits, random) is in
the name each of its jobs gets in Slurm (layout.run_job_name), so nothing queued or
written by another run of the same plan is taken for this run's.  A job with an
"intent" and nothing after it was cut off: it may or may not have reached Slurm, so
it is looked up by this run's name (how "found"), or, once Slurm forgot it, by the
start line its script printed to its stdout (how "started"), before it is ever
submitted again.
A last line without its newline was cut off mid-write and is ignored.

A journal file is untrusted input: every complete line is checked (ASCII, one JSON
object, the fields of its event with their types, a job index of the plan, a job id
of ASCII digits) and anything else is one JournalError naming the file, the 1-based
line, the field, the expected form and the value received, in JSON words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from slurmplan.compiler.errors import SlurmplanError
from slurmplan.compiler.layout import run_job_name

JOURNAL_FORMAT = "slurmplan-journal/2"

Event = dict[str, Any]

# The fields of each event, in the order they are checked ("event" comes first).
FIELDS: Mapping[str, tuple[str, ...]] = {
    "header": ("format", "plan_id", "name", "run"),
    "intent": ("job", "name"),
    "submitted": ("job", "job_id", "how"),
    "refused": ("job", "message"),
    "cancelled": ("job_ids",),
}
HOWS = ("sbatch", "found", "started", "adopted")
_PLAN_ID = re.compile(r"[0-9a-f]{16}")
_RUN = re.compile(r"[0-9a-f]{8}")
MESSAGE_CHARS = 1000  # a refusal's message is sbatch's last words, not its whole output
_JOB_ID_FORM = "a Slurm job id, a string of 1 to 20 ASCII digits 0-9"


class JournalError(SlurmplanError, ValueError):
    """A journal that cannot be used with this plan; the message says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalState:
    plan_id: str | None = None
    run: str | None = None  # this run's id, from the header
    submitted: Mapping[int, str] = field(default_factory=dict)  # job index -> Slurm job id
    cut_off: frozenset[int] = frozenset()  # intent without an outcome
    refused: Mapping[int, str] = field(default_factory=dict)  # job -> sbatch's message:
    # sbatch refused it for good; not tried since
    cancelled: bool = False
    events: int = 0
    # job -> the run whose name its Slurm job has, when not this run's (adopted from a
    # lost journal): its marker and lane files name that run
    adopted_runs: Mapping[int, str] = field(default_factory=dict)

    def run_of(self, job: int) -> str | None:
        """The run a job's marker and lane files name: this run's, or the run it was
        adopted from."""
        return self.adopted_runs.get(job, self.run)

    def is_done(self, job: int) -> bool:
        """The job reached Slurm in this run (its id is known)."""
        return job in self.submitted

    @property
    def job_ids(self) -> tuple[str, ...]:
        """The known Slurm job ids, in job order."""
        return tuple(self.submitted[j] for j in sorted(self.submitted))


def header_event(plan_id: str, name: str, run: str) -> Event:
    return {
        "event": "header", "format": JOURNAL_FORMAT, "plan_id": plan_id, "name": name,
        "run": run,
    }  # fmt: skip


def is_run_id(value: object) -> bool:
    """A run's id as the header holds it: 8 lowercase hex digits."""
    return isinstance(value, str) and _RUN.fullmatch(value) is not None


def intent_event(job: int, name: str) -> Event:
    return {"event": "intent", "job": job, "name": name}


def submitted_event(job: int, job_id: str, how: str, run: str | None = None) -> Event:
    """`run`: for a job adopted from a lost run, that run's id."""
    event: Event = {"event": "submitted", "job": job, "job_id": job_id, "how": how}
    if run is not None:
        event["run"] = run
    return event


def refused_event(job: int, message: str) -> Event:
    return {"event": "refused", "job": job, "message": message}


def cancelled_event(job_ids: Sequence[str]) -> Event:
    return {"event": "cancelled", "job_ids": list(job_ids)}


def encode(event: Event) -> bytes:
    """One journal line: compact JSON, keys sorted, ASCII, newline-terminated."""
    text = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return (text + "\n").encode("ascii")


def is_job_id(value: object) -> bool:
    """A Slurm job id as the journal holds it: 1 to 20 ASCII digits (the parsers' bound;
    a longer one would go on to squeue's and scancel's command lines)."""
    return isinstance(value, str) and 0 < len(value) <= 20 and value.isascii() and value.isdigit()


def json_words(value: object) -> str:
    """A received value as messages show it: JSON (null, true, "text"), ASCII, one line."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (ValueError, TypeError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= 80 else text[:77] + "..."


def _type_words(value: object) -> str:
    names = {list: "a list", str: "a string", int: "a number", float: "a number",
             bool: "true or false", type(None): "null", dict: "an object"}  # fmt: skip
    return names.get(type(value), type(value).__name__)


def complete_end(data: bytes) -> int:
    """How many bytes of `data` its newline-terminated lines take: the bytes after the
    last newline are a write cut off mid-way, which never happened."""
    return data.rfind(b"\n") + 1


class _DuplicateKey(ValueError):
    pass


class _NotJSON(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return value


def _constant(name: str) -> Any:
    raise _NotJSON(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_constant)


def parse_line(
    line: str, number: int, path: str = "journal", job_names: Sequence[str] | None = None
) -> Event:
    """One line's event, its fields checked (not yet against the lines before it);
    `job_names` as in check_event."""
    where = f"{path}: line {number}: "
    try:
        event = _DECODER.decode(line)
    except json.JSONDecodeError as error:
        raise JournalError(
            f"{where}not JSON ({error.msg} at column {error.colno}): {json_words(line[:60])}"
        ) from None
    except _DuplicateKey as error:
        raise JournalError(
            f"{where}key {json_words(error.args[0])} appears twice in one object"
        ) from None
    except _NotJSON as error:
        raise JournalError(f"{where}not JSON: {error}") from None
    except RecursionError:
        raise JournalError(f"{where}not a journal line: JSON nested too deeply") from None
    except ValueError:  # a number of more digits than Python converts
        raise JournalError(f"{where}not a journal line: a number with too many digits") from None
    if not isinstance(event, dict):
        raise JournalError(f"{where}must be a JSON object {{...}} (got {_type_words(event)})")
    check_event(event, where, job_names)
    return event


def check_event(event: Event, where: str, job_names: Sequence[str] | None = None) -> None:
    """Every field of one event has its form; JournalError (prefixed `where`) if not.

    With `job_names` (the plan's, by index), a job index must be one of the plan's
    and an intent must carry that job's name.
    """
    if "event" not in event:
        raise JournalError(f"{where}'event' is required (got an object without it)")
    kind = event["event"]
    fields = FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        raise JournalError(
            f"{where}'event' must be one of {', '.join(map(json_words, FIELDS))} "
            f"(got {json_words(kind)})"
        )
    if kind == "header" and "format" in event and event["format"] != JOURNAL_FORMAT:
        raise JournalError(  # another version: its other fields may mean other things
            f"{where}'format' must be {json_words(JOURNAL_FORMAT)} "
            f"(got {json_words(event['format'])})"
            + (_OLDER_FORMAT if event["format"] in _OLDER_FORMATS else "")
        )
    if kind == "submitted" and event.get("how") == "adopted" and "run" in event:
        fields = (*fields, "run")  # the lost run it was adopted from (older lines: none)
    for name in fields:
        if name not in event:
            raise JournalError(f"{where}'{name}' is required (got an object without it)")
        expected = _FORMS[name](event[name], event, job_names)
        if expected is not None:
            raise JournalError(f"{where}{expected}")
    if len(event) != len(fields) + 1:
        unknown = next(key for key in event if key != "event" and key not in fields)
        raise JournalError(
            f"{where}unknown key {json_words(unknown)} in a {json_words(kind)} line "
            f"(expected only: {', '.join(map(json_words, ('event', *fields)))})"
        )


_Names = Sequence[str] | None
_OLDER_FORMATS = ("slurmplan-journal/1",)
_OLDER_FORMAT = (
    ": it was written by an older slurmplan, before runs had an id of their own; "
    "finish that run with the version that wrote it, or start a new run with another "
    "--journal (submit refuses while jobs of the plan are still queued)"
)


def _must(name: str, form: str, value: object) -> str:
    return f"'{name}' must be {form} (got {json_words(value)})"


def _format(value: object, event: Event, names: _Names) -> str | None:
    return None if value == JOURNAL_FORMAT else _must("format", json_words(JOURNAL_FORMAT), value)


def _plan_id(value: object, event: Event, names: _Names) -> str | None:
    if isinstance(value, str) and _PLAN_ID.fullmatch(value):
        return None
    return _must("plan_id", "a plan id, 16 lowercase hex digits", value)


def _name(value: object, event: Event, names: _Names) -> str | None:
    if event["event"] == "header":
        ok = isinstance(value, str) and value != ""
        return None if ok else _must("name", "the plan's name, a non-empty string", value)
    if not isinstance(value, str):  # which name is checked with the header's run (_Folder)
        return _must("name", "the job's name in Slurm, a string", value)
    return None


def _message(value: object, event: Event, names: _Names) -> str | None:
    if isinstance(value, str) and len(value) <= MESSAGE_CHARS:
        return None
    return _must("message", f"sbatch's message, a string of at most {MESSAGE_CHARS} characters",
                 value)  # fmt: skip


def _run(value: object, event: Event, names: _Names) -> str | None:
    return None if is_run_id(value) else _must("run", "a run id, 8 lowercase hex digits", value)


def _job(value: object, event: Event, names: _Names) -> str | None:
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value >= 0
        and (names is None or value < len(names))
    ):
        return None
    if names is None:
        return _must("job", "a job index, a whole number 0 or more", value)
    return _must("job", f"a job index of this plan, a whole number 0 or more below {len(names)}",
                 value)  # fmt: skip


def _job_id(value: object, event: Event, names: _Names) -> str | None:
    return None if is_job_id(value) else _must("job_id", _JOB_ID_FORM, value)


def _how(value: object, event: Event, names: _Names) -> str | None:
    if value in HOWS and isinstance(value, str):
        return None
    return _must("how", f"one of {', '.join(map(json_words, HOWS))}", value)


def _job_ids(value: object, event: Event, names: _Names) -> str | None:
    if not isinstance(value, list):
        return _must("job_ids", f"a list of job ids, each {_JOB_ID_FORM}", value)
    for index, item in enumerate(value):
        if not is_job_id(item):
            return f"'job_ids' item {index} must be {_JOB_ID_FORM} (got {json_words(item)})"
    return None


_FORMS = {"format": _format, "plan_id": _plan_id, "name": _name, "run": _run, "job": _job,
          "job_id": _job_id, "how": _how, "job_ids": _job_ids, "message": _message}  # fmt: skip


class _Folder:
    """The state of a journal, line by line; each line checked against those before it."""

    def __init__(
        self, start: JournalState, path: str, plan_id: str | None, job_names: _Names = None
    ) -> None:
        self.path, self.expected_plan, self.job_names = path, plan_id, job_names
        self.plan_id, self.cancelled, self.count = start.plan_id, start.cancelled, start.events
        self.run = start.run
        self.submitted = dict(start.submitted)
        self.adopted_runs = dict(start.adopted_runs)
        self.cut_off = set(start.cut_off)
        self.refused = dict(start.refused)

    def add(self, event: Event, where: str) -> None:
        self.count += 1
        kind = event["event"]
        if kind == "header":
            plan_id = event["plan_id"]
            if self.expected_plan is not None and plan_id != self.expected_plan:
                raise JournalError(
                    f"{where}this is the journal of plan {plan_id}, not of this plan "
                    f"({self.expected_plan}); give another --journal"
                )
            if self.plan_id is not None and plan_id != self.plan_id:
                raise JournalError(
                    f"{where}'plan_id' must be {json_words(self.plan_id)}, the plan of the header "
                    f"before, as a journal holds one plan's lines (got {json_words(plan_id)})"
                )
            if self.run is not None and event["run"] != self.run:
                raise JournalError(
                    f"{where}'run' must be {json_words(self.run)}, the run of the header "
                    f"before, as a journal holds one run (got {json_words(event['run'])})"
                )
            self.plan_id, self.run = plan_id, event["run"]
            return
        if self.plan_id is None:
            raise JournalError(
                f"{where}a {json_words(kind)} line comes before the header line "
                "(a journal starts with its header)"
            )
        if kind == "cancelled":
            self.cancelled = True
            return
        job: int = event["job"]
        self.refused.pop(job, None)  # any later line about the job means it was tried again
        if kind == "intent":
            self._check_name(event, where)
            if job not in self.submitted:
                self.cut_off.add(job)
        elif kind == "submitted":
            self.submitted[job] = event["job_id"]
            self.cut_off.discard(job)
            if "run" in event:
                self.adopted_runs[job] = event["run"]
            else:
                self.adopted_runs.pop(job, None)
        else:  # refused
            self.cut_off.discard(job)
            if job not in self.submitted:
                self.refused[job] = event["message"]

    def _check_name(self, event: Event, where: str) -> None:
        """An intent names the job as this run submits it (the plan's name and the run)."""
        if self.job_names is None or self.run is None:
            return
        job: int = event["job"]
        expected = run_job_name(self.job_names[job], self.run)
        if event["name"] != expected:
            raise JournalError(
                f"{where}'name' must be {json_words(expected)}, the name of job {job} of "
                f"this plan in this run (got {json_words(event['name'])})"
            )

    def state(self) -> JournalState:
        return JournalState(
            plan_id=self.plan_id,
            run=self.run,
            submitted=self.submitted,
            adopted_runs=self.adopted_runs,
            cut_off=frozenset(self.cut_off),
            refused=self.refused,
            cancelled=self.cancelled,
            events=self.count,
        )


def fold(events: Iterable[Event], start: JournalState | None = None) -> JournalState:
    """The state after `events`, continuing from `start` (default: an empty journal)."""
    folder = _Folder(start or JournalState(), "journal", None)
    for event in events:
        where = f"journal: event {folder.count + 1}: "
        check_event(event, where)
        folder.add(event, where)
    return folder.state()


def read(
    data: bytes,
    path: str = "journal",
    *,
    plan_id: str | None = None,
    job_names: Sequence[str] | None = None,
) -> JournalState:
    """The state of a whole journal file's bytes; `path` names it in messages.

    With `plan_id` and `job_names` (the plan's, by index), a header of another plan,
    a job index beyond the plan and an intent naming another job (or another run's
    name of it) are refused too.
    """
    end = complete_end(data)
    folder = _Folder(JournalState(), path, plan_id, job_names)
    for number, raw in enumerate(data[:end].split(b"\n")[:-1], start=1):
        where = f"{path}: line {number}: "
        if not raw.isascii():
            column = next(i for i, byte in enumerate(raw) if byte >= 0x80)
            raise JournalError(
                f"{where}byte 0x{raw[column]:02x} at column {column + 1} is not ASCII "
                "(journal lines are ASCII JSON)"
            )
        line = raw.decode("ascii")
        if not line.strip():
            continue
        event = parse_line(line, number, path, job_names)
        folder.add(event, where)
    return folder.state()
