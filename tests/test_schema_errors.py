"""Error messages (docs/architecture.md §7): each problem names the field, the expected form and the
value
received, carries a JSON pointer into its input, and all problems come in one CompileError."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import sample_inputs

from slurmplan.compiler import CompileError, Problem, Source, compile_plan

CONFIG = sample_inputs.config()
PROFILE = sample_inputs.profile("/home/a/p")
TASKS = sample_inputs.tasks(5, name="seg")


def _problems(
    config: dict[str, Any] = CONFIG,
    profile: dict[str, Any] = PROFILE,
    tasks: dict[str, Any] = TASKS,
) -> tuple[Problem, ...]:
    with pytest.raises(CompileError) as caught:
        compile_plan(config, profile, tasks)
    error = caught.value
    # The exception's text is the problems, one per line.
    assert str(error).splitlines() == [str(p) for p in error.problems]
    return error.problems


def _one(**inputs: dict[str, Any]) -> Problem:
    problems = _problems(**inputs)
    assert len(problems) == 1, problems
    return problems[0]


def _with(base: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A deep copy of `base` with the value at `path` set (or, for a value of DELETE, removed)."""
    out = copy.deepcopy(base)
    node: Any = out
    for part in path[:-1]:
        node = node[part]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


DELETE = object()


def test_the_designs_own_example() -> None:
    tasks = _with(TASKS, ("tasks", 3, "meta"), {"mem": "1.5G"})
    problem = _one(tasks=tasks)
    assert problem.source is Source.TASKS
    assert problem.pointer == "/tasks/3/meta/mem"
    assert problem.message.startswith("'mem' must be <integer>[K|M|G|T]")
    assert problem.message.endswith("(got '1.5G')")
    assert str(problem) == f"tasks: /tasks/3/meta/mem: {problem.message}"


@pytest.mark.parametrize(
    ("source", "path", "value", "form"),
    [
        ("config", ("default_slurm_config", "cpus_per_task"), 0, "an integer ≥ 1"),
        ("config", ("default_slurm_config", "cpus_per_task"), "2", "an integer ≥ 1"),
        ("config", ("default_slurm_config", "cpus_per_task"), 2.0, "an integer ≥ 1"),
        ("config", ("default_slurm_config", "mem"), "4 GB", "<integer>[K|M|G|T]"),
        ("config", ("default_slurm_config", "time"), "1h", "minutes:seconds"),
        ("config", ("default_slurm_config", "partition"), "main#x", "comma-separated list"),
        ("config", ("default_slurm_config", "account"), "lab x", "letters, digits"),
        ("config", ("default_slurm_config", "shebang_line"), "/bin/bash", "#!"),
        ("config", ("default_slurm_config", "use_mem_per_cpu"), "yes", "true or false"),
        ("config", ("default_slurm_config", "nodes"), "1-", "N or MIN-MAX"),
        ("config", ("batching_config", "max_num_jobs"), -3, "an integer ≥ 1"),
        ("config", ("batching_config", "max_mem_per_job"), "8X", "<integer>[K|M|G|T]"),
        ("config", ("scripts_dir",), "relative/dir", "an absolute path"),
        ("profile", ("username",), "-alice", "not starting with -"),
        ("profile", ("project_dir",), "home/a", "an absolute path"),
        ("profile", ("jobs_dir",), "/home/a/my jobs", "an absolute path of letters"),
        ("profile", ("transport",), "pbs", "'local' or 'sudo' or 'ssh'"),
        ("tasks", ("name",), "a b", "letters, digits"),
        ("tasks", ("name",), "x" * 65, "1 to 64"),
        ("tasks", ("needs_gpu",), "no", "true or false"),
        ("tasks", ("tasks_per_job",), 0, "a positive integer or null"),
        ("tasks", ("tasks", 2, "id"), "a/b", "1 to 128 of letters"),
        ("tasks", ("tasks", 2, "command"), "true", "a list"),
        ("tasks", ("tasks", 2, "command", 0), "", "non-empty"),
        ("tasks", ("tasks", 2, "command", 1), "a\x00b", "without NUL"),
        ("tasks", ("tasks", 2, "env"), {"A": 1}, "any text without NUL"),
        ("tasks", ("tasks", 1, "meta"), {"time": "soon"}, "minutes:seconds"),
    ],
)
def test_message_names_field_form_and_value(
    source: str, path: tuple[str | int, ...], value: Any, form: str
) -> None:
    inputs = {"config": CONFIG, "profile": PROFILE, "tasks": TASKS}
    if path[-1] == "command" or path[-2:-1] == ("command",):
        inputs["tasks"] = _with(TASKS, ("tasks", 2, "command"), ["true", "x"])
    inputs[source] = _with(inputs[source], path, value)
    problem = _one(**inputs)
    pointer_path = path
    if isinstance(value, dict):  # the bad value is one level down
        key = next(iter(value))
        pointer_path = (*path, key)
        value = value[key]
    assert problem.source.value == source
    assert problem.pointer == "".join(f"/{p}" for p in pointer_path)
    field = next(p for p in reversed(pointer_path) if isinstance(p, str))
    assert problem.message.startswith(f"'{field}' must be "), problem.message
    assert form in problem.message
    assert problem.message.endswith(f"(got {value!r})"), problem.message


