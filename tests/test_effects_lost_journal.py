"""A journal lost, emptied or cut short (issue 8, observation 3): `submit` must not send
the plan's jobs a second time while the first ones are still queued in Slurm, and must
stop when its journal vanishes under it.  Against the fake Slurm (tests/fake_slurm.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from fake_slurm import CRASH_BEFORE_SBATCH, TRANSIENT_BUT_CREATED, Crash, FakeJob
from test_effects_with_fake_slurm import TRANSPORTS, Bench, Cli, _finish, end_jobs

import slurmplan
from slurmplan.compiler.runtime.retry import RetryPolicy
from slurmplan.effects.cancel import cancel
from slurmplan.effects.errors import ExecutionError, Interrupted
from slurmplan.effects.execute import Completed, Executor
from slurmplan.effects.submit import submit


def _sbatches(bench: Bench) -> int:
    return len([c for c in bench.slurm.commands if "sbatch" in " ".join(c)])


def _jobs(bench: Bench) -> int:
    return len(bench.slurm.jobs)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_deleted_journal_does_not_send_every_job_again(tmp_path: Path, transport: str) -> None:
    bench = Bench(tmp_path, transport, 10)
    bench.submit()
    assert _jobs(bench) == 10
    ids = sorted(bench.ids().values(), key=int)
    os.unlink(bench.journal)
    with pytest.raises(Interrupted) as caught:
        bench.submit()
    assert _jobs(bench) == 10
    message = str(caught.value)
    for job_id in ids:
        assert job_id in message
    assert bench.plan.jobs[0].name in message and bench.plan.jobs[9].name in message
    assert "slurmplan cancel" in message and "scancel" in message


def test_an_emptied_journal_does_not_send_every_job_again(tmp_path: Path) -> None:
    bench = Bench(tmp_path, "local", 10)
    bench.submit()
    with open(bench.journal, "w"):
        pass
    with pytest.raises(Interrupted):
        bench.submit()
    assert _jobs(bench) == 10 and _sbatches(bench) == 10


def _drop_lines_of(bench: Bench, jobs: tuple[int, ...]) -> None:
    """The journal loses the lines of `jobs` (their intents and ids), keeping its header."""
    lines = Path(bench.journal).read_text().splitlines(keepends=True)
    keep = [line for line in lines if not any(f'"job":{j},' in line for j in jobs)]
    assert len(keep) < len(lines)
    Path(bench.journal).write_text("".join(keep))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_journal_missing_its_last_lines_finds_this_runs_jobs_still_queued(
    tmp_path: Path, transport: str
) -> None:
    bench = Bench(tmp_path, transport, 10)
    bench.submit()
    run, ids, sbatches = bench.run(), bench.ids(), _sbatches(bench)
    _drop_lines_of(bench, (7, 8, 9))
    assert bench.run() == run  # its header is intact: still this run
    report = bench.submit()  # this run's own jobs: recorded, not refused nor sent again
    assert (report.already, report.found, report.submitted) == (7, 3, 0)
    assert bench.ids() == ids and _jobs(bench) == 10 and _sbatches(bench) == sbatches
    for job in (7, 8, 9):
        assert {"event": "submitted", "how": "found", "job": job, "job_id": ids[job]} in (
            bench.events()
        )


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_cancel_with_a_journal_missing_its_last_lines_leaves_none_of_this_runs_jobs(
    tmp_path: Path, transport: str
) -> None:
    """cancel is one scancel of every job of this run: those the cut-short journal lost
    are looked up by this run's names and recorded found, then cancelled with the rest.
    Before, jobs 7-9 kept running while cancel said it was done."""
    bench = Bench(tmp_path, transport, 10)
    bench.submit()
    ids = bench.ids()
    _drop_lines_of(bench, (7, 8, 9))
    cancelled = slurmplan.Run(bench.plan, bench.journal, executor=bench.executor()).cancel()
    assert sorted(cancelled, key=int) == sorted(ids.values(), key=int)
    assert {job.state for job in bench.slurm.jobs.values()} == {"CANCELLED"}
    assert bench.ids() == ids  # recorded, found


def test_cancel_of_a_new_journal_looks_up_nothing(tmp_path: Path) -> None:
    """A journal this cancel began holds a run no job can carry: no squeue by name."""
    bench = Bench(tmp_path, "local", 3)
    assert slurmplan.Run(bench.plan, bench.journal, executor=bench.executor()).cancel() == ()
    assert bench.slurm.commands == []


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("state", ["COMPLETED", "FAILED", "CANCELLED", "forgotten"])
def test_a_job_of_this_run_that_the_journal_lost_is_recorded_in_any_state_never_sent_again(
    tmp_path: Path, transport: str, state: str
) -> None:
    """squeue shows it ended (a terminal row of this run's name), or Slurm forgot it and
    its stdout's start line names this run: either way it ran in this run."""
    bench = Bench(tmp_path, transport, 3)
    bench.submit()
    run, ids = bench.run(), bench.ids()
    for job in range(3):
        bench.slurm.jobs[ids[job]].timeline = [None if state == "forgotten" else state]
        _finish(bench, job, [0])
    _drop_lines_of(bench, (2,))
    report = bench.submit()
    assert bench.slurm.job_named(f"{bench.plan.jobs[2].name}.{run}") == [bench.slurm.jobs[ids[2]]]
    assert bench.ids() == ids and _sbatches(bench) == (1 if transport == "ssh" else 3)
    how = "started" if state == "forgotten" else "found"
    assert {"event": "submitted", "how": how, "job": 2, "job_id": ids[2]} in bench.events()
    assert (report.found, report.ran) == ((0, 1) if state == "forgotten" else (1, 0))


def test_an_earlier_runs_start_line_does_not_stand_for_this_runs_lost_job(
    tmp_path: Path,
) -> None:
    bench = Bench(tmp_path, "local", 2)
    bench.submit()
    ids = bench.ids()
    for job in range(2):
        bench.slurm.jobs[ids[job]].timeline = [None]  # ended, forgotten
        _finish(bench, job, [0])
    name = bench.slurm.jobs[ids[1]].name
    earlier = name[: -len(bench.run())] + "0badc0de"  # another run of the plan wrote it
    bench.slurm.files[bench.plan.jobs[1].stdout] = (
        f"slurmplan-start job=1 slurm_job={ids[1]} name={earlier}\n"
    )
    _drop_lines_of(bench, (1,))
    report = bench.submit()
    assert (report.ran, report.submitted) == (0, 1) and _sbatches(bench) == 3


def test_a_cut_short_journal_still_stops_for_another_runs_queued_job(tmp_path: Path) -> None:
    bench = Bench(tmp_path, "local", 3)
    bench.submit()
    ids = bench.ids()
    _drop_lines_of(bench, (1, 2))
    bench.slurm.jobs["900"] = FakeJob("900", f"{bench.plan.jobs[2].name}.0badc0de", ["RUNNING"])
    bench.slurm.jobs[ids[2]].timeline = [None]  # this run's job 2: forgotten, no start line
    with pytest.raises(Interrupted) as caught:
        bench.submit()
    message = str(caught.value)
    assert "900" in message and "0badc0de" in message and ids[1] not in message.split()
    assert bench.ids()[1] == ids[1]  # this run's job 1 was recorded before stopping
    assert _sbatches(bench) == 3


def test_a_new_run_reads_no_stdout_file_before_it_submits(tmp_path: Path) -> None:
    """No job can carry a run id made by this very submit: the earlier run's stdout files
    (a cat of thousands, on a big plan) are not read for start lines."""
    bench = Bench(tmp_path, "local", 3)
    bench.submit()
    end_jobs(bench)
    os.unlink(bench.journal)
    commands = len(bench.slurm.commands)
    report = bench.submit()
    assert report.submitted == 3
    assert {c[0] for c in bench.slurm.commands[commands:]} == {"squeue", "mkdir", "sbatch"}


def test_finished_jobs_of_an_earlier_run_do_not_block_a_new_run(tmp_path: Path) -> None:
    bench = Bench(tmp_path, "local", 10)
    bench.submit()
    for job in bench.slurm.jobs.values():
        job.timeline = ["COMPLETED"]
    os.unlink(bench.journal)
    report = bench.submit()
    assert report.submitted == 10 and _jobs(bench) == 20


def test_only_the_queued_jobs_block_and_nothing_else_runs(tmp_path: Path) -> None:
    bench = Bench(tmp_path, "local", 4)
    bench.submit()
    ids = bench.ids()
    for job in (0, 1, 3):
        bench.slurm.jobs[ids[job]].timeline = ["FAILED"]
    os.unlink(bench.journal)
    commands = len(bench.slurm.commands)
    with pytest.raises(Interrupted) as caught:
        bench.submit()
    assert bench.slurm.commands[commands:] == [bench.slurm.commands[-1]]  # one squeue
    assert bench.slurm.commands[-1][0] == "squeue"
    assert ids[2] in str(caught.value) and ids[0] not in str(caught.value).split()


def test_the_cli_refuses_with_exit_3_and_cancel_clears_the_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = Bench(tmp_path, "local", 3)
    bench.submit()
    ids = sorted(bench.ids().values(), key=int)
    os.unlink(bench.journal)
    cli = Cli(bench, monkeypatch, capsys)
    code, _, err = cli("submit")
    assert code == 3, err
    assert all(job_id in err for job_id in ids)
    assert _jobs(bench) == 3
    bench.slurm.commands.append(("scancel", *ids))  # as a person would, by hand
    bench.slurm._run(("scancel", *ids), None)
    os.unlink(bench.journal)
    code, _, err = cli("submit")
    assert code == 0, err
    assert _jobs(bench) == 6


@pytest.mark.parametrize("transport", ["local", "sudo"])
def test_a_journal_deleted_while_submit_runs_stops_it(tmp_path: Path, transport: str) -> None:
    bench = Bench(tmp_path, transport, 10)
    created: list[FakeJob] = []

    def hook(job: FakeJob) -> None:
        created.append(job)
        if len(created) == 3:
            os.unlink(bench.journal)

    bench.slurm.after_sbatch = hook
    with pytest.raises(Interrupted) as caught:
        bench.submit()
    assert _jobs(bench) == 3
    assert bench.journal in str(caught.value)


@pytest.mark.parametrize("replace", ["truncate", "replace"])
def test_a_journal_replaced_or_cut_short_while_submit_runs_stops_it(
    tmp_path: Path, replace: str
) -> None:
    bench = Bench(tmp_path, "local", 10)
    created: list[FakeJob] = []

    def hook(job: FakeJob) -> None:
        created.append(job)
        if len(created) == 3:
            text = Path(bench.journal).read_text().splitlines(keepends=True)
            if replace == "truncate":
                with open(bench.journal, "r+") as handle:
                    handle.truncate(len(text[0]))
            else:
                os.unlink(bench.journal)
                Path(bench.journal).write_text(text[0])

    bench.slurm.after_sbatch = hook
    with pytest.raises(Interrupted):
        bench.submit()
    assert _jobs(bench) == 3


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_resuming_with_the_right_journal_never_doubles(tmp_path: Path, transport: str) -> None:
    bench = Bench(tmp_path, transport, 10)
    bench.submit()
    report = bench.submit()
    assert report.already == 10 and _jobs(bench) == 10


# -- adopting a lost run's jobs (submit --adopt) -----------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_adopt_takes_the_lost_runs_jobs_still_in_slurm_and_sends_only_the_rest(
    tmp_path: Path, transport: str
) -> None:
    bench = Bench(tmp_path, transport, 4)
    bench.submit()
    lost_run, first = bench.run(), bench.ids()
    bench.slurm.jobs[first[0]].timeline = ["COMPLETED"]  # ended, still shown by squeue
    bench.slurm.jobs[first[3]].timeline = [None]  # ended and forgotten: not adopted
    os.unlink(bench.journal)
    report = submit(bench.plan, bench.journal, bench.executor(), bench.notes, adopt=True)
    assert (report.adopted, report.adopted_from, report.submitted) == (3, lost_run, 1)
    ids = bench.ids()
    assert {j: ids[j] for j in (0, 1, 2)} == {j: first[j] for j in (0, 1, 2)}
    assert ids[3] != first[3] and _jobs(bench) == 5
    assert bench.run() != lost_run  # a new run, holding the lost run's jobs
    assert {
        "event": "submitted", "how": "adopted", "job": 1, "job_id": first[1], "run": lost_run
    } in bench.events()  # fmt: skip
    # now the new journal reaches them: one scancel for all
    ids_cancelled = cancel(bench.plan, bench.journal, bench.executor(), bench.notes)
    assert set(ids_cancelled) == set(ids.values())


