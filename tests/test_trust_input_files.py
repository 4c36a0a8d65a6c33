"""A file slurmplan is handed (plan, config, profile, task list, journal) must be a regular
file of at most 1 GiB (effects/input_files.py): a FIFO would block the command forever and
/dev/zero never ends. Either is refused with exit 2 and one line naming the file, before
it is read; never a traceback, a hang or a MemoryError.

The commands run as processes: a regression then times out, or fails under a 1 GiB
address-space limit, instead of hanging or filling the memory of the test run.
"""

from __future__ import annotations

import json
import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sample_inputs import one_task_per_job_config, profile, tasks

from slurmplan.compiler import compile_plan
from slurmplan.compiler.runtime import journal_state
from slurmplan.compiler.runtime.journal_state import JournalError, encode, header_event
from slurmplan.effects import input_files
from slurmplan.effects.cli.inputs_io import InputError, read_json_object
from slurmplan.effects.cli.plan_files import dump_plan, load_plan
from slurmplan.effects.input_files import MAX_FILE_BYTES, UnusableFile, read_regular
from slurmplan.effects.journal import Journal, read_state

REPO = Path(__file__).resolve().parents[1]
PLAN = compile_plan(one_task_per_job_config(3), profile(), tasks(3))
RUN = "5f2a9c1e"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def _slurmplan(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command as a process, with stand-ins that fail for every cluster command."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("squeue", "sbatch", "scancel", "scontrol", "ls", "cat", "mkdir", "sudo", "ssh"):
        (bin_dir / tool).write_text("#!/bin/sh\necho 'must not run' >&2\nexit 99\n")
        (bin_dir / tool).chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PATH": str(bin_dir)}
    argv = [sys.executable, "-m", "slurmplan", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=20, env=env,
                          preexec_fn=_limit_memory, check=False)  # fmt: skip


def _files(tmp_path: Path) -> dict[str, str]:
    plan = tmp_path / "plan.json"
    plan.write_text(dump_plan(PLAN))
    folder = tmp_path / "inputs"
    folder.mkdir()
    inputs = {"config": one_task_per_job_config(3), "profile": profile(), "tasks": tasks(3)}
    for kind, doc in inputs.items():
        (folder / f"{kind}.json").write_text(json.dumps(doc))
    return {"PLAN": str(plan), **{k.upper(): str(folder / f"{k}.json") for k in inputs}}


# Each command with BAD where the file under test goes.
COMMANDS = [
    ["show", "BAD"],
    ["check", "BAD", "--golden", "PLAN"],
    ["compile", "--config", "BAD", "--profile", "PROFILE", "--tasks", "TASKS"],
    ["compile", "--config", "CONFIG", "--profile", "PROFILE", "--tasks", "BAD"],
    ["import-fractal", "BAD"],
    ["status", "BAD"],
    ["status", "PLAN", "--journal", "BAD"],
    ["collect", "PLAN", "--journal", "BAD"],
    ["submit", "PLAN", "--journal", "BAD"],
    ["cancel", "PLAN", "--journal", "BAD"],
]


def _run_with(tmp_path: Path, command: list[str], bad: Path) -> subprocess.CompletedProcess[str]:
    subst = {**_files(tmp_path), "BAD": str(bad)}
    try:
        return _slurmplan(tmp_path, *[subst.get(word, word) for word in command])
    except subprocess.TimeoutExpired:
        pytest.fail(f"{command[0]} blocked on {bad}")


def _refused(done: subprocess.CompletedProcess[str], bad: Path, words: str) -> None:
    assert "Traceback" not in done.stderr and "must not run" not in done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert done.stderr == f"{bad}: {words}\n"


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_fifo_is_refused_not_waited_on(tmp_path: Path, command: list[str]) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # no writer: opening it to read would block for ever
    done = _run_with(tmp_path, command, fifo)
    _refused(done, fifo, "is a FIFO (named pipe), not a regular file")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_dev_zero_is_refused_not_read(tmp_path: Path, command: list[str]) -> None:
    # /dev/zero is only read by a regression, never written.
    done = _run_with(tmp_path, command, Path("/dev/zero"))
    _refused(done, Path("/dev/zero"), "is a character device, not a regular file")


@pytest.mark.parametrize("command", COMMANDS[:2] + COMMANDS[5:8], ids=" ".join)
def test_a_file_past_the_limit_is_refused_not_read(tmp_path: Path, command: list[str]) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk used, and never read
    done = _run_with(tmp_path, command, huge)
    _refused(done, huge, "is larger than the 1 GiB (1,073,741,824 bytes) slurmplan reads of "
                         "a file (it holds 1,073,741,825 bytes)")  # fmt: skip


def test_a_link_to_a_regular_file_is_read(tmp_path: Path) -> None:
    files = _files(tmp_path)
    link = tmp_path / "link.json"
    link.symlink_to(files["PLAN"])
    assert load_plan(str(link)) == PLAN


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_a_device_in_place_of_a_journal_is_neither_read_nor_written(tmp_path: Path) -> None:
    node = tmp_path / "null"  # a /dev/null of our own: /dev is never written by tests
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    for read in (lambda: read_state(str(node), PLAN), lambda: Journal(str(node), PLAN)):
        with pytest.raises(JournalError, match="is a character device, not a regular file"):
            read()
    assert stat.S_ISCHR(os.lstat(node).st_mode)


def test_the_limit_is_far_above_a_plan_of_100000_tasks_and_a_journal_of_1000_jobs(
    tmp_path: Path,
) -> None:
    config = one_task_per_job_config(1000)
    config["batching_config"]["max_cpus_per_job"] = 100
    config["batching_config"]["target_cpus_per_job"] = 100
    config["batching_config"]["max_mem_per_job"] = "100G"
    config["batching_config"]["target_mem_per_job"] = "100G"
    big = compile_plan(config, profile(), tasks(100_000))
    plan = tmp_path / "plan.json"
    plan.write_text(dump_plan(big))
    assert 20 * plan.stat().st_size < MAX_FILE_BYTES
    assert read_json_object(str(plan))["plan_id"] == big.plan_id
    journal = tmp_path / "j.journal"
    lines = [encode(header_event(big.plan_id, big.name, RUN))]
    for job in big.jobs:  # the longest ids Slurm gives, and a refusal of 1,000 characters
        lines.append(encode(journal_state.intent_event(job.index, f"{job.name}.{RUN}")))
        lines.append(encode(journal_state.refused_event(job.index, "x" * 1000)))
        lines.append(encode(journal_state.submitted_event(job.index, "9" * 20, "sbatch")))
    journal.write_bytes(b"".join(lines))
    assert len(big.jobs) == 1000
    assert 100 * journal.stat().st_size < MAX_FILE_BYTES
    assert len(read_state(str(journal), big).submitted) == 1000


def test_a_file_that_grows_past_the_limit_while_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    fd = os.open(path, os.O_RDONLY)
    try:  # fstat said 10 bytes; 100 are there
        with pytest.raises(UnusableFile, match="grew past that while being read"):
            input_files.read_up_to(fd, 10, str(path), limit=50)
    finally:
        os.close(fd)
    assert read_regular(str(path), limit=100) == b"x" * 100
    with pytest.raises(UnusableFile, match=r"the 99 bytes .* \(it holds 100 bytes\)"):
        read_regular(str(path), limit=99)


def test_a_missing_or_unreadable_input_keeps_its_message(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_json_object(str(tmp_path / "absent.json"))
    with pytest.raises(InputError, match="is a directory, not a JSON file"):
        read_json_object(str(tmp_path))
    assert read_state(str(tmp_path / "absent.journal"), PLAN).events == 0
