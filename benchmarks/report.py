"""docs/benchmarks.md and docs/benchmarks-compile.png from run_all.py's results.

`python benchmarks/report.py [benchmarks/results/latest.json]` rewrites both
from saved results without measuring again.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
from typing import Any

from matplotlib.figure import Figure

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MARKDOWN = os.path.join(ROOT, "docs", "benchmarks.md")
PLOT = os.path.join(ROOT, "docs", "benchmarks-compile.png")
SUBMIT_DOC = os.path.join(ROOT, "docs", "benchmarks-submit.md")
RESULTS_DOC = os.path.join(ROOT, "docs", "benchmarks-results.md")
SUBMIT_RESULTS = os.path.join(HERE, "results", "submit.json")

Results = list[dict[str, Any]]


def find(
    results: Results, kind: str, n: int, workload: str = "homogeneous"
) -> dict[str, Any] | None:
    for r in results:
        if r["kind"] == kind and r["n"] == n and r["workload"] == workload:
            return r
    return None


def median(r: dict[str, Any]) -> float:
    return statistics.median(r["times"])


def _secs(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def cell(r: dict[str, Any] | None) -> str:
    """`median (min-max)` in seconds, or a dash."""
    if r is None:
        return "—"
    return f"{_secs(median(r))} ({_secs(min(r['times']))}-{_secs(max(r['times']))})"


def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    return "—" if a is None or b is None else f"{median(a) / median(b):.2f}x"


def _n(n: int) -> str:
    return f"{n:,}"


def compile_table(results: Results) -> str:
    sizes = sorted({r["n"] for r in results if r["kind"] == "slurmplan"})
    lines = [
        "| tasks | workload | jobs | slurmplan s | µs/task | peak RSS MB (inputs) "
        "| reference s | floor s | slurmplan ÷ reference | slurmplan ÷ floor |",
        "|---:|---|---:|---|---:|---|---|---|---:|---:|",
    ]
    for workload in ("homogeneous", "1000x100", "heterogeneous"):
        for n in sizes:
            s = find(results, "slurmplan", n, workload)
            if s is None:
                continue
            ref = find(results, "reference", n, workload)
            flo = find(results, "floor", n, workload)
            lines.append(
                f"| {_n(n)} | {workload} | {s['jobs']} | {cell(s)} "
                f"| {median(s) / n * 1e6:.2f} "
                f"| {s['rss_peak_mb']:.0f} ({s['rss_inputs_mb']:.0f}) "
                f"| {cell(ref)} | {cell(flo)} | {ratio(s, ref)} | {ratio(s, flo)} |"
            )
    return "\n".join(lines)


def files_table(results: Results) -> str:
    sizes = sorted({r["n"] for r in results if r["kind"].endswith("-files")})
    lines = [
        "| tasks | slurmplan s | files | MB | peak RSS MB "
        "| reference s | files | MB | peak RSS MB | reference ÷ slurmplan |",
        "|---:|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for n in sizes:
        s, ref = find(results, "slurmplan-files", n), find(results, "reference-files", n)

        def cols(r: dict[str, Any] | None) -> str:
            if r is None:
                return "not run | — | — | —"
            return (
                f"{cell(r)} | {r['files']:,} | {r['bytes_on_disk'] / 1e6:.1f} "
                f"| {r['rss_peak_mb']:.0f}"
            )

        lines.append(f"| {_n(n)} | {cols(s)} | {cols(ref)} | {ratio(ref, s)} |")
    return "\n".join(lines)


def slope(results: Results, kind: str) -> float | None:
    """The log-log slope of median time against tasks, 100k to the largest size.

    Below 100k the jobs' fixed costs still show: 10k and 100k tasks make 500 jobs each.
    """
    points = [
        (math.log(r["n"]), math.log(median(r)))
        for r in results
        if r["kind"] == kind and r["workload"] == "homogeneous" and r["n"] >= 100_000
    ]
    if len(points) < 2:
        return None
    (x0, y0), (x1, y1) = min(points), max(points)
    return (y1 - y0) / (x1 - x0)


def goals(results: Results) -> str:
    rows = ["| goal | measured | verdict |", "|---|---|---|"]
    for workload, what in (("homogeneous", "100k"), ("1000x100", "100k as 1,000 jobs x 100")):
        s = find(results, "slurmplan", 100_000, workload)
        ref = find(results, "reference", 100_000, workload)
        if not (s and ref):
            continue
        x = median(s) / median(ref)
        # The architecture issue's goal: both workloads within 2x, side by side in one run.
        verdict = "met" if x <= 2 else f"**missed** ({x:.2f}x against 2x)"
        rows.append(
            f"| compile {what} ≤ 2x the reference's in-memory batching + assembly "
            f"| {median(s):.3f} s vs {median(ref):.3f} s = {x:.2f}x | {verdict} |"
        )
    for n in sorted({r["n"] for r in results if r["kind"] == "reference-files"}, reverse=True):
        sf, rf = find(results, "slurmplan-files", n), find(results, "reference-files", n)
        if sf and rf:
            x = median(rf) / median(sf)
            verdict = "met" if x >= 10 else f"**missed** ({x:.1f}x < 10x)"
            rows.append(
                f"| inputs → every file on disk ≥ 10x faster than the reference's real path "
                f"({_n(n)} tasks) | {median(sf):.3f} s vs {median(rf):.2f} s = {x:.1f}x "
                f"| {verdict} |"
            )
    big = find(results, "slurmplan", 1_000_000)
    if big:
        t, mem = median(big), big["rss_peak_mb"]
        verdict = "met" if t < 10 and mem < 1536 else "**missed**"
        rows.append(
            f"| 1M tasks < 10 s, peak memory < 1.5 GB | {t:.2f} s, peak RSS {mem:.0f} MB "
            f"(of which {big['rss_inputs_mb']:.0f} MB before compiling: interpreter + the "
            f"input dicts) | {verdict} |"
        )
    cli = find(results, "slurmplan-cli", 1_000_000)
    if cli:
        peak = cli["cli_peak_mb"]
        rows.append(
            "| `slurmplan compile -o plan.json --scripts-to DIR` of 1M tasks peaks < 1.5 GB "
            f"(the command as its own process) | {median(cli):.1f} s, peak RSS {peak:.0f} MB "
            f"| {'met' if peak < 1536 else '**missed**'} |"
        )
    rows.extend(submission_goals())
    return "\n".join(rows)


def submission_goals() -> list[str]:
    """The two goals bench_submit.py measures, from its saved raw numbers."""
    if not os.path.exists(SUBMIT_RESULTS):
        return ["| ssh submission ≥ half the local rate; one RPC per poll cycle "
                "| not measured (bench_submit.py has not run) | — |"]  # fmt: skip
    with open(SUBMIT_RESULTS) as f:
        sub = json.load(f)
    rates = {label: statistics.median(v) for label, v in sub["rates"].items()}
    ssh, local = rates["slurmplan submit, ssh"], rates["slurmplan submit, local"]
    x = ssh / local
    rpc, cycles = sub["rpc"], sub["cycles"]

    def per_cycle(kinds: list[str]) -> float:
        return sum(rpc["ours"].get(k, 0) - rpc["quiet"].get(k, 0) for k in kinds) / cycles

    job_info = per_cycle(sub["poll_types"])
    partition = per_cycle(["REQUEST_PARTITION_INFO"])
    return [
        f"| ssh submission ≥ half the local rate ({sub['jobs']} jobs, {sub['date']}) "
        f"| {ssh:.0f} vs {local:.0f} jobs/s = {x:.2f}x "
        f"| {'met' if x >= 0.5 else f'**missed** ({x:.2f}x)'} |",
        f"| one RPC per poll cycle, whatever the job count ({sub['jobs']} jobs) "
        f"| {job_info:.2f} job-information RPC + {partition:.2f} REQUEST_PARTITION_INFO "
        "per cycle "
        f"| {'met' if job_info <= 1 else '**missed**'} for job information; squeue 22.05 "
        "adds the partition RPC to every call (see *Submission and polling*) |",
    ]


def parts_table(results: Results) -> str:
    """Where slurmplan's compile time goes, against the reference's whole in-memory run."""
    r = next((r for r in results if r["kind"] == "parts"), None)
    if r is None:
        return "(not measured in this run)"
    ref = find(results, "reference", r["n"])
    flo = find(results, "floor", r["n"])
    lines = [
        f"At {_n(r['n'])} homogeneous tasks, each part alone (median of {len(r['times'])}):",
        "",
        "| part | seconds | share of compile_plan | x the reference's whole run |",
        "|---|---:|---:|---:|",
    ]
    whole = statistics.median(r["parts"]["compile_plan"])
    for name, times in r["parts"].items():
        t = statistics.median(times)
        versus = f"{t / median(ref):.2f}x" if ref else "—"
        lines.append(f"| {name} | {t:.3f} | {t / whole:.0%} | {versus} |")
    if ref and flo:
        floor_x = median(flo) / median(ref)

        def _share(part: str) -> str:
            return f"{statistics.median(r['parts'][part]) / median(ref):.1f}x the reference's run"

        s = find(results, "slurmplan", r["n"])
        under = s is not None and median(s) < median(flo)
        lines += [
            "",
            f"The reference's whole run takes {median(ref):.3f} s and the floor "
            f"{median(flo):.3f} s: producing slurmplan's bytes the plain way (f-strings, and "
            f"shlex.quote per word), with no checks, costs "
            f"{floor_x:.1f}x the reference's work. slurmplan's scripts carry more: each task's "
            "argv is in the script, quoted word by word (the reference writes it to a JSON "
            "file instead, outside this comparison), and the plan is named by a hash of all "
            "its inputs (which makes plans reproducible and jobs findable by name after a "
            "crash); the reference has neither. The plan id on its own takes "
            f"{_share('plan id')}, quoting alone {_share('quoting every argv')}; within "
            "compile_plan the plan id's hashing shares the schema fast path's walk over the "
            "tasks, so the parts add up to more than the whole."
            + (
                " slurmplan runs under the floor, checks included, because it does that work "
                "a column at a time in C (compiler/slurm/quoting.py, "
                "compiler/passes/plan_id.py), not a "
                "word or a task at a time in Python."
                if under
                else ""
            ),
        ]
    return "\n".join(lines)


def tables(data: dict[str, Any]) -> str:
    results = data["results"]
    return "\n\n".join([compile_table(results), files_table(results), goals(results)])


def _machine(data: dict[str, Any]) -> str:
    m = data["machine"]
    before, after = data.get("load_average", ("?", "?"))
    return (
        f"- {m['nproc']} CPUs ({m['cpu']}), {m['memory_gb']} GB RAM, {m['platform']}\n"
        f"- Python {m['python']}, fractal-server {m['fractal_server']}\n"
        f"- slurmplan at `{m['commit']}`, measured {m['date']}; the compile and file "
        f"measurements took {data['wall_seconds']:.0f} s. Load average (1 min) {before} "
        f"before and {after} after: the machine was shared with other work (tests, a SLURM "
        "testbed), so the spread matters as much as the median."
    )


def _submission() -> str:
    if not os.path.exists(SUBMIT_DOC):
        return (
            "Not measured in this run: `benchmarks/bench_submit.py` and its results "
            "(`docs/benchmarks-submit.md`) were not there when this file was written."
        )
    with open(SUBMIT_DOC) as f:
        text = f.read()
    body = text.split("\n", 1)[1] if text.startswith("# ") else text
    return (
        "Measured on the SLURM testbed by `benchmarks/bench_submit.py`, which the command "
        "above runs first when it can (as root, testbed up). Its results, copied "
        "from [benchmarks-submit.md](benchmarks-submit.md) as they stood when this file "
        "was written:\n\n" + body.strip().replace("\n## ", "\n### ")
    )


def _results() -> str:
    """bench_results.py's page (poll and fetch over ssh, run by hand), as it stands."""
    if not os.path.exists(RESULTS_DOC):
        return "Not measured yet: run `benchmarks/bench_results.py` (as root, testbed up)."
    with open(RESULTS_DOC) as f:
        text = f.read()
    body = text.split("\n", 1)[1] if text.startswith("# ") else text
    return (
        "Its results, copied from [benchmarks-results.md](benchmarks-results.md) as they "
        "stood when this file was written:\n\n" + body.strip().replace("\n## ", "\n### ")
    )


