"""Every benchmark in one run: `python benchmarks/run_all.py` (about 3-4 minutes on 2 cores).

Runs each measurement (benchmarks/measure.py) in a fresh process, one after
another, saves the raw numbers to benchmarks/results/latest.json, then writes
docs/benchmarks.md and docs/benchmarks-compile.png from them (benchmarks/report.py).
`--quick` runs small sizes only (and the 1000x100 workload, which is 100k tasks)
and writes nothing but the table on stdout.
Needs the `bench` extra: `pip install -e '.[bench]'` (fractal-server 2.18.5, matplotlib).

As root with the SLURM testbed up (`bash scripts/testbed.sh up`), it first runs
benchmarks/bench_submit.py (submission rates and poll RPCs, about a minute);
otherwise, or with --no-submit, the report keeps that script's last results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from typing import Any

import report  # benchmarks/, the script's own folder

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results", "latest.json")
SUBMIT_ARGS = ["--jobs", "100", "--repeats", "3", "--cycles", "20"]

K, M = 1_000, 1_000_000
# (kind, workload, tasks, repetitions): the whole benchmark, in the order it runs.
PLAN: list[tuple[str, str, int, int]] = [
    *[("slurmplan", "homogeneous", n, 5) for n in (K, 10 * K, 100 * K)],
    ("slurmplan", "homogeneous", M, 3),
    ("slurmplan", "heterogeneous", 100 * K, 5),
    ("slurmplan", "heterogeneous", M, 3),
    ("slurmplan", "1000x100", 100 * K, 5),
    *[("reference", "homogeneous", n, 5) for n in (K, 10 * K, 100 * K)],
    ("reference", "homogeneous", M, 3),
    ("reference", "1000x100", 100 * K, 5),
    *[("floor", "homogeneous", n, 5) for n in (K, 10 * K, 100 * K)],
    ("floor", "homogeneous", M, 3),
    ("floor", "heterogeneous", 100 * K, 5),
    ("floor", "1000x100", 100 * K, 5),
    # Disk writes are noisy on a shared VM: more repetitions where they are cheap.
    *[("slurmplan-files", "homogeneous", n, 7) for n in (K, 10 * K)],
    ("slurmplan-files", "homogeneous", 100 * K, 5),
    ("slurmplan-files", "homogeneous", M, 3),
    ("slurmplan-cli", "homogeneous", M, 1),
    *[("reference-files", "homogeneous", n, 7) for n in (K, 10 * K)],
    ("reference-files", "homogeneous", 100 * K, 3),
    ("parts", "homogeneous", 100 * K, 5),
]
QUICK: list[tuple[str, str, int, int]] = [
    (kind, workload, n, 2)
    for kind, workload, n, _ in PLAN
    if kind != "parts" and ((n <= 10 * K and workload == "homogeneous") or workload == "1000x100")
]


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    try:
        fractal = version("fractal-server")
    except PackageNotFoundError:  # the report says so rather than failing
        fractal = "not installed"
    commit = subprocess.run(
        ["git", "-C", ROOT, "describe", "--always", "--dirty"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "fractal_server": fractal,
        "commit": commit or "unknown",
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def run_one(kind: str, workload: str, n: int, repeat: int) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, HERE, env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, os.path.join(HERE, "measure.py"), kind, workload, str(n), str(repeat)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{kind} {workload} {n} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def testbed_up() -> bool:
    status = subprocess.run(
        ["bash", os.path.join(ROOT, "scripts", "testbed.sh"), "status"],
        capture_output=True, check=False,
    )  # fmt: skip
    return status.returncode == 0


def run_submit_benchmark() -> None:
    """bench_submit.py, when this machine can run it (it needs root and the testbed)."""
    if os.geteuid() != 0 or not testbed_up():
        print("not root, or the SLURM testbed is not up: submission not measured; "
              "the report keeps benchmarks/results/submit.json", file=sys.stderr)  # fmt: skip
        return
    print(f"bench_submit.py {' '.join(SUBMIT_ARGS)} ...", file=sys.stderr, flush=True)
    done = subprocess.run(
        [sys.executable, os.path.join(HERE, "bench_submit.py"), *SUBMIT_ARGS],
        stdout=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit("bench_submit.py failed (its messages are above)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes; write no files")
    parser.add_argument("--no-submit", action="store_true", help="skip bench_submit.py")
    args = parser.parse_args()
    if not args.quick and not args.no_submit:
        run_submit_benchmark()
    plan = QUICK if args.quick else PLAN
    if find_spec("fractal_server") is None:
        print("fractal-server is not installed: no reference rows", file=sys.stderr)
        plan = [row for row in plan if not row[0].startswith("reference")]
    results: list[dict[str, Any]] = []
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    for kind, workload, n, repeat in plan:
        print(f"{kind:16} {workload:13} {n:>9} x{repeat} ...", end=" ", file=sys.stderr, flush=True)
        result = run_one(kind, workload, n, repeat)
        results.append(result)
        median = sorted(result["times"])[len(result["times"]) // 2]
        print(f"{median:.3f} s, peak {result['rss_peak_mb']:.0f} MB", file=sys.stderr)
    data = {
        "command": "python benchmarks/run_all.py" + (" --quick" if args.quick else ""),
        "machine": machine(),
        "wall_seconds": round(time.perf_counter() - started, 1),
        # Other work on the machine shows here (the run itself keeps about one core busy).
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "results": results,
    }
    if args.quick:
        print(report.tables(data))
        return
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    report.write(data)
    print(f"wrote {RESULTS}, {report.MARKDOWN}, {report.PLOT}", file=sys.stderr)


if __name__ == "__main__":
    main()
