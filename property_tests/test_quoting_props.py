"""Task argv and env values reach the task byte for byte (docs/architecture.md §2.3, §4).

A real plan is compiled, each job script is run by a real shell (bash, then dash as
`sh`) in a temporary folder, and `srun` is a stub on PATH that writes the argv it gets
after `--` (NUL-separated) and its environment (`env -0`) to files.  The bytes are
compared with the input: text as UTF-8, lone surrogates \\udc80-\\udcff as the raw
bytes they stand for (surrogateescape).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from property_tests.strategies import argv, env, examples, shell_text
from slurmplan.compiler import Plan, compile_plan
from slurmplan.compiler.slurm.quoting import sh_words_many

SHELLS = [shell for shell in ("bash", "dash") if shutil.which(shell)]

SRUN_STUB = r"""#!/bin/bash
# Test stand-in for srun: run the step's command (after --), as srun would, telling
# the recorder which task it is.
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    case $1 in --output=tasks/*) out=${1#--output=tasks/} ;; esac
    shift
done
shift
export SP_TEST_TASK=${out%.out}
exec "$@"
"""
# The task's program (every test command runs it): records the argv and environment it
# got.  POSIX sh, which leaves names such as UID alone, unlike bash.
RECORDER = r"""#!/bin/sh
exec >"$CAPTURE/$SP_TEST_TASK.argv"
printf '%s\0' "${0##*/}"
for arg in "$@"; do printf '%s\0' "$arg"; done
env -0 >"${CAPTURE:?}/$SP_TEST_TASK.env"
"""
PROGRAMS = ("prog", "a=b")  # a program name with '=' must get past `env` too

CONFIG: dict[str, Any] = {
    "default_slurm_config": {"partition": "main", "cpus_per_task": 1, "mem": 100},
    "batching_config": {
        "target_cpus_per_job": 2, "max_cpus_per_job": 4,
        "target_mem_per_job": 200, "max_mem_per_job": 400,
        "target_num_jobs": 2, "max_num_jobs": 10,
    },
}  # fmt: skip
PROFILE = {"username": "alice", "transport": "local", "project_dir": "/home/alice/p"}


def to_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _task_list(commands: list[list[str]], envs: list[dict[str, str]], lanes: int) -> dict[str, Any]:
    tasks: list[dict[str, Any]] = []
    for index, (command, task_env) in enumerate(zip(commands, envs, strict=True)):
        task: dict[str, Any] = {"id": f"t{index}", "command": command}
        if task_env:
            task["env"] = task_env
        tasks.append(task)
    # Several tasks per lane: env must not leak from one task to the next.
    return {"name": "q", "tasks": tasks, "tasks_per_job": 3, "parallel_tasks_per_job": lanes}


def _run_jobs(plan: Plan, shell: str, root: Path) -> Path:
    bin_dir, capture, work = root / "bin", root / "capture", root / "work"
    for folder in (bin_dir, capture, work / "tasks"):
        folder.mkdir(parents=True)
    for name, text in (("srun", SRUN_STUB), *((program, RECORDER) for program in PROGRAMS)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    run_env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin", "CAPTURE": str(capture),
        "SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "q.run",  # as Slurm sets them for the job
    }  # fmt: skip
    for job in plan.jobs:
        script = work / f"job-{job.index}.sbatch"
        script.write_bytes(to_bytes(job.script))
        done = subprocess.run(
            [shell, str(script)], cwd=work, env=run_env, capture_output=True, timeout=60,
            check=False,
        )  # fmt: skip
        assert done.returncode == 0, (shell, done.stderr.decode(errors="replace"))
        assert b"failed=0" in (work / f"job-{job.index:06d}.done").read_bytes()
    return capture


def _environment(raw: bytes) -> dict[bytes, bytes]:
    pairs = (entry.partition(b"=") for entry in raw.split(b"\0") if entry)
    return {name: value for name, _, value in pairs}


def check_reaches_tasks(commands: list[list[str]], envs: list[dict[str, str]], lanes: int) -> None:
    """Each task's argv after its program name, and its env, arrive byte for byte (the
    program is one of the recorders in PROGRAMS, chosen by the task's position)."""
    commands = [[PROGRAMS[i % len(PROGRAMS)], *c[1:]] for i, c in enumerate(commands)]
    plan = compile_plan(CONFIG, PROFILE, _task_list(commands, envs, lanes))
    all_names = {name for task_env in envs for name in task_env}
    for shell in SHELLS:
        with tempfile.TemporaryDirectory(prefix="slurmplan-quoting-") as root:
            capture = _run_jobs(plan, shell, Path(root))
            for index, (command, task_env) in enumerate(zip(commands, envs, strict=True)):
                got_argv = (capture / f"t{index}.argv").read_bytes()
                assert got_argv.split(b"\0")[:-1] == [to_bytes(a) for a in command], shell
                got_env = _environment((capture / f"t{index}.env").read_bytes())
                for name, value in task_env.items():
                    assert got_env.get(name.encode()) == to_bytes(value), (shell, name)
                for name in all_names - task_env.keys():
                    assert name.encode() not in got_env, (shell, "leaked", name)


