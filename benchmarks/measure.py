"""One measurement in a fresh process: `python benchmarks/measure.py KIND WORKLOAD N REPEAT`.

Prints one JSON object: the wall-clock time of each repetition, the process's
peak resident memory (VmHWM) once the inputs are built and after the timed
runs, and what was produced.  run_all.py starts one of these per row, so each
row's peak memory is its own.

KIND is one of:
  slurmplan        compile_plan(config, profile, task list), in memory
  reference        fractal-server's heuristic + script assembly, in memory
  floor            the same script bytes as slurmplan by plain formatting (checked equal)
  slurmplan-files  `slurmplan compile -o plan.json --scripts-to DIR` from JSON files
  reference-files  fractal-server's preparation, script + 2 JSON files per task
  parts            slurmplan's compile and three of its parts alone: the one walk over
                   the tasks (schema fast path, plan id, columns), the plan id on its
                   own, quoting every argv
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import workloads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINDS = (
    "slurmplan", "reference", "floor", "slurmplan-files", "slurmplan-cli", "reference-files",
    "parts",
)  # fmt: skip
# slurmplan-cli: `slurmplan compile ... --scripts-to DIR` as its own process, which then
# prints its own peak resident memory (VmHWM: exec starts it afresh) on stderr's last line.
_CLI = (
    "import sys\n"
    "from slurmplan.effects.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
    "print('VmHWM', hwm, file=sys.stderr)\n"
    "sys.exit(status)\n"
)
# Paths the in-memory reference writes into its scripts (nothing is written there).
REF_WORKDIR = "/home/alice/project/jobs/0_bench"
REF_CACHE_DIR = "/home/alice/project/.fractal_cache"


def _maxrss_mb() -> float:
    """This process's peak resident memory so far (VmHWM), in MiB.

    Not getrusage's ru_maxrss: on Linux that keeps the parent's peak across
    fork + exec, so every row would start at run_all.py's own size.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _task_list(workload: str, n: int) -> dict[str, Any]:
    return workloads.WORKLOADS[workload][1](n)


def _count_files(directory: str) -> tuple[int, int]:
    files = size = 0
    for folder, _, names in os.walk(directory):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(folder, name))
    return files, size


