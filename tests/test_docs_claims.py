"""What the user-facing documentation says about the run side and the API (README, "As a
library" and "Command line"; docs/effects.md; the docstrings of `slurmplan.__all__`;
`slurmplan <cmd> --help`), each claim checked against the behaviour with the fake Slurm
of tests/fake_slurm.py and its fake clock."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import threading
from pathlib import Path

import pytest
from fake_slurm import ACCEPT, FATAL
from test_effects_with_fake_slurm import Bench, Cli, _finish, end_jobs

import slurmplan
from slurmplan.compiler.runtime.retry import PollPolicy
from slurmplan.effects.cli import build_parser


def _run(bench: Bench, poll: PollPolicy | None = None) -> slurmplan.Run:
    return slurmplan.Run(bench.plan, bench.journal, executor=bench.executor(), poll=poll)


# -- Run.wait(timeout=...) ---------------------------------------------------------


def test_wait_looks_once_more_at_its_timeout_before_saying_not_done(tmp_path: Path) -> None:
    """Run.wait's docstring: "until every job is settled or `timeout` seconds passed (then
    `done` is False)"; docs/effects.md: `wait --timeout` exits 4 when "not every job
    settled within S s".  Polls 5 s apart reach 10 s; the next would come at 15 s, past
    the 12 s timeout.  The job shows COMPLETED from the fourth squeue on: a last look at
    12 s sees it.  Before, wait returned at 10 s, done False, 2 s before its timeout (up
    to --poll-max, 30 s, early)."""
    bench = Bench(tmp_path, "local", 1)
    run = _run(bench, poll=PollPolicy(first=5, max=5))
    run.submit()
    (job_id,) = bench.ids().values()
    bench.slurm.jobs[job_id].timeline = ["PENDING", "PENDING", "PENDING", "COMPLETED"]
    _finish(bench, 0, [0])
    snap = run.wait(timeout=12)
    assert bench.clock.slept == [5.0, 5.0, 2.0]  # the last sleep cut to the deadline
    assert snap.done and snap.succeeded


# -- Run.read(task_id, stream, limit) ----------------------------------------------


def test_read_gives_the_first_limit_bytes_and_refuses_a_negative_limit(tmp_path: Path) -> None:
    """README: `run.read("img_0001", "stderr", limit=65536)  # bytes`; its docstring: "The
    first `limit` bytes".  limit=-1 (the "no limit" of many APIs) gave every byte but the
    last, with no error: a cut log passed for the whole one."""
    bench = Bench(tmp_path, "local", 1)
    run = _run(bench)
    run.submit()
    end_jobs(bench)
    bench.slurm.files[bench.plan.workdir + "/tasks/t0.out"] = "hello world"
    assert run.read("t0") == b"hello world"  # stdout, 64 KiB by default
    assert run.read("t0", limit=0) == b""
    assert run.read("t0", "stdout", 5) == b"hello"
    with pytest.raises(ValueError, match=r"limit must be a number of bytes, 0 or more \(got -1\)"):
        run.read("t0", limit=-1)


# -- Run.fetch(dest, task_ids=None) ------------------------------------------------


def test_fetch_takes_task_ids_as_a_list_and_refuses_one_id_given_as_a_str(
    tmp_path: Path,
) -> None:
    """README: `run.fetch(dest, task_ids=None)`.  One id given bare, `fetch(dest, "t0")`,
    was read as the ids "t" and "0": a "no task 't'" error, or with one-letter ids a
    fetch of other tasks than the one meant."""
    bench = Bench(tmp_path, "local", 1)
    run = _run(bench)
    run.submit()
    end_jobs(bench)
    with pytest.raises(TypeError, match=r"task_ids must be a list of task ids, not one str"):
        run.fetch(tmp_path / "home", "t0")
    assert not (tmp_path / "home").exists()


# -- the command line: wait's and fetch's lines per task -----------------------------


def test_wait_and_fetch_say_how_many_tasks_their_lines_leave_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/effects.md: `wait` gives the reason "in the task's line"; README: fetch's tasks
    that did not end and missing files "are named per task".  Both print 20 lines at
    most; the rest went unsaid, so 25 failed tasks read as 20."""
    bench = Bench(tmp_path, "local", 25)
    cli = Cli(bench, monkeypatch, capsys)
    assert cli("submit")[0] == 0
    for job in range(25):
        bench.slurm.jobs[bench.ids()[job]].timeline = ["COMPLETED"]
        _finish(bench, job, [1])
    code, out, err = cli("wait")
    assert code == 1 and out.startswith("0/25 tasks succeeded")
    assert sum(line.startswith("task t") for line in err.splitlines()) == 20
    assert "... and 5 more task(s) that did not succeed (`slurmplan collect` lists them all)" in err
    code, out, err = cli("fetch", str(tmp_path / "home"))
    assert code == 1 and "50 missing" in out
    assert sum(line.startswith("task t") for line in err.splitlines()) == 20
    assert "... and 5 more task(s) with files not on the cluster" in err