pytestmark = pytest.mark.skipif(not SHELLS, reason="needs bash or dash on PATH")


@examples(200)
@given(
    data=st.lists(st.tuples(argv(), env()), min_size=1, max_size=5),
    lanes=st.integers(1, 3),
)
def test_argv_and_env_reach_the_task_unchanged(
    data: list[tuple[list[str], dict[str, str]]], lanes: int
) -> None:
    check_reaches_tasks([c for c, _ in data], [e for _, e in data], lanes)


@examples(100)
@given(
    data=st.lists(st.tuples(argv(raw_bytes=True), env(raw_bytes=True)), min_size=1, max_size=3),
)
def test_raw_bytes_reach_the_task_unchanged(data: list[tuple[list[str], dict[str, str]]]) -> None:
    """Arguments that are not UTF-8, carried as lone surrogates (os.fsdecode's form)."""
    check_reaches_tasks([c for c, _ in data], [e for _, e in data], 2)


def test_every_byte_but_nul_reaches_the_task() -> None:
    """Each byte 0x01-0xff alone, and all of them in one argument, in both shells."""
    singles = [bytes([b]).decode("utf-8", "surrogateescape") for b in range(1, 256)]
    commands = [["prog", *singles[:128]], ["prog", *singles[128:]], ["p", "".join(singles)]]
    envs = [{"V": "".join(singles)}, {"W": singles[-1]}, {}]
    check_reaches_tasks(commands, envs, 1)


@pytest.mark.parametrize("name", ["_sp_id", "_sp_status", "UID"])
def test_env_names_the_shell_uses_reach_the_task(name: str) -> None:
    check_reaches_tasks([["prog"]], [{name: "value"}], 1)


@examples(300)
@given(argvs=st.lists(argv(raw_bytes=True), min_size=0, max_size=8))
def test_fast_quoting_equals_shlex_quote_word_by_word(argvs: list[list[str]]) -> None:
    """The compiler's batch quoting (compiler.slurm.quoting.sh_words_many) is an optimisation
    of quoting each word with shlex.quote: it must give the very same text."""
    assert sh_words_many(argvs) == [" ".join(map(shlex.quote, a)) for a in argvs]


SAFE_WORD = st.text("abXY09_@%+=:,./-", min_size=1)
UNSAFE_WORD = st.builds(
    str.__add__, st.text("ab"), st.sampled_from([" ", "'", "é", "\n", "\udc80"])
)
COLUMN_WORDS = [SAFE_WORD, UNSAFE_WORD, shell_text(raw_bytes=True)]


@examples(300)
@given(data=st.data(), n=st.integers(1, 6), width=st.integers(1, 4))
def test_fast_quoting_of_argvs_as_long(data: st.DataObject, n: int, width: int) -> None:
    """Argvs all as long are quoted a column at a time: each column here holds only
    words that need no quotes, only words that do, or any words (empty ones too)."""
    kinds = [data.draw(st.sampled_from(COLUMN_WORDS)) for _ in range(width)]
    columns = [data.draw(st.lists(kind, min_size=n, max_size=n)) for kind in kinds]
    argvs = [list(argv) for argv in zip(*columns, strict=True)]
    assert sh_words_many(argvs) == [" ".join(map(shlex.quote, a)) for a in argvs]
    heads = [f"t{i}" for i in range(n)]
    assert sh_words_many(argvs, heads=heads) == [
        f"{head} {' '.join(map(shlex.quote, a))}" for head, a in zip(heads, argvs, strict=True)
    ]


@pytest.mark.parametrize(
    "argvs",
    [
        [],
        [["p"]],
        [["p", ""]],
        [["", "''", "'"]],
        [["a b", "it's", "x"], ["é", "\udc80"]],
        [["a\x00"]],
        [["a b\x00c d", "e"], ["f g", "h"]],
        [[], []],
        [["a", "b c"], ["d e", "f"], ["g", "h"]],
        [["a", "b c"], ["d"], [], ["e", "f", "g"]],
    ],
)
def test_fast_quoting_edges(argvs: list[list[str]]) -> None:
    """Empty words (quoted as ''), quotes inside words, words needing no quotes, NUL
    (the fallback word by word), argvs all as long or not, or empty; with heads too."""
    assert sh_words_many(argvs) == [" ".join(map(shlex.quote, a)) for a in argvs]
    heads = [f"t{i}" for i in range(len(argvs))]
    assert sh_words_many(argvs, heads=heads) == [
        f"{head} {' '.join(map(shlex.quote, a))}" for head, a in zip(heads, argvs, strict=True)
    ]