def _runner(
    kind: str, config: dict[str, Any], task_list: dict[str, Any], scratch: str
) -> Callable[[], dict[str, Any]]:
    """A function doing one repetition of `kind`, with its untimed set-up done.

    Each kind imports only what it runs, so that a row's memory is its own (the
    reference's modules and pydantic are not in slurmplan's rows, and so on).
    """
    profile = workloads.PROFILE
    if kind == "slurmplan":
        from slurmplan.compiler import compile_plan  # noqa: PLC0415

        def run() -> dict[str, Any]:
            plan = compile_plan(config, profile, task_list)
            return {
                "jobs": len(plan.jobs),
                "batching": [[g.tasks_per_job, g.parallel_tasks_per_job] for g in plan.groups],
                "script_bytes": sum(len(j.script) for j in plan.jobs),
            }

        return run
    if kind == "parts":
        from slurmplan.compiler import compile_plan, compute_plan_id  # noqa: PLC0415
        from slurmplan.compiler.passes.task_scan import scan_task_list  # noqa: PLC0415
        from slurmplan.compiler.slurm.quoting import sh_word_columns  # noqa: PLC0415

        commands = [task["command"] for task in task_list["tasks"]]
        # Quoted job by job, as compile_plan does (homogeneous: jobs take consecutive tasks).
        sizes = [len(job.tasks) for job in compile_plan(config, profile, task_list).jobs]
        starts = [sum(sizes[:k]) for k in range(len(sizes))]
        per_job = [commands[a : a + size] for a, size in zip(starts, sizes, strict=True)]
        parts: dict[str, Callable[[], object]] = {
            "one walk over the tasks (schema fast path, plan id, columns)": lambda: scan_task_list(
                task_list
            ).plan_id(config, profile),
            "plan id": lambda: compute_plan_id(config, profile, task_list),
            "quoting every argv": lambda: list(map(sh_word_columns, per_job)),
        }

        def run() -> dict[str, Any]:
            times: dict[str, float] = {}
            for name, part in parts.items():
                start = time.perf_counter()
                part()
                times[name] = time.perf_counter() - start
            start = time.perf_counter()
            compile_plan(config, profile, task_list)
            times["compile_plan"] = time.perf_counter() - start
            return {"parts": times}

        return run
    if kind == "floor":
        import floor  # noqa: PLC0415

        def run() -> dict[str, Any]:
            scripts = floor.scripts(config, profile, task_list)
            return {"jobs": len(scripts), "script_bytes": sum(map(len, scripts))}

        return run
    if kind in ("reference", "reference-files"):
        import reference  # noqa: PLC0415

        ref = reference.reference_inputs(config, task_list)
        if kind == "reference":

            def run() -> dict[str, Any]:
                batching, scripts = reference.in_memory(
                    ref, workdir=REF_WORKDIR, cache_dir=REF_CACHE_DIR
                )
                return {
                    "jobs": len(scripts),
                    "batching": [list(batching)],
                    "script_bytes": sum(map(len, scripts)),
                }

            return run
        root = os.path.join(scratch, "reference")

        def run() -> dict[str, Any]:
            batching, commands = reference.real_path(ref, root=root, cache_dir=REF_CACHE_DIR)
            return {"jobs": len(commands), "batching": [list(batching)]}

        return run
    if kind in ("slurmplan-files", "slurmplan-cli"):
        from slurmplan.effects.cli import main  # noqa: PLC0415

        inputs = os.path.join(scratch, "inputs")
        os.makedirs(inputs, exist_ok=True)
        names = ("config", "profile", "tasks")
        for name, doc in zip(names, (config, profile, task_list), strict=True):
            with open(os.path.join(inputs, f"{name}.json"), "w") as f:
                json.dump(doc, f, indent=1)
        out = os.path.join(scratch, "slurmplan")
        argv = ["compile"]
        for name in names:
            argv += [f"--{name}", os.path.join(inputs, f"{name}.json")]
        argv += ["-o", os.path.join(out, "plan.json"), "--scripts-to", os.path.join(out, "scripts")]

        if kind == "slurmplan-cli":

            def run_cli() -> dict[str, Any]:
                os.makedirs(out)
                done = subprocess.run(
                    [sys.executable, "-c", _CLI, *argv],
                    check=False,
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                )
                assert done.returncode == 0, f"slurmplan compile failed: {done.stderr[-2000:]}"
                return {"cli_peak_mb": int(done.stderr.split()[-1]) / 1024}

            return run_cli

        def run() -> dict[str, Any]:
            os.makedirs(out)
            status = main(argv)
            assert status == 0, f"slurmplan compile exited {status}"
            return {}

        return run
    raise SystemExit(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")


def _output_dir(kind: str, scratch: str) -> str | None:
    name = {
        "slurmplan-files": "slurmplan", "slurmplan-cli": "slurmplan", "reference-files": "reference"
    }.get(kind)  # fmt: skip
    return None if name is None else os.path.join(scratch, name)


def measure(kind: str, workload: str, n: int, repeat: int, scratch: str) -> dict[str, Any]:
    config = workloads.WORKLOADS[workload][0]
    # Warm up on 10 tasks: imports, schema and template loading are not what is measured.
    _runner(kind, config, _task_list(workload, 10), os.path.join(scratch, "warmup"))()
    task_list = _task_list(workload, n)
    run = _runner(kind, config, task_list, scratch)
    out_dir = _output_dir(kind, scratch)
    rss_inputs = _maxrss_mb()
    times: list[float] = []
    produced: dict[str, Any] = {}
    parts: dict[str, list[float]] = {}
    cli_peaks: list[float] = []
    for _ in range(repeat):
        if out_dir is not None:
            shutil.rmtree(out_dir, ignore_errors=True)  # each run writes into a fresh folder
        produced = {}  # free the previous run's output before the next
        gc.collect()
        start = time.perf_counter()
        produced = run()
        times.append(time.perf_counter() - start)
        if "cli_peak_mb" in produced:
            cli_peaks.append(produced.pop("cli_peak_mb"))
        for name, seconds in produced.pop("parts", {}).items():
            parts.setdefault(name, []).append(seconds)
    rss_peak = _maxrss_mb()
    if out_dir is not None:
        produced["files"], produced["bytes_on_disk"] = _count_files(out_dir)
    if kind == "floor":
        # After the timing (and its memory peak): the floor must equal slurmplan.
        import floor  # noqa: PLC0415

        from slurmplan.compiler import compile_plan  # noqa: PLC0415

        expected = [j.script for j in compile_plan(config, workloads.PROFILE, task_list).jobs]
        produced["equal_to_slurmplan"] = (
            floor.scripts(config, workloads.PROFILE, task_list) == expected
        )
        assert produced["equal_to_slurmplan"], "the floor's scripts differ from slurmplan's"
    return {
        "kind": kind,
        "workload": workload,
        "n": n,
        "times": times,
        "rss_inputs_mb": rss_inputs,
        "rss_peak_mb": rss_peak,
        **({"parts": parts} if parts else {}),
        **({"cli_peak_mb": max(cli_peaks)} if cli_peaks else {}),
        **produced,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("workload", choices=tuple(workloads.WORKLOADS))
    parser.add_argument("n", type=int)
    parser.add_argument("repeat", type=int)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="slurmplan-bench-") as scratch:
        result = measure(args.kind, args.workload, args.n, args.repeat, scratch)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
