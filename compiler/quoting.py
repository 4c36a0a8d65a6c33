"""The one place where text is quoted for the shell.

Everything a job script hands to the shell (task argv, env values, export
values) passes through `sh_quote` exactly once.  Directive values are never
quoted: sbatch reads #SBATCH lines with its own parser, so they are checked
against safe character sets instead (schemas/, compiler/extra_lines.py).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable

sh_quote = shlex.quote


def sh_words(argv: Iterable[str]) -> str:
    """An argv as one shell line, each word quoted once."""
    return " ".join(map(shlex.quote, argv))


def sh_assign(name: str, value: str) -> str:
    """`NAME=value`, the value quoted; `name` must already be a valid identifier."""
    return f"{name}={shlex.quote(value)}"


def sh_env_prefix(env: Iterable[tuple[str, str]]) -> str:
    """`A='1' B='2'; export A B`: set and export variables in the current (sub)shell.

    A subshell around this and the command keeps the variables from leaking into
    the lane's next tasks, in any POSIX sh.
    """
    pairs = list(env)
    assigns = " ".join(sh_assign(name, value) for name, value in pairs)
    return f"{assigns}; export {' '.join(name for name, _ in pairs)}"
