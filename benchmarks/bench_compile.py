"""Time compile_plan: `.venv/bin/python benchmarks/bench_compile.py [N ...] [--repeat R]`.

Reports the median and spread of R runs per size (wall clock, one process,
inputs built beforehand) and the plan's size.  No pass/fail: numbers only.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo

from workloads import CONFIG, PROFILE, heterogeneous, homogeneous

from slurmplan.compiler import compile_plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sizes", nargs="*", type=int, default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--heterogeneous", action="store_true")
    args = parser.parse_args()
    make = heterogeneous if args.heterogeneous else homogeneous
    print(f"# {platform.node()} {platform.machine()} python {platform.python_version()}")
    print(f"# command: python {' '.join(sys.argv)}")
    print("tasks      jobs  median_s   min_s    max_s  script_MB")
    for n in args.sizes:
        tasks = make(n)
        timings = []
        plan = None
        for _ in range(args.repeat):
            start = time.perf_counter()
            plan = compile_plan(CONFIG, PROFILE, tasks)
            timings.append(time.perf_counter() - start)
        assert plan is not None
        size_mb = sum(len(job.script) for job in plan.jobs) / 1e6
        print(
            f"{n:>8} {len(plan.jobs):>6} {statistics.median(timings):>9.3f} "
            f"{min(timings):>7.3f} {max(timings):>8.3f} {size_mb:>9.1f}"
        )


if __name__ == "__main__":
    main()