def test_adopted_jobs_that_ran_to_the_end_are_completed_not_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An adopted job's script names its own run (the lost one) in its marker and lane
    files: the journal records that run with the adoption, and they count for it.
    Before, every task of an adopted job that exited 0 was LOST and wait exited 1."""
    bench = Bench(tmp_path, "local", 2)
    bench.submit()
    lost_run = bench.run()
    os.unlink(bench.journal)
    cli = Cli(bench, monkeypatch, capsys)
    assert cli("submit", "--adopt")[0] == 0
    assert {"event": "submitted", "how": "adopted", "job": 0, "job_id": bench.ids()[0],
            "run": lost_run} in bench.events()  # fmt: skip
    end_jobs(bench)
    code, out, err = cli("wait")
    assert code == 0 and "2/2 tasks succeeded" in out, (code, out, err)


def test_adopt_refuses_jobs_of_two_runs_and_submits_nothing(tmp_path: Path) -> None:
    bench = Bench(tmp_path, "local", 2)
    bench.submit()
    os.unlink(bench.journal)
    bench.slurm.jobs["900"] = FakeJob("900", f"{bench.plan.jobs[1].name}.0badc0de", ["RUNNING"])
    with pytest.raises(Interrupted, match="jobs of 2 runs are queued"):
        submit(bench.plan, bench.journal, bench.executor(), bench.notes, adopt=True)
    assert _jobs(bench) == 3 and _sbatches(bench) == 2


def test_the_cli_says_how_many_jobs_it_adopted_and_from_which_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = Bench(tmp_path, "local", 2)
    bench.submit()
    lost_run = bench.run()
    os.unlink(bench.journal)
    cli = Cli(bench, monkeypatch, capsys)
    code, _, err = cli("submit")
    assert code == 3 and "--adopt" in err
    code, out, _ = cli("submit", "--adopt")
    assert code == 0 and f"2 adopted from run {lost_run}" in out


def test_two_submits_of_one_journal_send_a_cut_off_job_once(tmp_path: Path) -> None:
    """A cut-off intent for job 0; two submits start at once.  Q looks job 0 up (no
    trace) and leaves the lock for its steps; P then writes its own intent, and its
    sbatch creates the job but times out.  Q's round must look job 0 up again (another
    process wrote the journal since): it finds P's job, and sends none.  Before, Q
    trusted its own look-up, sent job 0 a second time, and P's copy was in no journal
    (cancel never reached it)."""
    bench = Bench(tmp_path, "local", 1)
    bench.slurm.replies = [CRASH_BEFORE_SBATCH]
    with pytest.raises(Crash):
        bench.submit()
    p_ran: list[bool] = []

    def q_runner(argv: tuple[str, ...], **kwargs: Any) -> Completed:
        if argv[0] == "mkdir" and not p_ran:  # Q's steps, outside the lock: P runs now
            p_ran.append(True)
            bench.slurm.replies = [TRANSIENT_BUT_CREATED]
            with pytest.raises(ExecutionError):
                submit(bench.plan, bench.journal, bench.executor(retries=0), bench.notes)
            bench.slurm.replies = []
        return bench.slurm(argv, **kwargs)

    q = Executor(policy=RetryPolicy(retries=0), runner=q_runner, clock=bench.clock,
                 sleep=bench.clock.sleep)  # fmt: skip
    submit(bench.plan, bench.journal, q, bench.notes)
    assert p_ran and bench.copies(0) == 1, [j.job_id for j in bench.slurm.jobs.values()]
    (job_id,) = [j.job_id for j in bench.slurm.jobs.values()]
    assert bench.ids() == {0: job_id}


class _Stop(Exception):
    """A submit stopped while it waits for queue room (as by Ctrl-C)."""


def test_two_submits_of_one_journal_keep_max_jobs_in_queue(tmp_path: Path) -> None:
    """max_jobs_in_queue=2.  P counts the queue (room 2) outside the lock; Q then submits
    jobs 0 and 1 and waits for room.  P must count again (Q wrote the journal since its
    count) and wait too; before, it went on with its count and queued jobs 2 and 3: four
    jobs, twice the cap."""
    bench = Bench(tmp_path, "local", 4, submission={"max_jobs_in_queue": 2})
    queued: list[int] = []
    bench.slurm.after_sbatch = lambda job: queued.append(
        sum(1 for j in bench.slurm.jobs.values() if j.state in ("PENDING", "RUNNING"))
    )
    q_ran: list[bool] = []

    def stop(seconds: float) -> None:
        raise _Stop

    def p_runner(argv: tuple[str, ...], **kwargs: Any) -> Completed:
        answer = bench.slurm(argv, **kwargs)
        if "--format=%i" in argv and not q_ran:  # P has its count; Q runs now
            q_ran.append(True)
            q = Executor(policy=RetryPolicy(retries=0), runner=bench.slurm,
                         clock=bench.clock, sleep=stop)  # fmt: skip
            with pytest.raises(_Stop):
                submit(bench.plan, bench.journal, q, bench.notes)
        return answer

    p = Executor(policy=RetryPolicy(retries=0), runner=p_runner, clock=bench.clock, sleep=stop)
    with pytest.raises(_Stop):  # P waits for room too
        submit(bench.plan, bench.journal, p, bench.notes)
    assert q_ran and queued == [1, 2], queued
