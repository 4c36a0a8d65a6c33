"""Per-user Slurm accounts and a request's worker_init, as fractal-server has them (issue 11)."""

from __future__ import annotations

from typing import Any

import pytest
import sample_inputs

from slurmplan.compiler import CompileError, Plan, Problem, compile_plan

CONFIG = sample_inputs.config(account="admin")
PROFILE = sample_inputs.profile("/home/a/p")
TASKS = sample_inputs.tasks(2, name="seg")


def _accounts(plan: Plan) -> set[str]:
    return {
        line.removeprefix("#SBATCH --account=")
        for job in plan.jobs
        for line in job.script.splitlines()
        if line.startswith("#SBATCH --account=")
    }


def _problems(config: Any = CONFIG, profile: Any = PROFILE, tasks: Any = TASKS) -> list[Problem]:
    with pytest.raises(CompileError) as caught:
        compile_plan(config, profile, tasks)
    return list(caught.value.problems)


def test_without_user_accounts_the_configs_account_is_used() -> None:
    assert _accounts(compile_plan(CONFIG, PROFILE, TASKS)) == {"admin"}


def test_the_profiles_first_account_overrides_the_configs() -> None:
    profile = {**PROFILE, "slurm_accounts": ["lab1", "lab2"]}
    assert _accounts(compile_plan(CONFIG, profile, TASKS)) == {"lab1"}


def test_an_account_without_one_in_the_config() -> None:
    profile = {**PROFILE, "slurm_accounts": ["lab1"]}
    assert _accounts(compile_plan(sample_inputs.config(), profile, TASKS)) == {"lab1"}


def test_the_task_list_picks_one_of_the_profiles_accounts() -> None:
    profile = {**PROFILE, "slurm_accounts": ["lab1", "lab2"]}
    tasks = {**TASKS, "slurm_account": "lab2"}
    plan = compile_plan(CONFIG, profile, tasks)
    assert _accounts(plan) == {"lab2"}
    (script,) = {job.script for job in plan.jobs}
    assert script.count("--account") == 1  # through the one directive table, in its place


def test_the_gpu_configs_account_is_overridden_too() -> None:
    config = {**CONFIG, "gpu_slurm_config": {"account": "gpus", "gres": "gpu:1"}}
    profile = {**PROFILE, "slurm_accounts": ["lab1"]}
    plan = compile_plan(config, profile, {**TASKS, "needs_gpu": True})
    assert _accounts(plan) == {"lab1"}


def test_an_account_not_in_the_profiles_list_is_refused() -> None:
    profile = {**PROFILE, "slurm_accounts": ["lab1", "lab2"]}
    (problem,) = _problems(profile=profile, tasks={**TASKS, "slurm_account": "lab3"})
    assert problem.pointer == "/slurm_account"
    assert problem.message == (
        "'slurm_account' must be one of the profile's slurm_accounts: 'lab1', 'lab2' (got 'lab3')"
    )


def test_an_account_named_when_the_profile_lists_none_is_refused() -> None:
    (problem,) = _problems(tasks={**TASKS, "slurm_account": "lab1"})
    assert problem.pointer == "/slurm_account"
    assert "the profile lists no slurm_accounts" in problem.message
    assert problem.message.endswith("(got 'lab1')")


@pytest.mark.parametrize(
    ("where", "value"),
    [("profile", ["lab 1"]), ("profile", "lab1"), ("profile", [1]), ("tasks", "a#b")],
)
def test_badly_formed_accounts_are_refused(where: str, value: Any) -> None:
    if where == "profile":
        problems = _problems(profile={**PROFILE, "slurm_accounts": value})
        assert problems[0].pointer.startswith("/slurm_accounts")
    else:
        problems = _problems(
            profile={**PROFILE, "slurm_accounts": ["lab1"]},
            tasks={**TASKS, "slurm_account": value},
        )
        assert problems[0].pointer == "/slurm_account"


def test_an_account_in_an_extra_line_stays_refused() -> None:
    tasks = {**TASKS, "meta": {"extra_lines": ["#SBATCH --account=lab2"]}}
    (problem,) = _problems(profile={**PROFILE, "slurm_accounts": ["lab1", "lab2"]}, tasks=tasks)
    assert "set 'account' instead" in problem.message


def _shell_lines(plan: Plan) -> list[str]:
    (job,) = plan.jobs
    return job.script.splitlines()


def test_worker_init_is_split_into_lines_blank_ones_dropped() -> None:
    config = sample_inputs.config(extra_lines=["module load python"])
    tasks = {**TASKS, "worker_init": "\nexport A=1\n\n   \nmodule load python\nsource env.sh\n"}
    lines = _shell_lines(compile_plan(config, PROFILE, tasks))
    assert lines.count("module load python") == 1  # a config line repeated: not an error
    at = lines.index("module load python")
    assert lines[at + 1 : at + 3] == ["export A=1", "source env.sh"]
    assert "" not in lines[at : at + 3] and "   " not in lines


def test_worker_init_sbatch_lines_follow_the_extra_line_rules() -> None:
    tasks = {**TASKS, "worker_init": "export A=1\n#SBATCH --gres=gpu:1"}
    (problem,) = _problems(tasks=tasks)
    assert problem.pointer == "/worker_init"
    assert "line 2" in problem.message and "set 'gres' instead" in problem.message


@pytest.mark.parametrize("text", ["a\rb", "a\x00b", 3])
def test_worker_init_that_cannot_be_lines_is_refused(text: Any) -> None:
    (problem,) = _problems(tasks={**TASKS, "worker_init": text})
    assert problem.pointer == "/worker_init"
