"""The one place where text is quoted for the shell.

Everything a job script hands to the shell (task argv, env values, export
values) passes through `sh_quote` exactly once.  Directive values are never
quoted: sbatch reads #SBATCH lines with its own parser, so they are checked
against safe character sets instead (schemas/, compiler/slurm/extra_lines.py).
"""

from __future__ import annotations

import shlex
import string
from collections import deque
from collections.abc import Iterable, Sequence
from itertools import chain, compress, islice, repeat

sh_quote = shlex.quote

# The characters shlex.quote leaves a word as it is with (its `[^\w@%+=:,./-]`, ASCII).
_SAFE = (string.ascii_letters + string.digits + "_@%+=:,./-").encode("ascii")
assert all((sh_quote(c) == c) == (c.encode() in _SAFE) for c in map(chr, range(1, 128)))


def sh_words(argv: Iterable[str]) -> str:
    """An argv as one shell line, each word quoted once."""
    return " ".join(map(shlex.quote, argv))


def sh_words_many(
    argvs: Sequence[Sequence[str]], *, heads: Sequence[str] | None = None
) -> list[str]:
    """`[sh_words(argv) for argv in argvs]`, the same strings, faster on many argvs.

    With `heads`, each line starts with its argv's head and a space, the head as it
    is, not quoted (a task id, which needs no quotes): one join per line, not two.

    Argvs all as long (a job of alike commands, the common case) are quoted a
    column at a time: the first words of all argvs, then the second words...  A
    column mostly needs quotes for none of its words or for all of them, and is
    then kept, or quoted, as a whole.  Other argvs' words are quoted all together.
    Either way no Python code runs per word: see _quote_words.
    """
    widths = set(map(len, argvs))
    if len(widths) == 1 and 0 not in widths:
        columns = list(map(_quote_column, zip(*argvs, strict=True)))  # zip(*argvs): columns
        if heads is not None:
            columns.insert(0, heads)
        return list(map(" ".join, zip(*columns, strict=True)))
    words = list(chain.from_iterable(argvs))
    if not _quote_words(words, _marks("\x00".join(words))):
        lines = [sh_words(argv) for argv in argvs]
    else:
        # Back to one line per argv: each islice takes the next len(argv) words of
        # the one iterator, and is joined before the next islice is made.
        words_left = iter(words)
        lines = list(map(" ".join, map(islice, repeat(words_left), map(len, argvs))))
    return lines if heads is None else list(map(" ".join, zip(heads, lines, strict=True)))


# One piece of a table of quoted argvs: a text alike in every row (spaces, and
# words that every argv has in that place), or a column of one text per row.
Segment = str | Sequence[str]


def sh_word_columns(argvs: Sequence[Sequence[str]]) -> list[Segment] | None:
    """Argvs all as long, quoted, as the segments of a table: joining row i's texts
    of the segments gives `sh_words(argvs[i])`.  None when the argvs differ in length.

    A column whose words are all alike (`python3`, `--zarr-url` in a job of alike
    commands) is quoted once and merged with its neighbours into one text, so a
    row is built from few pieces.
    """
    widths = set(map(len, argvs))
    if len(widths) != 1 or 0 in widths:
        return None
    segments: list[Segment] = []
    alike = ""  # the alike text since the last column of many texts
    for k, column in enumerate(zip(*argvs, strict=True)):
        space = " " if k else ""
        if column.count(column[0]) == len(column):
            alike += space + sh_quote(column[0])
        else:
            segments.append(alike + space)
            segments.append(_quote_column(column))
            alike = ""
    segments.append(alike)
    return segments


def _marks(joined: str) -> bytes:
    """NUL-joined words without the bytes shlex.quote finds safe: a word leaves
    nothing exactly when shlex.quote would leave it as it is (non-ASCII stays, and
    is quoted, as shlex.quote does), or when it is empty."""
    return joined.encode("utf-8", "surrogatepass").translate(None, _SAFE)


def _quote_joined(joined: str) -> list[str]:
    """NUL-joined words, each quoted as shlex.quote quotes a word it found unsafe
    (each ' becomes '"'"', the word goes between '...'): two replaces, the second
    turning each NUL into '<NUL>' to close one word and open the next, and a split."""
    return ("'" + joined.replace("'", "'\"'\"'").replace("\x00", "'\x00'") + "'").split("\x00")


def _quote_words(words: list[str], marks: bytes) -> bool:
    """Quote in place the words that need it (False, leaving them, if one holds NUL).

    The words that need quotes are the nonempty parts of `marks` split on NUL, and
    the empty words; all are quoted at once by _quote_joined.
    """
    parts: Sequence[object] = marks.split(b"\x00")
    if len(parts) != len(words):  # a word holds NUL: not from a valid task list
        return False
    if not all(words):  # an empty word has no character to tell by
        parts = [part or not word for part, word in zip(parts, words, strict=True)]
    needy = list(compress(range(len(words)), parts))
    if needy:
        quoted = _quote_joined("\x00".join(map(words.__getitem__, needy)))
        deque(map(words.__setitem__, needy, quoted), maxlen=0)  # in C, kept nothing
    return True


def _quote_column(column: tuple[str, ...]) -> Sequence[str]:
    """The words of one column, quoted; whole when none or all of them need it."""
    joined = "\x00".join(column)
    marks = _marks(joined)
    if all(column):
        if len(marks) == len(column) - 1:  # the NULs between words alone: all safe
            return column
        if b"\x00\x00" not in marks and marks[:1] != b"\x00" and marks[-1:] != b"\x00":
            quoted = _quote_joined(joined)  # each word left an unsafe byte
            if len(quoted) == len(column):  # (else a word held NUL)
                return quoted
    words = list(column)
    return words if _quote_words(words, marks) else list(map(sh_quote, column))


def sh_assign(name: str, value: str) -> str:
    """`NAME=value`, the value quoted; `name` must already be a valid identifier."""
    return f"{name}={shlex.quote(value)}"


# `env` reads leading NAME=VALUE words as assignments, so a program whose name holds
# '=' is started through sh, whose `exec "$@"` takes the next word as the program.
_EXEC_ARGV = "/bin/bash --posix -c 'exec -- \"$@\"' sh"


def sh_env_command(env: Iterable[tuple[str, str]], program: str) -> str:
    """`env A='1' B='2'`: the words that run a task's argv with these variables.

    Set by `env` inside the task's step, they reach the task's process only: not
    the job script (whose own variables and bash's readonly names such as UID they
    would otherwise clash with), and not srun (a task's PATH must not change which
    srun runs).  Names are valid identifiers already (the schema says so).
    """
    words = ["env", *(sh_assign(name, value) for name, value in env)]
    if "=" in program:
        words.append(_EXEC_ARGV)
    return " ".join(words)
