"""compile_plan: the passes in order — check, parse, resolve, batch, plan id, build
(which renders each job's script)."""

from __future__ import annotations

from typing import Any

from slurmplan.compiler.errors import (
    CompileError,
    Problems,
    Source,
    unencodable_problems,
    unwritable_problems,
)
from slurmplan.compiler.passes.batch import Batching, batch_groups
from slurmplan.compiler.passes.build import build_plan
from slurmplan.compiler.passes.check import check_schemas
from slurmplan.compiler.passes.nulls import task_list_top_without_nulls, without_nulls
from slurmplan.compiler.passes.parse import Inputs, TaskList, read_inputs
from slurmplan.compiler.passes.plan_id import compute_plan_id
from slurmplan.compiler.passes.resolve import Group, check_mem_per_cpu, group_tasks
from slurmplan.compiler.passes.task_scan import scan_task_list
from slurmplan.compiler.plan import Plan, script_bytes


def compile_plan(
    runner_config: dict[str, Any], user_profile: dict[str, Any], task_list: dict[str, Any]
) -> Plan:
    """The submission plan of these inputs; raises CompileError listing every problem."""
    try:
        return _compile_plan(runner_config, user_profile, task_list)
    except (ValueError, RecursionError):
        # A value Python cannot write as text (an int too long, lists too deep) fails
        # wherever it is first written (the schema's messages, the plan id): looked for
        # only then, so it costs nothing else.
        problems = Problems()
        for source, doc in zip(
            (Source.CONFIG, Source.PROFILE, Source.TASKS),
            (runner_config, user_profile, task_list),
            strict=True,
        ):
            problems.extend(unwritable_problems(source, doc))
        if not problems:
            raise
        raise CompileError(problems.items) from None


def _compile_plan(
    runner_config: dict[str, Any], user_profile: dict[str, Any], task_list: dict[str, Any]
) -> Plan:
    # A null optional field is unset (passes/nulls.py); the plan id is of the inputs
    # as written, as compute_plan_id gives it.
    config = without_nulls("runner_config", runner_config)
    profile = without_nulls("user_profile", user_profile)
    tasks = task_list_top_without_nulls(task_list)
    scan = scan_task_list(tasks)  # the fast check, plan id and parse share its walk
    if not scan.valid:  # maybe only for nulls in the tasks
        cleaned = without_nulls("task_list", tasks)
        if cleaned is not tasks:
            tasks = cleaned
            scan = scan_task_list(tasks)
    schema_check = check_schemas(config, profile, tasks, tasks_valid=scan.valid)
    inputs, problems = read_inputs(config, profile, tasks, schema_check, task_columns=scan.columns)
    if inputs is None:
        problems.raise_if_any()
    assert inputs is not None
    batched = _batched(inputs, problems)  # resources are checked beside every other problem
    problems.raise_if_any()
    assert batched is not None
    if tasks is task_list:
        plan_id = scan.plan_id(runner_config, user_profile)
    else:
        plan_id = compute_plan_id(runner_config, user_profile, task_list)
    plan = build_plan(plan_id, inputs.config, inputs.profile, inputs.tasks, batched)
    _check_encodable(plan, runner_config, user_profile, task_list)
    _check_script_sizes(plan, inputs.config.max_script_bytes)
    _check_argument_sizes(plan, inputs.tasks)
    return plan


# Linux refuses to exec with one argument of MAX_ARG_STRLEN (131,072) bytes or more, its
# NUL included, or with arguments and environment together over ARG_MAX (2 MiB with the
# usual 8 MiB stack); a task's srun line leaves RESERVE of that for the job's environment.
MAX_ARG_STRLEN = 131_072
ARG_MAX = 2 * 1024 * 1024
ENVIRONMENT_RESERVE = 128 * 1024


def _bytes(text: str) -> int:
    """Bytes `text` takes in a script (script_bytes); an ASCII one, as many as characters."""
    return len(text) if text.isascii() else len(script_bytes(text))


def _check_argument_sizes(plan: Plan, tasks: TaskList) -> None:
    """A task whose srun line Linux would refuse to start ("Argument list too long":
    exit 126 in the job) is refused now, at the argument or env value.  Each task is one
    line of its script, its words quoted (never shorter): only a job with a line that
    could hold MAX_ARG_STRLEN bytes has its tasks read."""
    problems = Problems()
    index_of: dict[str, int] | None = None
    for job in plan.jobs:
        # A character is at most 4 bytes in UTF-8, and exactly 1 in an ASCII script.
        least = MAX_ARG_STRLEN if job.script.isascii() else MAX_ARG_STRLEN // 4
        if not _has_line_of(job.script, least):
            continue
        if index_of is None:
            index_of = {task_id: i for i, task_id in enumerate(tasks.ids)}
        for task_id in job.tasks:
            _check_task_line(index_of[task_id], task_id, tasks, problems)
    problems.raise_if_any()


