"""Pass 6: a job's sbatch script, rendered from templates/job.sbatch.j2."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from itertools import chain, repeat
from operator import itemgetter

import jinja2

from slurmplan.compiler import package_files
from slurmplan.compiler.slurm.directives import directive_lines
from slurmplan.compiler.slurm.quoting import Segment, sh_quote, sh_words

_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_ENV.filters["sh"] = sh_quote
_TEMPLATE = _ENV.from_string(package_files.template_text("job.sbatch.j2"))


def lane_texts(
    status_files: Sequence[str], ids: Sequence[str], words: Sequence[Segment]
) -> list[str]:
    """Each lane's task lines, as `task_lines` gives them, for a job whose argvs are
    all as long: `words` are their quoted words as sh_word_columns gives them.

    Task k runs in lane k % len(status_files).  The lines are not made one by one:
    one list holds every piece of every line, lane after lane, filled a segment
    at a time, and each lane is one join of its part.
    """
    n, lanes = len(ids), len(status_files)
    pick, sizes = _lane_order(n, lanes)
    calls = [f"    _slurmplan_task {f} " for f in status_files]
    pieces: list[Segment] = [
        list(chain.from_iterable(map(repeat, calls, sizes))), ids, " ", *words, "\n",
    ]  # fmt: skip
    width = len(pieces)
    flat: list[str] = [""] * (n * width)
    for j, piece in enumerate(pieces):
        if isinstance(piece, str):
            flat[j::width] = [piece] * n
        elif j == 0:
            flat[j::width] = piece
        else:
            flat[j::width] = pick(piece)
    out: list[str] = []
    start = 0
    for size in sizes:
        out.append("".join(flat[start : start + size * width]))
        start += size * width
    return out


@cache
def _lane_order(n: int, lanes: int) -> tuple[Callable[[Sequence[str]], Sequence[str]], list[int]]:
    """How `n` tasks go in `lanes` lanes: a picker of a column's items lane after lane
    (lane k: tasks k, k + lanes, ...), in C, and each lane's task count.  A plan has
    few job shapes, so each is worked out once."""
    order = [k for lane in range(lanes) for k in range(lane, n, lanes)]
    sizes = [len(range(lane, n, lanes)) for lane in range(lanes)]
    if n == 1:
        return (lambda column: column), sizes
    return itemgetter(*order), sizes


def task_lines(status: str, tasks: Sequence[str], outputs: Sequence[tuple[str, ...]] = ()) -> str:
    """A lane's task lines, one per task in order (the template places them in the lane).

    Each line calls `_slurmplan_task <status file> <task>`, each of `tasks` being
    `<task id> <words>`, the words the task's argv quoted once (with its `env ...` in
    front when it has env).  Built here, not in the template: a job can hold
    thousands of tasks, and a join in C is several times cheaper than a template
    loop.  Task ids need no quoting: their schema allows only [A-Za-z0-9._-].

    A task that names output files (`outputs`, one tuple per task) has them removed
    by the line before its own, right before it starts: an output an earlier run left
    would otherwise be fetched as this run's although this task never wrote it.  Paths
    are relative to the workdir and never climb out of it (compiler/outputs.py).
    """
    call = f"    _slurmplan_task {status} "
    if any(outputs):
        return "".join(
            (f"    rm -f -- {sh_words(paths)}\n" if paths else "") + f"{call}{task}\n"
            for task, paths in zip(tasks, outputs, strict=True)
        )
    lines = f"\n{call}".join(tasks)
    return f"{call}{lines}\n" if tasks else ""


# What differs between the jobs of one shape is rendered as a hole, `\x00name\x00`:
# no text that reaches a script holds NUL (the schemas refuse it everywhere).
_HOLE = "\x00"
_JOB_HOLES = ("index", "name", "stdout", "stderr", "done")


def _hole(name: str) -> str:
    return f"{_HOLE}{name}{_HOLE}"


class ScriptShape:
    """The script of every job of one shape, rendered once, with holes.

    A shape is a group's jobs with the same number of lanes and tasks: they differ
    only in their index, name, log paths, done marker and their lanes' status files
    and task lines, which `fill` puts in.  Rendering the template once per shape
    rather than once per job is most of what a job costs to build.
    """

    __slots__ = ("_lines_holes", "_names", "_pieces", "_status_holes", "ntasks")

    def __init__(
        self,
        *,
        plan_id: str,
        shebang: str,
        ntasks: int,
        n_tasks: int,
        cpus_per_task: int,
        step_mem_option: str,  # "--mem=...M" or "--mem-per-cpu=...M" for one task's step
        directives: dict[str, str],  # by option, without job-name, output and error
        sbatch_lines: Sequence[str],
        shell_lines: Sequence[str],
        exports: Sequence[tuple[str, str]],
    ) -> None:
        job_directives = {
            **directives, "job-name": _hole("name"), "output": _hole("stdout"),
            "error": _hole("stderr"),
        }  # fmt: skip
        before, after = directive_lines(job_directives)
        job = {
            "index": _hole("index"), "ntasks": ntasks, "n_tasks": n_tasks,
            "cpus_per_task": cpus_per_task, "step_mem_option": step_mem_option,
            "done": _hole("done"),
        }  # fmt: skip
        text = _TEMPLATE.render(
            shebang=shebang,
            plan_id=plan_id,
            job=job,
            directives=before,
            sbatch_lines=sbatch_lines,
            directives_after=after,
            shell_lines=shell_lines,
            exports=exports,
            lanes=[{"status": _hole(f"s{k}"), "lines": _hole(f"l{k}")} for k in range(ntasks)],
        )
        pieces = text.split(_HOLE)
        names = pieces[1::2]
        self._status_holes = [f"s{k}" for k in range(ntasks)]
        self._lines_holes = [f"l{k}" for k in range(ntasks)]
        known = {*_JOB_HOLES, *self._status_holes, *self._lines_holes}
        if len(pieces) % 2 != 1 or not known.issuperset(names):
            raise ValueError("a script's text holds NUL, which no input may hold")
        self._pieces, self._names, self.ntasks = pieces, names, ntasks

    def fill(
        self,
        *,
        index: int,
        name: str,
        stdout: str,
        stderr: str,
        done: str,
        lane_files: Sequence[str],
        lane_lines: Sequence[str],
    ) -> str:
        """The script of one job of this shape: its lanes' status files (relative to the
        workdir) and their task lines (from task_lines or lane_texts)."""
        if len(lane_files) != self.ntasks:
            raise ValueError(f"a job of this shape has {self.ntasks} lanes (got {len(lane_files)})")
        values = {
            "index": str(index), "name": name, "stdout": stdout, "stderr": stderr, "done": done,
        }  # fmt: skip
        values.update(zip(self._status_holes, lane_files, strict=True))
        values.update(zip(self._lines_holes, lane_lines, strict=True))
        pieces = self._pieces.copy()
        pieces[1::2] = map(values.__getitem__, self._names)
        return "".join(pieces)
