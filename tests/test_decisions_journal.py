"""compiler.runtime.journal_state: journal lines and what they add up to."""

from __future__ import annotations

import json

import pytest

from slurmplan.compiler.runtime.journal_state import (
    JOURNAL_FORMAT,
    JournalError,
    cancelled_event,
    complete_end,
    encode,
    fold,
    header_event,
    intent_event,
    parse_line,
    read,
    refused_event,
    submitted_event,
)

HEADER = header_event("0123456789abcdef", "hello", "5f2a9c1e")


def _bytes(*events: dict[str, object]) -> bytes:
    return b"".join(encode(e) for e in events)


def test_a_line_is_one_compact_json_object_ending_in_a_newline() -> None:
    line = encode(submitted_event(3, "1234", "sbatch"))
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {"event": "submitted", "job": 3, "job_id": "1234", "how": "sbatch"}


def test_submitted_and_cut_off_jobs() -> None:
    state = read(
        _bytes(
            HEADER,
            intent_event(0, "hello.01234567.0"),
            submitted_event(0, "11", "sbatch"),
            intent_event(1, "hello.01234567.1"),
        )
    )
    assert (state.plan_id, state.run) == ("0123456789abcdef", "5f2a9c1e")
    assert dict(state.submitted) == {0: "11"}
    assert state.cut_off == {1}
    assert state.is_done(0) and not state.is_done(1)
    assert state.job_ids == ("11",)


def test_found_started_and_refused_clear_a_cut_off_intent() -> None:
    state = read(
        _bytes(
            HEADER,
            *(intent_event(j, "a") for j in range(3)),
            submitted_event(0, "8", "found"),
            submitted_event(1, "9", "started"),
            refused_event(2, "no"),
        )
    )
    assert state.cut_off == frozenset()
    assert dict(state.submitted) == {0: "8", 1: "9"} and state.is_done(1)
    assert not state.is_done(2)  # refused: not submitted, to be submitted again
    assert state.refused == {2: "no"}


def test_refused_lasts_until_the_job_is_tried_again() -> None:
    refused = (intent_event(0, "a"), refused_event(0, "no"))
    assert read(_bytes(HEADER, *refused)).refused == {0: "no"}
    again = read(_bytes(HEADER, *refused, intent_event(0, "a")))
    assert (again.refused, again.cut_off) == ({}, {0})  # tried again, cut off
    done = read(_bytes(HEADER, *refused, intent_event(0, "a"), submitted_event(0, "7", "sbatch")))
    assert (done.refused, dict(done.submitted)) == ({}, {0: "7"})
    started = submitted_event(0, "8", "started")
    assert read(_bytes(HEADER, *refused, started)).refused == {}


def test_an_intent_after_a_submission_does_not_undo_it() -> None:
    state = read(_bytes(HEADER, submitted_event(0, "5", "sbatch"), intent_event(0, "a")))
    assert state.cut_off == frozenset() and dict(state.submitted) == {0: "5"}


def test_cancelled() -> None:
    assert read(_bytes(HEADER, cancelled_event(["1", "2"]))).cancelled


def test_a_torn_last_line_is_ignored() -> None:
    data = _bytes(HEADER, intent_event(0, "a")) + encode(submitted_event(0, "9", "sbatch"))[:-5]
    end = complete_end(data)
    assert data[:end].count(b"\n") == 2  # two whole lines
    assert end == len(_bytes(HEADER, intent_event(0, "a")))
    assert read(data).cut_off == {0}


def test_folding_in_parts_equals_folding_at_once() -> None:
    events = [HEADER, intent_event(0, "a"), submitted_event(0, "1", "sbatch"), intent_event(1, "b")]
    at_once = fold(events)
    in_parts = fold(events[2:], fold(events[:2]))
    assert at_once == in_parts


def test_lines_before_the_header_or_unknown_are_refused() -> None:
    with pytest.raises(JournalError, match="before the header"):
        read(_bytes(intent_event(0, "a")))
    with pytest.raises(JournalError, match="'event' must be one of"):
        read(_bytes(HEADER, {"event": "teleported", "job": 0}))
    with pytest.raises(JournalError, match="not JSON"):
        parse_line("{nope", 3)
    with pytest.raises(JournalError, match="'job_id' must be a Slurm job id"):
        read(_bytes(HEADER, submitted_event(0, "12;cluster", "sbatch")))
    with pytest.raises(JournalError, match="'job' must be a job index"):
        read(_bytes(HEADER, {"event": "intent", "job": True, "name": "a"}))


