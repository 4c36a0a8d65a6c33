"""Task output files (issue 10, "results come home"): a task list names, per task, files
relative to the workdir (the task's folder: the jobs' --chdir) that fetch brings home.
Their form and collisions are refused at compile and again when a plan file is loaded
(docs/architecture.md §2.3, §5)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from sample_inputs import config, profile, tasks

from slurmplan.compiler import CompileError, compile_plan, plan_from_json
from slurmplan.compiler.errors import show
from slurmplan.compiler.passes.fast_check import task_list_is_valid
from slurmplan.effects.cli.plan_files import dump_plan


def _with_outputs(*outputs: list[Any]) -> dict[str, Any]:
    """len(outputs) tasks t0, t1, ..., task k naming outputs[k]."""
    task_list = tasks(len(outputs))
    for task, named in zip(task_list["tasks"], outputs, strict=True):
        task["outputs"] = named
    return task_list


def _problems(task_list: dict[str, Any]) -> list[str]:
    with pytest.raises(CompileError) as caught:
        compile_plan(config(), profile(), task_list)
    return [str(p) for p in caught.value.problems]


GOOD = [
    "result.json",
    "out/a.txt",
    "deep/er/x",
    "ü ✓.json",
    "𝄞 clef",
    ".hidden",
    "a..b",
    "...",
    "x" * 255,
]


@pytest.mark.parametrize("path", GOOD)
def test_relative_normalized_paths_are_taken(path: str) -> None:
    task_list = _with_outputs([path])
    assert task_list_is_valid(task_list)  # the fast check agrees with the schema
    plan = compile_plan(config(), profile(), task_list)
    assert plan.outputs == (("t0", (path,)),)


BAD_FORM = [
    "", "/etc/passwd", "../up", "a/../../b", "a/..", "..", ".", "./a", "a/./b", "a//b", "a/",
    "a\nb", "a\x00b", "tab\there", "raw\udc80byte", "x" * 256, "a/" + "x" * 256, ("d/" * 600)[:-1],
]  # fmt: skip


@pytest.mark.parametrize("path", BAD_FORM)
def test_paths_that_are_not_relative_and_normalized_are_refused_at_their_pointer(
    path: str,
) -> None:
    task_list = _with_outputs(["ok.json"], ["fine", path])
    assert not task_list_is_valid(task_list)
    (problem,) = _problems(task_list)
    assert problem.startswith("tasks: /tasks/1/outputs/1: 'outputs' must be a relative path")
    assert problem.endswith(f"(got {show(path)})")


@pytest.mark.parametrize("value", [None, "result.json", 3, [3], {"a": 1}])
def test_outputs_must_be_a_list_of_texts(value: Any) -> None:
    task_list = _with_outputs(value)
    if value is None:  # null means unset, as everywhere (passes/nulls.py)
        assert compile_plan(config(), profile(), task_list).outputs == ()
        return
    (problem,) = _problems(task_list)
    assert problem.startswith("tasks: /tasks/0/outputs")


def test_at_most_100_outputs_per_task() -> None:
    assert compile_plan(config(), profile(), _with_outputs([f"f{i}" for i in range(100)]))
    (problem,) = _problems(_with_outputs([f"f{i}" for i in range(101)]))
    assert problem.startswith("tasks: /tasks/0/outputs: ") and "at most 100" in problem


@pytest.mark.parametrize(
    "path",
    ["tasks", "tasks/t0.out", "tasks/mine.json", "job-000000.sbatch", "job-000000.out",
     "job-000000.err", "job-000000.done", "job-000000.done.part", "job-000000.lane-00.status",
     "job-1234567.out", "job-000000.out/inside"],
)  # fmt: skip
def test_slurmplans_own_files_in_the_workdir_are_refused(path: str) -> None:
    (problem,) = _problems(_with_outputs([path]))
    assert problem == (
        "tasks: /tasks/0/outputs/0: 'outputs' must not name slurmplan's own files in the "
        "workdir (tasks/..., job-NNNNNN.*: scripts, logs, lane status files, done markers) "
        f"(got {show(path)})"
    )


@pytest.mark.parametrize("path", ["jobs.txt", "job-1.txt", "job-000000", "task/x", "tasksx"])
def test_names_near_slurmplans_own_are_taken(path: str) -> None:
    assert compile_plan(config(), profile(), _with_outputs([path])).outputs


def test_a_file_named_twice_is_refused_within_a_task_and_across_tasks_every_one_at_once() -> None:
    problems = _problems(_with_outputs(["r.json", "x", "r.json"], ["x"], ["d"], ["d/e"]))
    assert problems == [
        "tasks: /tasks/0/outputs/2: 'outputs' must name each file once, in one task: "
        "two tasks writing one file overwrite each other (got 'r.json', already at "
        "/tasks/0/outputs/0)",
        "tasks: /tasks/1/outputs/0: 'outputs' must name each file once, in one task: "
        "two tasks writing one file overwrite each other (got 'x', already at "
        "/tasks/0/outputs/1)",
        "tasks: /tasks/3/outputs/0: 'outputs' must not be inside another output file "
        "(got 'd/e', and 'd' is at /tasks/2/outputs/0)",
    ]


def test_output_problems_come_with_the_other_problems_of_the_inputs() -> None:
    task_list = _with_outputs(["../x"], ["tasks/y"])
    task_list["tasks"][0]["meta"] = {"mem": "1.5G"}
    with pytest.raises(CompileError) as caught:
        compile_plan(config(), profile(), task_list)
    pointers = sorted(p.pointer for p in caught.value.problems)
    assert pointers == ["/tasks/0/meta/mem", "/tasks/0/outputs/0", "/tasks/1/outputs/0"]


# -- the plan ---------------------------------------------------------------------


def test_a_plan_without_outputs_has_no_outputs_key() -> None:
    form = compile_plan(config(), profile(), tasks(2)).to_json()
    assert "outputs" not in form


def test_the_plan_carries_outputs_by_task_in_plan_order_and_reads_them_back() -> None:
    task_list = _with_outputs(["r.json", "logs/a"], [], ["z"])
    plan = compile_plan(config(), profile(), task_list)
    assert plan.outputs == (("t0", ("r.json", "logs/a")), ("t2", ("z",)))
    form = json.loads(dump_plan(plan))
    assert form["outputs"] == {"t0": ["r.json", "logs/a"], "t2": ["z"]}
    assert plan_from_json(form) == plan


def test_outputs_change_the_plan_id() -> None:
    ids = {
        compile_plan(config(), profile(), task_list).plan_id
        for task_list in (tasks(1), _with_outputs(["a"]), _with_outputs(["b"]))
    }
    assert len(ids) == 3


def _loaded_problems(edit: Any) -> list[str]:
    form = json.loads(dump_plan(compile_plan(config(), profile(), _with_outputs(["r"], ["s"]))))
    edited = copy.deepcopy(form)
    edit(edited)
    with pytest.raises(CompileError) as caught:
        plan_from_json(edited)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["outputs"].update(t0=["../../etc/shadow"]),
         "plan: /outputs/t0/0: 't0' must be a relative path"),
        (lambda d: d["outputs"].update(t0=["/etc/shadow"]),
         "plan: /outputs/t0/0: 't0' must be a relative path"),
        (lambda d: d["outputs"].update(t1=["tasks/t0.out"]),
         "plan: /outputs/t1/0: 'outputs' must not name slurmplan's own files"),
        (lambda d: d["outputs"].update(t1=["r"]),
         "plan: /outputs/t1/0: 'outputs' must name each file once, in one task"),
        (lambda d: d["outputs"].update(nope=["x"]),
         "plan: /outputs/nope: 'outputs' must name tasks of the plan (got 'nope')"),
        (lambda d: d["outputs"].update(t0=["r", "q"]),
         "plan: /digest: 'digest' must be the SHA-256"),
        (lambda d: d.pop("outputs"), "plan: /digest: 'digest' must be the SHA-256"),
    ],
)  # fmt: skip
def test_a_plan_file_with_other_outputs_is_refused(edit: Any, expected: str) -> None:
    problems = _loaded_problems(edit)
    assert problems[0].startswith(expected), problems
