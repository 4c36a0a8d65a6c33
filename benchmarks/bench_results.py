"""Results coming home over ssh, on the real testbed: `Run.poll` and `Run.fetch` of a plan
whose jobs have all run, side by side with the bare commands they stand for.

    sudo python benchmarks/bench_results.py [--jobs 1000] [--tasks-per-job 100]
                                            [--repeats 3] [--tmpfs /dev/shm]
                                            [--out docs/benchmarks-results.md]

Run as root with the testbed up.  Running 100,000 real tasks would take hours on one
node, so the plan's jobs are made to "have run" by writing what their scripts leave
(each task's stdout and stderr, the lane status lines, the done markers, the start
lines) as alice, and a journal whose job ids Slurm does not know (so squeue answers
for none, as for jobs aged out of slurmctld, and each job settles by its marker).
One bare squeue first opens the ssh connection that everything after shares.
Measured, each `--repeats` times, with a fresh Run each time (nothing cached):

- poll: one `Run.poll()` (one squeue for all ids, one ls, the markers and the lane
  files with cat) against the bare `squeue --jobs=<all ids>` over the same ssh, and
  against the floor of what it reads: that squeue, then one `cat` of every done
  marker and lane file (a shell glob on the cluster: one command); the time its
  commands took (each timed where the Run runs it) and the rest (Python);
- poll, every result read: a new Run's `poll()` and every `TaskResult` looked up
  (poll builds each task's result when it is first looked up);
- poll again: a second `poll()` of the same Run (settled is final: nothing is asked);
- fetch: `Run.fetch(dest)` of every task's stdout and stderr (one tar stream,
  unpacked as it arrives) into a folder on the disk and into one on tmpfs (`--tmpfs`, where
  creating a file costs no disk work), against the bare `tar -c` stream over the
  same ssh into /dev/null, and unpacked by GNU `tar -x` into the same kind of folder
  (the floor: both create every file); fetch's phases: listing the names (in
  Python), the stream (the tar command, its files unpacked and written as they
  arrive) and the rest (the poll that says which tasks ended, the paths returned).
- fetch through sudo: the same files with `Run.fetch(dest)` of the same plan through
  `sudo -u alice` (a Plan with the sudo transport and the same workdir), into tmpfs: up
  to 1,000 files per `cat`, a separator file between them; against one `sudo -u alice
  cat` per file for the first 2,000 files (what fetch did before; all of them would
  take too long to measure each time).

Not a pass/fail test: the numbers go to --out, with the machine and the command.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import pwd
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from effects_helpers import base_config, bed_facts, ssh_block, workspace  # noqa: E402
from fake_slurm import done_marker, lane_file  # noqa: E402

import slurmplan  # noqa: E402
from slurmplan.compiler import layout  # noqa: E402
from slurmplan.compiler.runtime.commands import poll_argv, read_files_argv  # noqa: E402
from slurmplan.compiler.runtime.fetch import tar_argv, tar_names, wanted_files  # noqa: E402
from slurmplan.compiler.runtime.journal_state import encode, header_event, submitted_event  # noqa: E402
from slurmplan.compiler.transport import ssh_prefix  # noqa: E402
from slurmplan.effects.execute import Completed, run_once  # noqa: E402

RUN = "5f2a9c1e"
FIRST_ID = 900_000_000  # far above the testbed's own job ids: squeue knows none of them


SUDO_EACH = 2_000  # files read with one sudo cat each, for the comparison


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
        name = f"{job.name}.{RUN}"
        for path, lines in zip(job.lane_status_paths, lanes, strict=True):
            Path(path).write_text(lane_file(job.index, job_id, name, "".join(lines)))
        Path(job.done_path).write_text(done_marker(job.index, job_id, name, len(job.tasks), 0))
        Path(job.stdout).write_text(
            f"slurmplan-start job={job.index} slurm_job={job_id} name={name}\n"
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


def _timing(log: list[float]) -> Callable[..., Completed]:
    """A runner that runs each command as the Run would and logs how long it took."""

    def runner(argv: tuple[str, ...], **kwargs: object) -> Completed:
        start = time.perf_counter()
        try:
            return run_once(argv, **kwargs)  # type: ignore[arg-type]
        finally:
            log.append(time.perf_counter() - start)

    return runner


def _status_cat(plan: slurmplan.Plan) -> tuple[str, ...]:
    """One command over the plan's ssh reading every done marker and lane status file."""
    assert plan.transport.ssh is not None
    folder = shlex.quote(plan.workdir)
    return (*ssh_prefix(plan.transport.user, plan.transport.ssh), "--",
            f"cat -- {folder}/job-*.done {folder}/job-*.lane-*.status")  # fmt: skip