def test_another_format_a_second_plan_or_a_second_run_is_refused() -> None:
    with pytest.raises(JournalError, match="format"):
        read(_bytes({**HEADER, "format": "other/9"}))
    with pytest.raises(JournalError, match="the plan of the header before"):
        read(_bytes(HEADER, header_event("ffffffffffffffff", "x", "5f2a9c1e")))
    with pytest.raises(JournalError, match="'run' must be \"5f2a9c1e\", the run of the header"):
        read(_bytes(HEADER, header_event("0123456789abcdef", "hello", "00000000")))
    with pytest.raises(JournalError, match="'run' must be a run id, 8 lowercase hex"):
        read(_bytes({**HEADER, "run": "5F2A9C1E"}))
    assert HEADER["format"] == JOURNAL_FORMAT


def test_a_journal_of_an_older_format_says_what_to_do() -> None:
    older = (
        b'{"event":"header","format":"slurmplan-journal/1","name":"x",'
        b'"plan_id":"0123456789abcdef"}\n'
    )
    with pytest.raises(JournalError) as caught:
        read(older, "p.journal")
    message = str(caught.value)
    assert message.startswith(
        "p.journal: line 1: 'format' must be \"slurmplan-journal/2\" "
        '(got "slurmplan-journal/1"): it was written by an older slurmplan'
    )
    assert "another --journal" in message


def test_read_names_the_file_and_the_line_in_json_words() -> None:
    data = _bytes(HEADER) + b"\n" + _bytes(submitted_event(0, "\u0661\u0662", "sbatch"))
    with pytest.raises(JournalError) as caught:
        read(data, "p.journal")
    assert str(caught.value) == (
        "p.journal: line 3: 'job_id' must be a Slurm job id, a string of 1 to 20 ASCII digits 0-9 "
        '(got "\\u0661\\u0662")'
    )
    with pytest.raises(JournalError, match=r"^p\.journal: line 1: 'plan_id' is required"):
        read(b'{"event":"header","format":"slurmplan-journal/2","name":"x"}\n', "p.journal")
    deep = b'{"event":' + b"[" * 100000 + b"]" * 100000 + b"}\n"
    with pytest.raises(JournalError, match=r"^p\.journal: line 2: .*nested too deeply"):
        read(_bytes(HEADER) + deep, "p.journal")


def test_read_for_a_plan_refuses_jobs_and_names_not_of_the_plan_and_run() -> None:
    names = ["hello.01234567.0", "hello.01234567.1"]
    good = _bytes(HEADER, intent_event(1, f"{names[1]}.5f2a9c1e"), submitted_event(1, "7", "found"))
    state = read(good, "j", plan_id="0123456789abcdef", job_names=names)
    assert dict(state.submitted) == {1: "7"}
    with pytest.raises(JournalError, match=r"^j: line 2: 'job' must be .* below 2 \(got 2\)$"):
        bad = _bytes(HEADER, refused_event(2, "no"))
        read(bad, "j", plan_id="0123456789abcdef", job_names=names)
    with pytest.raises(
        JournalError, match=r"^j: line 2: 'name' must be \"hello.01234567.0.5f2a9c1e\", the name"
    ):
        read(_bytes(HEADER, intent_event(0, "x")), "j", job_names=names)
    with pytest.raises(JournalError, match=r"in this run \(got \"hello.01234567.0.00000000\"\)"):
        read(_bytes(HEADER, intent_event(0, f"{names[0]}.00000000")), "j", job_names=names)
    with pytest.raises(JournalError, match=r"^j: line 1: this is the journal of plan 0123"):
        read(_bytes(HEADER), "j", plan_id="ffffffffffffffff", job_names=names)


def test_fold_checks_each_event_too() -> None:
    with pytest.raises(JournalError, match=r"^journal: event 2: 'job_ids' item 0 must be"):
        fold([HEADER, cancelled_event(["x"])])


def test_an_adopted_job_keeps_the_run_it_came_from() -> None:
    """Its marker and lane files name the lost run: run_of says which run to expect.
    A later sbatch of the job (this run's) clears it; a run on any other line, or a run
    that is not a run id, is refused."""
    lost = "0badc0de"
    state = read(_bytes(HEADER, submitted_event(0, "8", "adopted", lost)))
    assert (state.run_of(0), state.run_of(1)) == (lost, "5f2a9c1e")
    again = read(_bytes(HEADER, submitted_event(0, "8", "adopted", lost),
                        submitted_event(0, "9", "sbatch")))  # fmt: skip
    assert again.run_of(0) == "5f2a9c1e"
    assert read(_bytes(HEADER, submitted_event(0, "8", "adopted"))).run_of(0) == "5f2a9c1e"
    with pytest.raises(JournalError, match='unknown key "run" in a "submitted" line'):
        read(_bytes(HEADER, submitted_event(0, "8", "sbatch", lost)), "p.journal")
    with pytest.raises(JournalError, match="'run' must be a run id, 8 lowercase hex digits"):
        read(_bytes(HEADER, submitted_event(0, "8", "adopted", "x")), "p.journal")
