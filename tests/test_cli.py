"""The command line: compile, show and check through main() and once as a real process."""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from slurmplan.compiler import compile_plan, plan_from_json
from slurmplan.effects.cli import golden, main
from slurmplan.effects.cli.plan_files import dump_plan
from slurmplan.effects.cli.tables import table_lines, table_text

GOLDEN = Path(__file__).parent / "golden"
REPO = Path(__file__).parent.parent


def _load(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return value


def _inputs(tmp_path: Path, case: str = "user_batching") -> dict[str, Path]:
    """Copies of a golden case's three inputs, to be broken by the test."""
    paths = {}
    for kind in ("config", "profile", "tasks"):
        paths[kind] = tmp_path / f"{kind}.json"
        shutil.copy(GOLDEN / case / f"{kind}.json", paths[kind])
    return paths


def _compile_args(paths: dict[str, Path], *extra: str) -> list[str]:
    return ["compile", "--config", str(paths["config"]), "--profile", str(paths["profile"]),
            "--tasks", str(paths["tasks"]), *extra]  # fmt: skip


def _expected_plan(case: str) -> str:
    raw = [_load(GOLDEN / case / f"{k}.json") for k in ("config", "profile", "tasks")]
    return dump_plan(compile_plan(*raw))


def _plan_file(tmp_path: Path, case: str) -> Path:
    """The case's plan compiled into a file (golden plan.json files are in the golden form)."""
    path = tmp_path / f"{case}.plan.json"
    path.write_text(_expected_plan(case))
    return path


def _stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.splitlines()


# -- compile ------------------------------------------------------------------------------------


def test_compile_writes_the_canonical_plan(tmp_path: Path) -> None:
    paths = _inputs(tmp_path)
    out = tmp_path / "plan.json"
    assert main(_compile_args(paths, "-o", str(out))) == 0
    text = out.read_text(encoding="ascii")
    assert text == _expected_plan("user_batching")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=True) + "\n"
    assert plan_from_json(json.loads(text)).to_json() == json.loads(text)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_compile_without_output_prints_the_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_compile_args(_inputs(tmp_path))) == 0
    assert capsys.readouterr().out == _expected_plan("user_batching")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_compile_scripts_to_writes_every_script(tmp_path: Path) -> None:
    paths = _inputs(tmp_path, "quoting")
    scripts = tmp_path / "out" / "scripts"
    plan_file = tmp_path / "p.json"
    assert main(_compile_args(paths, "-o", str(plan_file), "--scripts-to", str(scripts))) == 0
    plan = plan_from_json(_load(plan_file))
    assert sorted(p.name for p in scripts.iterdir()) == [
        f"job-{i:06d}.sbatch" for i in range(len(plan.jobs))
    ]
    for job in plan.jobs:
        written = scripts / os.path.basename(job.script_path)
        # The quoting case has raw (non-UTF-8) bytes in an argument: they must survive.
        assert written.read_bytes() == job.script.encode("utf-8", "surrogateescape")
        assert stat.S_IMODE(written.stat().st_mode) == 0o600 & ~_umask()
    assert b"\xff\xfe not UTF-8" in (scripts / "job-000002.sbatch").read_bytes()


def test_several_problems_one_per_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _inputs(tmp_path)
    config = _load(paths["config"])
    config["default_slurm_config"]["mem"] = "1.5G"
    config["default_slurm_config"]["colour"] = "blue"
    paths["config"].write_text(json.dumps(config))
    tasks = _load(paths["tasks"])
    tasks["tasks"][3]["id"] = "bad id"
    paths["tasks"].write_text(json.dumps(tasks))
    out = tmp_path / "plan.json"
    assert main(_compile_args(paths, "-o", str(out))) == 2
    lines = _stderr_lines(capsys)
    c, t = paths["config"], paths["tasks"]
    assert lines == [
        f"{c}: /default_slurm_config/colour: unknown key 'colour' (expected one of: account, "
        "constraint, cpus_per_task, exclude, extra_lines, gpus, gres, mem, nodelist, nodes, "
        "partition, qos, shebang_line, time, time_per_task, use_mem_per_cpu)",
        f"{c}: /default_slurm_config/mem: 'mem' must be <integer>[K|M|G|T] or an integer of MiB "
        "(got '1.5G')",
        f"{t}: /tasks/3/id: 'id' must be 1 to 128 of letters, digits and . _ - (got 'bad id')",
    ]
    assert not out.exists()


