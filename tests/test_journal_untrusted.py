"""A journal is untrusted input (issue 8): any malformed journal is refused with exit 2
and one message naming the file, the line, the field, the expected form and the value
received (in JSON words), before any command runs; never a traceback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import sample_inputs

from slurmplan.compiler import Plan, compile_plan
from slurmplan.compiler.runtime import journal_state
from slurmplan.compiler.runtime.journal_state import JournalError, encode, header_event
from slurmplan.effects.cli import main
from slurmplan.effects.cli.plan_files import dump_plan
from slurmplan.effects.journal import Journal, read_state

COMMANDS = ["submit", "status", "wait", "collect", "cancel"]


def _plan(name: str = "ju", n: int = 3) -> Plan:
    config = sample_inputs.one_task_per_job_config(10)
    profile = {"username": "alice", "transport": "local", "project_dir": "/nonexistent/p"}
    tasks = {"name": name, "tasks": [{"id": f"t{i}", "command": ["true"]} for i in range(n)]}
    return compile_plan(config, profile, tasks)


PLAN = _plan()
RUN = "5f2a9c1e"
OTHER = _plan("other")
OTHER_NAME = OTHER.jobs[0].name


def _header(**changes: Any) -> bytes:
    event: dict[str, Any] = {**header_event(PLAN.plan_id, PLAN.name, RUN), **changes}
    return json.dumps({k: v for k, v in event.items() if v is not _DROP}).encode() + b"\n"


_DROP = object()


def _line(event: object) -> bytes:
    return json.dumps(event).encode() + b"\n"


HEADER = _header()
INTENT0 = encode(journal_state.intent_event(0, f"{PLAN.jobs[0].name}.{RUN}"))

# (id, journal bytes, the line named, words the message must hold)
BAD: list[tuple[str, bytes, int, list[str]]] = [
    ("header-without-plan_id", _header(plan_id=_DROP), 1, ["'plan_id' is required"]),
    ("header-plan_id-null", _header(plan_id=None), 1, ["'plan_id' must be", "(got null)"]),
    ("header-plan_id-number", _header(plan_id=12), 1, ["'plan_id' must be", "(got 12)"]),
    ("header-format-list", _header(format=["x"]), 1, ["'format' must be", '(got ["x"])']),
    ("header-format-other", _header(format="other/9"), 1, ["'format' must be", '"other/9"']),
    ("header-name-null", _header(name=None), 1, ["'name' must be", "(got null)"]),
    ("header-without-name", _header(name=_DROP), 1, ["'name' is required"]),
    (
        "header-unknown-key",
        _header(extra=1),
        1,
        ['unknown key "extra"', '"format", "plan_id", "name"'],
    ),
    (
        "deep-nesting",
        HEADER + b'{"event":' + b"[" * 100000 + b"]" * 100000 + b"}\n",
        2,
        ["nested too deeply"],
    ),
    ("deep-nesting-not-closed", HEADER + b'{"event":' + b"[" * 100000 + b"\n", 2, []),
    (
        "job_id-arabic-indic-digits",
        HEADER + _line({"event": "submitted", "job": 0, "job_id": "١٢", "how": "sbatch"}),
        2,
        ["'job_id' must be", "ASCII digits", r'(got "\u0661\u0662")'],
    ),
    (
        "job_id-empty",
        HEADER + _line({"event": "submitted", "job": 0, "job_id": "", "how": "sbatch"}),
        2,
        ["'job_id' must be", '(got "")'],
    ),
    (
        "job_id-number",
        HEADER + _line({"event": "submitted", "job": 0, "job_id": 12, "how": "sbatch"}),
        2,
        ["'job_id' must be", "(got 12)"],
    ),
    (
        "job_id-21-digits",  # Slurm's ids fit in 20 (the parsers' [0-9]{1,20})
        HEADER + _line({"event": "submitted", "job": 0, "job_id": "1" * 21, "how": "sbatch"}),
        2,
        ["'job_id' must be", "1 to 20 ASCII digits", f'(got "{"1" * 21}")'],
    ),
    (
        "job_id-200000-digits",  # was accepted, then squeue failed on 200 KB of --jobs=
        HEADER + _line({"event": "submitted", "job": 0, "job_id": "9" * 200_000, "how": "sbatch"}),
        2,
        ["'job_id' must be", "1 to 20 ASCII digits", '(got "999', "...)"],
    ),
    (
        "job_id-missing",
        HEADER + _line({"event": "submitted", "job": 0, "how": "sbatch"}),
        2,
        ["'job_id' is required"],
    ),
    (
        "how-unknown",
        HEADER + _line({"event": "submitted", "job": 0, "job_id": "5", "how": "magic"}),
        2,
        ["'how' must be", '(got "magic")'],
    ),
    ("job-string", HEADER + _line({"event": "refused", "job": "0"}), 2, ['(got "0")']),
    ("job-negative", HEADER + _line({"event": "refused", "job": -1}), 2, ["(got -1)"]),
    ("job-bool", HEADER + _line({"event": "refused", "job": True}), 2, ["(got true)"]),
    ("job-float", HEADER + _line({"event": "refused", "job": 1.0}), 2, ["(got 1.0)"]),
    ("job-null", HEADER + _line({"event": "refused", "job": None}), 2, ["(got null)"]),
    ("job-missing", HEADER + _line({"event": "refused"}), 2, ["'job' is required"]),
    (
        "job-beyond-the-plan",
        HEADER + INTENT0 + _line({"event": "refused", "job": 3}),
        3,
        ["'job' must be", "below 3", "(got 3)"],
    ),
    (
        "job-huge-integer",
        HEADER + b'{"event":"refused","job":' + b"9" * 5000 + b"}\n",
        2,
        ["a number with too many digits"],
    ),
    ("intent-name-number", HEADER + _line({"event": "intent", "job": 0, "name": 7}), 2, ["'name'"]),
    (
        "intent-of-another-plan",
        HEADER + encode(journal_state.intent_event(0, OTHER.jobs[0].name)),
        2,
        ["'name' must be", json.dumps(f"{PLAN.jobs[0].name}.{RUN}"), json.dumps(OTHER_NAME)],
    ),
    (
        "cancelled-job_ids-string",
        HEADER + _line({"event": "cancelled", "job_ids": "1 2"}),
        2,
        ["'job_ids' must be", '(got "1 2")'],
    ),
    (
        "cancelled-job_ids-numbers",
        HEADER + _line({"event": "cancelled", "job_ids": ["1", 2]}),
        2,
        ["'job_ids'", "(got 2)"],
    ),
    (
        "cancelled-job_ids-non-ascii",
        HEADER + _line({"event": "cancelled", "job_ids": ["٣"]}),
        2,
        ["'job_ids'", r'"\u0663"'],
    ),
    (
        "cancelled-job_ids-21-digits",
        HEADER + _line({"event": "cancelled", "job_ids": ["1", "2" * 21]}),
        2,
        ["'job_ids' item 1 must be", "1 to 20 ASCII digits"],
    ),
    ("cancelled-without-job_ids", HEADER + _line({"event": "cancelled"}), 2, ["'job_ids'"]),
    ("non-utf8-byte", HEADER + b'{"event":"refused","job":0}\xff\n', 2, ["0xff", "not ASCII"]),
    (
        "non-ascii-in-a-string",
        HEADER + '{"event":"intent","job":0,"name":"é"}\n'.encode(),
        2,
        ["0xc3", "not ASCII"],
    ),
    ("json-list", HEADER + b"[1, 2]\n", 2, ["must be a JSON object", "(got a list)"]),
    ("json-string", HEADER + b'"header"\n', 2, ["must be a JSON object"]),
    ("json-null", HEADER + b"null\n", 2, ["must be a JSON object", "(got null)"]),
    ("garbage", HEADER + b"\x00\x01 garbage\n", 2, ["not JSON"]),
    ("torn-middle-line", HEADER + b'{"event":"intent","jo\n' + INTENT0, 2, ["not JSON"]),
    ("nan", HEADER + b'{"event":"refused","job":NaN}\n', 2, ["NaN is not"]),
    (
        "duplicate-key",
        HEADER + b'{"event":"refused","job":0,"job":1}\n',
        2,
        ['key "job" appears twice'],
    ),
    ("unknown-event", HEADER + _line({"event": "teleported", "job": 0}), 2, ['"teleported"']),
    ("event-missing", HEADER + _line({"job": 0}), 2, ["'event' is required"]),
    ("event-null", HEADER + _line({"event": None}), 2, ["'event' must be", "(got null)"]),
    ("before-the-header", INTENT0 + HEADER, 1, ["before the header"]),
    (
        "another-plans-header",
        encode(header_event(OTHER.plan_id, OTHER.name, RUN)),
        1,
        [f"this is the journal of plan {OTHER.plan_id}, not of this plan ({PLAN.plan_id})"],
    ),
    (
        "a-second-plans-header",
        HEADER + encode(header_event(OTHER.plan_id, OTHER.name, RUN)),
        2,
        [f"this is the journal of plan {OTHER.plan_id}, not of this plan ({PLAN.plan_id})"],
    ),
    (
        "unknown-key",
        HEADER + _line({"event": "refused", "job": 0, "message": "no", "x": 1}),
        2,
        ['unknown key "x"', 'in a "refused" line'],
    ),
]


def _check_message(message: str, path: Path, line: int, words: list[str]) -> None:
    assert message.startswith(f"{path}: line {line}: "), message
    for word in words:
        assert word in message, (word, message)
    assert "None" not in message and "True" not in message and "Traceback" not in message
    assert "\n" not in message.rstrip("\n")


@pytest.mark.parametrize(("data", "line", "words"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_journal_is_refused_naming_the_file_and_the_line(
    tmp_path: Path, data: bytes, line: int, words: list[str]
) -> None:
    path = tmp_path / "p.journal"
    path.write_bytes(data)
    with pytest.raises(JournalError) as caught:
        read_state(str(path), PLAN)
    _check_message(str(caught.value), path, line, words)
    with pytest.raises(JournalError) as again:
        Journal(str(path), PLAN)
    assert str(again.value) == str(caught.value)
    assert path.read_bytes() == data  # a writer neither truncates nor appends


@pytest.fixture
def no_commands(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[object]:
    """Any command started fails the test: a bad journal is refused before anything runs."""
    started: list[object] = []

    def refuse(*args: object, **kwargs: object) -> Any:
        started.append(args)
        raise AssertionError(f"a command was started: {args!r}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("squeue", "sbatch", "scancel", "ls", "cat", "mkdir", "sudo", "ssh", "sh"):
        script = bin_dir / tool
        script.write_text("#!/bin/sh\necho 'must not run' >&2\nexit 99\n")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return started


CLI_CASES = [b for b in BAD if b[0] in {
    "header-without-plan_id", "deep-nesting", "job_id-arabic-indic-digits", "job-beyond-the-plan",
    "non-utf8-byte", "json-list", "another-plans-header", "job-huge-integer",
    "job_id-200000-digits",
}]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", [b[1:] for b in CLI_CASES], ids=[b[0] for b in CLI_CASES])
def test_the_cli_refuses_a_bad_journal_with_exit_2_and_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_commands: list[object],
    command: str,
    case: tuple[bytes, int, list[str]],
) -> None:
    data, line, words = case
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(dump_plan(PLAN))
    journal = tmp_path / "p.journal"
    journal.write_bytes(data)
    status = main([command, str(plan_path), "--journal", str(journal), "--retries", "0"])
    out, err = capsys.readouterr()
    assert status == 2, err
    assert err.count("\n") == 1 and len(err) < 1000, err[:1000]
    _check_message(err, journal, line, words)
    assert not no_commands and journal.read_bytes() == data
    assert "Traceback" not in out


@pytest.mark.parametrize("command", ["status", "collect"])
def test_a_torn_last_line_is_still_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_commands: list[object], command: str
) -> None:
    path = tmp_path / "p.journal"
    for torn in (b'{"event":"submitted","job":0,"job_', b"\xff\xfe garbage", b"[" * 100000):
        path.write_bytes(HEADER + INTENT0 + torn)
        state = read_state(str(path), PLAN)
        assert state.cut_off == {0} and not state.submitted
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(dump_plan(PLAN))
    path.write_bytes(HEADER + b'{"event":"submitted","job":0,"job_')  # nothing to poll
    assert main([command, str(plan_path), "--journal", str(path)]) == 0
    assert not no_commands


def test_a_valid_journal_means_what_it_meant(tmp_path: Path) -> None:
    path = tmp_path / "p.journal"
    lines = [
        HEADER,
        INTENT0,
        b"\n",  # blank lines are skipped, but still counted in line numbers
        encode(journal_state.submitted_event(0, "11", "sbatch")),
        encode(journal_state.intent_event(1, f"{PLAN.jobs[1].name}.{RUN}")),
        encode(journal_state.submitted_event(1, "12", "found")),
        encode(journal_state.intent_event(2, f"{PLAN.jobs[2].name}.{RUN}")),
        encode(journal_state.refused_event(2, "sbatch: error: no")),
        encode(journal_state.cancelled_event(["11", "12"])),
    ]
    path.write_bytes(b"".join(lines))
    state = read_state(str(path), PLAN)
    assert dict(state.submitted) == {0: "11", 1: "12"} and state.refused == {2: "sbatch: error: no"}
    assert state.cancelled and state.cut_off == frozenset() and state.events == 8
    assert state.run == RUN
    path.write_bytes(b"".join(lines) + b'{"event":"refused","job":"0"}\n')
    with pytest.raises(JournalError, match=r": line 10: 'job' must be"):
        read_state(str(path), PLAN)
