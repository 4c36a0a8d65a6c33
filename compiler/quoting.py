"""The one place where text is quoted for the shell.

Everything a job script hands to the shell (task argv, env values, export
values) passes through `sh_quote` exactly once.  Directive values are never
quoted: sbatch reads #SBATCH lines with its own parser, so they are checked
against safe character sets instead (schemas/, compiler/extra_lines.py).
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


def sh_words_many(argvs: Sequence[Sequence[str]]) -> list[str]:
    """`[sh_words(argv) for argv in argvs]`, the same strings, faster on many argvs.

    Which words need quotes is found for all words at once, in C: joined by NUL
    (which no task word holds), encoded, stripped of the safe bytes by
    `bytes.translate` and split on NUL again, a word leaves an empty part exactly
    when shlex.quote would leave it as it is (non-ASCII stays, and is quoted, as
    shlex.quote does); an empty word needs quotes too ('').  Those words are
    then quoted all at once, as shlex.quote quotes a word it found unsafe (each '
    becomes '"'"', the word goes between '...'): two replaces on their NUL-joined
    text, the second turning each NUL into '<NUL>' to close one word and open the
    next, and one split.
    """
    words = list(chain.from_iterable(argvs))
    marks = "\x00".join(words).encode("utf-8", "surrogatepass").translate(None, _SAFE)
    parts: Sequence[object] = marks.split(b"\x00")
    if len(parts) != len(words):  # a word holds NUL: not from a valid task list
        return [sh_words(argv) for argv in argvs]
    if not all(words):  # an empty word has no character to tell by
        parts = [part or not word for part, word in zip(parts, words, strict=True)]
    needy = list(compress(range(len(words)), parts))
    if needy:
        joined = "\x00".join(map(words.__getitem__, needy)).replace("'", "'\"'\"'")
        quoted = ("'" + joined.replace("\x00", "'\x00'") + "'").split("\x00")
        deque(map(words.__setitem__, needy, quoted), maxlen=0)  # in C, kept nothing
    # Back to one line per argv, taking the next len(argv) words of one iterator
    # each time: by zip when all argvs are as long (the common case, one C call per
    # line), else by one islice per argv, each joined before the next is made.
    words_left = iter(words)
    widths = set(map(len, argvs))
    if len(widths) == 1 and 0 not in widths:
        return list(map(" ".join, zip(*[words_left] * widths.pop(), strict=True)))
    return list(map(" ".join, map(islice, repeat(words_left), map(len, argvs))))


def sh_assign(name: str, value: str) -> str:
    """`NAME=value`, the value quoted; `name` must already be a valid identifier."""
    return f"{name}={shlex.quote(value)}"


# `env` reads leading NAME=VALUE words as assignments, so a program whose name holds
# '=' is started through sh, whose `exec "$@"` takes the next word as the program.
_EXEC_ARGV = "/bin/sh -c 'exec \"$@\"' sh"


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
