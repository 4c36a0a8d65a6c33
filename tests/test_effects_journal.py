"""effects.journal on a real file: fsync'd lines, torn tails cut, another plan refused, locking."""

from __future__ import annotations

import json
import multiprocessing
import re
import time
from pathlib import Path
from typing import Any

import pytest
import sample_inputs

from slurmplan.compiler import Plan, compile_plan
from slurmplan.compiler.runtime.journal_state import JournalError, intent_event, submitted_event
from slurmplan.effects.cli import main
from slurmplan.effects.cli.plan_files import dump_plan
from slurmplan.effects.journal import Journal, read_state


def _plan(name: str = "jr", n: int = 3) -> Plan:
    config = sample_inputs.one_task_per_job_config(10)
    profile = {"username": "alice", "transport": "local", "project_dir": "/nonexistent/p"}
    tasks = {"name": name, "tasks": [{"id": f"t{i}", "command": ["true"]} for i in range(n)]}
    return compile_plan(config, profile, tasks)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_new_journal_starts_with_a_header_and_appends_whole_lines(tmp_path: Path) -> None:
    plan = _plan()
    path = tmp_path / "p.journal"
    with Journal(str(path), plan) as journal, journal.locked():
        journal.append(intent_event(0, f"{plan.jobs[0].name}.{journal.run}"))
        journal.append(submitted_event(0, "42", "sbatch"))
        run = journal.run
    lines = _lines(path)
    assert lines[0]["event"] == "header" and lines[0]["plan_id"] == plan.plan_id
    assert lines[0]["run"] == run and re.fullmatch("[0-9a-f]{8}", run)
    assert [line["event"] for line in lines[1:]] == ["intent", "submitted"]
    assert path.read_bytes().endswith(b"\n")
    assert dict(read_state(str(path), plan).submitted) == {0: "42"}
    with Journal(str(path), plan) as again:  # reopening adds no second header
        assert again.state.events == 3 and again.run == run  # and continues the run
    assert len(_lines(path)) == 3
    with Journal(str(tmp_path / "other.journal"), plan) as other:  # a new journal: a new run
        assert other.run != run


def test_append_outside_the_lock_is_a_bug(tmp_path: Path) -> None:
    with Journal(str(tmp_path / "j"), _plan()) as journal, pytest.raises(RuntimeError):
        journal.append(intent_event(0, "x"))


def test_a_torn_last_line_is_cut_off_by_the_next_writer(tmp_path: Path) -> None:
    plan = _plan()
    path = tmp_path / "p.journal"
    with Journal(str(path), plan) as journal, journal.locked():
        journal.append(intent_event(0, f"{plan.jobs[0].name}.{journal.run}"))
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"event":"submitted","job":0,"job_')  # killed mid-write
    assert read_state(str(path), plan).cut_off == {0}  # readers ignore the torn tail
    with Journal(str(path), plan) as journal, journal.locked():
        journal.append(submitted_event(0, "7", "sbatch"))
    assert (
        path.read_bytes() == whole + b'{"event":"submitted","how":"sbatch","job":0,"job_id":"7"}\n'
    )


def test_the_journal_of_another_plan_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.journal"
    Journal(str(path), _plan("first")).close()
    other = _plan("second")
    with pytest.raises(JournalError, match="not of this plan"):
        Journal(str(path), other)
    with pytest.raises(JournalError, match="not of this plan"):
        read_state(str(path), other)


def test_the_cli_refuses_another_plans_journal_before_running_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = _plan("first"), _plan("second")
    (tmp_path / "a.json").write_text(dump_plan(first))
    (tmp_path / "b.json").write_text(dump_plan(second))
    journal = tmp_path / "shared.journal"
    Journal(str(journal), first).close()
    before = journal.read_bytes()
    status = main(["submit", str(tmp_path / "b.json"), "--journal", str(journal)])
    err = capsys.readouterr().err
    assert status == 2
    assert f"is the journal of plan {first.plan_id}, not of this plan ({second.plan_id})" in err
    assert "Traceback" not in err and journal.read_bytes() == before


def test_a_missing_journal_reads_as_nothing_submitted(tmp_path: Path) -> None:
    state = read_state(str(tmp_path / "none"), _plan())
    assert not state.submitted and state.plan_id is None


def _hold_lock(path: str, plan: Plan, seconds: float) -> None:
    with Journal(path, plan) as journal, journal.locked():
        journal.append(intent_event(1, f"{plan.jobs[1].name}.{journal.run}"))
        time.sleep(seconds)
        journal.append(submitted_event(1, "99", "sbatch"))


def test_a_second_writer_waits_for_the_lock_and_then_sees_the_first_ones_lines(
    tmp_path: Path,
) -> None:
    plan = _plan()
    path = str(tmp_path / "p.journal")
    Journal(path, plan).close()
    other = multiprocessing.get_context("fork").Process(target=_hold_lock, args=(path, plan, 0.5))
    other.start()
    try:
        deadline = time.monotonic() + 10
        while read_state(path, plan).cut_off != {1} and time.monotonic() < deadline:
            time.sleep(0.01)  # the other process holds the lock now
        with Journal(path, plan) as journal, journal.locked() as state:
            assert dict(state.submitted) == {1: "99"}  # not the stale view with job 1 cut off
    finally:
        other.join(timeout=10)


def test_wait_on_a_plan_not_submitted_is_refused_without_running_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(dump_plan(_plan()))
    assert main(["wait", str(plan_path)]) == 2
    err = capsys.readouterr().err
    assert "3 of 3 jobs are not submitted yet (first: job 0)" in err
    assert not Path(f"{plan_path}.journal").exists()  # readers never create the journal
