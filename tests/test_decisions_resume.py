"""compiler.runtime.resume: what `submit` does next on a fresh or interrupted journal."""

from __future__ import annotations

from typing import Any

import pytest
import sample_inputs

from slurmplan.compiler import MkdirStep, Plan, SubmitStep, UploadStep, WriteStep, compile_plan
from slurmplan.compiler.runtime.commands import chunked
from slurmplan.compiler.runtime.journal_state import (
    JournalState,
    cancelled_event,
    fold,
    header_event,
    intent_event,
    submitted_event,
)
from slurmplan.compiler.runtime.resume import (
    adoption,
    left_to_submit,
    missing_directory,
    needs_lookup,
    not_in_squeue,
    parse_listing,
    parse_queue_count,
    queue_room,
    run_of,
    steps_to_run,
    stray_jobs,
    stray_message,
    trace_cut_off,
    unrecorded_jobs,
    unrecorded_to_read,
)
from slurmplan.compiler.slurm.parsers import parse_squeue, parse_start_lines


def _plan(transport: str = "local", n_tasks: int = 4) -> Plan:
    config = sample_inputs.one_task_per_job_config(100, scripts_dir="/srv/scripts")
    profile: dict[str, Any] = {"username": "alice", "transport": transport, "project_dir": "/p"}
    if transport == "ssh":
        profile["ssh"] = {"host": "h", "key_path": "/k/id", "known_hosts_path": "/k/kh"}
    tasks = {"name": "rs", "tasks": [{"id": f"t{i}", "command": ["true"]} for i in range(n_tasks)]}
    return compile_plan(config, profile, tasks)


def _state(plan: Plan, *events: dict[str, Any]) -> JournalState:
    return fold([header_event(plan.plan_id, plan.name, RUN), *events])


RUN, EARLIER = "5f2a9c1e", "0badc0de"  # this run's id; another run's of the same plan
THIRD = "00000001"  # a third run's


def _named(plan: Plan, job: int, run: str = RUN) -> str:
    return f"{plan.jobs[job].name}.{run}"


def test_a_fresh_journal_runs_every_step() -> None:
    plan = _plan()
    assert steps_to_run(plan, _state(plan)) == plan.steps
    submits = [s for s in plan.steps if isinstance(s, SubmitStep)]
    assert left_to_submit(_state(plan), submits) == submits


def test_resume_skips_the_steps_of_submitted_jobs_but_keeps_the_mkdir() -> None:
    plan = _plan()
    assert len(plan.jobs) == 4
    state = _state(plan, submitted_event(0, "10", "sbatch"), submitted_event(2, "12", "sbatch"))
    steps = steps_to_run(plan, state)
    assert [type(s) for s in steps] == [MkdirStep, WriteStep, WriteStep, SubmitStep, SubmitStep]
    assert [s.job for s in steps if isinstance(s, SubmitStep | WriteStep)] == [1, 3, 1, 3]


def test_nothing_left_when_every_job_is_submitted() -> None:
    plan = _plan(n_tasks=2)
    state = _state(plan, submitted_event(0, "1", "sbatch"), submitted_event(1, "2", "sbatch"))
    assert steps_to_run(plan, state) == ()


def test_an_upload_is_narrowed_to_the_scripts_still_needed() -> None:
    plan = _plan("ssh")
    state = _state(plan, submitted_event(1, "11", "sbatch"))
    uploads = [s for s in steps_to_run(plan, state) if isinstance(s, UploadStep)]
    original = next(s for s in plan.steps if isinstance(s, UploadStep))
    assert len(uploads) == 1
    assert uploads[0].jobs == (0, 2, 3) and uploads[0].argv == original.argv


def test_decisions_per_job() -> None:
    plan = _plan()
    state = _state(plan, submitted_event(0, "10", "sbatch"), intent_event(1, plan.jobs[1].name))
    submits = [s for s in plan.steps if isinstance(s, SubmitStep)]
    assert [s.job for s in left_to_submit(state, submits)] == [1, 2, 3]
    assert needs_lookup(state, [1]) and needs_lookup(state, [2, 1])
    assert not needs_lookup(state, [2, 3]) and not needs_lookup(state, [0])
    assert not needs_lookup(state, [1], traced={1})  # looked up already: no trace of it
    assert fold([cancelled_event(["10"])], state).cancelled


def test_a_cut_off_job_found_by_this_runs_name_is_never_resubmitted() -> None:
    plan = _plan()
    rows = parse_squeue(
        f"77 RUNNING {_named(plan, 1)}\n"
        f"60 COMPLETED {_named(plan, 2, EARLIER)}\n"  # job 2 of an earlier run
    )
    assert not_in_squeue(plan, RUN, [1, 2], rows) == (2,)
    outcome = trace_cut_off(plan, RUN, [1, 2], rows)
    assert outcome.found == {1: "77"}
    assert outcome.resubmit == {2}
    assert outcome.started == {}


