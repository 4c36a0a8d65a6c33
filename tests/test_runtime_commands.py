"""compiler.runtime.commands: run-time command lines, pure functions of a plan and job ids
(docs/architecture.md §5).
"""

from __future__ import annotations

import itertools
import shlex
from typing import Any

import pytest
import sample_inputs

from slurmplan.compiler import Plan, SubmitStep, compile_plan
from slurmplan.compiler.layout import cluster_lock_file
from slurmplan.compiler.runtime.commands import (
    cancel_argv,
    chunked,
    list_workdir_argv,
    lookup_by_name_argv,
    poll_argv,
    read_chunks,
    read_files_argv,
    sbatch_argv,
    sbatch_stdin,
    sbatch_words,
    show_job_argv,
    task_outputs,
    under_cluster_lock,
    user_jobs_argv,
)
from slurmplan.compiler.slurm.parsers import SQUEUE_FORMAT, parse_squeue

SUDO = ("sudo", "--set-home", "--non-interactive", "-u", "alice")
IDS = ["101", "102", "103", "104"]


def _plan(transport: str) -> Plan:
    config = sample_inputs.one_task_per_job_config(4, scripts_dir="/srv/scripts")
    profile: dict[str, Any] = {"username": "alice", "transport": transport, "project_dir": "/p"}
    if transport == "ssh":
        profile["ssh"] = {"host": "h", "key_path": "/k/id", "known_hosts_path": "/k/kh"}
    tasks = {"name": "rt", "tasks": [{"id": f"t{i}", "command": ["true"]} for i in range(4)]}
    return compile_plan(config, profile, tasks)


def test_poll_is_one_squeue_for_all_ids() -> None:
    expected = (
        "squeue", "--noheader", "--states=all", "--jobs=101,102,103,104",
        "--format=%i %T %j",
    )  # fmt: skip
    assert poll_argv(_plan("local"), IDS) == expected
    assert poll_argv(_plan("sudo"), IDS) == expected  # squeue runs as the runner
    remote = poll_argv(_plan("ssh"), IDS)
    assert remote[0] == "ssh" and remote[-2] == "--"
    assert tuple(shlex.split(remote[-1])) == expected


def test_poll_format_is_what_the_parser_reads() -> None:
    assert SQUEUE_FORMAT == "%i %T %j"
    # `%i %T %j` prints "<id> <STATE> <name>", which parse_squeue reads back
    assert parse_squeue("101 RUNNING rt.x.0\n")[0].name == "rt.x.0"


def test_show_job_is_one_scontrol_for_one_id_as_the_runner() -> None:
    expected = ("scontrol", "-o", "show", "job", "101")
    assert show_job_argv(_plan("local"), "101") == expected
    assert show_job_argv(_plan("sudo"), "101") == expected  # like squeue: no sudo
    remote = show_job_argv(_plan("ssh"), "101")
    assert remote[0] == "ssh" and remote[-2] == "--"
    assert tuple(shlex.split(remote[-1])) == expected
    with pytest.raises(ValueError, match="one job id"):
        show_job_argv(_plan("local"), "101,102")


def test_cancel_is_one_scancel_for_all_ids_as_the_user() -> None:
    assert cancel_argv(_plan("local"), IDS) == ("scancel", *IDS)
    assert cancel_argv(_plan("sudo"), IDS) == (*SUDO, "scancel", *IDS)
    remote = cancel_argv(_plan("ssh"), IDS)
    assert remote[-1] == "scancel 101 102 103 104"


def test_lookup_by_name_finds_this_runs_jobs_of_the_plan() -> None:
    plan = _plan("sudo")
    names = ",".join(f"rt.{plan.plan_id[:8]}.{i}.5f2a9c1e" for i in (1, 3))
    assert lookup_by_name_argv(plan, [1, 3], "5f2a9c1e") == (
        "squeue", "--noheader", "--states=all", "--user=alice", f"--name={names}",
        "--format=%i %T %j",
    )  # fmt: skip


def test_every_job_of_the_user_for_jobs_of_any_run() -> None:
    assert user_jobs_argv(_plan("sudo")) == (
        "squeue", "--noheader", "--states=all", "--user=alice", "--format=%i %T %j",
    )  # fmt: skip