def test_slurmplan_help_lists_the_exit_statuses_of_the_run_commands() -> None:
    """docs/effects.md's exit statuses: 1 for wait and fetch, 3, 4, 130, 141.  `slurmplan
    --help` said "0 ok, 1 check found differences, 2 bad input" only, and described a
    tool that compiles and inspects plans, not one that runs them."""
    text = " ".join(build_parser().format_help().split())
    for said in (
        "1 check found differences, wait: a task did not succeed, fetch: files missing",
        "2 bad input",
        "3 a command failed for good",
        "4 wait --timeout passed",
        "130 interrupted",
        "141 standard output closed",
        "carry it out (submit, status, wait, cancel, collect, fetch, report)",
    ):
        assert said in text, said


def test_the_run_commands_exit_statuses_per_situation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/effects.md, "Exit status", and README, "Exit codes", situation by situation."""
    bench = Bench(tmp_path, "local", 2)
    cli = Cli(bench, monkeypatch, capsys)
    home = str(tmp_path / "home")
    # Nothing submitted: status and collect say so (exit 0), wait and report refuse (2),
    # fetch finds no task that ended in this run (1); none of them makes a journal.
    assert [cli(c)[0] for c in ("status", "collect")] == [0, 0]
    code, _, err = cli("wait")
    assert code == 2 and err.endswith("run `slurmplan submit` first\n")
    assert cli("report")[0] == 2 and cli("fetch", home)[0] == 1
    assert not Path(bench.journal).exists()
    assert cli("submit")[0] == 0
    code, _, err = cli("wait", "--timeout", "0")  # polls once
    assert code == 4 and "not every job settled within 0 s" in err
    assert len(bench.slurm.named("squeue")) == 2  # submit's look for the plan's jobs, one poll
    _finish(bench, 0, [0])
    _finish(bench, 1, [3])
    for job_id in bench.ids().values():
        bench.slurm.jobs[job_id].timeline = ["COMPLETED"]
    code, out, err = cli("wait")
    assert code == 1 and out.startswith("1/2 tasks succeeded")
    assert "task t1: FAILED, exit code 3" in err
    assert [cli(c)[0] for c in ("status", "collect")] == [0, 0]  # they report, not judge
    assert cli("fetch", home, "--task", "nope")[0] == 2  # not a task of the plan
    assert cli("fetch", home)[0] == 1  # the logs are not on the (fake) cluster
    assert cli("cancel")[0] == 0
    code, _, err = cli("submit")  # a cancelled plan is not submitted again
    assert code == 3 and err.startswith("slurmplan submit: ")
    # A run option out of range: 2, at parsing.
    with pytest.raises(SystemExit) as stopped:
        cli("status", "--retry-delay", "nan")
    assert stopped.value.code == 2


# -- status --json and collect --json ----------------------------------------------


def test_status_json_and_collect_json_print_the_documented_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/effects.md: the shapes of `status --json` and `collect --json`, `null` for what
    is missing; a job with no Slurm id has `job_id` null in status, its tasks `""` in
    collect; `signal` SIGTERM for 143; `run` null before the first submit."""
    bench = Bench(tmp_path, "local", 2)
    cli = Cli(bench, monkeypatch, capsys)
    status = json.loads(cli("status", "--json")[1])
    assert status == {
        "plan_id": bench.plan.plan_id,
        "run": None,
        "jobs": [
            {"index": j.index, "name": j.name, "job_id": None, "state": "NOT_SUBMITTED",
             "settled": False, "tasks": 1, "failed_tasks": None, "reason": None}
            for j in bench.plan.jobs
        ],
    }  # fmt: skip
    collected = json.loads(cli("collect", "--json")[1])
    assert collected["run"] is None
    assert collected["tasks"]["t0"] == {
        "exit_code": None, "signal": None, "state": "NOT_SUBMITTED", "job_id": "",
        "started": None, "ended": None, "seconds": None, "reason": None,
        "stdout": f"{bench.plan.workdir}/tasks/t0.out",
        "stderr": f"{bench.plan.workdir}/tasks/t0.err",
    }  # fmt: skip
    bench.slurm.replies = [ACCEPT, FATAL]
    assert cli("submit")[0] == 3  # job 1 refused for good
    ids = bench.ids()
    bench.slurm.jobs[ids[0]].timeline = ["TIMEOUT"]
    _finish(bench, 0, [143])
    status = json.loads(cli("status", "--json")[1])
    assert status["run"] == bench.run()
    job0, job1 = status["jobs"]
    assert (job0["job_id"], job0["state"], job0["settled"], job0["failed_tasks"]) == (
        ids[0], "TIMEOUT", True, 1,
    )  # fmt: skip
    assert (job1["job_id"], job1["state"], job1["settled"]) == (None, "REFUSED", True)
    assert job1["reason"].startswith("sbatch refused it: sbatch: error:")
    tasks = json.loads(cli("collect", "--json")[1])["tasks"]
    t0, t1 = tasks["t0"], tasks["t1"]
    assert (t0["exit_code"], t0["signal"], t0["state"], t0["job_id"]) == (
        143, "SIGTERM", "TIMEOUT", ids[0],
    )  # fmt: skip
    assert (t0["started"], t0["ended"], t0["seconds"], t0["reason"]) == (1000, 1007, 7, None)
    assert (t1["job_id"], t1["state"], t1["exit_code"]) == ("", "REFUSED", None)
    assert t1["reason"] == job1["reason"]