def test_a_failed_compile_leaves_an_existing_output_alone(tmp_path: Path) -> None:
    paths = _inputs(tmp_path)
    out = tmp_path / "plan.json"
    out.write_text("previous plan\n")
    paths["profile"].write_text('{"username": "Not A User"}')
    assert main(_compile_args(paths, "-o", str(out))) == 2
    assert out.read_text() == "previous plan\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["config.json", "profile.json", "tasks.json", "plan.json"]
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "{path}: no such file"),
        ("dir", "{path}: is a directory, not a JSON file"),
        (b"", "{path}: line 1, column 1: not valid JSON: the file is empty"),
        (b'{\n  "a": 1,\n  "b": }\n', "{path}: line 3, column 8: not valid JSON: Expecting value"),
        (b"[1, 2]", "{path}: /: must be a JSON object {{...}} (got a list)"),
        (b'"text"', "{path}: /: must be a JSON object {{...}} (got a string)"),
        (b'{"a": \xff}', "{path}: not UTF-8 text (byte 0xff at offset 6)"),
        (b'{"a": 1, "a": 2}', "{path}: key 'a' appears twice in one object "
                              "(JSON readers silently keep only one; remove the other)"),
        (b'{"a": NaN}', "{path}: not valid JSON: NaN is not a JSON value"),
        # past Python's 4,300 digits: where, in plain words (a string of digits is skipped)
        (b'{"s": "' + b"9" * 5000 + b'",\n "a": [1.5, -' + b"9" * 5000 + b"]}",
         "{path}: line 2, column 13: a number of 5000 digits: slurmplan reads numbers of at "
         "most 4300 digits"),
    ],
)  # fmt: skip
def test_an_unusable_file_is_one_clear_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes | str | None,
    expected: str,
) -> None:
    paths = _inputs(tmp_path)
    bad = paths["profile"]
    bad.unlink()
    if content == "dir":
        bad.mkdir()
    elif isinstance(content, bytes):
        bad.write_bytes(content)
    out = tmp_path / "out.json"
    assert main(_compile_args(paths, "-o", str(out))) == 2
    assert _stderr_lines(capsys) == [expected.format(path=bad)]
    assert not out.exists()


def test_every_unusable_file_is_reported_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _inputs(tmp_path)
    paths["config"].unlink()
    paths["tasks"].write_text("[]")
    assert main(_compile_args(paths)) == 2
    assert _stderr_lines(capsys) == [
        f"{paths['config']}: no such file",
        f"{paths['tasks']}: /: must be a JSON object {{...}} (got a list)",
    ]
    assert capsys.readouterr().out == ""


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _inputs(tmp_path)
    paths["tasks"].chmod(0)
    assert main(_compile_args(paths)) == 2
    assert _stderr_lines(capsys) == [f"{paths['tasks']}: cannot be read: permission denied"]


def test_a_problem_with_a_line_break_stays_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _inputs(tmp_path)
    tasks = _load(paths["tasks"])
    tasks["tasks"][0]["meta"] = {"evil\nkey": 1}
    paths["tasks"].write_text(json.dumps(tasks))
    assert main(_compile_args(paths)) == 2
    lines = _stderr_lines(capsys)
    assert len(lines) == 1
    assert lines[0].startswith(f"{paths['tasks']}: /tasks/0/meta/evil")


def test_an_unwritable_output_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _inputs(tmp_path)
    out = tmp_path / "no" / "such" / "dir" / "plan.json"
    assert main(_compile_args(paths, "-o", str(out))) == 2
    [line] = [line for line in _stderr_lines(capsys) if not line.startswith("warning: ")]
    assert line.startswith(f"{out}: cannot be written: ")