def test_over_ssh_the_look_ups_that_decide_a_resubmission_take_the_plans_cluster_lock() -> None:
    """`flock <lock> squeue ...`: they wait for a submit round still running on the
    cluster (compiler.runtime.rounds holds the same lock), in the user's home."""
    plan = _plan("ssh")
    lock = f".slurmplan-rt-{plan.plan_id[:12]}.lock"
    assert under_cluster_lock(plan, ("squeue", "-h")) == ("flock", lock, "squeue", "-h")
    names = ",".join(f"rt.{plan.plan_id[:8]}.{i}.5f2a9c1e" for i in (1, 3))
    for argv, only in (
        (lookup_by_name_argv(plan, [1, 3], "5f2a9c1e"), [f"--name={names}"]),
        (user_jobs_argv(plan), []),
    ):
        assert argv[0] == "ssh" and argv[-2] == "--"
        assert shlex.split(argv[-1]) == [
            "flock", lock, "squeue", "--noheader", "--states=all", "--user=alice", *only,
            "--format=%i %T %j",
        ]  # fmt: skip
    # what decides nothing about a resubmission does not wait for a round
    for argv in (poll_argv(plan, IDS), list_workdir_argv(plan), read_files_argv(plan, ["/a"])):
        assert "flock" not in shlex.split(argv[-1])


@pytest.mark.parametrize("transport", ["local", "sudo"])
def test_locally_and_through_sudo_nothing_takes_a_cluster_lock(transport: str) -> None:
    """There the sbatch holds the journal's own lock (Executor.once's `hold`)."""
    plan = _plan(transport)
    assert under_cluster_lock(plan, ("squeue", "-h")) == ("squeue", "-h")
    assert "flock" not in user_jobs_argv(plan)


def test_the_cluster_lock_file_is_one_per_plan_in_the_home_and_never_an_option() -> None:
    assert cluster_lock_file("rt", "0123456789abcdef") == ".slurmplan-rt-0123456789ab.lock"
    assert cluster_lock_file("-n", "0123456789abcdef").startswith(".")  # not flock's -n
    assert "/" not in cluster_lock_file("a.b_c-d", "0123456789abcdef")  # relative: the home


@pytest.mark.parametrize("transport", ["local", "sudo", "ssh"])
def test_sbatch_is_the_plans_submit_step_with_the_runs_name_for_the_job(transport: str) -> None:
    plan = _plan(transport)
    for step in (s for s in plan.steps if isinstance(s, SubmitStep)):
        name = f"--job-name={plan.jobs[step.job].name}.5f2a9c1e"
        words = sbatch_words(plan, step.job, "5f2a9c1e")
        script = () if transport == "sudo" else (plan.jobs[step.job].script_path,)
        assert words == ("sbatch", "--parsable", name, *script)  # sudo: the script on stdin
        stdin = sbatch_stdin(plan, step.job)
        assert stdin == (plan.jobs[step.job].script.encode() if transport == "sudo" else None)
        if transport != "ssh":  # over ssh the words go into a remote round (rounds.py)
            at = step.argv.index("--parsable") + 1
            assert sbatch_argv(plan, step.job, "5f2a9c1e") == (
                *step.argv[:at],
                name,
                *step.argv[at:],
            )


def test_reading_files_uses_ls_and_cat_as_the_user() -> None:
    plan = _plan("sudo")
    done = [job.done_path for job in plan.jobs[:2]]
    assert list_workdir_argv(plan) == (*SUDO, "ls", "-1", "--", plan.workdir)
    assert read_files_argv(plan, done) == (*SUDO, "cat", "--", *done)
    assert done == [f"{plan.workdir}/job-000000.done", f"{plan.workdir}/job-000001.done"]


def test_task_outputs() -> None:
    plan = _plan("local")
    assert task_outputs(plan, "t2") == (
        f"{plan.workdir}/tasks/t2.out",
        f"{plan.workdir}/tasks/t2.err",
    )


def test_poll_and_cancel_refuse_an_empty_id_list() -> None:
    # `squeue --jobs=` with no ids would list every job of the cluster.
    plan = _plan("local")
    with pytest.raises(ValueError, match="at least one job id"):
        poll_argv(plan, [])
    with pytest.raises(ValueError, match="at least one job id"):
        cancel_argv(plan, [])