# -- the API's errors and snapshots (README, "As a library") --------------------------


def test_poll_before_submit_runs_nothing_and_wait_raises_not_submitted(tmp_path: Path) -> None:
    """Run.run_id: "None before the first submit"; a poll reads the journal, which does not
    exist yet, and makes none; Run.wait of jobs not submitted raises NotSubmitted, as the
    command line's `wait` exits 2 (docs/effects.md, NOT_SUBMITTED)."""
    bench = Bench(tmp_path, "local", 2)
    run = _run(bench)
    snap = run.poll()
    assert (snap.run, run.run_id, snap.done, snap.succeeded) == (None, None, False, False)
    assert {t.state for t in snap.tasks.values()} == {"NOT_SUBMITTED"}
    assert bench.slurm.commands == [] and not Path(bench.journal).exists()
    with pytest.raises(slurmplan.NotSubmitted, match="2 of 2 jobs are not submitted yet"):
        run.wait(timeout=600)
    assert issubclass(slurmplan.NotSubmitted, slurmplan.SlurmplanError)


def test_a_lost_journal_with_jobs_queued_raises_jobs_in_slurm_and_adopt_takes_them(
    tmp_path: Path,
) -> None:
    """README: "a lost journal with jobs still queued raises `slurmplan.JobsInSlurm`
    (`run.submit(adopt=True)` takes them in)"; docs/effects.md: nothing is submitted."""
    bench = Bench(tmp_path, "local", 2)
    _run(bench).submit()
    ids = sorted(bench.ids().values())
    os.unlink(bench.journal)
    run = _run(bench)
    with pytest.raises(slurmplan.JobsInSlurm) as caught:
        run.submit()
    assert isinstance(caught.value, slurmplan.Interrupted)
    assert all(job_id in str(caught.value) for job_id in ids)
    report = run.submit(adopt=True)
    assert (report.adopted, report.submitted, report.total) == (2, 0, 2)
    assert report.adopted_from is not None and report.adopted_from != run.run_id
    assert sorted(bench.ids().values()) == ids and len(bench.slurm.jobs) == 2