@pytest.mark.parametrize("option", ["-o", "--scripts-to"])
def test_an_output_that_is_a_fifo_or_a_device_is_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    # `-o /dev/null` as root renamed the plan over the device node; never written to here.
    paths = _inputs(tmp_path)
    nodes = tmp_path / "nodes"
    nodes.mkdir()
    targets = [nodes / "fifo"]
    os.mkfifo(targets[0])
    if os.geteuid() == 0:
        targets.append(nodes / "null")
        os.mknod(targets[1], 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    for made in targets:
        if option == "-o":
            node, argv = made, _compile_args(paths, "-o", str(made))
        else:  # the first job's script is where the node is
            node = made.rename(nodes / "job-000000.sbatch")
            argv = _compile_args(paths, "-o", str(tmp_path / "plan.json"), option, str(nodes))
        before = os.lstat(node)
        assert main(argv) == 2
        [line] = [line for line in _stderr_lines(capsys) if not line.startswith("warning: ")]
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(before.st_mode) else "a character device"
        assert line == f"{node}: cannot be written: is {kind}, not a regular file"
        after = os.lstat(node)
        assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
        node.unlink()


# -- show ---------------------------------------------------------------------------------------


def test_show_summarizes_groups_jobs_and_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", str(_plan_file(tmp_path, "user_batching"))]) == 0
    out = capsys.readouterr().out
    assert "transport  local (the runner is alice)" in out
    assert (
        "group 0: 12 tasks (first t00), 5 per job, 5 in parallel, 1 CPU and 1G per task, "
        "partition main"
    ) in out
    job_lines = [line.split() for line in out.splitlines() if ".3f95451e." in line]
    assert job_lines == [
        ["0", "given.3f95451e.0", "5", "5", "1", "5G", "00:30:00", "t00..t04"],
        ["1", "given.3f95451e.1", "5", "5", "1", "5G", "00:30:00", "t05..t09"],
        ["2", "given.3f95451e.2", "2", "2", "1", "2G", "00:30:00", "t10..t11"],
    ]
    assert "  group 0: parallel_tasks_per_job=8 exceeds tasks_per_job=5; using 5" in out
    assert "  group 0: 3 jobs exceeds target_num_jobs=2" in out


def test_show_groups_and_transports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(_plan_file(tmp_path, "heterogeneous_groups"))]) == 0
    out = capsys.readouterr().out
    assert "ssh to alice@login.cluster.org:2222 (key /keys/alice_svc)" in out
    assert [line.split(":")[0] for line in out.splitlines() if line.startswith("group ")] == [
        "group 0", "group 1", "group 2"
    ]  # fmt: skip
    assert "warnings: none" in out


def test_show_a_bad_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = _load(_plan_file(tmp_path, "transport_local"))
    plan["jobs"][1]["ntasks"] = 0
    del plan["workdir"]
    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps(plan))
    assert main(["show", str(bad)]) == 2
    assert sorted(_stderr_lines(capsys)) == [
        f"{bad}: /jobs/1/ntasks: 'ntasks' must be an integer ≥ 1 (got 0)",
        f"{bad}: /workdir: 'workdir' is required (got an object without it)",
    ]


def test_show_a_missing_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(tmp_path / "nope.json")]) == 2
    assert _stderr_lines(capsys) == [f"{tmp_path / 'nope.json'}: no such file"]


def test_tables_as_status_and_collect_print_them() -> None:
    rows = [["JOB", "NAME", "STATE"], ["0", "a.1", "RUNNING"], ["10", "b", "-  "]]
    assert table_text(rows) == "JOB  NAME  STATE\n0    a.1   RUNNING\n10   b     -\n"
    assert table_text([["TASK", "STDOUT"]]) == "TASK  STDOUT\n"  # no rows: the header


