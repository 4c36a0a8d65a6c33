"""One run reports every problem of every input (issue 11): a schema problem in one
input hides neither the meaning problems of that input nor those of the others."""

from __future__ import annotations

from typing import Any

import pytest
import sample_inputs

from slurmplan.compiler import CompileError, compile_plan

CONFIG = sample_inputs.config()
PROFILE = sample_inputs.profile("/home/a/p")
TASKS = sample_inputs.tasks(3, name="seg")


def _found(
    config: Any = CONFIG, profile: Any = PROFILE, tasks: Any = TASKS
) -> set[tuple[str, str]]:
    with pytest.raises(CompileError) as caught:
        compile_plan(config, profile, tasks)
    return {(p.source.value, p.pointer) for p in caught.value.problems}


def test_fractals_own_test_config_shows_both_problems_at_once() -> None:
    # fractal-server's test config: no cpus_per_task, and an #SBATCH line for an option
    # with its own field.  Both are wrong; both are reported in one run.
    config = {
        "default_slurm_config": {
            "partition": "main",
            "mem": "1G",
            "extra_lines": ["#SBATCH --account=lab"],
        },
        "batching_config": sample_inputs.BATCHING,
    }
    assert _found(config=config) == {
        ("config", "/default_slurm_config/cpus_per_task"),
        ("config", "/default_slurm_config/extra_lines/0"),
    }


def test_schema_and_meaning_problems_of_all_three_inputs_together() -> None:
    config = {
        **CONFIG,
        "default_slurm_config": {**CONFIG["default_slurm_config"], "qos": "a b"},  # schema
        "batching_config": {**CONFIG["batching_config"], "target_num_jobs": 50},  # > max
        "user_local_exports": {"A": "../x"},  # meaning: climbs out
    }
    profile = {**PROFILE, "username": "-x", "transport": "ssh"}  # schema; ssh missing
    tasks = {
        **TASKS,
        "name": "a b",  # schema
        "tasks_per_job": 2,  # meaning: without parallel_tasks_per_job
        "tasks": [
            {"id": "a", "command": ["true"], "meta": {"mem": "1.5G"}},  # schema
            {"id": "a", "command": ["true"]},  # meaning: a repeated id
            {"id": "b", "command": [], "meta": {"extra_lines": ["#SBATCH --mem=1G"]}},  # both
            "not a task",  # schema
        ],
    }
    assert _found(config, profile, tasks) == {
        ("config", "/default_slurm_config/qos"),
        ("config", "/batching_config/target_num_jobs"),
        ("config", "/user_local_exports/A"),
        ("profile", "/username"),
        ("profile", "/ssh"),
        ("tasks", "/name"),
        ("tasks", "/parallel_tasks_per_job"),
        ("tasks", "/tasks/0/meta/mem"),
        ("tasks", "/tasks/1/id"),
        ("tasks", "/tasks/2/command"),
        ("tasks", "/tasks/2/meta/extra_lines/0"),
        ("tasks", "/tasks/3"),
    }


def test_a_missing_section_hides_nothing_else() -> None:
    config = {
        "default_slurm_config": {
            **CONFIG["default_slurm_config"],
            "time": "1",
            "time_per_task": "2",
        }
    }
    profile = {"transport": "local", "project_dir": "/home/a b%/p"}  # no username
    assert _found(config, profile, {"tasks": TASKS["tasks"]}) == {
        ("config", "/batching_config"),
        ("config", "/default_slurm_config/time_per_task"),
        ("profile", "/username"),
        ("profile", "/project_dir"),
        ("tasks", "/name"),
    }


@pytest.mark.parametrize("bad", [None, [], "x", 3])
def test_inputs_of_no_shape_at_all_hide_nothing_of_the_others(bad: Any) -> None:
    tasks = {**TASKS, "tasks_per_job": 2}
    found = _found(config=bad, tasks=tasks)
    assert ("config", "") in found
    assert ("tasks", "/parallel_tasks_per_job") in found


def test_resource_problems_come_with_meaning_problems() -> None:
    # A task whose memory exceeds the max is found beside a bad extra line elsewhere.
    tasks = {
        **TASKS,
        "meta": {"extra_lines": ["#SBATCH --ntasks=2"]},
        "tasks": [*TASKS["tasks"], {"id": "big", "command": ["true"], "meta": {"mem": "9G"}}],
    }
    assert _found(tasks=tasks) == {("tasks", "/meta/extra_lines/0"), ("tasks", "/tasks/3/meta/mem")}


def test_zero_memory_per_cpu_hides_no_batching_problem() -> None:
    config = sample_inputs.config(use_mem_per_cpu=True)
    tasks = {
        **TASKS,
        "tasks": [
            {"id": "a", "command": ["true"], "meta": {"mem": "2M", "cpus_per_task": 4}},
            {"id": "b", "command": ["true"], "meta": {"cpus_per_task": 9}},
        ],
    }
    assert _found(config=config, tasks=tasks) == {
        ("tasks", "/tasks/0/meta/mem"),
        ("tasks", "/tasks/1/meta/cpus_per_task"),
    }


def test_problems_come_input_by_input() -> None:
    config = {**CONFIG, "batching_config": {**CONFIG["batching_config"], "target_num_jobs": 50}}
    tasks = {**TASKS, "name": "a b"}
    with pytest.raises(CompileError) as caught:
        compile_plan(config, {**PROFILE, "username": "-x"}, tasks)
    sources = [p.source.value for p in caught.value.problems]
    assert sources == ["config", "profile", "tasks"]  # the config's meaning problem first