def test_a_run_whose_journal_was_removed_raises_journal_lost_on_its_next_poll(
    tmp_path: Path,
) -> None:
    """README: "A `Run` watches one run: if its journal is removed, or holds another run,
    its next poll raises `slurmplan.JournalLost`" (the command line: exit 3)."""
    bench = Bench(tmp_path, "local", 1)
    run = _run(bench)
    run.submit()
    run.poll()
    os.unlink(bench.journal)
    with pytest.raises(slurmplan.JournalLost, match="is gone or empty"):
        run.poll()
    assert issubclass(slurmplan.JournalLost, slurmplan.Interrupted)


def test_execution_error_carries_argv_exit_code_and_stderr_tail(tmp_path: Path) -> None:
    """README: `slurmplan.ExecutionError` (its `argv`, `exit_code` and `stderr_tail`);
    its docstring: str() quotes the command as a person would type it."""
    bench = Bench(tmp_path, "local", 1)
    bench.slurm.replies = [FATAL]
    with pytest.raises(slurmplan.ExecutionError) as caught:
        _run(bench).submit()
    error = caught.value
    assert error.argv[0] == "sbatch" and error.exit_code == 1
    assert "Invalid partition name specified" in error.stderr_tail
    assert str(error).startswith("command failed (exit 1): sbatch --parsable --job-name=")
    assert "Traceback" not in str(error) and "None" not in str(error)


def test_on_change_gets_a_snapshot_first_and_on_each_change_of_a_jobs_state(
    tmp_path: Path,
) -> None:
    """Run.wait's docstring: "`on_change(snapshot)` first and on each change"; README's
    `snap.done  # every job settled`."""
    bench = Bench(tmp_path, "local", 1)
    run = _run(bench, poll=PollPolicy(first=1, max=1))
    run.submit()
    (job_id,) = bench.ids().values()
    bench.slurm.jobs[job_id].timeline = ["PENDING", "PENDING", "RUNNING", "COMPLETED"]
    _finish(bench, 0, [0])
    seen: list[slurmplan.Snapshot] = []
    snap = run.wait(timeout=600, on_change=seen.append)
    assert [s.jobs[0].state for s in seen] == ["PENDING", "RUNNING", "COMPLETED"]
    assert [s.done for s in seen] == [False, False, True] and snap.done and snap.succeeded
    assert run.polls == 4 and seen[-1].tasks["t0"].exit_code == 0


def test_wait_async_calls_on_change_in_its_worker_thread(tmp_path: Path) -> None:
    """README: wait_async "runs `wait` in a worker thread"; on_change is called there, not
    on the event loop (a callback that touches the loop must use call_soon_threadsafe)."""
    bench = Bench(tmp_path, "local", 1)
    run = _run(bench)
    run.submit()
    end_jobs(bench)
    threads: list[int] = []

    async def main() -> slurmplan.Snapshot:
        return await run.wait_async(
            timeout=600, on_change=lambda s: threads.append(threading.get_ident())
        )

    snap = asyncio.run(main())
    assert snap.done and threads and threading.get_ident() not in threads