@pytest.mark.parametrize(
    ("source", "container"),
    [
        ("config", ()),
        ("config", ("default_slurm_config",)),
        ("config", ("batching_config",)),
        ("profile", ()),
        ("tasks", ()),
        ("tasks", ("tasks", 4)),
        ("tasks", ("meta",)),
    ],
)
def test_unknown_keys_are_refused_everywhere(source: str, container: tuple[str | int, ...]) -> None:
    inputs: dict[str, dict[str, Any]] = {"config": CONFIG, "profile": PROFILE, "tasks": TASKS}
    if container == ("meta",):
        inputs["tasks"] = _with(TASKS, ("meta",), {})
    inputs[source] = _with(inputs[source], (*container, "colour"), "blue")
    problem = _one(**inputs)
    assert problem.source.value == source
    assert problem.pointer == "".join(f"/{p}" for p in container) + "/colour"
    assert problem.message.startswith("unknown key 'colour' (expected one of: ")


def test_unknown_keys_in_gpu_config_ssh_and_task_meta() -> None:
    config = _with(CONFIG, ("gpu_slurm_config",), {"partition": "gpu", "gpu_count": 1})
    profile = {
        **PROFILE,
        "transport": "ssh",
        "ssh": {"host": "h", "key_path": "/k", "known_hosts_path": "/kh", "user": "x"},
    }
    tasks = _with(TASKS, ("tasks", 1, "meta"), {"mem": "1G", "memory": "2G"})
    pointers = {(p.source.value, p.pointer) for p in _problems(config, profile, tasks)}
    assert pointers == {
        ("config", "/gpu_slurm_config/gpu_count"),
        ("profile", "/ssh/user"),
        ("tasks", "/tasks/1/meta/memory"),
    }


@pytest.mark.parametrize("key", ["partition", "account"])
def test_task_list_cannot_override_partition_or_account(key: str) -> None:
    for path in (("meta",), ("tasks", 3, "meta")):
        tasks = _with(TASKS, path, {key: "other"})
        problem = _one(tasks=tasks)
        assert problem.pointer == "".join(f"/{p}" for p in path) + f"/{key}"
        assert problem.message == (
            f"'{key}' cannot be overridden by a task list; it is set by the runner config "
            "(got 'other')"
        )


def test_missing_required_keys_point_at_the_missing_key() -> None:
    config = _with(CONFIG, ("default_slurm_config", "mem"), DELETE)
    config = _with(config, ("batching_config", "max_num_jobs"), DELETE)
    profile = _with(PROFILE, ("username",), DELETE)
    tasks = _with(TASKS, ("tasks", 0, "command"), DELETE)
    found = {(p.source.value, p.pointer): p.message for p in _problems(config, profile, tasks)}
    assert found == {
        ("config", "/default_slurm_config/mem"): "'mem' is required (got an object without it)",
        ("config", "/batching_config/max_num_jobs"): (
            "'max_num_jobs' is required (got an object without it)"
        ),
        ("profile", "/username"): "'username' is required (got an object without it)",
        ("tasks", "/tasks/0/command"): "'command' is required (got an object without it)",
    }


def test_empty_task_list() -> None:
    problem = _one(tasks={"name": "x", "tasks": []})
    assert problem.pointer == "/tasks"
    assert problem.message == "'tasks' must be a non-empty list (got [])"


def test_pointer_escapes_slash_and_tilde() -> None:
    # RFC 6901: '~' is written '~0' and '/' is written '~1'.
    config = _with(CONFIG, ("user_local_exports",), {"A/B~C": "x"})
    problem = _one(config=config)
    assert problem.pointer == "/user_local_exports/A~1B~0C"
    assert "shell variable name" in problem.message
    assert problem.message.endswith("(got 'A/B~C')")


def test_inputs_that_are_not_objects() -> None:
    problems = _problems([], "x", None)  # type: ignore[arg-type]
    assert [(p.source.value, p.pointer) for p in problems] == [
        ("config", ""),
        ("profile", ""),
        ("tasks", ""),
    ]
    assert all("an object" in p.message for p in problems)


def test_all_problems_of_all_three_inputs_are_raised_once() -> None:
    config = _with(CONFIG, ("default_slurm_config", "mem"), "lots")
    config = _with(config, ("batching_config", "target_cpus_per_job"), 9)  # > max 8 (semantic)
    profile = _with(PROFILE, ("transport",), "ssh")  # ssh without "ssh" (semantic)
    tasks = _with(TASKS, ("tasks", 4, "id"), "t0")  # duplicate id (semantic)
    tasks = _with(tasks, ("tasks_per_job",), 2)  # without parallel_tasks_per_job (semantic)
    found = {(p.source.value, p.pointer) for p in _problems(config, profile, tasks)}
    assert found == {
        ("config", "/default_slurm_config/mem"),
        # the schema found config's shape wrong; what it accepted is checked for meaning
        ("config", "/batching_config/target_cpus_per_job"),
        ("profile", "/ssh"),
        ("tasks", "/tasks/4/id"),
        ("tasks", "/parallel_tasks_per_job"),
    }


