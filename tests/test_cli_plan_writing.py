"""`compile` writes the plan in pieces as it is encoded: the same bytes as the canonical dump,
and a failure half-way leaves no half-written plan file. Reading keeps memory bounded too."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sample_inputs

from slurmplan.compiler import Plan, compile_plan
from slurmplan.effects.cli import main, plan_files
from slurmplan.effects.cli.inputs_io import read_json_object
from slurmplan.effects.cli.plan_files import dump_plan, write_plan

GOLDEN = Path(__file__).parent / "golden"
REPO = Path(__file__).parent.parent
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "tasks.json").is_file())
KINDS = ("config", "profile", "tasks")


def _raw(case: str) -> list[dict[str, Any]]:
    return [json.loads((GOLDEN / case / f"{k}.json").read_text(encoding="utf-8")) for k in KINDS]


def _canonical(plan: Plan) -> bytes:
    """The plan's canonical dump as it was defined before streaming: one json.dumps."""
    return (json.dumps(plan.to_json(), indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode(
        "ascii"
    )


def _args(case: str, *extra: str) -> list[str]:
    files = [(f"--{k}", str(GOLDEN / case / f"{k}.json")) for k in KINDS]
    return ["compile", *(word for pair in files for word in pair), *extra]


# -- the same bytes -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_the_plan_file_is_the_canonical_dump(tmp_path: Path, case: str) -> None:
    expected = _canonical(compile_plan(*_raw(case)))
    out = tmp_path / "plan.json"
    assert main(_args(case, "-o", str(out))) == 0
    assert out.read_bytes() == expected
    assert dump_plan(compile_plan(*_raw(case))).encode("ascii") == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]  # no temporary left


@pytest.mark.parametrize("piece_chars", [1, 7, 4096])
def test_any_piece_size_gives_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece_chars: int
) -> None:
    monkeypatch.setattr(plan_files, "PIECE_CHARS", piece_chars)
    out = tmp_path / "plan.json"
    assert main(_args("quoting", "-o", str(out))) == 0
    assert out.read_bytes() == _canonical(compile_plan(*_raw("quoting")))


def test_raw_bytes_and_non_ascii_text_are_escapes(tmp_path: Path) -> None:
    # The quoting case has raw bytes (lone surrogates), accents, CJK and an emoji in arguments.
    out = tmp_path / "plan.json"
    assert main(_args("quoting", "-o", str(out))) == 0
    data = out.read_bytes()
    assert data.isascii()
    for escaped in (rb"\udcff\udcfe not UTF-8", rb"h\u00e9llo w\u00f6rld", rb"\u65e5\u672c\u8a9e",
                    rb"emoji \ud83c\udf89"):  # fmt: skip
        assert escaped in data
    assert data == _canonical(compile_plan(*_raw("quoting")))


def test_stdout_gets_the_same_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_args("quoting")) == 0
    assert capsys.readouterr().out.encode("ascii") == _canonical(compile_plan(*_raw("quoting")))


@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
def test_stdout_of_the_process_is_the_same_bytes_whatever_the_locale(locale: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONIO"))}
    env["LC_ALL"] = locale
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "slurmplan", *_args("quoting")],
        check=False,
        env=env,
        capture_output=True,
    )
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout == _canonical(compile_plan(*_raw("quoting")))


def test_write_plan_never_holds_the_whole_text() -> None:
    # Many jobs, each a small piece of the text: what write_plan holds beyond the plan's JSON
    # form (which json.dumps needs as well) is a few pieces, not the text (json.dumps: 3 times it).
    plan = compile_plan(
        sample_inputs.one_task_per_job_config(2000), sample_inputs.profile(),
        sample_inputs.tasks(2000),
    )  # fmt: skip
    text_chars = len(dump_plan(plan))
    assert text_chars > 40 * plan_files.PIECE_CHARS
    tracemalloc.start()
    try:
        form = plan.to_json()
        form_size = tracemalloc.get_traced_memory()[0]
        del form
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        sizes: list[int] = []
        write_plan(plan, lambda piece: sizes.append(len(piece.encode("ascii"))))
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert sum(sizes) == text_chars
    assert max(sizes) < 2 * plan_files.PIECE_CHARS
    assert peak < form_size + text_chars // 4


# -- a failure half-way -------------------------------------------------------------------------


def _failing_chunks(
    monkeypatch: pytest.MonkeyPatch, folder: Path, error: BaseException
) -> list[list[str]]:
    """plan_chunks raising `error` half-way; returns what the folder held at that moment."""
    seen: list[list[str]] = []
    real = plan_files.plan_chunks

    def failing(plan: Plan) -> Iterator[str]:
        chunks = list(real(plan))
        yield from chunks[: len(chunks) // 2]
        seen.append(sorted(p.name for p in folder.iterdir()))
        raise error

    monkeypatch.setattr(plan_files, "plan_chunks", failing)
    monkeypatch.setattr(plan_files, "PIECE_CHARS", 16)  # many writes before the failure
    return seen


@pytest.mark.parametrize("old", [None, "previous plan\n"])
def test_an_encoder_failure_leaves_no_half_written_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str | None
) -> None:
    out = tmp_path / "plan.json"
    if old is not None:
        out.write_text(old)
    seen = _failing_chunks(monkeypatch, tmp_path, RuntimeError("encoder broke"))
    with pytest.raises(RuntimeError, match="encoder broke"):
        main(_args("quoting", "-o", str(out)))
    [names] = seen  # the temporary file was there, half-written, when the encoder failed
    assert [n for n in names if n.startswith(".slurmplan-") and n.endswith(".tmp")] != []
    after = sorted(p.name for p in tmp_path.iterdir())
    if old is None:
        assert after == []
    else:
        assert after == ["plan.json"]
        assert out.read_text() == old


def test_a_write_error_half_way_is_a_clear_error_and_keeps_the_old_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan.json"
    out.write_text("previous plan\n")
    _failing_chunks(monkeypatch, tmp_path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    assert main(_args("quoting", "-o", str(out))) == 2
    assert capsys.readouterr().err == f"{out}: cannot be written: {os.strerror(errno.ENOSPC)}\n"
    assert out.read_text() == "previous plan\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]


# -- reading ------------------------------------------------------------------------------------


def test_reading_a_file_never_holds_its_bytes_text_and_value_at_once(tmp_path: Path) -> None:
    # Long strings: the value is about the file's size, as are its bytes and its text.
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"a": [f"{i:06d}" + "x" * 1000 for i in range(4000)]}))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        value = read_json_object(str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(value["a"]) == 4000
    assert peak < 2.5 * size  # bytes + text + value would be 3 times the size
