"""compiler.slurm.parsers and compiler.slurm.states: what Slurm and the job scripts print
(docs/architecture.md §5).
"""

from __future__ import annotations

import pytest

from slurmplan.compiler.slurm.parsers import (
    DoneMarker,
    JobStart,
    ParseError,
    QueuedJob,
    Submitted,
    parse_done_markers,
    parse_lane_files,
    parse_lane_lines,
    parse_sbatch_parsable,
    parse_scontrol_job,
    parse_scontrol_row,
    parse_squeue,
    parse_start_lines,
)
from slurmplan.compiler.slurm.states import TERMINAL_STATES, SlurmState

# --- sbatch --parsable --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stdout", "expected"),
    [
        ("123\n", Submitted(job_id="123", cluster=None)),
        ("123", Submitted(job_id="123", cluster=None)),
        ("123;cluster\n", Submitted(job_id="123", cluster="cluster")),
        ("4567;my-cluster.1\n", Submitted(job_id="4567", cluster="my-cluster.1")),
        ("  89  \n\n", Submitted(job_id="89", cluster=None)),
    ],
)
def test_sbatch_parsable(stdout: str, expected: Submitted) -> None:
    assert parse_sbatch_parsable(stdout) == expected


@pytest.mark.parametrize(
    "stdout",
    [
        "",
        "\n",
        "Submitted batch job 123\n",  # not --parsable output
        "abc\n",
        "12a\n",
        "-1\n",
        "123;clu ster\n",
        "123;a;b\n",
        "sbatch: error: Batch job submission failed: Invalid partition name specified\n",
        "1" * 21 + "\n",  # Slurm's ids fit 20 digits; the journal refuses a longer one
        "\u0661\u0662\n",  # digits, but not ASCII ones
    ],
)
def test_sbatch_garbage(stdout: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_sbatch_parsable(stdout)
    assert "<job id>[;<cluster>]" in str(caught.value)


# --- squeue -------------------------------------------------------------------------------


def test_squeue_rows() -> None:
    stdout = (
        "101 RUNNING hello.0123abcd.0\n"
        "\n"
        "102 PENDING hello.0123abcd.1\n"
        "103 CANCELLED+ hello.0123abcd.2\n"  # some versions mark cancelled-by-user with '+'
        "104 COMPLETED hello.0123abcd.3\n"
    )
    assert parse_squeue(stdout) == (
        QueuedJob(job_id="101", state=SlurmState.RUNNING, name="hello.0123abcd.0"),
        QueuedJob(job_id="102", state=SlurmState.PENDING, name="hello.0123abcd.1"),
        QueuedJob(job_id="103", state=SlurmState.CANCELLED, name="hello.0123abcd.2"),
        QueuedJob(job_id="104", state=SlurmState.COMPLETED, name="hello.0123abcd.3"),
    )


def test_squeue_empty() -> None:
    assert parse_squeue("") == ()
    assert parse_squeue("\n\n") == ()


@pytest.mark.parametrize(
    "line",
    [
        "101 EXPLODED x",  # unknown state
        "101 running x",  # states are upper case
        "101 RUNNING",  # no name
        "abc RUNNING x",
        "101_3 RUNNING x",  # an array element is not one of ours
        "JOBID STATE NAME",  # a header (we ask for --noheader)
    ],
)
def test_squeue_bad_rows(line: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_squeue(f"100 RUNNING ok\n{line}\n")
    assert repr(line) in str(caught.value)


# What `scontrol -o show job 2772` printed on the testbed (Slurm 22.05.8), cut short.
SCONTROL_LINE = (
    "JobId=2772 JobName=wrap UserId=alice(1001) GroupId=alice(1001) MCS_label=N/A "
    "Priority=4294898988 Nice=0 Account=(null) QOS=(null) JobState=COMPLETED Reason=None "
    "Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 "
    "WorkDir=/tmp StdErr=/tmp/x.out StdIn=/dev/null StdOut=/tmp/x.out Power= \n"
)


def test_scontrol_show_job_state() -> None:
    assert parse_scontrol_job(SCONTROL_LINE, "2772") is SlurmState.COMPLETED
    running = SCONTROL_LINE.replace("JobState=COMPLETED", "JobState=RUNNING")
    assert parse_scontrol_job(running, "2772") is SlurmState.RUNNING
    cancelled = SCONTROL_LINE.replace("JobState=COMPLETED", "JobState=CANCELLED+")
    assert parse_scontrol_job(cancelled, "2772") is SlurmState.CANCELLED


def test_scontrol_show_job_name() -> None:
    """The name tells whose job the id is now (settle.this_runs_rows), spaces and all."""
    row = parse_scontrol_row(SCONTROL_LINE, "2772")
    assert (row.job_id, row.state, row.name) == ("2772", SlurmState.COMPLETED, "wrap")
    spaced = SCONTROL_LINE.replace("JobName=wrap", "JobName=my job")
    assert parse_scontrol_row(spaced, "2772").name == "my job"
    unnamed = SCONTROL_LINE.replace("JobName=wrap UserId=alice(1001) ", "")
    assert parse_scontrol_row(unnamed, "2772").name == ""  # no run's name


@pytest.mark.parametrize(
    "stdout",
    [
        "",
        SCONTROL_LINE.replace("JobId=2772", "JobId=2773"),  # another job's line
        SCONTROL_LINE.replace("JobState=COMPLETED", "JobState=NAPPING"),
        SCONTROL_LINE.replace(" JobState=COMPLETED", ""),
        "JobId=2772 JobName=x JobState=RUNNING\nJobId=2772 JobName=x JobState=PENDING\n",
    ],
)
def test_scontrol_show_job_garbage(stdout: str) -> None:
    with pytest.raises(ParseError, match="scontrol"):
        parse_scontrol_job(stdout, "2772")


def test_every_state_parses() -> None:
    for state in SlurmState:
        (row,) = parse_squeue(f"7 {state.value} n\n")
        assert row.state is state


def test_terminal_states_are_the_designs() -> None:
    assert {s.value for s in TERMINAL_STATES} == {
        "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL",
        "BOOT_FAIL", "DEADLINE", "PREEMPTED", "REVOKED", "SPECIAL_EXIT",
    }  # fmt: skip
    assert SlurmState.TIMEOUT.terminal
    for state in ("PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED", "REQUEUED"):
        assert not SlurmState(state).terminal


# --- lane status files --------------------------------------------------------------------


def _entries(*lines: tuple[str, int]) -> tuple[tuple[str, int, str, int, int], ...]:
    return tuple((t, c, "77", 100, 107) for t, c in lines)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("a 0 77 100 107\n", _entries(("a", 0))),
        (
            "a 0 77 100 107\nb 1 77 100 107\nc.2_x-3 255 77 100 107\n",
            _entries(("a", 0), ("b", 1), ("c.2_x-3", 255)),
        ),
        ("a 0 77 100 107\nb 1 77 100", _entries(("a", 0))),  # the last line was cut off
        ("a 0 77 100 107\nb", _entries(("a", 0))),
        ("a 0 77 100 107\n\nc 2 77 100 107\n", _entries(("a", 0), ("c", 2))),  # concatenated
        ("a 0 77 100 107\nbad line without newline", _entries(("a", 0))),
    ],
)
def test_lane_status(text: str, expected: tuple[tuple[str, int, str, int, int], ...]) -> None:
    got = []
    for line, task_id, job_id in parse_lane_lines(text):
        task, code, job, started, ended = line.split(" ")
        assert (task_id, job_id) == (task, job)
        got.append((task, int(code), job, int(started), int(ended)))
    assert tuple(got) == expected


