"""docs/architecture.md §3 invariants of batching, on `choose` alone and on whole compiled plans."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from property_tests.strategies import examples, mem_spec
from slurmplan.compiler import CompileError, Job, Plan, compile_plan
from slurmplan.compiler.passes.batch import Batching, BatchingError, choose
from slurmplan.compiler.passes.parse import BatchingLimits


@st.composite
def limits(draw: st.DrawFn) -> BatchingLimits:
    """Six limits with each target ≤ its max (the compiler rejects the rest)."""
    max_cpus = draw(st.integers(1, 64))
    max_mem = draw(st.one_of(st.integers(1, 64), st.integers(1, 10**6)))
    max_jobs = draw(st.one_of(st.integers(1, 8), st.integers(1, 10**4)))
    return BatchingLimits(
        target_cpus_per_job=draw(st.integers(1, max_cpus)),
        max_cpus_per_job=max_cpus,
        target_mem_per_job=draw(st.integers(1, max_mem)),
        max_mem_per_job=max_mem,
        target_num_jobs=draw(st.integers(1, max_jobs)),
        max_num_jobs=max_jobs,
    )


GIVEN = st.one_of(
    st.just((None, None)),
    st.tuples(st.integers(1, 50), st.integers(1, 60)),
)


def _job_sizes(n: int, per_job: int) -> list[int]:
    full, rest = divmod(n, per_job)
    return [per_job] * full + ([rest] if rest else [])


def check_batching(n: int, cpus: int, mem: int, lim: BatchingLimits, b: Batching) -> None:
    """The per-group invariants of docs/architecture.md §3, for what `choose` returned."""
    assert b.tasks_per_job >= 1 and b.parallel_tasks_per_job >= 1
    assert b.parallel_tasks_per_job <= b.tasks_per_job, b
    sizes = _job_sizes(n, b.tasks_per_job)
    assert sum(sizes) == n
    assert len(sizes) <= lim.max_num_jobs, (len(sizes), lim)
    for size in sizes:
        ntasks = min(size, b.parallel_tasks_per_job)
        assert ntasks * cpus <= lim.max_cpus_per_job, (ntasks, cpus, lim)
        assert ntasks * mem <= lim.max_mem_per_job, (ntasks, mem, lim)


@examples(400)
@given(
    n=st.one_of(st.integers(1, 20), st.integers(1, 10**6)),
    cpus=st.one_of(st.integers(1, 8), st.integers(1, 70)),
    mem=st.one_of(st.integers(1, 64), st.integers(1, 10**6)),
    lim=limits(),
    given_=GIVEN,
)
def test_choose_keeps_the_limits(
    n: int, cpus: int, mem: int, lim: BatchingLimits, given_: tuple[int | None, int | None]
) -> None:
    per_job, parallel = given_
    try:
        b = choose(n_tasks=n, cpus=cpus, mem_mb=mem, limits=lim,
                   tasks_per_job=per_job, parallel_tasks_per_job=parallel)  # fmt: skip
    except BatchingError as error:
        assert str(error)
        # Without a given choice, only a task larger than a job's max may fail.
        if per_job is None:
            assert cpus > lim.max_cpus_per_job or mem > lim.max_mem_per_job
        return
    check_batching(n, cpus, mem, lim, b)
    if per_job is not None:
        assert parallel is not None
        assert (b.tasks_per_job, b.parallel_tasks_per_job) == (per_job, min(parallel, per_job))


# --- whole plans -------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    config: dict[str, Any]
    tasks: dict[str, Any]
    lim: BatchingLimits
    # Per task, its (cpus, MiB) as docs/architecture.md §2 resolves them (task meta over list
    # meta over default), and whether use_mem_per_cpu is on.
    resources: list[tuple[int, int]]
    mem_per_cpu: bool


@st.composite
def cases(draw: st.DrawFn) -> Case:
    lim = draw(limits())
    default_mem, default_mib = draw(mem_spec(256))
    default_cpus = draw(st.integers(1, 4))
    kinds = draw(st.lists(st.tuples(st.integers(1, 6), mem_spec(512)), min_size=1, max_size=3))
    n = draw(st.integers(1, 60))
    per_job, parallel = draw(GIVEN)
    mem_per_cpu = draw(st.booleans())
    tasks: list[dict[str, Any]] = []
    resources: list[tuple[int, int]] = []
    for index in range(n):
        task: dict[str, Any] = {"id": f"t{index}", "command": ["true", str(index)]}
        kind = draw(st.integers(-1, len(kinds) - 1))
        if kind >= 0:
            cpus, (mem, mib) = kinds[kind]
            task["meta"] = {"cpus_per_task": cpus, "mem": mem}
            resources.append((cpus, mib))
        else:
            resources.append((default_cpus, default_mib))
        tasks.append(task)
    config = {
        "default_slurm_config": {"partition": "main", "cpus_per_task": default_cpus,
                                 "mem": default_mem, "use_mem_per_cpu": mem_per_cpu},
        "batching_config": {
            "target_cpus_per_job": lim.target_cpus_per_job,
            "max_cpus_per_job": lim.max_cpus_per_job,
            "target_mem_per_job": lim.target_mem_per_job,
            "max_mem_per_job": f"{lim.max_mem_per_job}M",
            "target_num_jobs": lim.target_num_jobs,
            "max_num_jobs": lim.max_num_jobs,
        },
    }  # fmt: skip
    task_list: dict[str, Any] = {"name": "props", "tasks": tasks}
    if per_job is not None:
        task_list |= {"tasks_per_job": per_job, "parallel_tasks_per_job": parallel}
    return Case(config=config, tasks=task_list, lim=lim, resources=resources,
                mem_per_cpu=mem_per_cpu)  # fmt: skip


PROFILE = {"username": "alice", "transport": "local", "project_dir": "/home/alice/p"}


def _model_groups(resources: list[tuple[int, int]]) -> dict[tuple[int, int], list[str]]:
    """Task ids by resources, groups in order of their first task (docs/architecture.md §2.3)."""
    groups: dict[tuple[int, int], list[str]] = {}
    for index, key in enumerate(resources):
        groups.setdefault(key, []).append(f"t{index}")
    return groups


def _directive(script: str, name: str) -> str:
    found = re.findall(rf"^#SBATCH --{name}=(.*)$", script, flags=re.MULTILINE)
    assert len(found) == 1, (name, found)
    return str(found[0])


def _expected_batchings(case: Case) -> dict[tuple[int, int], Batching] | None:
    out: dict[tuple[int, int], Batching] = {}
    for (cpus, mib), ids in _model_groups(case.resources).items():
        if case.mem_per_cpu and mib < cpus:
            return None  # mem // cpus would be 0 MiB per CPU: an error
        try:
            out[(cpus, mib)] = choose(
                n_tasks=len(ids), cpus=cpus, mem_mb=mib, limits=case.lim,
                tasks_per_job=case.tasks.get("tasks_per_job"),
                parallel_tasks_per_job=case.tasks.get("parallel_tasks_per_job"),
            )  # fmt: skip
        except BatchingError:
            return None
    return out


@examples(150)
@given(case=cases())
def test_compiled_jobs_keep_the_invariants(case: Case) -> None:
    expected = _expected_batchings(case)
    try:
        plan = compile_plan(case.config, PROFILE, case.tasks)
    except CompileError as error:
        assert expected is None, error
        # at the task, or at the field that set the value refused (a meta, the config,
        # the list's tasks_per_job or parallel_tasks_per_job)
        at = ("/tasks/", "/meta/", "/default_slurm_config/", "/gpu_slurm_config/")
        at += ("/tasks_per_job", "/parallel_tasks_per_job")
        assert all(p.pointer.startswith(at) for p in error.problems), error
        return
    assert expected is not None, "compiled although a group cannot be batched"
    _check_plan(case, plan, expected)


def _check_plan(case: Case, plan: Plan, expected: dict[tuple[int, int], Batching]) -> None:
    model = _model_groups(case.resources)
    # Every task in exactly one job.
    placed = [task for job in plan.jobs for task in job.tasks]
    assert sorted(placed) == sorted(f"t{i}" for i in range(len(case.resources)))
    assert len(placed) == len(set(placed))
    assert [job.index for job in plan.jobs] == list(range(len(plan.jobs)))
    assert len(plan.groups) == len(model)
    for summary, ((cpus, mib), ids) in zip(plan.groups, model.items(), strict=True):
        b = expected[(cpus, mib)]
        assert (summary.cpus_per_task, summary.mem_per_task_mb, summary.n_tasks) == (
            cpus, mib, len(ids))  # fmt: skip
        assert (summary.tasks_per_job, summary.parallel_tasks_per_job) == (
            b.tasks_per_job, b.parallel_tasks_per_job)  # fmt: skip
        jobs = [job for job in plan.jobs if job.group == summary.index]
        # Order kept inside the group; all jobs full but the last.
        assert [task for job in jobs for task in job.tasks] == ids
        assert [len(job.tasks) for job in jobs] == _job_sizes(len(ids), b.tasks_per_job)
        assert len(jobs) <= case.lim.max_num_jobs
        for job in jobs:
            _check_job(case, job, (cpus, mib), b)


def _check_job(case: Case, job: Job, task: tuple[int, int], b: Batching) -> None:
    (cpus, mib), ntasks, mem_mb, script = task, job.ntasks, job.mem_mb, job.script
    assert ntasks == min(len(job.tasks), b.parallel_tasks_per_job)
    assert ntasks * cpus <= case.lim.max_cpus_per_job
    assert ntasks * mib <= case.lim.max_mem_per_job
    assert mem_mb <= case.lim.max_mem_per_job
    assert _directive(script, "ntasks") == str(ntasks)
    assert _directive(script, "cpus-per-task") == str(cpus)
    if case.mem_per_cpu:
        assert _directive(script, "mem-per-cpu") == f"{mib // cpus}M"
        assert mem_mb == (mib // cpus) * cpus * ntasks
    else:
        assert _directive(script, "mem") == f"{ntasks * mib}M"
        assert mem_mb == ntasks * mib
    # One background lane per parallel slot.
    assert len(re.findall(r"^\) &$", script, flags=re.MULTILINE)) == ntasks
