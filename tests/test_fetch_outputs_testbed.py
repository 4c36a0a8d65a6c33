"""Task output files come home from the real testbed (issue 10): a task writes
result.json (and a file with a non-ASCII name in a folder), another names an output it
never writes, a third leaves a link to a file outside the workdir, a fourth two names of
one file (a hard link); `slurmplan fetch`
runs as the service user through sudo and over ssh (as alice locally).  The content
comes home byte for byte, the missing output is named for its task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from effects_helpers import (
    bed_facts,
    bed_plan,
    clean_bed,
    ran_to_the_end,
    run_cli,
    show,
    workspace,
)

pytestmark = pytest.mark.testbed

# Bytes a text file would not hold: UTF-8, a NUL, no final newline.
RESULT = b'{"task": "writes", "\xc3\xbc": [1, 2]}\n\x00tail'
RESULT_SHELL = r"""printf '{"task": "writes", "\303\274": [1, 2]}\n\000tail' >result.json"""


def _tasks(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "tasks": [
            {"id": "writes", "command": ["sh", "-c", RESULT_SHELL + " && mkdir -p d && "
                                         "printf x >d/ü.txt"],
             "outputs": ["result.json", "d/ü.txt"]},
            {"id": "forgets", "command": ["true"], "outputs": ["never.json"]},
            {"id": "links", "command": ["ln", "-sf", "/etc/hostname", "linked.json"],
             "outputs": ["linked.json"]},
            # two names of one file (a hard link): both are files, both come home
            {"id": "hardlinks", "command": ["sh", "-c", "printf same >h1.json && "
                                            "ln -f h1.json h2.json"],
             "outputs": ["h1.json", "h2.json"]},
        ],
    }  # fmt: skip


@pytest.mark.parametrize("transport", ["local", "sudo", "ssh"])
def test_outputs_come_home_byte_exact_and_the_missing_one_is_named(transport: str) -> None:
    tb = bed_facts()
    with workspace() as ws:
        plan, plan_path, runner, profile = bed_plan(
            ws, tb, transport, _tasks(f"outputs-{transport}")
        )
        home = plan_path.parent / "home"
        try:
            ran_to_the_end(runner, plan_path)

            fetch = run_cli(runner, ["fetch", str(plan_path), str(home)])
            assert fetch.returncode == 1, show(fetch)
            assert (home / "tasks/writes.outputs/result.json").read_bytes() == RESULT
            assert (home / "tasks/writes.outputs/d/ü.txt").read_bytes() == b"x"
            assert (home / "tasks/writes.out").exists()
            for name in ("h1.json", "h2.json"):
                assert (home / "tasks/hardlinks.outputs" / name).read_bytes() == b"same"
            assert not (home / "tasks/forgets.outputs").exists()
            missing = [line for line in fetch.stderr.splitlines() if line.startswith("task ")]
            expected = [f"task forgets: not on the cluster: {plan.workdir}/never.json"]
            if transport == "sudo":  # cat follows the link, as alice: what she may read
                assert (home / "tasks/links.outputs/linked.json").read_bytes() == (
                    Path("/etc/hostname").read_bytes()
                )
            else:  # a link is not a file: neither opened through (local) nor taken (tar)
                expected.append(f"task links: not on the cluster: {plan.workdir}/linked.json")
                assert not (home / "tasks/links.outputs").exists()
            assert missing == expected, show(fetch)
            n_fetched = 8 + 2 + 2 + (1 if transport == "sudo" else 0)  # logs, outputs
            assert (
                fetch.stdout
                == f"fetched {n_fetched} file(s) into {home}; {len(expected)} missing\n"
            )

            again = run_cli(runner, ["fetch", str(plan_path), str(home), "--task", "writes"])
            assert again.returncode == 0, show(again)
            assert (home / "tasks/writes.outputs/result.json").read_bytes() == RESULT
        finally:
            clean_bed(plan, profile)


BIG = 5_000_000  # bytes: many pipe reads (64 KiB) and several of the reader's (1 MiB)


def test_a_stream_bigger_than_the_pipe_comes_home_whole_over_ssh() -> None:
    """Over ssh the tar stream is unpacked as it arrives: a 5 MB output arrives in many
    pieces and is written once all of it is in; the small files after it follow."""
    tb = bed_facts()
    with workspace() as ws:
        big = f"yes 0123456789abcdef | head -c {BIG} >big.bin && printf after >small.txt"
        tasks = {"name": "big-ssh", "tasks": [
            {"id": "big", "command": ["sh", "-c", big], "outputs": ["big.bin", "small.txt"]},
            *({"id": f"s{i}", "command": ["echo", str(i)]} for i in range(40)),
        ]}  # fmt: skip
        plan, plan_path, _, profile = bed_plan(ws, tb, "ssh", tasks)
        home = plan_path.parent / "home"
        try:
            ran_to_the_end("runner", plan_path)
            fetch = run_cli("runner", ["fetch", str(plan_path), str(home)])
            assert fetch.returncode == 0, show(fetch)
            on_cluster = Path(plan.workdir, "big.bin").read_bytes()
            assert len(on_cluster) == BIG
            assert (home / "tasks/big.outputs/big.bin").read_bytes() == on_cluster
            assert (home / "tasks/big.outputs/small.txt").read_bytes() == b"after"
            assert [(home / f"tasks/s{i}.out").read_text() for i in range(40)] == [
                f"{i}\n" for i in range(40)
            ]
            assert fetch.stdout == f"fetched {2 * 41 + 2} file(s) into {home}\n", show(fetch)
        finally:
            clean_bed(plan, profile)