@pytest.mark.parametrize(
    "line",
    [
        "a\n", "a zero 77 1 2\n", "a 0 77 1 2 extra\n", "a b c d e\n", " 0 77 1 2\n",
        "a -1 77 1 2\n", "a 0\n", "a 0 77\n", "a 0 x 1 2\n", "a 0 77 1\n", "a 0  1 2\n",
        "a 0 77 1 2 \n", "a\t0 77 1 2\n", "a/b 0 77 1 2\n", "a 1000 77 1 2\n",
    ],
)  # fmt: skip
def test_lane_status_garbage(line: str) -> None:
    with pytest.raises(ParseError, match="expected '<task id> <exit code> <slurm job id>"):
        parse_lane_lines(f"ok 0 77 1 2\n{line}")


# --- done markers and start lines ---------------------------------------------------------


def test_done_markers() -> None:
    text = (
        "slurmplan-done job=0 slurm_job=70 run=5f2a9c1e tasks=3 failed=0\n"
        "slurmplan-done job=12 slurm_job=82 run= tasks=8 failed=2\n"  # a job named "x." by hand
    )
    first, second = parse_done_markers(text)
    assert first == DoneMarker(job=0, job_id="70", run="5f2a9c1e", tasks=3, failed=0)
    assert first.succeeded
    assert second == DoneMarker(job=12, job_id="82", run="", tasks=8, failed=2)
    assert not second.succeeded
    assert parse_done_markers("") == ()


