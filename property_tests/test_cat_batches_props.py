"""compiler.runtime.cat_batches: whatever the files hold and whichever are missing, a
batch's outcome never takes a part for a file it is not (docs/effects.md, fetch
through sudo)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from slurmplan.compiler.runtime.cat_batches import batch_outcome

SEPARATOR = b"\n--sep-0123456789abcdef--\n"
SEP_PATH = "/tmp/sep"

# None: not a file; bytes may hold the separator or pieces of it
contents = st.one_of(
    st.none(),
    st.binary(max_size=40),
    st.lists(st.sampled_from([b"", b"x", b"\n", SEPARATOR, SEPARATOR[:7]]), max_size=4).map(
        b"".join
    ),
)


# A plain name, one cat quotes (a space), and one holding the quotes of another's quoted
# form: "'/w/f 1'" is what cat writes for "/w/f 1".
NAMES = ["/w/f", "/w/f 1", "'/w/f 1'", "/w/tasks/a.err"]


def quoted(path: str) -> str:
    """The name as GNU cat writes it in an error line (shell quoting, enough for these)."""
    return f"'{path}'" if " " in path and not path.startswith("'") else path


def gnu_cat(
    files: list[tuple[str, bytes | None]], separator: bytes | None
) -> tuple[int, bytes, str]:
    """What `cat f1 SEP f2 ... fn` gives: each file in turn, a line for each that is not a
    file (also the separator, when `separator` is None: it was removed)."""
    out, errors = b"", ""
    for i, (path, data) in enumerate(files):
        if i:
            if separator is None:
                errors += f"cat: {SEP_PATH}: No such file or directory\n"
            else:
                out += separator
        if data is None:
            errors += f"cat: {quoted(path)}: No such file or directory\n"
        else:
            out += data
    return (1 if errors else 0), out, errors


@settings(max_examples=600)
@given(
    held=st.fixed_dictionaries(dict.fromkeys(NAMES, contents)),
    order=st.lists(st.sampled_from(NAMES), min_size=2, max_size=6),
    separator_there=st.booleans(),
)
def test_a_file_read_is_that_file_and_a_missing_one_is_missing(
    held: dict[str, bytes | None], order: list[str], separator_there: bool
) -> None:
    files = [(path, held[path]) for path in order]  # a path named twice is one file
    code, out, errors = gnu_cat(files, SEPARATOR if separator_there else None)
    parts = out.split(SEPARATOR)
    paths = [path for path, _ in files]
    outcome = batch_outcome(code, errors, parts, paths, SEP_PATH)
    assert sorted(outcome.read + outcome.missing + outcome.again) == list(range(len(files)))
    for i in outcome.read:
        assert files[i][1] is not None and parts[i] == files[i][1]
    for i in outcome.missing:
        assert files[i][1] is None
    if separator_there and not any(data is not None and SEPARATOR in data for _, data in files):
        # nothing holds the separator: every non-empty file is read in the batch
        assert {i for i, (_, data) in enumerate(files) if data} <= set(outcome.read)
        if all(" " not in path for path in paths):  # and, named plainly, every file
            assert not outcome.again
