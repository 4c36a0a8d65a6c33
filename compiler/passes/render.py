"""Pass 6: a job's sbatch script, rendered from templates/job.sbatch.j2."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jinja2

from compiler import package_files
from compiler.slurm.quoting import sh_quote

_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_ENV.filters["sh"] = sh_quote
_TEMPLATE = _ENV.from_string(package_files.template_text("job.sbatch.j2"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Lane:
    status: str  # the lane's status file, relative to the workdir
    lines: str  # its tasks' lines, from task_lines()


def task_lines(status: str, tasks: Sequence[str]) -> str:
    """A lane's task lines, one per task in order (the template places them in the lane).

    Each line calls `_slurmplan_task <status file> <task>`, each of `tasks` being
    `<task id> <words>`, the words the task's argv quoted once (with its `env ...` in
    front when it has env).  Built here, not in the template: a job can hold
    thousands of tasks, and a join in C is several times cheaper than a template
    loop.  Task ids need no quoting: their schema allows only [A-Za-z0-9._-].
    """
    call = f"    _slurmplan_task {status} "
    lines = f"\n{call}".join(tasks)
    return f"{call}{lines}\n" if tasks else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptJob:
    """What the script's body needs of its job."""

    index: int
    ntasks: int  # lanes
    n_tasks: int  # tasks
    cpus_per_task: int
    step_mem_option: str  # "--mem=...M" or "--mem-per-cpu=...M" for one task's step
    done: str  # the done marker, relative to the workdir


def render_script(
    *,
    plan_id: str,
    job: ScriptJob,
    shebang: str,
    directives: tuple[Sequence[str], Sequence[str]],
    sbatch_lines: Sequence[str],
    shell_lines: Sequence[str],
    exports: Sequence[tuple[str, str]],
    lanes: Sequence[Lane],
) -> str:
    """The script: the directives (those before and after the extra #SBATCH lines,
    compiler/slurm/directives.py), the extra lines, the exports and the lanes."""
    return _TEMPLATE.render(
        shebang=shebang,
        plan_id=plan_id,
        job=job,
        directives=directives[0],
        sbatch_lines=sbatch_lines,
        directives_after=directives[1],
        shell_lines=shell_lines,
        exports=exports,
        lanes=lanes,
    )