def test_lane_files_are_cut_at_each_first_line() -> None:
    """Each lane file's first line names its job, Slurm job and run; a file without a
    whole first line names no run and is skipped, as is text before the first."""
    text = (
        "x 0 70 1 2\n"  # before any first line: no file's
        "# slurmplan-lane job=0 slurm_job=70 run=5f2a9c1e\na 0 70 1 2\nb 1 70 1 2\nc 0 7"
        "# slurmplan-lane job=0 slurm_job=70 run=5f2a9c1e\n"  # a lane with no task ended
        "# slurmplan-lane job=0 slurm_j"  # killed as it began
        "# slurmplan-lane job=0 slurm_job=70 run=\nd 0 70 1 2\n"  # a name by hand
        "# slurmplan-lane job=x slurm_job=70 run=5f2a9c1e\ne 0 70 1 2\n"  # not slurmplan's
    )
    files = parse_lane_files(text)
    assert [(f.job, f.job_id, f.run, [t for _, t, _ in f.lines]) for f in files] == [
        (0, "70", "5f2a9c1e", ["a", "b"]),
        (0, "70", "5f2a9c1e", []),
        (0, "70", "", ["d"]),
    ]
    assert parse_lane_files("") == []


def test_start_lines_among_a_jobs_own_output() -> None:
    text = (
        "Loading module x\n"
        "slurmplan-start job=3 slurm_job=81 name=hello.01234567.3.5f2a9c1e\n"
        "slurmplan-start job=3 slurm_job=81 name=\n"  # no name: not a start line
        "slurmplan-start job=4 slurm_job= name=x\n"
        "slurmplan-start job=5 slurm_job=90 name=hello.01234567.5.5f2a9c1e\n"
    )
    assert parse_start_lines(text) == (
        JobStart(job=3, job_id="81", name="hello.01234567.3.5f2a9c1e"),
        JobStart(job=5, job_id="90", name="hello.01234567.5.5f2a9c1e"),
    )


@pytest.mark.parametrize(
    "text",
    [
        "slurmplan-done job=0 tasks=3\n",
        "done\n",
        "slurmplan-done job=x slurm_job=1 tasks=3 failed=0\n",
        "slurmplan-done job=0 slurm_job=1 tasks=3 failed=0 extra\n",
        "slurmplan-done job=0 tasks=3 failed=0\n",  # written before markers named the job
        "slurmplan-done job=0 slurm_job= tasks=3 failed=0\n",
        "slurmplan-done job=0 slurm_job=1 tasks=3 failed=0\n",  # before markers named the run
        "slurmplan-done job=0 slurm_job=1 run=a b tasks=3 failed=0\n",
    ],
)
def test_done_marker_garbage(text: str) -> None:
    with pytest.raises(ParseError):
        parse_done_markers(text)