def _has_line_of(text: str, least: int) -> bool:
    """Whether a line of `text` has `least` characters or more: a window of `least`
    characters from a line's start either holds a newline (go on after the last one)
    or lies in one line; a few steps per script, each a search in C."""
    pos = 0
    while len(text) - pos >= least:
        newline = text.rfind("\n", pos, pos + least)
        if newline < 0:
            return True
        pos = newline + 1
    return False


def _check_task_line(i: int, task_id: str, tasks: TaskList, problems: Problems) -> None:
    total = 0
    for j, word in enumerate(tasks.commands[i]):
        size = _bytes(word) + 1
        total += size
        if size > MAX_ARG_STRLEN:
            problems.add(Source.TASKS, f"/tasks/{i}/command/{j}", _too_long(task_id, size - 1))
    for name, value in tasks.envs[i]:  # `env NAME=value` is one argument of the srun line
        size = len(name) + 1 + _bytes(value) + 1
        total += size
        if size > MAX_ARG_STRLEN:
            problems.add(Source.TASKS, f"/tasks/{i}/env/{name}", _too_long(task_id, size - 1))
    if total > ARG_MAX - ENVIRONMENT_RESERVE:
        problems.add(Source.TASKS, f"/tasks/{i}/command", (
            f"task {task_id!r}'s command line is {total} bytes with its env; Linux starts "
            f"no command whose arguments and environment pass {ARG_MAX} bytes (ARG_MAX), "
            f"and {ENVIRONMENT_RESERVE} are kept for the job's environment: pass the data "
            "in a file instead"
        ))  # fmt: skip


def _too_long(task_id: str, size: int) -> str:
    return (
        f"task {task_id!r}: this argument is {size} bytes; Linux refuses any single "
        f"argument of {MAX_ARG_STRLEN} bytes or more, its end included (MAX_ARG_STRLEN), "
        "and the task would fail with 'Argument list too long': pass it in a file instead"
    )


def _check_script_sizes(plan: Plan, limit: int) -> None:
    """sbatch refuses a script over Slurm's max_script_size (4 MiB unless the site
    raised it: submission.max_script_bytes); say so now, naming each job."""
    problems = Problems()
    for job in plan.jobs:
        size = _bytes(job.script)  # most scripts are ASCII: no encoding needed
        if size > limit:
            problems.add(
                Source.CONFIG, "/submission/max_script_bytes",
                f"job {job.index}'s script is {size} bytes, over {limit} bytes, the largest "
                "Slurm takes (its max_script_size; submission.max_script_bytes): put fewer "
                "tasks in a job (batching_config's target_num_jobs and max_num_jobs, or the "
                "task list's tasks_per_job), or raise the limit to the site's",
            )  # fmt: skip
    problems.raise_if_any()


def _batched(inputs: Inputs, problems: Problems) -> list[tuple[Group, Batching]] | None:
    """The groups and their batching, or None with their problems added to `problems`.
    When `problems` has some already, the inputs may lack what was refused (a memory
    that is not one), and the resources are checked only as far as they can be."""
    try:
        groups = group_tasks(inputs.config, inputs.tasks, inputs.account)
    except ValueError:  # settings.resources: a required value the parse pass refused
        if not problems:
            raise
        return None
    try:  # one's problems do not hide the other's
        check_mem_per_cpu(groups, inputs.config, inputs.tasks)
    except CompileError as error:
        problems.extend(error.problems)
    try:
        return batch_groups(groups, inputs.config, inputs.tasks)
    except CompileError as error:
        problems.extend(error.problems)
    return None


def _check_encodable(plan: Plan, *raw: dict[str, Any]) -> None:
    """Scripts become bytes (UTF-8, lone surrogates U+DC80..U+DCFF standing for raw
    bytes); any other lone surrogate cannot be written.  Found rarely, so the inputs
    are searched for the culprits only when a script fails to encode."""
    try:
        for job in plan.jobs:
            if not job.script.isascii():  # O(1) in CPython; any surrogate is non-ASCII
                script_bytes(job.script)
    except UnicodeEncodeError:
        problems = Problems()
        for source, doc in zip((Source.CONFIG, Source.PROFILE, Source.TASKS), raw, strict=True):
            problems.extend(unencodable_problems(source, doc))
        problems.raise_if_any()
        raise
