"""Errors that say how to fix (issue 11): resource errors point at the field that set
the value and quote it as written; unknown keys suggest the known one; swapped inputs
and a needs_gpu inside a meta are named for what they are."""

from __future__ import annotations

from typing import Any

import pytest
import sample_inputs

from slurmplan.compiler import CompileError, Problem, compile_plan

CONFIG = sample_inputs.config()
PROFILE = sample_inputs.profile("/home/a/p")
TASKS = sample_inputs.tasks(3, name="seg")


def _problems(config: Any = CONFIG, profile: Any = PROFILE, tasks: Any = TASKS) -> list[Problem]:
    with pytest.raises(CompileError) as caught:
        compile_plan(config, profile, tasks)
    return list(caught.value.problems)


def _task_meta(index: int, **meta: Any) -> dict[str, Any]:
    tasks = sample_inputs.tasks(3, name="seg")
    tasks["tasks"][index]["meta"] = meta
    return tasks


def test_a_tasks_memory_above_the_max_points_at_its_meta_as_written() -> None:
    (problem,) = _problems(tasks=_task_meta(2, mem="9G"))
    assert (problem.source.value, problem.pointer) == ("tasks", "/tasks/2/meta/mem")
    assert "max_mem_per_job '8G'" in problem.message
    assert problem.message.endswith("(got '9G')")
    assert "9216" not in problem.message


def test_a_list_metas_cpus_above_the_max_points_at_the_list_meta() -> None:
    (problem,) = _problems(tasks={**TASKS, "meta": {"cpus_per_task": 9}})
    assert (problem.source.value, problem.pointer) == ("tasks", "/meta/cpus_per_task")
    assert "max_cpus_per_job 8" in problem.message and problem.message.endswith("(got 9)")


@pytest.mark.parametrize(
    ("needs_gpu", "pointer"),
    [(False, "/default_slurm_config/mem"), (True, "/gpu_slurm_config/mem")],
)
def test_a_config_memory_above_the_max_points_at_the_config_field(
    needs_gpu: bool, pointer: str
) -> None:
    config = {
        **sample_inputs.config(mem="10240"),
        "gpu_slurm_config": {"mem": "10000M"},
    }
    (problem,) = _problems(config=config, tasks={**TASKS, "needs_gpu": needs_gpu})
    assert (problem.source.value, problem.pointer) == ("config", pointer)
    assert problem.message.endswith("(got '10000M')" if needs_gpu else "(got '10240')")


def test_zero_memory_per_cpu_points_at_the_memory_as_written() -> None:
    tasks = _task_meta(1, mem="1M", cpus_per_task=4)
    config = sample_inputs.config(use_mem_per_cpu=True)
    (problem,) = _problems(config=config, tasks=tasks)
    assert problem.pointer == "/tasks/1/meta/mem"
    assert "(got mem='1M', cpus_per_task=4)" in problem.message


@pytest.mark.parametrize(
    ("where", "key", "known"),
    [
        ("config", ("default_slurm_config", "cpus_per_tsk"), "cpus_per_task"),
        ("config", ("batching_config", "max_mem_per_jobs"), "max_mem_per_job"),
        ("config", ("gpu_slurm_config_",), "gpu_slurm_config"),
        ("profile", ("user_name",), "username"),
        ("tasks", ("tasks", 1, "comand"), "command"),
    ],
)
def test_an_unknown_key_suggests_the_closest_known_one(
    where: str, key: tuple[str | int, ...], known: str
) -> None:
    inputs: dict[str, Any] = {
        "config": sample_inputs.config(),
        "profile": sample_inputs.profile("/home/a/p"),
        "tasks": sample_inputs.tasks(3, name="seg"),
    }
    node = inputs[where]
    for part in key[:-1]:
        node = node[part]
    node[key[-1]] = 1
    problems = _problems(**inputs)
    (problem,) = [p for p in problems if p.pointer.endswith(str(key[-1]))]
    assert f"did you mean '{known}'?" in problem.message


def test_an_unknown_key_like_none_suggests_nothing() -> None:
    config = sample_inputs.config(zzzzzz=1)
    (problem,) = _problems(config=config)
    assert "did you mean" not in problem.message
    assert problem.message.startswith("unknown key 'zzzzzz' (expected one of: ")


@pytest.mark.parametrize("where", [("meta",), ("tasks", 0, "meta"), ("tasks", 0)])
def test_needs_gpu_inside_a_meta_says_where_it_belongs(where: tuple[str | int, ...]) -> None:
    tasks = sample_inputs.tasks(3, name="seg")
    node: Any = tasks
    for part in where[:-1]:
        node = node[part]
    if where[-1] == "meta":
        node[where[-1]] = {"needs_gpu": True, "mem": "1G"}
    else:
        node[where[-1]]["needs_gpu"] = True
    (problem,) = _problems(tasks=tasks)
    assert problem.pointer == "/".join(("", *map(str, where), "needs_gpu"))
    assert "top level of the task list" in problem.message
    assert problem.message.endswith("(got true)")


@pytest.mark.parametrize(
    ("order", "said"),
    [
        (("profile", "config", "tasks"), {"config": "user profile", "profile": "runner config"}),
        (("config", "tasks", "profile"), {"profile": "task list", "tasks": "user profile"}),
        (("tasks", "profile", "config"), {"config": "task list", "tasks": "runner config"}),
    ],
)
def test_swapped_inputs_are_named_in_one_line_each(
    order: tuple[str, str, str], said: dict[str, str]
) -> None:
    inputs = {"config": CONFIG, "profile": PROFILE, "tasks": TASKS}
    problems = _problems(*(inputs[name] for name in order))
    assert {p.source.value: p.pointer for p in problems} == dict.fromkeys(said, "")
    for problem in problems:
        assert f"looks like a {said[problem.source.value]}" in problem.message
        assert "swapped" in problem.message


@pytest.mark.parametrize(
    ("top", "pointer", "said"),
    [
        ({"tasks_per_job": 3, "parallel_tasks_per_job": 3}, "/parallel_tasks_per_job", "cpus"),
        ({"tasks_per_job": 1, "parallel_tasks_per_job": 1}, "/tasks_per_job", "max_num_jobs"),
    ],
)
def test_a_given_batching_that_does_not_fit_points_at_its_field(
    top: dict[str, Any], pointer: str, said: str
) -> None:
    config = sample_inputs.config(cpus_per_task=4)
    config["batching_config"].update(target_num_jobs=2, max_num_jobs=2)
    (problem,) = _problems(config=config, tasks={**TASKS, **top})
    assert (problem.source.value, problem.pointer) == ("tasks", pointer)
    assert said in problem.message


def test_a_scaled_time_overflow_points_at_the_time_per_task_as_written() -> None:
    tasks = {**TASKS, "tasks_per_job": 3, "parallel_tasks_per_job": 1}
    tasks["meta"] = {"time_per_task": "30000000"}
    (problem,) = _problems(tasks=tasks)
    assert (problem.source.value, problem.pointer) == ("tasks", "/meta/time_per_task")
    assert "'30000000'" in problem.message