def _is_tmpfs(path: str) -> bool:
    mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    best = max((m for m in mounts if path.startswith(m[1].rstrip("/") + "/") or path == m[1]),
               key=lambda m: len(m[1]))  # fmt: skip
    return best[2] == "tmpfs"


def _fill(text: str, bullet: str = "") -> str:
    """A paragraph (or a list item) wrapped at 92, never inside a word or a command."""
    return textwrap.fill(text, 92, initial_indent=bullet, subsequent_indent=" " * len(bullet),
                         break_on_hyphens=False, break_long_words=False)  # fmt: skip


def _machine() -> str:
    ssh = subprocess.run(["ssh", "-V"], capture_output=True, text=True, check=False).stderr
    return (f"{platform.node()}: {os.cpu_count()} CPUs, Linux {platform.release()}, "
            f"{ssh.strip()}, Python {platform.python_version()}")  # fmt: skip


def _revision() -> str:
    def git(*argv: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(REPO), *argv], capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    dirty = "-dirty" if git("status", "--porcelain", "--untracked-files=no") else ""
    return git("rev-parse", "--short", "HEAD") + dirty


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--tasks-per-job", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tmpfs", default="/dev/shm", help="a folder on tmpfs for fetch")
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks-results.md"))
    args = parser.parse_args()
    if not _is_tmpfs(os.path.realpath(args.tmpfs)):
        raise SystemExit(f"--tmpfs {args.tmpfs} is not on a tmpfs")
    tb = bed_facts()
    n_tasks = args.jobs * args.tasks_per_job
    load_before = os.getloadavg()[0]
    t: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        t.setdefault(key, []).append(value)

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
        # the same plan through sudo: its transport only (same workdir, ids, journal)
        sudo_profile = {
            "username": "alice",
            "transport": "sudo",
            "project_dir": profile["project_dir"],
        }
        sudo_config = {**config, "scripts_dir": str(ws.root / "scripts")}
        sudo_transport = slurmplan.compile_plan(sudo_config, sudo_profile, tasks).transport
        sudo_plan = dataclasses.replace(plan, transport=sudo_transport)
        start = time.perf_counter()
        ids = _have_run(plan, "alice")
        made = time.perf_counter() - start
        journal = ws.root / "bench.journal"
        _journal(plan, journal, ids)
        files = wanted_files(plan)
        squeue = poll_argv(plan, list(ids.values()))
        status_cat = _status_cat(plan)
        names = tar_names(files)
        one_cat_each = [read_files_argv(sudo_plan, [f.remote]) for f in files[:SUDO_EACH]]

        def floor() -> None:
            _bare(squeue)
            _bare(status_cat)

        slurmplan.Run(plan, journal)  # makes the ControlPath's folder
        _bare(squeue)  # opens the ssh connection everything after shares
        poll_commands = sudo_commands = 0
        for _ in range(args.repeats):
            commands: list[float] = []
            run = slurmplan.Run(plan, journal)
            run.executor.runner = _timing(commands)
            add("poll", _timed(run.poll))
            add("poll_commands", sum(commands))
            poll_commands = len(commands)
            add("again", _timed(run.poll))
            add("bare_poll", _timed(lambda: _bare(squeue)))
            add("floor_poll", _timed(floor))
            fresh = slurmplan.Run(plan, journal)
            add("poll_read_all", _timed(lambda r=fresh: list(r.poll().tasks.values())))
            add("names", _timed(lambda: tar_names(wanted_files(plan))))
            for where, base in (("disk", None), ("tmpfs", args.tmpfs)):
                dest = Path(tempfile.mkdtemp(prefix="bench-fetch-", dir=base))
                commands.clear()
                add(f"fetch_{where}", _timed(lambda run=run, dest=dest: run.fetch(dest)))
                add(f"stream_{where}", sum(commands))
                fetched = sum(1 for _ in (dest / "tasks").iterdir())
                shutil.rmtree(dest)
                assert fetched == len(files), (fetched, len(files))
                bare_dest = Path(tempfile.mkdtemp(prefix="bench-bare-", dir=base)) / "x"
                add(f"bare_unpack_{where}",
                    _timed(lambda d=bare_dest: _bare(tar_argv(plan), names, into=d)))  # fmt: skip
                shutil.rmtree(bare_dest.parent)
            add("bare_stream", _timed(lambda: _bare(tar_argv(plan), names)))
            dest = Path(tempfile.mkdtemp(prefix="bench-sudo-", dir=args.tmpfs))
            cats: list[float] = []
            by_sudo = slurmplan.Run(sudo_plan, journal)
            by_sudo.executor.runner = _timing(cats)
            add("fetch_sudo_tmpfs", _timed(lambda r=by_sudo, d=dest: r.fetch(d)))
            sudo_commands = len(cats)
            fetched = sum(1 for _ in (dest / "tasks").iterdir())
            shutil.rmtree(dest)
            assert fetched == len(files), (fetched, len(files))
            add("sudo_each", _timed(lambda: [_bare(argv) for argv in one_cat_each]))
        snap = slurmplan.Run(plan, journal).poll()
        assert snap.done and len(snap.tasks) == n_tasks and snap.succeeded
        subprocess.run(["ssh", "-O", "exit", "-o", f"ControlPath={profile['ssh']['control_path']}",
                        "-p", str(tb["SLURMPLAN_TESTBED_SSH_PORT"]), "alice@127.0.0.1"],
                       capture_output=True, check=False)  # fmt: skip
    load_after = os.getloadavg()[0]
    med = {key: statistics.median(values) for key, values in t.items()}

    def row(name: str, ours: str, bare: str) -> str:
        m, b = med[ours], med[bare]
        return f"| {name} | {m:.3f} | {min(t[ours]):.3f} | {b:.3f} | {m / b:.2f}x |"

    def goal(name: str, ours: str, bare: str) -> str:
        m, b = med[ours], med[bare]
        verdict = "met" if m <= 2 * b else "not met"
        return f"| {name} | {m:.3f} s vs {b:.3f} s = {m / b:.2f}x | {verdict} |"

    def under(name: str, ours: str) -> str:
        return f"| {name} | {med[ours]:.1f} s | {'met' if med[ours] < 10 else 'not met'} |"

    def phases(where: str) -> str:
        rest = med[f"fetch_{where}"] - med[f"stream_{where}"] - med["names"]
        return (f"fetch into {where}: {med[f'fetch_{where}']:.2f} s = listing the names "
                f"{med['names']:.2f} s + the tar stream over ssh, unpacked and written as "
                f"it arrives {med[f'stream_{where}']:.2f} s + the poll before and the "
                f"paths returned {rest:.2f} s (by difference); bare tar -x into {where} "
                f"{med[f'bare_unpack_{where}']:.2f} s, the stream alone "
                f"{med['bare_stream']:.2f} s")  # fmt: skip

    command = (f"python benchmarks/bench_results.py --jobs {args.jobs} "
               f"--tasks-per-job {args.tasks_per_job} --repeats {args.repeats}")  # fmt: skip
    intro = (
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC with `{command}` "
        f"(as root, testbed up; slurmplan at `{_revision()}`) on {_machine()}. Load average "
        f"(1 min) {load_before:.2f} before and {load_after:.2f} after: the machine is shared "
        "with other work, so the best run matters as much as the median. "
        f"{args.jobs} jobs, {n_tasks} tasks that have run ({2 * n_tasks} output files; "
        f"writing them took {made:.1f} s). Seconds, median of {args.repeats} runs (*best*: "
        "the fastest); each run with a new `Run` (nothing cached). The bare commands go over "
        "the same ssh connection, opened once before the first run. The disk is the VM's "
        f"(ext4); tmpfs is `{args.tmpfs}`."
    )
    python_s = med["poll"] - med["poll_commands"]
    each = med["sudo_each"] / SUDO_EACH
    sudo_part = (
        f"fetch through sudo into tmpfs: {med['fetch_sudo_tmpfs']:.2f} s (best "
        f"{min(t['fetch_sudo_tmpfs']):.2f} s), {sudo_commands} commands (the poll's and a "
        f"`cat` per batch of up to 1,000 files); one `sudo cat` per file took "
        f"{1000 * each:.1f} ms a file over the first {SUDO_EACH:,} files: "
        f"{each * len(files) / 60:.0f} minutes for all {len(files):,} at that rate"
    )
    poll_parts = (
        f"poll: {med['poll']:.3f} s = {poll_commands} commands over ssh "
        f"{med['poll_commands']:.3f} s (one squeue, one ls, one cat of the done markers, "
        "one of the lane files; a cat is cut in two only past 120,000 bytes of paths) + "
        f"Python {python_s:.3f} s (journal, parsing, checks); the floor's two commands "
        f"{med['floor_poll']:.3f} s"
    )
    page = "\n".join([
        "# Results coming home over ssh (poll and fetch), on the testbed",
        "",
        _fill(intro),
        "",
        "| what | slurmplan median (s) | best | bare median (s) | ratio |",
        "|---|---:|---:|---:|---:|",
        row("poll: Run.poll() vs one squeue --jobs=<all ids>", "poll", "bare_poll"),
        row("poll vs its floor: that squeue, then one cat of every marker and lane file",
            "poll", "floor_poll"),
        row("poll, then every task's result read, vs the floor", "poll_read_all", "floor_poll"),
        row("poll again (same Run) vs one squeue", "again", "bare_poll"),
        row("fetch into tmpfs vs the tar -c stream to /dev/null", "fetch_tmpfs", "bare_stream"),
        row("fetch into tmpfs vs the stream unpacked by tar -x into tmpfs", "fetch_tmpfs",
            "bare_unpack_tmpfs"),
        row("fetch into disk vs the tar -c stream to /dev/null", "fetch_disk", "bare_stream"),
        row("fetch into disk vs the stream unpacked by tar -x into disk", "fetch_disk",
            "bare_unpack_disk"),
        "",
        "Where the time goes (medians):",
        "",
        _fill(poll_parts, "- "),
        _fill(phases("tmpfs"), "- "),
        _fill(phases("disk"), "- "),
        _fill(sudo_part, "- "),
        "",
        "Goals (issue 10): poll within 2x the bare squeue, fetch within 2x the bare tar",
        "stream, the whole fetch under 10 s. `Run.poll()` also reads every done marker and",
        "lane file, which the bare squeue does not: its floor is that squeue and one cat.",
        "",
        "| goal | measured (medians) | verdict |",
        "|---|---|---|",
        goal("poll (cold: a new Run) within 2x the bare squeue", "poll", "bare_poll"),
        goal("poll (cold) within 2x its floor (squeue + one cat)", "poll", "floor_poll"),
        goal("poll again (same Run, all settled) within 2x the bare squeue", "again",
             "bare_poll"),
        goal("fetch into tmpfs within 2x the bare stream (tar -c to /dev/null)", "fetch_tmpfs",
             "bare_stream"),
        goal("fetch into tmpfs within 2x the stream unpacked by tar -x", "fetch_tmpfs",
             "bare_unpack_tmpfs"),
        goal("fetch into disk within 2x the stream unpacked by tar -x", "fetch_disk",
             "bare_unpack_disk"),
        under("the whole fetch under 10 s, into tmpfs", "fetch_tmpfs"),
        under("the whole fetch under 10 s, into disk", "fetch_disk"),
        "",
    ])  # fmt: skip
    Path(args.out).write_text(page)
    print(page)
    print(json.dumps(t))
    return 0


if __name__ == "__main__":
    sys.exit(main())