def test_a_job_slurm_forgot_whose_stdout_names_this_run_started() -> None:
    plan = _plan()
    starts = parse_start_lines(
        f"slurmplan-start job=3 slurm_job=81 name={_named(plan, 3)}\n"
        "hello from the job\n"
        f"slurmplan-start job=2 slurm_job=60 name={_named(plan, 2, EARLIER)}\n"
    )
    outcome = trace_cut_off(plan, RUN, [2, 3], (), starts)
    assert outcome.started == {3: "81"} and not outcome.found
    assert outcome.resubmit == {2}  # its stdout is an earlier run's


def test_no_trace_means_nothing_ran() -> None:
    plan = _plan()
    outcome = trace_cut_off(plan, RUN, [0], ())
    assert outcome.resubmit == {0}


def test_several_jobs_of_one_name_pick_the_first_and_are_reported() -> None:
    plan = _plan()
    name = _named(plan, 0)
    rows = parse_squeue(f"105 PENDING {name}\n99 COMPLETED {name}\n")
    outcome = trace_cut_off(plan, RUN, [0], rows)
    assert outcome.found == {0: "99"}
    assert outcome.duplicates == {0: ("99", "105")}


def test_through_sudo_the_runner_makes_no_folder_and_writes_no_script() -> None:
    # The scripts go to sbatch on stdin (docs/decisions.md): only the user's mkdir is left.
    sudo = _plan("sudo")
    assert [type(s) for s in sudo.steps] == [MkdirStep] + [SubmitStep] * len(sudo.jobs)
    assert sudo.steps[0].argv[:5] == ("sudo", "--set-home", "--non-interactive", "-u", "alice")


def test_missing_directory_is_gnu_ls_exit_2_only() -> None:
    err = "ls: cannot access '/p/jobs/x': No such file or directory"
    assert missing_directory(2, err)
    assert not missing_directory(2, "ls: cannot open directory '/x': Permission denied")
    assert not missing_directory(1, err)


def test_listing_and_queue_count() -> None:
    assert parse_listing("a\nb c\n\n") == ("a", "b c")
    assert parse_queue_count("1\n2\n3\n") == 3
    assert parse_queue_count("") == 0


@pytest.mark.parametrize(
    ("limit", "queued", "room"), [(None, 50, None), (10, 3, 7), (10, 10, 0), (10, 12, 0)]
)
def test_queue_room(limit: int | None, queued: int, room: int | None) -> None:
    assert queue_room(limit, queued) == room


def test_chunks_keep_order_and_stay_within_the_budget() -> None:
    items = [f"{i:05d}" for i in range(100)]  # 6 chars each with the separator
    runs = chunked(items, max_chars=60)
    assert [x for run in runs for x in run] == items
    assert all(sum(len(x) + 1 for x in run) <= 60 for run in runs)
    assert len(runs) == 10
    assert chunked(items) == (tuple(items),)
    assert chunked([]) == ()


# -- a journal that knows fewer jobs than Slurm (issue 8, observation 3) ----------


def test_the_jobs_without_any_journal_line_are_the_ones_looked_up() -> None:
    plan = _plan()
    assert unrecorded_jobs(plan, _state(plan)) == (0, 1, 2, 3)
    state = _state(
        plan,
        submitted_event(0, "10", "sbatch"),
        intent_event(1, _named(plan, 1)),  # cut off: looked up by trace_cut_off
        submitted_event(2, "12", "started"),
    )
    assert unrecorded_jobs(plan, state) == (3,)
    done = _state(plan, *(submitted_event(j, str(10 + j), "sbatch") for j in range(4)))
    assert unrecorded_jobs(plan, done) == ()


