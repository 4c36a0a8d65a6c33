"""Results coming home over ssh, on the real testbed: `Run.poll` and `Run.fetch` of a plan
whose jobs have all run, side by side with the bare commands they stand for.

    sudo python benchmarks/bench_results.py [--jobs 1000] [--tasks-per-job 100]
                                            [--repeats 3] [--out docs/benchmarks-results.md]

Run as root with the testbed up.  Running 100,000 real tasks would take hours on one
node, so the plan's jobs are made to "have run" by writing what their scripts leave
(each task's stdout and stderr, the lane status lines, the done markers, the start
lines) as alice, and a journal whose job ids Slurm does not know (so squeue answers
for none, as for jobs aged out of slurmctld, and each job settles by its marker).
Measured, each `--repeats` times, with a fresh Run each time (nothing cached):

- poll: one `Run.poll()` (one squeue for all ids, one ls, the markers and the lane
  files with cat) against the bare `squeue --jobs=<all ids>` over the same ssh;
- poll again: a second `poll()` of the same Run (settled is final: nothing is asked);
- fetch: `Run.fetch(dest)` of every task's stdout and stderr (one tar stream, then
  unpacked) against the bare `tar -c` stream over the same ssh, into /dev/null, and
  unpacked by GNU `tar -x` into a folder (the floor: both create every file).

Not a pass/fail test: the numbers go to --out, with the machine and the command.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from effects_helpers import base_config, bed_facts, ssh_block, workspace  # noqa: E402

import slurmplan  # noqa: E402
from slurmplan.compiler import layout  # noqa: E402
from slurmplan.compiler.runtime.commands import poll_argv  # noqa: E402
from slurmplan.compiler.runtime.fetch import tar_argv, tar_names, wanted_files  # noqa: E402
from slurmplan.compiler.runtime.journal_state import encode, header_event, submitted_event  # noqa: E402

RUN = "5f2a9c1e"
FIRST_ID = 900_000_000  # far above the testbed's own job ids: squeue knows none of them


def _have_run(plan: slurmplan.Plan, owner: str) -> dict[int, str]:
    """Write, as `owner`, what each job's script leaves when it ends; their job ids."""
    workdir = Path(plan.workdir)
    (workdir / "tasks").mkdir(parents=True)
    ids = {job.index: str(FIRST_ID + job.index) for job in plan.jobs}
    for job in plan.jobs:
        job_id = ids[job.index]
        lanes: list[list[str]] = [[] for _ in job.lane_status_paths]
        for k, task in enumerate(job.tasks):
            (workdir / layout.task_output(task, "out")).write_text(f"{task} done\n")
            (workdir / layout.task_output(task, "err")).write_text("")
            lanes[k % len(lanes)].append(f"{task} 0 {job_id} 1000 1003\n")
        for path, lines in zip(job.lane_status_paths, lanes, strict=True):
            Path(path).write_text("".join(lines))
        Path(job.done_path).write_text(
            f"slurmplan-done job={job.index} slurm_job={job_id} tasks={len(job.tasks)} failed=0\n"
        )
        Path(job.stdout).write_text(
            f"slurmplan-start job={job.index} slurm_job={job_id} name={job.name}.{RUN}\n"
        )
    entry = pwd.getpwnam(owner)
    subprocess.run(["chown", "-R", f"{entry.pw_uid}:{entry.pw_gid}", str(workdir)], check=True)
    return ids


def _journal(plan: slurmplan.Plan, path: Path, ids: dict[int, str]) -> None:
    events = [header_event(plan.plan_id, plan.name, RUN)]
    events += [submitted_event(job, job_id, "sbatch") for job, job_id in sorted(ids.items())]
    path.write_bytes(b"".join(map(encode, events)))


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _bare(argv: tuple[str, ...], stdin: bytes | None = None, into: Path | None = None) -> None:
    """The command alone, its stdout to /dev/null, or unpacked by `tar -x -C into`."""
    if into is None:
        done = subprocess.run(argv, input=stdin, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, check=False)  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"{argv[0]} failed: {done.stderr.decode()[-300:]}")
        return
    into.mkdir()
    with subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as source:
        unpack = subprocess.Popen(["tar", "-x", "-f", "-", "-C", str(into)], stdin=source.stdout)
        assert source.stdin is not None and source.stdout is not None
        source.stdout.close()  # tar -x holds it now
        source.stdin.write(stdin or b"")
        source.stdin.close()
        if unpack.wait() != 0 or source.wait() != 0:
            raise SystemExit("the bare tar stream failed")


