"""The fast lane builder agrees with the plain one (docs/architecture.md §4).

`lane_texts` (one list of pieces, one join per lane, alike columns quoted once) must
give exactly what `task_lines` gives over `sh_words_many`'s lines, for any job of
argvs all as long: some columns alike in every task, some not.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from property_tests.strategies import examples, shell_text
from slurmplan.compiler.passes.render import lane_texts, task_lines
from slurmplan.compiler.slurm.quoting import sh_word_columns, sh_words_many

_ID = st.text("abcXYZ019._-", min_size=1, max_size=6)


@st.composite
def jobs(draw: st.DrawFn) -> tuple[list[str], list[list[str]], list[str]]:
    n = draw(st.integers(1, 30))
    width = draw(st.integers(1, 5))
    columns: list[list[str]] = []
    for _ in range(width):
        if draw(st.booleans()):  # one word for every task
            columns.append([draw(shell_text(raw_bytes=True))] * n)
        else:
            columns.append(draw(st.lists(shell_text(raw_bytes=True), min_size=n, max_size=n)))
    ids = draw(st.lists(_ID, min_size=n, max_size=n, unique=True))
    lanes = draw(st.integers(1, n))
    files = [f"job-000007.lane-{k:02d}.status" for k in range(lanes)]
    return ids, [list(row) for row in zip(*columns, strict=True)], files


@examples(300)
@given(jobs())
def test_lane_texts_match_task_lines(job: tuple[list[str], list[list[str]], list[str]]) -> None:
    ids, commands, files = job
    words = sh_word_columns(commands)
    assert words is not None
    lines = sh_words_many(commands, heads=ids)
    expected = [task_lines(f, lines[k :: len(files)]) for k, f in enumerate(files)]
    assert lane_texts(files, ids, words) == expected


def test_argvs_of_different_lengths_have_no_columns() -> None:
    assert sh_word_columns([["a"], ["a", "b"]]) is None
    assert sh_word_columns([[]]) is None