def test_only_queued_or_running_jobs_of_another_run_of_the_plan_block_a_run() -> None:
    plan = _plan()
    names = [job.name for job in plan.jobs]
    rows = parse_squeue(
        f"21 COMPLETED {names[0]}.{EARLIER}\n"
        f"22 RUNNING {names[1]}.{EARLIER}\n"
        f"23 FAILED {names[2]}.{RUN}\n"  # this run's, in any state: traced, never a stray
        f"25 PENDING {names[3]}.{RUN}\n"
        f"26 PENDING {names[3]}.{THIRD}\n"
        f"24 CANCELLED {names[3]}.{EARLIER}\n"
        f"30 RUNNING someone.else.0.{RUN}\n"
        f"31 RUNNING {names[1]}\n"  # no run id: not a name slurmplan gives
        f"32 RUNNING {names[1]}.NOTARUN\n"
        f"33 RUNNING {names[1]}.{RUN}.x\n"
    )
    state = _state(plan)
    strays = stray_jobs(plan, state, [0, 1, 2, 3], rows)
    assert [(s.job, s.job_id, s.state, s.run) for s in strays] == [
        (1, "22", "RUNNING", EARLIER),
        (3, "26", "PENDING", THIRD),
    ]
    assert stray_jobs(plan, state, [0, 2], rows) == ()  # finished jobs: a re-run may go
    assert stray_jobs(plan, state, [3], rows)[0].name == f"{names[3]}.{THIRD}"  # those asked
    assert stray_jobs(plan, state, [1], ()) == ()
    known = _state(plan, submitted_event(3, "26", "adopted"))  # the journal knows it
    assert [s.job_id for s in stray_jobs(plan, known, [1, 3], rows)] == ["22"]
    assert run_of({names[1]: 1}, f"{names[1]}.{EARLIER}") == (1, EARLIER)
    assert run_of({names[1]: 1}, f"{names[2]}.{EARLIER}") is None


def test_unrecorded_jobs_squeue_does_not_show_of_this_run_have_their_stdout_read() -> None:
    plan = _plan()
    rows = parse_squeue(
        f"21 COMPLETED {_named(plan, 0)}\n"  # this run's, shown: found, nothing to read
        f"22 COMPLETED {_named(plan, 1, EARLIER)}\n"  # an earlier run's: says nothing of ours
    )
    assert unrecorded_to_read(plan, RUN, [0, 1, 2], rows, new_run=False) == (1, 2)
    # a run this process began: no job can carry its id, no stdout file is read
    assert unrecorded_to_read(plan, RUN, [0, 1, 2], rows, new_run=True) == ()
    starts = parse_start_lines(f"slurmplan-start job=2 slurm_job=30 name={_named(plan, 2)}\n")
    outcome = trace_cut_off(plan, RUN, [0, 1, 2], rows, starts)
    assert (outcome.found, outcome.started, outcome.resubmit) == ({0: "21"}, {2: "30"}, {1})


def test_the_refusal_names_the_ids_the_jobs_the_run_and_the_ways_on() -> None:
    plan = _plan()
    names = [f"{job.name}.{EARLIER}" for job in plan.jobs]
    rows = parse_squeue(f"22 RUNNING {names[1]}\n25 PENDING {names[3]}\n")
    message = stray_message("p.journal", stray_jobs(plan, _state(plan), [1, 3], rows))
    assert f"job 1 ({names[1]}): 22 RUNNING, of run {EARLIER}" in message
    assert f"job 3 ({names[3]}): 25 PENDING, of run {EARLIER}" in message
    assert "scancel 22 25" in message and "slurmplan cancel" in message
    assert "p.journal" in message and "--journal" in message
    assert f"its header names run {EARLIER}" in message


def test_adoption_takes_every_job_of_the_one_blocking_run_still_shown() -> None:
    plan = _plan()
    names = [job.name for job in plan.jobs]
    rows = parse_squeue(
        f"21 COMPLETED {names[0]}.{EARLIER}\n"  # ended, still shown: adopted with its run
        f"22 RUNNING {names[1]}.{EARLIER}\n"
        f"23 COMPLETED {names[2]}.00000001\n"  # a finished third run: not adopted
        f"24 PENDING {names[3]}.{EARLIER}\n"
    )
    state = _state(plan)
    strays = stray_jobs(plan, state, [0, 1, 2, 3], rows)
    taken = adoption(plan, [0, 1, 2, 3], rows, strays)
    assert (taken.jobs, taken.run, taken.refusal) == ({0: "21", 1: "22", 3: "24"}, EARLIER, None)
    assert adoption(plan, [1], rows, strays).jobs == {1: "22"}  # only the jobs asked about


def test_adoption_refuses_two_runs_or_a_job_twice_in_one() -> None:
    plan = _plan()
    names = [job.name for job in plan.jobs]
    two_runs = parse_squeue(f"22 RUNNING {names[1]}.{EARLIER}\n25 PENDING {names[3]}.{THIRD}\n")
    refused = adoption(plan, [1, 3], two_runs, stray_jobs(plan, _state(plan), [1, 3], two_runs))
    assert refused.jobs == {} and refused.refusal is not None
    assert f"jobs of 2 runs are queued ({THIRD}, {EARLIER})" in refused.refusal
    twice = parse_squeue(f"22 RUNNING {names[1]}.{EARLIER}\n26 PENDING {names[1]}.{EARLIER}\n")
    refused = adoption(plan, [1], twice, stray_jobs(plan, _state(plan), [1], twice))
    assert refused.jobs == {} and refused.refusal is not None
    assert "has job 1 in Slurm more than once (22 26)" in refused.refusal
