"""compiler.passes.render: the script's layout (docs/architecture.md §4), and its lanes run by a
real bash.

The run replaces `srun` with a small script that logs when each step starts and
ends, so the test can count how many steps ever overlap.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from slurmplan.compiler import Plan, compile_plan
from slurmplan.compiler.passes.render import task_lines
from slurmplan.compiler.slurm.parsers import (
    parse_done_markers,
    parse_lane_files,
    parse_start_lines,
)

DIRECTIVE_ORDER = [
    "partition", "ntasks", "cpus-per-task", "mem", "job-name", "constraint", "gres", "gpus",
    "time", "account", "qos", "exclude", "nodelist", "nodes",
]  # fmt: skip

FULL_DEFAULT: dict[str, Any] = {
    "partition": "main", "cpus_per_task": 2, "mem": "4G", "time": "01:00:00",
    "account": "lab", "qos": "normal", "constraint": "c1", "gres": "gpu:1", "gpus": "1",
    "exclude": "n1", "nodelist": "n2", "nodes": 1,
    "extra_lines": [
        "export SOMEVARIABLE=123", "#SBATCH --licenses=x", "module load m", "#SBATCH --comment=c",
    ],
}  # fmt: skip
BATCHING = {
    "target_cpus_per_job": 16, "max_cpus_per_job": 32,
    "target_mem_per_job": "64G", "max_mem_per_job": "128G",
    "target_num_jobs": 100, "max_num_jobs": 500,
}  # fmt: skip


def _compile(
    default: dict[str, Any],
    tasks: list[dict[str, Any]],
    jobs_dir: str = "/home/alice/p/jobs",
    exports: dict[str, str] | None = None,
    **top: Any,
) -> Plan:
    config: dict[str, Any] = {"default_slurm_config": default, "batching_config": BATCHING}
    if exports:
        config["user_local_exports"] = exports
    profile = {
        "username": "alice",
        "transport": "local",
        "project_dir": "/home/alice/p",
        "cache_dir": "/home/alice/cache",
        "jobs_dir": jobs_dir,
    }
    return compile_plan(config, profile, {"name": "r", **top, "tasks": tasks})


def _tasks(n: int) -> list[dict[str, Any]]:
    return [{"id": f"t{i}", "command": ["true"]} for i in range(n)]


def test_full_layout_in_order() -> None:
    plan = _compile(FULL_DEFAULT, _tasks(3), exports={"LIB": "lib/x"})
    job = plan.jobs[0]
    lines = job.script.splitlines()
    assert lines[0] == "#!/bin/bash"
    directives = [line for line in lines if line.startswith("#SBATCH ")]
    names = [re.match(r"#SBATCH --([a-z-]+)", d).group(1) for d in directives]  # type: ignore[union-attr]
    assert names == [*DIRECTIVE_ORDER, "licenses", "comment", "output", "error", "chdir"]
    # directives come as one block right after the shebang: sbatch stops at the first command
    assert lines[1 : 1 + len(directives)] == directives
    values = dict(d.removeprefix("#SBATCH --").split("=", 1) for d in directives)
    expected = {
        "partition": "main",
        "ntasks": "3",  # p = min(16 // 2, 65536 // 4096) = 8; one job of 3 tasks
        "cpus-per-task": "2",
        "mem": "12288M",  # 3 * 4096
        "job-name": f"r.{plan.plan_id[:8]}.0",
        "constraint": "c1",
        "gres": "gpu:1",
        "gpus": "1",
        "time": "01:00:00",
        "account": "lab",
        "qos": "normal",
        "exclude": "n1",
        "nodelist": "n2",
        "nodes": "1",
        "licenses": "x",
        "comment": "c",
        "output": f"{plan.workdir}/job-000000.out",
        "error": f"{plan.workdir}/job-000000.err",
        "chdir": plan.workdir,
    }
    assert values == expected
    # then the start line (before any extra line can fail), the other extra lines in
    # order, the exports, then the tasks
    rest = lines[1 + len(directives) :]
    start = 'echo "slurmplan-start job=0 slurm_job=$SLURM_JOB_ID name=$SLURM_JOB_NAME"'
    assert rest.pop(0) == start
    assert rest[:3] == [
        "export SOMEVARIABLE=123",
        "module load m",
        "export LIB=/home/alice/cache/lib/x",
    ]
    assert "_slurmplan_task()" in "\n".join(rest[3:])


def test_optional_directives_are_left_out() -> None:
    plan = _compile({"partition": "main", "cpus_per_task": 1, "mem": 100}, _tasks(1))
    directives = [line for line in plan.jobs[0].script.splitlines() if line.startswith("#SBATCH")]
    assert [d.split("=")[0] for d in directives] == [
        "#SBATCH --partition", "#SBATCH --ntasks", "#SBATCH --cpus-per-task", "#SBATCH --mem",
        "#SBATCH --job-name", "#SBATCH --output", "#SBATCH --error", "#SBATCH --chdir",
    ]  # fmt: skip


def test_mem_per_cpu_takes_mems_place() -> None:
    default = {**FULL_DEFAULT, "use_mem_per_cpu": True}
    directives = [
        line for line in _compile(default, _tasks(2)).jobs[0].script.splitlines()
        if line.startswith("#SBATCH")
    ]  # fmt: skip
    assert directives[3] == "#SBATCH --mem-per-cpu=2048M"  # floor(4096 / 2)


def test_custom_shebang() -> None:
    default = {"partition": "main", "cpus_per_task": 1, "mem": 100, "shebang_line": "#!/bin/sh"}
    assert _compile(default, _tasks(1)).jobs[0].script.startswith("#!/bin/sh\n")


def _lanes(script: str) -> list[list[str]]:
    """Task ids per lane, read from the `_slurmplan_task <status> <id>` calls."""
    lanes: dict[str, list[str]] = {}
    for match in re.finditer(r"_slurmplan_task (\S+) (\S+) ", script):
        lanes.setdefault(match.group(1), []).append(match.group(2))
    return list(lanes.values())


@pytest.mark.parametrize(("n", "tasks_per_job", "parallel"), [(7, 7, 3), (5, 5, 5), (4, 4, 1)])
def test_lanes_partition_the_tasks_round_robin(n: int, tasks_per_job: int, parallel: int) -> None:
    plan = _compile(
        {"partition": "main", "cpus_per_task": 1, "mem": 100},
        _tasks(n),
        tasks_per_job=tasks_per_job,
        parallel_tasks_per_job=parallel,
    )
    (job,) = plan.jobs
    lanes = _lanes(job.script)
    assert len(lanes) == job.ntasks == min(n, parallel)
    ids = [f"t{i}" for i in range(n)]
    assert sorted(i for lane in lanes for i in lane) == sorted(ids)  # each task in exactly one
    for k, lane in enumerate(lanes):
        assert lane == ids[k :: job.ntasks]  # in order within the lane


def test_task_env_is_quoted_and_scoped_to_its_task() -> None:
    tasks: list[dict[str, Any]] = [
        {"id": "a", "command": ["echo", "x"], "env": {"GREETING": "hi there", "Q": "it's"}},
        {"id": "b", "command": ["echo", "a b", "$HOME"]},
    ]
    script = _compile({"partition": "main", "cpus_per_task": 1, "mem": 100}, tasks).jobs[0].script
    # env is set inside the step, for the task's process only (docs/decisions.md)
    assert " a env GREETING='hi there' Q='it'\"'\"'s' echo x\n" in script
    assert f" b echo {shlex.quote('a b')} {shlex.quote('$HOME')}\n" in script


# --- running the script with a real bash and a stand-in srun ------------------------------

FAKE_SRUN = r"""#!/bin/bash
# Stand-in for srun: honour --output/--error, log start and end of the step, run the argv.
out=/dev/null err=/dev/null
while [ "$1" != "--" ]; do
    case "$1" in
        --output=*) out=${1#--output=} ;;
        --error=*) err=${1#--error=} ;;
    esac
    shift
done
shift
echo "+ $$" >>"$SRUN_LOG"
"$@" >"$out" 2>"$err"
code=$?
echo "- $$" >>"$SRUN_LOG"
exit $code
"""


JOB_ID = "777"


def _run(plan: Plan, tmp_path: Path, extra_env: dict[str, str] | None = None) -> tuple[Path, str]:
    """Run the plan's one job with bash; `srun` is FAKE_SRUN unless tmp_path/bin has one."""
    (job,) = plan.jobs
    workdir = Path(plan.workdir)
    (workdir / "tasks").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    if not (bin_dir / "srun").exists():
        bin_dir.mkdir()
        (bin_dir / "srun").write_text(FAKE_SRUN)
        (bin_dir / "srun").chmod(0o755)
    log = tmp_path / "srun.log"
    log.touch()
    script = workdir / "job.sbatch"
    script.write_text(job.script)
    result = subprocess.run(
        ["bash", str(script)],
        check=False,
        cwd=workdir,  # sbatch's --chdir
        env={  # Slurm sets the job's id and name in its environment
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "SRUN_LOG": str(log),
            "SLURM_JOB_ID": JOB_ID,
            "SLURM_JOB_NAME": f"{job.name}.5f2a9c1e",
            **(extra_env or {}),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    Path(job.stdout).write_text(result.stdout)  # where Slurm puts the job's stdout
    return workdir, f"{result.returncode}\n{result.stderr}"


def _max_overlap(log: str) -> int:
    running = peak = 0
    for line in log.splitlines():
        running += 1 if line.startswith("+") else -1
        peak = max(peak, running)
    return peak


def test_script_runs_every_task_once_with_at_most_ntasks_at_once(tmp_path: Path) -> None:
    n, parallel = 7, 3
    tasks: list[dict[str, Any]] = [
        {"id": f"t{i}", "command": ["sh", "-c", f"sleep 0.3; echo out{i}; exit {i % 3}"]}
        for i in range(n)
    ]
    plan = _compile(
        {"partition": "main", "cpus_per_task": 1, "mem": 100},
        tasks,
        jobs_dir=str(tmp_path / "jobs"),
        tasks_per_job=n,
        parallel_tasks_per_job=parallel,
    )
    workdir, outcome = _run(plan, tmp_path)
    assert outcome.startswith("1\n"), outcome  # some tasks failed, so the job fails
    log = (tmp_path / "srun.log").read_text()
    assert log.count("+") == n
    assert _max_overlap(log) == parallel  # lanes overlap, but never more than ntasks
    statuses: dict[str, int] = {}
    for path in plan.jobs[0].lane_status_paths:
        (lane,) = parse_lane_files(Path(path).read_text())  # named for its job and run
        assert (lane.job, lane.job_id, lane.run) == (0, JOB_ID, "5f2a9c1e")
        for line, task_id, job_id in lane.lines:
            _, code, _, started, ended = line.split(" ")
            assert task_id not in statuses
            assert job_id == JOB_ID
            assert 0 <= int(ended) - int(started) <= 60  # each sleeps 0.3 s
            statuses[task_id] = int(code)
    assert statuses == {f"t{i}": i % 3 for i in range(n)}
    (start,) = parse_start_lines(Path(plan.jobs[0].stdout).read_text())
    assert (start.job, start.job_id, start.name) == (0, JOB_ID, f"{plan.jobs[0].name}.5f2a9c1e")
    for i in range(n):
        assert (workdir / "tasks" / f"t{i}.out").read_text() == f"out{i}\n"
    failed = sum(1 for i in range(n) if i % 3)
    (marker,) = parse_done_markers(Path(plan.jobs[0].done_path).read_text())
    assert (marker.job, marker.job_id, marker.run) == (0, JOB_ID, "5f2a9c1e")
    assert (marker.tasks, marker.failed) == (n, failed)
    assert not Path(plan.jobs[0].done_path + ".part").exists()


def test_script_succeeds_when_every_task_does(tmp_path: Path) -> None:
    tasks: list[dict[str, Any]] = [
        {"id": "a", "command": ["sh", "-c", 'test "$G" = "hi there"'], "env": {"G": "hi there"}},
        {"id": "b", "command": ["sh", "-c", 'test -z "$G"']},  # a's env does not leak
        {"id": "c", "command": ["printf", "%s|", "a b", "c'd", 'e"f', "$(x)", "\\"]},
    ]
    plan = _compile(
        {"partition": "main", "cpus_per_task": 1, "mem": 100},
        tasks,
        jobs_dir=str(tmp_path / "jobs"),
        tasks_per_job=3,
        parallel_tasks_per_job=1,  # one lane: a, b, c one after another
    )
    workdir, outcome = _run(plan, tmp_path)
    assert outcome.startswith("0\n"), outcome
    assert (workdir / "tasks" / "c.out").read_text() == "a b|c'd|e\"f|$(x)|\\|"
    (marker,) = parse_done_markers(Path(plan.jobs[0].done_path).read_text())
    assert marker.succeeded
    assert _max_overlap((tmp_path / "srun.log").read_text()) == 1


def test_task_lines_one_line_per_task_in_order() -> None:
    assert task_lines("lane-0", []) == ""
    assert task_lines("s", ["a x 'y z'", "b w"]) == (
        "    _slurmplan_task s a x 'y z'\n    _slurmplan_task s b w\n"
    )


def test_script_removes_a_tasks_outputs_before_it_runs(tmp_path: Path) -> None:
    """An output an earlier run left is gone before the task starts, so a file found
    after this run's task ended is this run's (docs/architecture.md §4): task b names
    b.json and never writes it, and the earlier run's b.json must not pass for its."""
    tasks: list[dict[str, Any]] = [
        {"id": "a", "command": ["sh", "-c", "test ! -e a.json && echo new >a.json"],
         "outputs": ["a.json"]},
        {"id": "b", "command": ["true"], "outputs": ["b.json", "sub/b.png"]},
        {"id": "c", "command": ["sh", "-c", "cat keep.txt"]},
    ]  # fmt: skip
    plan = _compile(
        {"partition": "main", "cpus_per_task": 1, "mem": 100},
        tasks,
        jobs_dir=str(tmp_path / "jobs"),
        tasks_per_job=3,
        parallel_tasks_per_job=2,
    )
    workdir = Path(plan.workdir)
    (workdir / "sub").mkdir(parents=True)
    for name in ("a.json", "b.json", "sub/b.png", "keep.txt"):
        (workdir / name).write_text("from an earlier run\n")
    _, outcome = _run(plan, tmp_path)
    assert outcome.startswith("0\n"), outcome  # a saw no a.json before it ran
    assert (workdir / "a.json").read_text() == "new\n"
    assert not (workdir / "b.json").exists() and not (workdir / "sub/b.png").exists()
    assert (workdir / "keep.txt").read_text() == "from an earlier run\n"  # not an output
    assert (workdir / "tasks" / "c.out").read_text() == "from an earlier run\n"
    script = plan.jobs[0].script
    assert "    rm -f -- b.json sub/b.png\n    _slurmplan_task " in script
    assert script.count("rm -f --") == 2  # c names no outputs


# srun's exit status is not the task's: on the testbed (Slurm 22.05) srun exited 0 right
# after a node failure killed its step, the `sleep 30` it ran one second old.  This srun
# does the same for the task named in SRUN_LIES_FOR: it never runs the step's command.
LYING_SRUN = FAKE_SRUN.replace(
    'echo "+ $$" >>"$SRUN_LOG"\n',
    'echo "+ $$" >>"$SRUN_LOG"\n'
    'case "$out" in */"$SRUN_LIES_FOR".out|"$SRUN_LIES_FOR".out) echo "- $$" >>"$SRUN_LOG";'
    " exit 0 ;; esac\n",
)


def test_a_step_srun_says_0_for_without_its_command_ending_gets_no_status_line(
    tmp_path: Path,
) -> None:
    """A task whose step was killed before its command returned has no status line,
    whatever srun's exit status: a line `killed 0` is a false COMPLETED (docs/effects.md,
    "States"), and the marker's failed=0 settled the job COMPLETED once squeue forgot it."""
    tasks: list[dict[str, Any]] = [
        {"id": "ran", "command": ["true"]},
        {"id": "killed", "command": ["sh", "-c", "echo ran >killed.ran"]},
    ]
    plan = _compile(
        {"partition": "main", "cpus_per_task": 1, "mem": 100},
        tasks,
        jobs_dir=str(tmp_path / "jobs"),
        tasks_per_job=2,
        parallel_tasks_per_job=2,
    )
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "srun").write_text(LYING_SRUN)
    (tmp_path / "bin" / "srun").chmod(0o755)
    workdir, outcome = _run(plan, tmp_path, extra_env={"SRUN_LIES_FOR": "killed"})
    assert not (workdir / "killed.ran").exists()  # the stand-in never ran it
    lines = {
        task_id: line
        for path in plan.jobs[0].lane_status_paths
        for lane in parse_lane_files(Path(path).read_text())
        for line, task_id, _ in lane.lines
    }
    assert set(lines) == {"ran"}, lines
    (marker,) = parse_done_markers(Path(plan.jobs[0].done_path).read_text())
    assert (marker.tasks, marker.failed) == (2, 1)
    assert outcome.startswith("1\n"), outcome


def test_a_task_sees_the_environment_its_step_was_given_whatever_the_names(
    tmp_path: Path,
) -> None:
    """The step's shell hands the task every variable srun gave the step, as srun's own
    exec did: dash (Debian's and Ubuntu's /bin/sh) drops names that are not shell
    identifiers, among them the exported bash functions of environment modules
    (`BASH_FUNC_module%%`, Lmod's `module` and `ml`), so a task script calling `module
    load` failed with 'module: command not found' (review adv4)."""
    tasks: list[dict[str, Any]] = [
        {"id": "t", "command": ["env"]},
        # with env, a program whose name holds '=' starts through a shell too
        {"id": "u", "command": ["show=env"], "env": {"MINE": "1"}},
    ]
    plan = _compile(
        {"partition": "main", "cpus_per_task": 1, "mem": 100}, tasks, jobs_dir=str(tmp_path / "j")
    )
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "srun").write_text(FAKE_SRUN)
    (tmp_path / "bin" / "srun").chmod(0o755)
    (tmp_path / "bin" / "show=env").symlink_to(shutil.which("env") or "/usr/bin/env")
    function = "() {  echo from-module\n}"
    extra = {"BASH_FUNC_module%%": function, "FOO.BAR": "dotted", "LMOD_CMD": "/x/lmod"}
    # The step's own shell reads no start-up file: the task's output is its own.
    (tmp_path / "bash_env").write_text("echo read-BASH_ENV\n")
    extra["BASH_ENV"] = str(tmp_path / "bash_env")
    workdir, outcome = _run(plan, tmp_path, extra_env=extra)
    assert outcome.startswith("0\n"), outcome
    seen = (workdir / "tasks" / "t.out").read_text()
    assert "read-BASH_ENV" not in seen
    assert "FOO.BAR=dotted\n" in seen
    assert "LMOD_CMD=/x/lmod\n" in seen
    assert f"BASH_FUNC_module%%={function}\n" in seen
    seen = (workdir / "tasks" / "u.out").read_text()
    assert "MINE=1\n" in seen and "FOO.BAR=dotted\n" in seen, seen
