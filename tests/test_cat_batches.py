"""compiler.runtime.cat_batches: how fetch through sudo cuts its files into batched cats,
and what a batch's answer says (docs/effects.md, fetch through sudo)."""

from __future__ import annotations

import shlex

from sample_inputs import config, profile, tasks

import slurmplan
from slurmplan.compiler.runtime.cat_batches import (
    BATCH_FILES,
    Outcome,
    alone_missing,
    batch_argv,
    batch_outcome,
    batches,
)
from slurmplan.compiler.runtime.commands import READ_CHUNK_BYTES
from slurmplan.compiler.runtime.fetch import Wanted

SEP = "/tmp/slurmplan-separator-abc"


def _files(n: int, name: str = "x") -> list[Wanted]:
    return [
        Wanted(f"t{i}", f"/w/tasks/{name}{i}.out", f"tasks/{name}{i}.out", "") for i in range(n)
    ]


def test_batches_hold_at_most_batch_files_and_keep_the_order() -> None:
    files = _files(BATCH_FILES * 2 + 1)
    runs = batches(files, SEP)
    assert [len(r) for r in runs] == [BATCH_FILES, BATCH_FILES, 1]
    assert [f for r in runs for f in r] == files


def test_a_batchs_paths_and_separators_fit_one_argument_list() -> None:
    files = _files(900, name="n" * 200)  # 900 paths of ~215 bytes: past 120,000 bytes
    runs = batches(files, SEP)
    assert len(runs) == 2 and [f for r in runs for f in r] == files
    for run in runs:
        cost = sum(len(shlex.quote(f.remote)) + 1 + len(SEP) + 1 for f in run)
        assert cost <= READ_CHUNK_BYTES


def test_the_separator_stands_between_each_two_files_and_sudo_runs_cat() -> None:
    plan = slurmplan.compile_plan(
        {**config(), "scripts_dir": "/tmp/s"}, profile("/p", transport="sudo"), tasks(1)
    )
    argv = batch_argv(plan, _files(3), SEP)
    assert argv[-7:] == ("cat", "--", "/w/tasks/x0.out", SEP, "/w/tasks/x1.out", SEP,
                         "/w/tasks/x2.out")  # fmt: skip
    assert argv[:2] == ("sudo", "--set-home")


PATHS = ["/w/a", "/w/b", "/w/c"]


def test_what_a_batch_answer_says() -> None:
    gone = "cat: /w/b: No such file or directory\n"
    assert batch_outcome(0, "", [b"a", b"", b"c"], PATHS, SEP) == Outcome((0, 1, 2), (), ())
    assert batch_outcome(1, gone, [b"a", b"", b"c"], PATHS, SEP) == Outcome((0, 2), (1,), ())
    # cat named /w/b: the other empty part is an empty file
    assert batch_outcome(1, gone, [b"", b"", b"c"], PATHS, SEP) == Outcome((0, 2), (1,), ())
    everything = Outcome((), (), (0, 1, 2))
    refused = [
        (0, "", [b"a", b"b", b"c", b"d"]),  # a part too many: a file held the separator
        (1, gone, [b"a", b"b", b"c"]),  # cat named /w/b, yet it gave bytes
        (1, "cat: /w/b: Input/output error\n", [b"a", b"", b"c"]),
        (1, f"cat: {SEP}: No such file or directory\n", [b"a", b"b", b"c"]),
        (1, "sudo: a password is required\n", [b""]),
        (1, "", [b"a", b"", b"c"]),
        (None, "", [b"a", b"b", b"c"]),  # killed
        (2, gone, [b"a", b"", b"c"]),
    ]
    for code, stderr, parts in refused:
        assert batch_outcome(code, stderr, parts, PATHS, SEP) == everything, (code, stderr)


def test_names_cat_quotes_are_told_by_the_count_of_empty_parts() -> None:
    """A path with a space is quoted in cat's line ('/w/b 1'): a path made of those
    quotes could be named instead, so the lines are only counted."""
    paths = ["/w/a", "/w/b 1", "'/w/b 1'"]
    gone = "cat: '/w/b 1': No such file or directory\n"
    # one line, two empty parts: either could be the missing one, each is asked alone
    assert batch_outcome(1, gone, [b"a", b"", b""], paths, SEP) == Outcome((0,), (), (1, 2))
    assert batch_outcome(1, gone, [b"a", b"", b"x"], paths, SEP) == Outcome((0, 2), (1,), ())


def test_a_cat_of_one_file_says_missing_only_with_cats_one_line() -> None:
    """alone_missing: cat's own line, quoted name or not, and nothing else."""
    assert alone_missing(1, "cat: /w/a.out: No such file or directory\n", b"")
    assert alone_missing(1, "cat: '/w/a b': Is a directory\n", b"")
    refused = "sudo: unable to execute /usr/bin/cat: No such file or directory\n"
    assert not alone_missing(1, refused, b"")
    assert not alone_missing(1, refused + "cat: /w/a.out: No such file or directory\n", b"")
    assert not alone_missing(1, "cat: /w/a.out: Permission denied\n", b"")
    assert not alone_missing(1, "cat: /w/a.out: No such file or directory\n", b"bytes")
    assert not alone_missing(0, "cat: /w/a.out: No such file or directory\n", b"")
    assert not alone_missing(None, "", b"")