def test_tables_as_show_prints_them() -> None:
    rows = [("job", "name", "ntasks", "ids"), ("0", "x", "2", "t1..t2"), ("10", "yy", "12", "")]
    assert table_lines(rows, right=frozenset({0, 2}), indent="  ") == [
        "  job  name  ntasks  ids",
        "    0  x          2  t1..t2",
        "   10  yy        12",
    ]


# -- check --------------------------------------------------------------------------------------


def _golden_copy(tmp_path: Path, case: str = "transport_sudo") -> tuple[Path, Path]:
    """(the case's plan compiled into a file, a copy of its golden folder)."""
    folder = tmp_path / case
    shutil.copytree(GOLDEN / case, folder)
    return _plan_file(tmp_path, case), folder


def test_check_equal_is_silent_and_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan, folder = _golden_copy(tmp_path)
    assert main(["check", str(plan), "--golden", str(folder)]) == 0
    assert capsys.readouterr().out == ""


def test_check_prints_a_unified_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan, folder = _golden_copy(tmp_path)
    script = folder / "scripts" / "job-000001.sbatch"
    script.write_text(script.read_text().replace("--time=00:10:00", "--time=00:20:00"))
    assert main(["check", str(plan), "--golden", str(folder)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[:5] == [  # the summary, then the diff
        f"1 file differs from {folder}: 1 line removed, 1 added",
        "  scripts/job-000001.sbatch  -1  +1  changed",
        "changed lines:",
        "  #SBATCH --time=00:20:00 → #SBATCH --time=00:10:00  in 1 script",
        "",
    ]
    assert out[5:7] == [
        f"--- {script} (golden)",
        "+++ scripts/job-000001.sbatch (plan)",
    ]
    assert "-#SBATCH --time=00:20:00" in out
    assert "+#SBATCH --time=00:10:00" in out
    assert not any(line.startswith(("-#SBATCH --part", "+#SBATCH --part")) for line in out)


def test_check_reports_missing_and_extra_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan, folder = _golden_copy(tmp_path)
    (folder / "scripts" / "job-000002.sbatch").unlink()
    (folder / "scripts" / "job-000099.sbatch").write_text("stale\n")
    assert main(["check", str(plan), "--golden", str(folder)]) == 1
    out = capsys.readouterr().out
    assert f"--- {folder / 'scripts' / 'job-000002.sbatch'} (missing)" in out
    assert "+++ scripts/job-000099.sbatch (not in the plan)" in out
    assert "-stale" in out
    assert not (folder / "scripts" / "job-000002.sbatch").exists()  # never created by check


def test_check_a_missing_folder_differs_and_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = _plan_file(tmp_path, "transport_ssh")
    folder = tmp_path / "golden"
    assert main(["check", str(plan), "--golden", str(folder)]) == 1
    assert capsys.readouterr().out.splitlines() == [  # one line, no diff of every file
        f"golden folder {folder} does not exist; create it with: "
        f"slurmplan check {plan} --golden {folder} --update"
    ]
    assert not folder.exists()


def test_check_update_rewrites_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan, folder = _golden_copy(tmp_path)
    (folder / "plan.json").write_text("{}\n")
    (folder / "scripts" / "job-000000.sbatch").unlink()
    (folder / "scripts" / "job-000099.sbatch").write_text("stale\n")
    assert main(["check", str(plan), "--golden", str(folder), "--update"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"updated {folder / 'plan.json'}",
        f"wrote {folder / 'scripts' / 'job-000000.sbatch'}",
        f"removed {folder / 'scripts' / 'job-000099.sbatch'}",
    ]
    assert main(["check", str(plan), "--golden", str(folder)]) == 0
    assert (folder / "plan.json").read_bytes() == (
        GOLDEN / "transport_sudo" / "plan.json"
    ).read_bytes()
    assert (folder / "config.json").exists()  # the inputs beside the golden files stay


def test_check_update_creates_a_new_folder(tmp_path: Path) -> None:
    plan = _plan_file(tmp_path, "gpu")
    folder = tmp_path / "new" / "golden"
    assert main(["check", str(plan), "--golden", str(folder), "--update"]) == 0
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        "plan.json", "scripts/job-000000.sbatch", "scripts/job-000001.sbatch"
    ]  # fmt: skip


def _tree(folder: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
            for p in folder.rglob("*")}  # fmt: skip


def test_check_update_that_fails_half_way_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, folder = _golden_copy(tmp_path)
    (folder / "plan.json").write_text("{}\n")
    (folder / "scripts" / "job-000000.sbatch").write_text("old\n")
    (folder / "scripts" / "job-000099.sbatch").write_text("stale\n")
    before = _tree(folder)
    real = golden.write_atomic
    written: list[str] = []

    def disk_full_at_the_second(path: str, data: bytes, *args: Any, **kwargs: Any) -> None:
        written.append(path)
        if len(written) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", path)
        real(path, data, *args, **kwargs)

    monkeypatch.setattr(golden, "write_atomic", disk_full_at_the_second)
    assert main(["check", str(plan), "--golden", str(folder), "--update"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "Errno" not in err and ".tmp" not in err, err
    assert err.startswith(f"{folder}: cannot be updated: ")
    assert err.endswith(": No space left on device; nothing in it was changed\n")
    assert _tree(folder) == before  # plan.json, scripts, the inputs beside: as they were


def test_check_update_swaps_scripts_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan, folder = _golden_copy(tmp_path)
    (folder / "scripts" / "job-000099.sbatch").write_text("stale\n")
    (folder / "notes.txt").write_text("kept\n")
    assert main(["check", str(plan), "--golden", str(folder), "--update"]) == 0
    assert capsys.readouterr().out == f"removed {folder / 'scripts' / 'job-000099.sbatch'}\n"
    assert main(["check", str(plan), "--golden", str(folder)]) == 0
    assert (folder / "notes.txt").read_text() == "kept\n"
    assert not [p for p in folder.iterdir() if p.name.startswith(".slurmplan")]


@pytest.mark.parametrize("update", [False, True])
def test_check_golden_that_is_a_file_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], update: bool
) -> None:
    plan = _plan_file(tmp_path, "gpu")
    not_a_folder = tmp_path / "golden"
    not_a_folder.write_text("a file\n")
    argv = ["check", str(plan), "--golden", str(not_a_folder)] + (["--update"] if update else [])
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"{not_a_folder}: is a file, not a folder of golden files\n")
    assert not_a_folder.read_text() == "a file\n"


def test_check_normalizes_the_given_plan(tmp_path: Path) -> None:
    """The golden form is the canonical dump, whatever the layout of the given file."""
    plan, folder = _golden_copy(tmp_path)
    compact = tmp_path / "compact.json"
    compact.write_text(json.dumps(_load(plan)))
    assert main(["check", str(compact), "--golden", str(folder)]) == 0


def test_check_a_bad_plan_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text("{")
    assert main(["check", str(bad), "--golden", str(tmp_path)]) == 2
    assert _stderr_lines(capsys) == [
        f"{bad}: line 1, column 2: not valid JSON: "
        "Expecting property name enclosed in double quotes"
    ]


# -- as a real process --------------------------------------------------------------------------


def _command() -> tuple[list[str], dict[str, str]]:
    """The installed console script if there is one, else `python -m slurmplan`."""
    env = dict(os.environ)
    installed = shutil.which("slurmplan")
    if installed is not None:
        return [installed], env
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return [sys.executable, "-m", "slurmplan"], env


def test_the_command_as_a_process(tmp_path: Path) -> None:
    command, env = _command()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, *args], check=False, env=env, capture_output=True, text=True
        )

    paths = _inputs(tmp_path, "seed_example")
    out = tmp_path / "plan.json"
    done = run(*_compile_args(paths, "-o", str(out)))
    assert (done.returncode, done.stderr) == (0, "")
    assert out.read_text() == _expected_plan("seed_example")

    shown = run("show", str(out))
    assert shown.returncode == 0
    assert "cellpose_segmentation.af7149a8.1" in shown.stdout

    checked = run("check", str(out), "--golden", str(GOLDEN / "seed_example"))
    assert (checked.returncode, checked.stdout) == (0, "")

    paths["config"].write_text('{"default_slurm_config": {"mem": "lots"}}')
    bad = run(*_compile_args(paths))
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert "Traceback" not in bad.stderr
    assert sorted(bad.stderr.splitlines()) == [  # the order is the compiler's business
        f"{paths['config']}: /batching_config: 'batching_config' is required "
        "(got an object without it)",
        f"{paths['config']}: /default_slurm_config/cpus_per_task: 'cpus_per_task' is required "
        "(got an object without it)",
        f"{paths['config']}: /default_slurm_config/mem: 'mem' must be <integer>[K|M|G|T] or an "
        "integer of MiB (got 'lots')",
        f"{paths['config']}: /default_slurm_config/partition: 'partition' is required "
        "(got an object without it)",
    ]

    version = run("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("slurmplan ")


# -- standard output that cannot be written -----------------------------------------------------

# Each writes more than a pipe holds (64 KiB) or only at its end; status and collect are
# run commands (their own errors are caught apart), with nothing submitted: no command runs.
STDOUT_COMMANDS = [
    ["compile", "CONFIG", "PROFILE", "TASKS"],
    ["show", "PLAN", "--all"],
    ["status", "PLAN", "--json"],
    ["collect", "PLAN"],
    ["--help"],
]


def _stdout_run(tmp_path: Path, words: list[str], stdout: int) -> subprocess.CompletedProcess[str]:
    command, env = _command()
    paths = _inputs(tmp_path, "seed_example")
    plan = tmp_path / "plan.json"
    plan.write_text(_expected_plan("seed_example"))
    env["PATH"] = str(tmp_path)  # no squeue or ssh to be found: none may run
    flags = {"CONFIG": ["--config", str(paths["config"])], "PLAN": [str(plan)],
             "PROFILE": ["--profile", str(paths["profile"])],
             "TASKS": ["--tasks", str(paths["tasks"])]}  # fmt: skip
    argv = [part for word in words for part in flags.get(word, [word])]

    return subprocess.run([*command, *argv], stdout=stdout, stderr=subprocess.PIPE, text=True,
                          env=env, timeout=60, check=False)  # fmt: skip


@pytest.mark.parametrize("words", STDOUT_COMMANDS, ids=" ".join)
def test_a_closed_pipe_on_stdout_ends_the_command_quietly(tmp_path: Path, words: list[str]) -> None:
    # `slurmplan show plan.json | head -1`: as a Unix tool killed by SIGPIPE, no traceback.
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write
    try:
        done = _stdout_run(tmp_path, words, write_end)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
@pytest.mark.parametrize("words", STDOUT_COMMANDS, ids=" ".join)
def test_a_full_stdout_is_one_line_and_exit_2(tmp_path: Path, words: list[str]) -> None:
    full = tmp_path / "full"  # `> /dev/full`, with a /dev/full of our own
    os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    with full.open("w") as stdout:
        done = _stdout_run(tmp_path, words, stdout.fileno())
    assert (done.returncode, done.stderr) == (
        2, "slurmplan: cannot write to standard output: No space left on device\n"
    )  # fmt: skip


class _FullStream(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("words", STDOUT_COMMANDS[:4], ids=" ".join)
def test_a_full_stdout_in_process_is_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    words: list[str],
) -> None:
    paths = _inputs(tmp_path, "seed_example")
    plan = tmp_path / "plan.json"
    plan.write_text(_expected_plan("seed_example"))
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to run: nothing may run
    flags = {"CONFIG": ["--config", str(paths["config"])], "PLAN": [str(plan)],
             "PROFILE": ["--profile", str(paths["profile"])],
             "TASKS": ["--tasks", str(paths["tasks"])]}  # fmt: skip
    monkeypatch.setattr(sys, "stdout", _FullStream())
    assert main([part for word in words for part in flags.get(word, [word])]) == 2
    assert capsys.readouterr().err.endswith(
        "slurmplan: cannot write to standard output: No space left on device\n"
    )
