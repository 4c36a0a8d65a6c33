"""The golden form (compiler/golden_form.py): a one-value change shows as the lines it
affects, and the form is exact: every difference between two plans is a difference of files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slurmplan.compiler import compile_plan, plan_from_json
from slurmplan.compiler.golden_form import decode_text, encode_text, golden_texts, plan_json_of
from slurmplan.effects.cli import golden

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "tasks.json").is_file())
PLAN_ID = "4d837099e120428b"


def _compiled(case: str) -> Any:
    raw = [
        json.loads((GOLDEN / case / f"{k}.json").read_text())
        for k in ("config", "profile", "tasks")
    ]
    return compile_plan(*raw)


# -- exact ---------------------------------------------------------------------------------------


# Pieces that placeholders, their escape and the id are made of, in any order.
_PIECES = ["{plan_id", "}", ":12}", ":8}", ":{}", "{", "4d837099", "e120", "428b", "x", "\x00", "é"]


@given(st.lists(st.sampled_from(_PIECES)).map("".join) | st.text())
def test_text_round_trips_whatever_it_holds(text: str) -> None:
    assert decode_text(encode_text(text, PLAN_ID), PLAN_ID) == text


def test_placeholders_and_their_escape() -> None:
    text = f"a {PLAN_ID} b {PLAN_ID[:12]}/ c {PLAN_ID[:8]}.0 d {{plan_id}} e {{plan_id:8}}"
    encoded = encode_text(text, PLAN_ID)
    assert encoded == (
        "a {plan_id} b {plan_id:12}/ c {plan_id:8}.0 d {plan_id:{}} e {plan_id:{}:8}"
    )
    assert decode_text(encoded, PLAN_ID) == text


@pytest.mark.parametrize("case", CASES)
def test_a_golden_folder_gives_its_plan_back(case: str) -> None:
    """Everything needed to review (and rebuild) the plan is in the folder's files."""
    plan = _compiled(case)
    assert plan_from_json(golden.read_plan_json(str(GOLDEN / case))) == plan


# -- every real difference fails check --------------------------------------------------------


def _flips(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path, changed value) for every leaf, and each list one item shorter."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flips(item, (*path, key))
    elif isinstance(value, list):
        if value:
            yield path, value[:-1]
        for i, item in enumerate(value):
            yield from _flips(item, (*path, i))
    elif isinstance(value, bool):
        yield path, not value
    elif isinstance(value, int):
        yield path, value + 1
    elif value is None:
        yield path, 0
    elif path == ("plan_id",):
        # Another id: the placeholders stand for it, so every text the old id was in
        # now differs as a literal, and plan.json names the new id.
        yield path, value[:-1] + ("0" if value[-1] != "0" else "1")
    else:
        assert isinstance(value, str)
        yield path, value + "x"
        if len(value) > 1:  # one character inside (a script byte, a path's digit)
            middle = len(value) // 2
            other = "y" if value[middle] != "y" else "z"
            yield path, value[:middle] + other + value[middle + 1 :]


def _set(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    copy = json.loads(json.dumps(doc))
    if not path:
        return new
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return copy


@pytest.mark.parametrize("case", ["sbatch_extra_lines", "transport_ssh", "quoting"])
def test_check_fails_on_every_flipped_field(case: str, tmp_path: Path) -> None:
    doc = _compiled(case).to_json()
    folder = tmp_path / "golden"
    folder.mkdir()
    for relative, data in golden.golden_file_bytes(doc).items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(data)
    assert golden.compare_files(golden.golden_file_bytes(doc), str(folder)) == []
    flipped, flips = 0, list(_flips(doc))
    for path, new in flips:
        changed = _set(doc, path, new)
        try:
            files = golden.golden_file_bytes(changed)
        except (KeyError, ValueError):  # a flip that breaks the form itself cannot pass either
            continue
        assert golden.compare_files(files, str(folder)), f"no difference for {path} = {new!r}"
        flipped += 1
    assert flipped >= len(flips) - 2 and flipped > 100


def test_an_id_not_written_as_placeholder_differs(tmp_path: Path) -> None:
    """A golden script with the old id spelled out (not a placeholder) is a difference."""
    plan = _compiled("gpu")
    texts = golden_texts(plan.to_json())
    script = texts["scripts/job-000000.sbatch"]
    assert "{plan_id:8}" in script
    spelled = {**texts, "scripts/job-000000.sbatch": script.replace("{plan_id:8}", "0123abcd")}
    assert plan_json_of(spelled) != plan.to_json()


# -- a one-value change is the lines it affects ---------------------------------------------------


def _site(qos: str) -> list[dict[str, Any]]:
    config = {
        "default_slurm_config": {"partition": "main", "cpus_per_task": 1, "mem": "1G",
                                 "time": "00:10:00", "qos": qos, "account": "lab"},
        "batching_config": {"target_cpus_per_job": 8, "max_cpus_per_job": 16,
                            "target_mem_per_job": "8G", "max_mem_per_job": "16G",
                            "target_num_jobs": 15, "max_num_jobs": 100},
    }  # fmt: skip
    profile = {"username": "alice", "transport": "sudo", "project_dir": "/home/alice/p"}
    config["scripts_dir"] = "/srv/scripts"
    tasks = {"name": "wells", "needs_gpu": False, "tasks_per_job": 8, "parallel_tasks_per_job": 4,
             "tasks": [{"id": f"well-{i:03d}", "command": ["segment", "--well", str(i)]}
                       for i in range(120)]}  # fmt: skip
    return [config, profile, tasks]


def test_a_qos_change_is_one_line_per_script_plus_the_id(tmp_path: Path) -> None:
    before, after = compile_plan(*_site("normal")), compile_plan(*_site("high"))
    assert len(after.jobs) == 15 and before.plan_id != after.plan_id
    golden.update(before, str(tmp_path))
    differences = golden.compare(after, str(tmp_path))
    removed = [
        line for d in differences for line in d.diff.splitlines()
        if line.startswith("-") and not line.startswith("---")
    ]  # fmt: skip
    added = [
        line for d in differences for line in d.diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]  # fmt: skip
    assert sorted(set(removed)) == sorted(
        {"-#SBATCH --qos=normal", f'-  "plan_id": "{before.plan_id}",',
         f'-  "digest": "{before.to_json()["digest"]}",'}
    )  # fmt: skip
    assert len(removed) == len(added) == 15 + 2  # within 2 per job + 10
    assert removed.count("-#SBATCH --qos=normal") == added.count("+#SBATCH --qos=high") == 15
