"""What Slurm would refuse is refused at compile (issue 9; docs/architecture.md §2): a
job script over Slurm's max_script_size (`submission.max_script_bytes`, default 4 MiB,
Slurm's own default) names the job and the limit, instead of failing at sbatch."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slurmplan.compiler import CompileError, compile_plan
from slurmplan.compiler.compile import _has_line_of
from slurmplan.compiler.errors import Source, show


def _inputs(n_tasks: int, arg_chars: int, **submission: Any) -> tuple[dict[str, Any], ...]:
    config: dict[str, Any] = {
        "default_slurm_config": {"partition": "main", "cpus_per_task": 1, "mem": "10M"},
        "batching_config": {
            "target_cpus_per_job": 1, "max_cpus_per_job": 1,
            "target_mem_per_job": "1G", "max_mem_per_job": "1G",
            "target_num_jobs": 1, "max_num_jobs": 1,
        },
    }  # fmt: skip
    if submission:
        config["submission"] = submission
    profile = {"username": "alice", "transport": "local", "project_dir": "/p"}
    tasks = {"name": "big", "tasks": [
        {"id": f"t{i}", "command": ["echo", "x" * arg_chars]} for i in range(n_tasks)]}  # fmt: skip
    return config, profile, tasks


def test_a_script_over_slurms_default_4_mib_is_refused_naming_the_job() -> None:
    with pytest.raises(CompileError) as caught:
        compile_plan(*_inputs(5000, 1000))  # one job, ~5 MB of task lines
    (problem,) = caught.value.problems
    assert (problem.source, problem.pointer) == (Source.CONFIG, "/submission/max_script_bytes")
    assert "job 0's script is " in problem.message
    assert "over 4194304 bytes" in problem.message and "(got " not in problem.message


def test_the_site_limit_is_the_runner_configs() -> None:
    plan = compile_plan(*_inputs(5000, 1000, max_script_bytes=8 * 1024 * 1024))
    size = len(plan.jobs[0].script.encode())
    assert 4 * 1024 * 1024 < size <= 8 * 1024 * 1024
    with pytest.raises(CompileError, match=r"job 0's script is \d+ bytes, over 1000 bytes"):
        compile_plan(*_inputs(2, 10, max_script_bytes=1000))
    compile_plan(*_inputs(2, 10, max_script_bytes=size))  # a small plan well within it


def test_max_script_bytes_must_be_a_positive_whole_number() -> None:
    with pytest.raises(CompileError) as caught:
        compile_plan(*_inputs(1, 1, max_script_bytes=0))
    assert [p.pointer for p in caught.value.problems] == ["/submission/max_script_bytes"]


MAX_ARG_STRLEN = 131072  # Linux: one argument, its terminating NUL included


def _one_task(command: list[str], env: dict[str, str] | None = None) -> tuple[Any, ...]:
    config, profile, tasks = _inputs(1, 1)
    tasks["tasks"][0]["command"] = command
    if env is not None:
        tasks["tasks"][0]["env"] = env
    return config, profile, tasks


def test_an_argument_linux_would_refuse_is_refused_at_its_place() -> None:
    compile_plan(*_one_task(["echo", "x" * (MAX_ARG_STRLEN - 1)]))  # the longest that runs
    with pytest.raises(CompileError) as caught:
        compile_plan(*_one_task(["echo", "ok", "é" * (MAX_ARG_STRLEN // 2)]))  # 2 bytes each
    (problem,) = caught.value.problems
    assert (problem.source, problem.pointer) == (Source.TASKS, "/tasks/0/command/2")
    assert f"is {MAX_ARG_STRLEN} bytes" in problem.message and "task 't0'" in problem.message


def test_an_env_value_linux_would_refuse_is_refused_at_its_place() -> None:
    value = "v" * (MAX_ARG_STRLEN - len("BIG="))  # `env BIG=value` is one argument
    with pytest.raises(CompileError) as caught:
        compile_plan(*_one_task(["true"], {"BIG": value}))
    assert [p.pointer for p in caught.value.problems] == ["/tasks/0/env/BIG"]
    compile_plan(*_one_task(["true"], {"BIG": value[:-1]}))


def test_a_command_line_over_the_kernels_limit_is_refused() -> None:
    args = ["x" * 100_000] * 21  # each fine alone, 2.1 MB together
    with pytest.raises(CompileError) as caught:
        compile_plan(*_one_task(["echo", *args]))
    (problem,) = caught.value.problems
    assert problem.pointer == "/tasks/0/command"
    assert "command line" in problem.message


@given(st.lists(st.integers(min_value=0, max_value=40), max_size=30), st.integers(1, 45))
def test_the_long_line_search_agrees_with_splitting(lengths: list[int], least: int) -> None:
    text = "\n".join("x" * n for n in lengths)
    assert _has_line_of(text, least) == (max(map(len, text.split("\n"))) >= least)


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        (2147483648, "at most 2147483647"),  # Slurm 22.05: "is not a valid node count"
        ("1-4294967296", "at most 2147483647"),  # sbatch wraps it to 0 and accepts it
        ("5-2", "the least (5) must not be more than the most (2)"),
        ("0", "at least 1"),
        ("0-3", "at least 1"),
    ],
)
def test_a_node_count_slurm_cannot_take_is_refused(nodes: Any, message: str) -> None:
    config, profile, tasks = _inputs(1, 1)
    config["default_slurm_config"]["nodes"] = nodes
    with pytest.raises(CompileError) as caught:
        compile_plan(config, profile, tasks)
    (problem,) = caught.value.problems
    assert problem.pointer == "/default_slurm_config/nodes"
    assert message in problem.message and f"(got {show(nodes)})" in problem.message


@pytest.mark.parametrize("nodes", [1, "2", "1-2147483647", 2147483647])
def test_node_counts_slurm_takes_compile(nodes: Any) -> None:
    config, profile, tasks = _inputs(1, 1)
    config["default_slurm_config"]["nodes"] = nodes
    plan = compile_plan(config, profile, tasks)
    assert f"#SBATCH --nodes={nodes}\n" in plan.jobs[0].script


def _ssh_profile(control_path: str) -> dict[str, Any]:
    return {
        "username": "alice", "transport": "ssh", "project_dir": "/p",
        "ssh": {"host": "login.example.org", "key_path": "/k", "known_hosts_path": "/kh",
                "control_path": control_path},
    }  # fmt: skip


@pytest.mark.parametrize(
    "control_path",
    ["/tmp/" + "x" * 86, "~/" + "x" * 48 + "-%C", "/s/%r@%h:%p-" + "y" * 61],
)
def test_a_control_path_too_long_for_a_socket_is_refused(control_path: str) -> None:
    config, _, tasks = _inputs(1, 1)
    with pytest.raises(CompileError) as caught:
        compile_plan(config, _ssh_profile(control_path), tasks)
    (problem,) = caught.value.problems
    assert (problem.source, problem.pointer) == (Source.PROFILE, "/ssh/control_path")
    assert "at least" in problem.message and "90" in problem.message


@pytest.mark.parametrize("control_path", ["~/.ssh/slurmplan-%C", "/tmp/" + "x" * 85, "/s/%%%%"])
def test_a_control_path_that_fits_compiles(control_path: str) -> None:
    config, _, tasks = _inputs(1, 1)
    compile_plan(config, _ssh_profile(control_path), tasks)