# --- chunked: the exact budget rule --------------------------------------------------
# A run's cost is the sum of len(item) + 1 (one separator per item, the last one
# included); a run may cost exactly max_chars, one char more starts a new run, and an
# item that alone costs more than max_chars still gets a run of its own.


def _cost(run: tuple[str, ...]) -> int:
    return sum(len(item) + 1 for item in run)


@pytest.mark.parametrize(
    ("items", "max_chars", "expected"),
    [
        # 4 + 1 + 4 + 1 = 10: exactly the budget, one run
        (["aaaa", "bbbb"], 10, (("aaaa", "bbbb"),)),
        # one char less and the second item starts a new run
        (["aaaa", "bbbb"], 9, (("aaaa",), ("bbbb",))),
        # one char more in the second item: the same
        (["aaaa", "bbbbb"], 10, (("aaaa",), ("bbbbb",))),
        # a run that reaches the budget exactly, then the next one
        (["aaaa", "bbbb", "c"], 10, (("aaaa", "bbbb"), ("c",))),
        # one item costing exactly the budget is a run; nothing joins it
        (["x" * 9, ""], 10, (("x" * 9,), ("",))),
        # the separator counts for empty items too
        (["", "", ""], 2, (("", ""), ("",))),
        (["", "", ""], 3, (("", "", ""),)),
        # an item longer than the budget stands alone, before and after others
        (["x" * 20], 10, (("x" * 20,),)),
        (["a", "x" * 20, "b"], 10, (("a",), ("x" * 20,), ("b",))),
        (["x" * 10, "y" * 10], 10, (("x" * 10,), ("y" * 10,))),
        ([], 10, ()),
    ],
)
def test_chunked_budget_boundaries(
    items: list[str], max_chars: int, expected: tuple[tuple[str, ...], ...]
) -> None:
    assert chunked(items, max_chars=max_chars) == expected


@pytest.mark.parametrize("max_chars", range(1, 25))
def test_chunked_runs_are_greedy_and_within_the_budget(max_chars: int) -> None:
    items = ["", "a", "bb", "ccc", "dddd", "eeeee", "x" * 12, "", "y" * 7, "zz", "w" * 30, "q"]
    runs = chunked(items, max_chars=max_chars)
    assert [item for run in runs for item in run] == items
    assert all(runs)  # no empty run
    for run in runs:
        # within the budget, unless one item alone is over it
        assert _cost(run) <= max_chars or len(run) == 1
    for run, after in itertools.pairwise(runs):
        # a run ends only when its next item would take it past the budget
        assert _cost(run) + len(after[0]) + 1 > max_chars


# --- read_chunks: a `cat` of many paths, cut by what they cost as one ssh argument ------
MAX_ARG_STRLEN = 131_072  # Linux: one argument, its NUL included


@pytest.mark.parametrize(
    "name",
    ["job-000001.lane-00.status", "it's here", 'über "quoted" $x', "a'b'c'd'e'f'g'h'i"],
)
def test_read_chunks_keep_each_ssh_command_within_one_argument(name: str) -> None:
    plan = _plan("ssh")
    paths = [f"{plan.workdir}/{k:06d}-{name}" for k in range(4000)]
    runs = read_chunks(paths)
    assert [p for run in runs for p in run] == paths  # in order, each once
    for run, after in itertools.pairwise([*runs, None]):
        remote = read_files_argv(plan, run)[-1]  # the one argument ssh sends
        assert remote == shlex.join(("cat", "--", *run))
        assert len(remote.encode()) < MAX_ARG_STRLEN - 1000
        if after is not None:  # greedy: the next path would not have fitted
            longer = shlex.join(("cat", "--", *run, after[0]))
            assert len(longer.encode()) > 120_000


def test_a_thousand_jobs_markers_are_read_with_one_cat() -> None:
    workdir = "/var/tmp/slurmplan-effects-tests/da955712789f/alice/p/jobs/bench-5b578b89d174"
    markers = [f"{workdir}/job-{k:06d}.done" for k in range(1000)]  # 100 characters each
    assert len(chunked(markers)) == 2
    assert len(read_chunks(markers)) == 1
