"""Fetch through the testbed's real sudo reads the files in batches (docs/effects.md):
a Python run as the service user counts the `cat`s its Run runs, through a runner that
wraps the real one.  With every file there and every path plain, one `cat` reads them
all; a batch refused on the real sudo would still fetch right, one `cat` each, and only
this count shows it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from effects_helpers import (
    as_user,
    bed_facts,
    bed_plan,
    clean_bed,
    ran_to_the_end,
    user_python,
    workspace,
)

pytestmark = pytest.mark.testbed

COUNTING = """
import json, sys
import slurmplan
from slurmplan.compiler.runtime import cat_batches
from slurmplan.effects.execute import run_once
cat_batches.BATCH_FILES = int(sys.argv[3])
with open(sys.argv[1]) as f:
    plan = slurmplan.plan_from_json(json.load(f))
cats = []
def runner(argv, **kwargs):
    read = argv[argv.index("--") + 1 :] if "cat" in argv else []
    if read and not all(path.endswith(".status") for path in read):  # not the lane files
        cats.append(len(read))
    return run_once(argv, **kwargs)
run = slurmplan.Run(plan, sys.argv[1] + ".journal", runner=runner)
run.poll()  # fetch's own poll then runs no command
cats.clear()
try:
    fetched, missing = run.fetch(sys.argv[2]), {}
except slurmplan.FetchIncomplete as incomplete:
    fetched, missing = incomplete.fetched, incomplete.missing
print(json.dumps({"cats": cats, "fetched": len(fetched), "missing": missing}))
"""


def _fetch_counting(runner: str, plan_path: Path, home: Path, batch_files: int) -> Any:
    """fetch as the service user, batches of `batch_files`: the cats' arguments, how
    many files came, the missing ones."""
    done = subprocess.run(
        [*as_user(runner), user_python(), "-c", COUNTING, str(plan_path), str(home),
         str(batch_files)],
        capture_output=True, text=True, cwd="/", timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_one_cat_reads_every_file_of_a_run_through_sudo() -> None:
    tb = bed_facts()
    with workspace() as ws:
        tasks = {
            "name": "sudo-batch",
            "tasks": [{"id": f"t{i}", "command": ["echo", f"task {i}"]} for i in range(30)],
        }
        plan, plan_path, runner, profile = bed_plan(ws, tb, "sudo", tasks)
        home = plan_path.parent / "home"
        try:
            ran_to_the_end(runner, plan_path)
            said = _fetch_counting(runner, plan_path, home, 1000)
            # 60 files, 59 separators between them, in one cat as alice
            assert said == {"cats": [60 + 59], "fetched": 60, "missing": {}}, said
            assert [(home / f"tasks/t{i}.out").read_text() for i in range(30)] == [
                f"task {i}\n" for i in range(30)
            ]
            assert all((home / f"tasks/t{i}.err").read_bytes() == b"" for i in range(30))
        finally:
            clean_bed(plan, profile)


def test_files_read_alone_through_sudo_tell_a_missing_one_by_cats_line() -> None:
    """One file a batch: each read by a cat of its own on the real sudo; the output the
    task did not write is missing by cat's one line (cat_batches.alone_missing), and
    every other file came."""
    tb = bed_facts()
    with workspace() as ws:
        tasks = {
            "name": "sudo-alone",
            "tasks": [
                {"id": "t0", "command": ["echo", "task 0"], "outputs": ["absent.json"]},
                {"id": "t1", "command": ["echo", "task 1"]},
            ],
        }
        plan, plan_path, runner, profile = bed_plan(ws, tb, "sudo", tasks)
        home = plan_path.parent / "home"
        try:
            ran_to_the_end(runner, plan_path)
            said = _fetch_counting(runner, plan_path, home, 1)
            absent = f"{plan.workdir}/absent.json"  # outputs are relative to the workdir
            assert said == {"cats": [1] * 5, "fetched": 4, "missing": {"t0": [absent]}}, said
            assert (home / "tasks/t1.out").read_text() == "task 1\n"
        finally:
            clean_bed(plan, profile)
