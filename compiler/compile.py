"""compile_plan: the passes in order — check, parse, resolve, batch, plan id, build
(which renders each job's script)."""

from __future__ import annotations

from typing import Any

from compiler.errors import Problems, Source, show, unencodable_strings
from compiler.passes.batch import batch_groups
from compiler.passes.build import build_plan
from compiler.passes.check import check_schemas
from compiler.passes.parse import parse_inputs
from compiler.passes.resolve import check_mem_per_cpu, group_tasks
from compiler.passes.task_scan import scan_task_list
from compiler.plan import Plan, script_bytes


def compile_plan(
    runner_config: dict[str, Any], user_profile: dict[str, Any], task_list: dict[str, Any]
) -> Plan:
    """The submission plan of these inputs; raises CompileError listing every problem."""
    scan = scan_task_list(task_list)  # the fast check, plan id and parse share its walk
    schema_check = check_schemas(runner_config, user_profile, task_list, tasks_valid=scan.valid)
    inputs = parse_inputs(
        runner_config, user_profile, task_list, schema_check, task_columns=scan.columns
    )
    groups = group_tasks(inputs.config, inputs.tasks)
    check_mem_per_cpu(groups, inputs.tasks)
    plan_id = scan.plan_id(runner_config, user_profile)
    batched = batch_groups(groups, inputs.config, inputs.tasks)
    plan = build_plan(plan_id, inputs.config, inputs.profile, inputs.tasks, batched)
    _check_encodable(plan, runner_config, user_profile, task_list)
    return plan


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
            for path, text in unencodable_strings(doc):
                problems.add(
                    source,
                    path,
                    "text must be encodable as UTF-8 (lone surrogates only as U+DC80..U+DCFF, "
                    f"standing for raw bytes) (got {show(text)})",
                )
        problems.raise_if_any()
        raise