def test_semantic_problems_of_all_inputs_together() -> None:
    config = _with(CONFIG, ("batching_config", "target_cpus_per_job"), 9)
    config = _with(config, ("default_slurm_config", "extra_lines"), ["#SBATCH --mem=1"])
    profile = {**PROFILE, "ssh": {"host": "h", "key_path": "/k", "known_hosts_path": "/kh"}}
    tasks = _with(TASKS, ("tasks", 2, "meta"), {"time": "1", "time_per_task": "2"})
    found = {(p.source.value, p.pointer) for p in _problems(config, profile, tasks)}
    assert found == {
        ("config", "/batching_config/target_cpus_per_job"),
        ("config", "/default_slurm_config/extra_lines/0"),
        ("profile", "/ssh"),
        ("tasks", "/tasks/2/meta/time_per_task"),
    }


def test_one_problem_per_bad_task_even_with_shared_meta() -> None:
    tasks = copy.deepcopy(TASKS)
    for index in (1, 3):
        tasks["tasks"][index]["meta"] = {"mem": "0"}
    pointers = [p.pointer for p in _problems(tasks=tasks)]
    assert pointers == ["/tasks/1/meta/mem", "/tasks/3/meta/mem"]


def test_messages_are_one_line_and_short_even_for_huge_values() -> None:
    tasks = _with(TASKS, ("name",), "bad name\n" * 100)
    problem = _one(tasks=tasks)
    assert "\n" not in problem.message
    assert len(problem.message) < 300


# JSON has no inf or NaN: a number past a float's range (1e400 reads as inf) is told in
# words, never as Python's `inf` (docs/decisions.md, messages quote values in JSON's words).
@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (float("inf"), "a number over 1.8e308"),
        (float("-inf"), "a number under -1.8e308"),
        (float("nan"), "NaN, not a JSON number"),
    ],
)
def test_a_number_past_a_float_is_told_in_words_not_as_python_inf(value: float, shown: str) -> None:
    for path in (("default_slurm_config", "cpus_per_task"), ("batching_config", "max_num_jobs")):
        problem = _one(config=_with(CONFIG, path, value))
        assert problem.pointer == "".join(f"/{p}" for p in path)
        assert problem.message == f"'{path[-1]}' must be an integer ≥ 1 (got {shown})"


def test_a_value_both_of_another_type_and_out_of_range_is_one_problem() -> None:
    problem = _one(config=_with(CONFIG, ("default_slurm_config", "cpus_per_task"), -2.0))
    assert problem.message == "'cpus_per_task' must be an integer ≥ 1 (got -2.0)"


# An int Python cannot write as text (past 4,300 digits) would fail in every message and
# hash that writes it: from Python too, it is a CompileError at its place.
@pytest.mark.parametrize(
    ("source", "path"),
    [
        ("tasks", ("meta", "cpus_per_task")),
        ("tasks", ("tasks", 1, "meta", "cpus_per_task")),
        ("tasks", ("tasks", 1, "command", 1)),
        ("config", ("default_slurm_config", "cpus_per_task")),
        ("config", ("submission", "max_jobs_in_queue")),
        ("profile", ("ssh", "port")),
    ],
)
def test_an_integer_too_long_to_write_is_a_compile_error(
    source: str, path: tuple[str | int, ...]
) -> None:
    inputs = {"config": CONFIG, "profile": PROFILE, "tasks": TASKS}
    if path[0] == "ssh":
        inputs["profile"] = _with(PROFILE, ("transport",), "ssh")
        inputs["profile"]["ssh"] = {"host": "h", "key_path": "/k", "known_hosts_path": "/kh"}
    if path[-2] in ("meta", "submission"):
        inputs[source] = _with(inputs[source], path[:-1], {})
    if path[-2] == "command":
        inputs[source] = _with(inputs[source], path[:-1], ["echo", "x"])
    inputs[source] = _with(inputs[source], path, -(10**5000))
    problem = _one(**inputs)
    assert (problem.source.value, problem.pointer) == (source, "".join(f"/{p}" for p in path))
    field = next(p for p in reversed(path) if isinstance(p, str))
    assert problem.message == (
        f"'{field}' must be a number of at most 4300 digits (got an integer of about 5001 digits)"
    )


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


# Lists in lists past Python's recursion limit (json.loads reads about 990 of them) fail in
# repr and in the schema check: a CompileError at the field, the value cut short.
@pytest.mark.parametrize("depth", [990, 5000])
def test_values_nested_too_deep_to_check_are_a_compile_error(depth: int) -> None:
    tasks = _with(TASKS, ("tasks", 2, "command"), ["echo", _nested(depth)])
    problem = _one(tasks=tasks)
    assert problem.pointer == "/tasks/2/command/1"
    assert problem.message == (
        "must not hold lists or objects nested more than 100 levels deep "
        f"(got {'[' * 20}...{']' * 20})"
    )