def markdown(data: dict[str, Any]) -> str:
    results = data["results"]
    slope_s = slope(results, "slurmplan")
    return _TEMPLATE.format(
        command=data["command"],
        machine=_machine(data),
        compile_table=compile_table(results),
        parts_table=parts_table(results),
        files_table=files_table(results),
        goals=goals(results),
        slope=f"{slope_s:.2f}" if slope_s is not None else "—",
        submission=_submission(),
        results=_results(),
    )


def plot(data: dict[str, Any], path: str) -> None:
    # A bare Figure (no pyplot, no GUI backend): PNG goes through Agg.
    results = data["results"]
    fig = Figure(figsize=(12, 5))
    left, right = fig.subplots(1, 2, sharey=True)
    series = [
        (left, "slurmplan", "slurmplan compile_plan (all checks on)", "o-", "C0"),
        (left, "reference", "fractal-server 2.18.5: heuristic + script assembly", "s-", "C1"),
        (left, "floor", "floor: same bytes, plain formatting + shlex.quote", "^--", "C2"),
        (right, "slurmplan-files", "slurmplan compile --scripts-to (plan + scripts)", "o-", "C0"),
        (right, "reference-files", "fractal-server 2.18.5: script + 2 JSON per task", "s-", "C1"),
    ]
    for axis, kind, label, style, color in series:
        rows = sorted(
            (r for r in results if r["kind"] == kind and r["workload"] == "homogeneous"),
            key=lambda r: r["n"],
        )
        if not rows:
            continue
        xs = [r["n"] for r in rows]
        ys = [median(r) for r in rows]
        low = [y - min(r["times"]) for y, r in zip(ys, rows, strict=True)]
        high = [max(r["times"]) - y for y, r in zip(ys, rows, strict=True)]
        axis.errorbar(xs, ys, yerr=[low, high], fmt=style, color=color, label=label, capsize=3)
    for axis, title in (
        (left, "Compile in memory (homogeneous tasks)"),
        (right, "Inputs → every file on disk"),
    ):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("tasks")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8, loc="upper left")
    left.set_ylabel("seconds (median; bars: min-max)")
    m = data["machine"]
    fig.suptitle(f"{m['nproc']} CPUs ({m['cpu']}), Python {m['python']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write(data: dict[str, Any]) -> None:
    with open(MARKDOWN, "w") as f:
        f.write(markdown(data))
    plot(data, PLOT)


_TEMPLATE = """\
# Benchmarks

slurmplan against the reference (fractal-server 2.18.5's SLURM runner) and against the
floor, on the same tasks, in one run. Produced by

```sh
{command}
```

(from a clone with `pip install -e '.[bench]'`; about 4 minutes on 2 cores). Run as root with
the SLURM testbed up (`bash scripts/testbed.sh up`), it first runs the submission benchmark,
`benchmarks/bench_submit.py` (about 2 more minutes); otherwise, or with `--no-submit`, this page
keeps that benchmark's last results. It writes this file, [the plot](benchmarks-compile.png)
and the raw numbers (`benchmarks/results/latest.json`, `benchmarks/results/submit.json`);
`python benchmarks/report.py` redraws both from the raw numbers. Timing is never a pass/fail
test.

{machine}

Every cell is the **median** of the repetitions with the **min-max spread** in brackets
(3 to 7 repetitions, as listed in `benchmarks/run_all.py`), wall clock
(`time.perf_counter`), seconds. Each row runs in a fresh process (`benchmarks/measure.py`);
imports, schema and template loading are warmed up on 10 tasks first.

## Compile, in memory

![compile time against task count](benchmarks-compile.png)

{compile_table}

- **slurmplan**: `compile_plan(config, profile, task_list)` on parsed dicts with every check on
  (schema fast path, units, sbatch options, batching, quoting), returning the frozen plan
  with every job's script and every step's argv. Log-log slope of time against tasks from
  100k to 1M: **{slope}** (1.00 is linear; below 100k the 500 jobs' own cost still shows,
  see µs/task).
- **reference**: fractal-server's `_batching.heuristics`, one `SlurmConfig` (pydantic), and
  per job `to_sbatch_preamble`, `sort_script_lines` and one `srun` line per task, the lines
  copied from its `_prepare_single_slurm_job`, in memory: the least the reference can do for
  the same tasks (no `SlurmTask`/`TaskFiles` objects, paths by plain f-strings, logging off).
  It batches exactly as slurmplan does (same `tasks_per_job`, `parallel_tasks_per_job` and
  job count, checked by the run). It cannot take the heterogeneous list in one call.
- **floor** (`benchmarks/floor.py`): slurmplan's exact script bytes from plain string
  formatting and `shlex.quote`, no validation, no plan object, including the plan id (a
  SHA-256 of the inputs, the tasks' ids and argvs hashed as columns as slurmplan does; it
  names the jobs and the folder). The run asserts that its scripts equal slurmplan's, byte
  for byte, at every size.
- **peak RSS** is the measuring process's resident high-water mark (`VmHWM` in
  `/proc/self/status`; not `ru_maxrss`, which on Linux carries the parent's peak across
  fork + exec): the whole process, interpreter and input dicts included. In brackets the same
  before the first timed run (interpreter, imports and inputs), so the difference is what
  compiling adds.

### Where the time goes

{parts_table}

## Inputs → every file on disk

{files_table}

- **slurmplan**: `slurmplan compile --config C --profile P --tasks T -o plan.json
  --scripts-to DIR` run in-process (`slurmplan.effects.cli.main`): reads the three JSON
  files, compiles, writes every job's script and the plan (which holds every argv, path and
  script), each file written atomically (temporary file, rename); the plan is fsync'd, the
  scripts are not
  (`docs/decisions.md`, *Submission*: sbatch copies a script into slurmctld, and compile
  can be run again after a crash).
- **reference**: what its `multisubmit` does before the first `sbatch`, with its own code:
  `JobRunnerConfigSLURM` validation, `get_slurm_config` (heuristic included),
  `enrich_task_files_multisubmit`, one `SlurmTask` per task and `SlurmJob` per batch, and its
  `_prepare_single_slurm_job`, which writes each job's script plus two JSON files per task
  (input and args; no fsync). Its parameters start as Python dicts (slurmplan's start as
  files). Not run at 1M tasks: two million files take minutes.
- **Peak RSS** here is the measuring process's, which also holds the task list it wrote out
  as JSON (575 MB at 1M tasks). The command as its own process (`slurmplan-cli` in
  `benchmarks/measure.py`, which reports the child's own VmHWM) is the *Goals* row for
  `--scripts-to` at 1M tasks.
- Both write into a fresh folder under the system temp dir (here the VM's one disk, ext4)
  for each repetition. At 1k and 10k tasks slurmplan's time is mostly its 64 or 501 files
  (created, renamed), at 100k mostly reading the 20 MB task list and writing the 45 MB
  plan. Before the scripts' fsync was dropped, the 10k ratio moved between 6x and 18x from
  one run of this command to the next (one fsync per file on a shared disk). At 1k the
  ratio still moves with the machine's load: four back-to-back runs of
  `measure.py reference-files|slurmplan-files homogeneous 1000 7` gave medians of 0.094 and
  0.297 s for the reference and 0.011 and 0.017 s for slurmplan (8.6x to 17x).

## Goals

{goals}

## Submission and polling

{submission}

## Results coming home (poll and fetch over ssh)

Issue 10's speed goals: on the testbed over ssh, for 1,000 jobs and 100,000 tasks that have
run, one `Run.poll()` whose jobs are all settled within 2x the bare squeue, `Run.fetch()` of
every task's stdout and stderr within 2x the bare `tar` stream, and that fetch under 10 s.
Measured by `benchmarks/bench_results.py`, run by hand (`sudo .venv/bin/python
benchmarks/bench_results.py`, about 10 minutes, most of it creating the 200,000 files four
times a repetition: fetch and bare `tar -x`, on disk and on tmpfs); it writes
[benchmarks-results.md](benchmarks-results.md), whose docstring says how each number is
taken. A cold poll (a new `Run`) reads what the bare squeue does not: every
done marker and all 100,000 lane lines, 3 MB over ssh. So the page also measures the floor of
that read, the bare squeue followed by one `cat` of every marker and lane file, and reports
the ratio to both; and a poll followed by reading every task's result, since a poll builds
each `TaskResult` only when it is looked up.

What made the cold poll fast (1.22 s median before, at `bbd3e17`; profiled with cProfile and
each command timed where the Run runs it: 6 commands took 0.15-0.2 s, Python 1.1-1.5 s):

- the lane lines are checked in one regex pass over the whole text
  (`compiler.slurm.parsers.parse_lane_lines`: as many whole well-formed lines as newlines,
  else line by line to name the bad one), not a regex and a dataclass per line;
- the job-id check of the lines is one pass, a dict lookup per line
  (`compiler.runtime.settle.this_runs_lines`; checking a column at a time in C, four passes
  and three lists, was slower): a line still counts only when it names the job id the
  journal holds for its task's job;
- `Snapshot.tasks` is a `TaskResults` mapping that builds a task's result when it is first
  looked up, a whole job at a time (a result was two `posixpath.join` and a frozen
  dataclass per task, 100,000 of them per cold poll); the results of a settled job are built
  once per run, and a snapshot keeps the lines its observation read;
- a `cat` of markers or lane files is cut by what its paths cost as one ssh argument
  (120,000 bytes quoted, `compiler.runtime.commands.read_chunks`) instead of 60,000
  characters: 4 commands per cold poll instead of 6.

The same poll again (same `Run`, every job settled) runs no command.

What made fetch fast (11.7 s median into tmpfs before, at `e78de70`: listing the names
0.67 s, the stream 1.73 s, unpacking and writing 9.28 s):

- the stream is unpacked as it arrives (`effects.execute.run_once` with a sink: stdout handed
  over piece by piece while threads feed the names and read stderr): the files are written
  while the rest of the stream is on its way, instead of after all of it, and the stream is
  never held whole in memory (at `7714ada`; with has_ended below, 6.3 s to 4.0 s into tmpfs);
- the stream is read from its bytes by `compiler.runtime.tar_reader.TarReader` (each
  member's name, with the ustar prefix, GNU long names and pax `path` records; its type; its
  data, handed out once all of it arrived), not by `tarfile`, which builds and checks a
  `TarInfo` per member; property tests hold it equal to `tarfile` on GNU, pax and ustar
  streams, and a stream fed in pieces cut anywhere equal to the whole;
- the files are created through a descriptor of their folder, opened once, instead of a
  path joined and resolved per file, and a folder's path is checked once;
- which tasks ended in this run is asked of the poll's lane lines
  (`TaskResults.has_ended`) without building 100,000 results;
- the names list (`compiler.runtime.fetch.wanted_files`) joins the workdir once and builds
  `NamedTuple`s (0.58 s to 0.32 s for 200,000 files).
- the 200,000 file records and the 200,000 `Path`s fetch returns are built with Python's
  cyclic collector paused (`effects/collector.py`), and each file's `Path` is made as its
  folder's child: five full collections, each walking every object of the process, had
  taken 0.63 s of a 4.9 s fetch (counted with `gc.callbacks`); none is left within fetch
  (at `a62e77e`; interleaved, 8 runs each into tmpfs on a slower day than the results
  below: 5.16 s median before, 4.66 s after).

Measured alone on 200,000 members in memory, unpacking into `/dev/shm` went from 11.1 s to
2.5 s. Fetch also polls once first (it fetches only the tasks that ended in this run), which
the numbers below include. What is left into tmpfs, besides the stream: Python's cost per
file (parsing a header, an `open`, a `write` and a `close`, about 12 microseconds), making the
200,000 `Path`s fetch returns (about 0.5 s on Python 3.11, where a `Path` parses its name when
made), and listing the names (0.35 s).
Tried and not kept: a 1 MiB pipe (`F_SETPIPE_SZ`) between ssh and the reader (4.40 s against
4.27 s without, medians of 8); a thread that writes the files while the reader parses (the
200,000 members from memory into `/dev/shm`: 2.5-3.0 s against 2.0-2.3 s without; the two
threads contend for the interpreter). On this VM's disk, creating the files is the cost for
slurmplan as for `tar -x`, and it varies from one run to the next (13 s to 67 s for `tar -x`
alone).

Fetch through sudo reads up to 1,000 files per `cat`, with a separator file between them
(`compiler/runtime/cat_batches.py`, at `bf0637b` and `31c237d`), where it ran one `sudo cat`
per file before (7.5 ms a file: about 25 minutes for these 200,000 files). What is left is
`cat` itself, which opens each file and the separator between each two: about 55 ms per
1,000 files with sudo's start, measured alone to /dev/null.

{results}

## What made the compiler fast

Measured with this benchmark and cProfile; every change keeps the golden files byte for byte
and every check on:

- the plan id hashes the tasks as columns (`compiler/passes/plan_id.py`: ids, argv lengths and
  argv words each joined in C and hashed, env and meta as canonical JSON), not as the
  canonical JSON of every task, whose encoding was most of the hashing's time; 10,000
  tasks at a time, so no text of all the tasks (180 MB of JSON at 1M tasks) ever exists;
- argv quoting finds the words that need quotes for a whole job at once
  (`compiler/slurm/quoting.py:sh_words_many`: NUL-joined, `bytes.translate` drops the safe
  characters), and quotes those at once too, as `shlex.quote` quotes an unsafe word: two
  `str.replace` on their NUL-joined text and one split, no Python call per word; a job
  whose argvs are all as long is quoted a column at a time (all first words, all second
  words...), and a column whose words all need quotes, or none, is quoted or kept whole;
- a lane's task lines are built by one join (`compiler/passes/render.py:task_lines`) instead of a
  template loop per task; the template places them; a job of alike commands has all its
  lanes built from one flat list of pieces (`render.lane_texts`), its columns alike in
  every task quoted once (`quoting.sh_word_columns`);
- the template is rendered once per job shape (a group's jobs with the same lane and task
  counts), with holes for what differs per job (`render.ScriptShape`), not once per job:
  what 500 more jobs cost (the 1000x100 workload against the 500-job one, 100k tasks
  each) fell from about 0.040 s to about 0.019 s;
- one walk over the tasks, 10,000 at a time (`compiler/passes/task_scan.py`), serves the
  schema fast path, the plan id's column hashes and the parse pass: each task's id and argv
  are taken out of its dict once, not three times;
- `slurmplan compile` keeps less at once (1M tasks: 1,630 → 1,180 MB peak): an input
  file's bytes are dropped once decoded, and the plan's JSON is encoded straight into its
  file in 64 KiB pieces, never whole as text and bytes;
- tasks are grouped once (not twice), and without per-task metas in one step; identical
  metas are recognized by `repr` confirmed with `==`, not by JSON-encoding each;
- the parsed task list keeps the input's argv lists instead of copying them as tuples
  (1M tuples, 100+ MB at 1M tasks), and a job's tasks are slices of the task list when they
  are consecutive.

## Notes

- The reference side needs two stubs to import: `fractal_server.logger` (which reads the
  server's settings on import) becomes a module of plain, disabled loggers, and the real
  path's imports need `POSTGRES_DB` and `JWT_SECRET_KEY` set to anything (nothing connects to
  a database). Both are in `benchmarks/reference.py`.
- Memory: the reference reads `8G` as 8000 MB and slurmplan as 8192 MiB (as Slurm does); the
  benchmark hands the reference integer MiB so that both batch and size jobs the same way.
- The workload (`benchmarks/workloads.py`): each task is a 7-word fractal-style command line
  whose zarr path holds a space, so one word per task needs quoting; the heterogeneous list
  spreads the tasks over four resource groups, a third of them with an `env`. The 1000x100
  workload is the homogeneous list under the same config with `max_num_jobs` 1,000 instead
  of 500: 100,000 tasks make 1,000 jobs of 100 tasks (16 at once) instead of 500 jobs of
  200, on both sides (the reference's own heuristic, from the same config), so the cost
  per job weighs twice as much.
"""


if __name__ == "__main__":
    source = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "results", "latest.json")
    with open(source) as f:
        write(json.load(f))
    print(f"wrote {MARKDOWN}, {PLOT}")