# -- every user-facing feature is in the README --------------------------------------


def test_the_readme_names_every_api_name_and_every_command_line_option() -> None:
    """The README is where a user looks: every name of `slurmplan.__all__` and every
    option of every command (`slurmplan <cmd> --help`) appears in it.  Before, 10 API names
    (NotSubmitted, RetryPolicy, SubmitReport, ...) and 8 options (--retries, --timeout,
    --version, ...) were in no line of it."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    missing = [name for name in slurmplan.__all__ if name not in readme]
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for sub in [parser, *commands.values()]:
        for action in sub._actions:
            longest = max(action.option_strings, key=len, default=None)
            if longest not in (None, "--help") and longest not in readme:
                missing.append(f"{sub.prog} {longest}")
    assert missing == []


def test_the_refusals_of_read_and_fetch_are_slurmplan_errors(tmp_path: Path) -> None:
    """SlurmplanError's docstring: "The base of every error slurmplan raises on purpose:
    catch this one to catch them all" (docs/architecture.md, section 7).  fetch's refusal of
    a task the plan does not have, and of a DEST in the workdir, and read's of an unknown
    task were a bare ValueError and KeyError: a server catching SlurmplanError crashed on
    them.  They stay a ValueError and a KeyError too."""
    bench = Bench(tmp_path, "local", 1)
    run = _run(bench)
    run.submit()
    end_jobs(bench)
    with pytest.raises(slurmplan.SlurmplanError, match="no task 'nope'") as caught:
        run.fetch(tmp_path / "home", ["nope"])
    assert isinstance(caught.value, ValueError)
    with pytest.raises(slurmplan.SlurmplanError, match="choose a DEST outside it") as caught:
        run.fetch(bench.plan.workdir + "/home")
    assert isinstance(caught.value, ValueError)
    with pytest.raises(slurmplan.SlurmplanError) as caught:
        run.read("nope")
    assert isinstance(caught.value, KeyError)
    assert str(caught.value) == f"no task 'nope' in plan {bench.plan.plan_id}"  # no quotes


def test_a_malformed_journal_is_a_slurmplan_error_naming_the_file_and_line(
    tmp_path: Path,
) -> None:
    """README: "A malformed journal is refused with exit 2 and the file and line";
    docs/effects.md: "the file, the 1-based line, the field, the expected form and the
    value received, in JSON words".  Through the API: a SlurmplanError with that message,
    before any command runs."""
    bench = Bench(tmp_path, "local", 1)
    run = _run(bench)
    run.submit()
    with open(bench.journal, "a") as journal:
        journal.write(
            '{"event":"submitted","how":"sbatch","job":0,"job_id":null}\n'
        )  # header, intent, id: line 4
    with pytest.raises(slurmplan.SlurmplanError) as caught:
        _run(bench).poll()
    assert str(caught.value).startswith(f"{bench.journal}: line 4: 'job_id' must be")
    assert str(caught.value).endswith("(got null)")


def test_fetch_into_a_dest_that_is_a_file_says_it_is_not_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """README: an error names the file and what is wrong with it.  A DEST that is a
    regular file said "File exists" (mkdir's errno), which reads as a refusal to
    overwrite; the files fetched are not written anywhere."""
    bench = Bench(tmp_path, "local", 1)
    cli = Cli(bench, monkeypatch, capsys)
    assert cli("submit")[0] == 0
    end_jobs(bench)
    log = Path(bench.plan.workdir, "tasks", "t0.out")
    log.parent.mkdir(parents=True)
    log.write_text("log\n")
    dest = tmp_path / "afile"
    dest.write_text("mine\n")
    code, _, err = cli("fetch", str(dest), "--task", "t0")
    assert (code, err) == (3, f"slurmplan fetch: {dest}: not a folder\n")
    assert dest.read_text() == "mine\n"