def _machine() -> str:
    ssh = subprocess.run(["ssh", "-V"], capture_output=True, text=True, check=False).stderr
    return (f"{platform.node()}: {os.cpu_count()} CPUs, Linux {platform.release()}, "
            f"{ssh.strip()}, Python {platform.python_version()}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--tasks-per-job", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks-results.md"))
    args = parser.parse_args()
    tb = bed_facts()
    n_tasks = args.jobs * args.tasks_per_job
    with workspace() as ws:
        alice_dir = ws.dir_for("alice")
        profile = {"username": "alice", "transport": "ssh", "project_dir": str(alice_dir / "p"),
                   "ssh": ssh_block(tb, f"~/.ssh/sp-bench-{ws.root.name}-%C")}  # fmt: skip
        config = base_config()
        config["batching_config"].update(
            target_num_jobs=args.jobs, max_num_jobs=args.jobs, target_cpus_per_job=1,
            max_cpus_per_job=args.tasks_per_job,
        )  # fmt: skip
        tasks = {
            "name": "bench",
            "tasks_per_job": args.tasks_per_job,
            "parallel_tasks_per_job": 1,
            "tasks": [{"id": f"t{i:06d}", "command": ["true"]} for i in range(n_tasks)],
        }
        plan = slurmplan.compile_plan(config, profile, tasks)
        assert len(plan.jobs) == args.jobs, len(plan.jobs)
        start = time.perf_counter()
        ids = _have_run(plan, "alice")
        made = time.perf_counter() - start
        journal = ws.root / "bench.journal"
        _journal(plan, journal, ids)
        files = wanted_files(plan)
        poll, again, bare_poll, fetch, bare_fetch, bare_unpack = [], [], [], [], [], []
        for _ in range(args.repeats):
            run = slurmplan.Run(plan, journal)
            poll.append(_timed(run.poll))
            again.append(_timed(run.poll))
            bare_poll.append(_timed(lambda: _bare(poll_argv(plan, list(ids.values())))))
            dest = Path(tempfile.mkdtemp(prefix="bench-fetch-"))
            fetch.append(_timed(lambda run=run, dest=dest: run.fetch(dest)))
            fetched = sum(1 for _ in (dest / "tasks").iterdir())
            shutil.rmtree(dest)
            bare_fetch.append(_timed(lambda: _bare(tar_argv(plan), tar_names(files))))
            bare_dest = Path(tempfile.mkdtemp(prefix="bench-bare-")) / "x"
            bare_unpack.append(
                _timed(lambda d=bare_dest: _bare(tar_argv(plan), tar_names(files), into=d))
            )
            shutil.rmtree(bare_dest.parent)
        assert fetched == len(files), (fetched, len(files))
        snap = slurmplan.Run(plan, journal).poll()
        assert snap.done and len(snap.tasks) == n_tasks and snap.succeeded
        subprocess.run(["ssh", "-O", "exit", "-o", f"ControlPath={profile['ssh']['control_path']}",
                        "-p", str(tb["SLURMPLAN_TESTBED_SSH_PORT"]), "alice@127.0.0.1"],
                       capture_output=True, check=False)  # fmt: skip

    def row(name: str, ours: list[float], bare: list[float]) -> str:
        m, b = statistics.median(ours), statistics.median(bare)
        return f"| {name} | {m:.2f} | {min(ours):.2f} | {b:.2f} | {m / b:.2f} |"

    command = (f"python benchmarks/bench_results.py --jobs {args.jobs} "
               f"--tasks-per-job {args.tasks_per_job} --repeats {args.repeats}")  # fmt: skip
    page = "\n".join([
        "# Results coming home over ssh (poll and fetch), on the testbed",
        "",
        f"Measured {datetime.date.today()} with `{command}` (as root, testbed up) on",
        f"{_machine()}.",
        f"{args.jobs} jobs, {n_tasks} tasks that have run ({2 * n_tasks} output files; writing",
        f"them took {made:.1f} s). Seconds, median of {args.repeats} runs; each run with a new",
        "`Run` (nothing cached). The bare commands go over the same ssh connection settings.",
        "",
        "| what | slurmplan median (s) | best | bare median (s) | ratio |",
        "|---|---:|---:|---:|---:|",
        row("poll: Run.poll() vs one squeue --jobs=<all ids>", poll, bare_poll),
        row("poll again (same Run) vs one squeue", again, bare_poll),
        row("fetch: Run.fetch(dest) vs one tar -c stream to /dev/null", fetch, bare_fetch),
        row("fetch: Run.fetch(dest) vs the tar stream unpacked by tar -x", fetch, bare_unpack),
        "",
        "Goals (issue 10): poll within 2x the bare squeue, fetch within 2x the bare tar",
        "stream, the whole fetch under 10 s. `Run.poll()` also reads every done marker and",
        "lane file (cat over the same ssh), which the bare squeue does not.",
        "",
    ])  # fmt: skip
    Path(args.out).write_text(page)
    print(page)
    print(json.dumps({"poll": poll, "again": again, "bare_poll": bare_poll, "fetch": fetch,
                      "bare_fetch": bare_fetch, "bare_unpack": bare_unpack}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
