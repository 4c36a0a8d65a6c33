"""Checks of `extra_lines`: which are #SBATCH directives, and whether sbatch would take them."""

from __future__ import annotations

import re
from collections.abc import Iterable

from slurmplan.compiler.slurm.directives import FIELD_OPTIONS, OWNED_OPTIONS
from slurmplan.compiler.slurm.sbatch_options import (
    OPTIONS_OPTIONAL_VALUE,
    OPTIONS_TAKING_VALUE,
    SHORT_OPTIONS,
    resolve_long_option,
)

SBATCH_PREFIX = "#SBATCH"

# Options that only make sense on sbatch's command line; in a script they would
# change what the submit command does (--wait blocks until the job ends).
COMMAND_LINE_ONLY = frozenset({"wrap", "test-only", "wait", "help", "usage", "version"})

_LINE = re.compile(r"#SBATCH[ \t]+(?:--(?P<long>[^\s=]+)|-(?P<short>[A-Za-z]))(?P<rest>.*)")
# sbatch reads directive values with its own parser, where an unquoted '#'
# starts a comment: accept a plain word or one double-quoted string without
# quote, backslash or '#' inside.
_VALUE = re.compile(r'[^\s#\'"\\]*|"[^"\\#]*"')


def is_directive(line: str) -> bool:
    return line.startswith(SBATCH_PREFIX)


def directive_problem(line: str) -> str | None:
    """Why sbatch would not take this #SBATCH line as we mean it, or None."""
    match = _LINE.fullmatch(line.rstrip())
    if match is None:
        return (
            f"an #SBATCH line must be '#SBATCH --option[=value]' or '#SBATCH -X [value]' "
            f"(got {line!r})"
        )
    long_name, short, rest = match.group("long"), match.group("short"), match.group("rest")
    attached = False
    if short is not None:
        if short not in SHORT_OPTIONS:
            return f"'-{short}' is not an sbatch option (in {line!r})"
        name = SHORT_OPTIONS[short]
        attached = bool(rest) and rest[0] not in " \t"
        value = rest.strip()
    else:
        meanings = resolve_long_option(long_name)
        if not meanings:
            return f"'--{long_name}' is not an sbatch option (in {line!r})"
        if len(meanings) > 1:
            choices = ", ".join(f"--{m}" for m in meanings)
            return f"'--{long_name}' is ambiguous to sbatch ({choices}) (in {line!r})"
        name = meanings[0]
        if name != long_name:
            # sbatch would take the prefix; spelled out, the owned-option rules below
            # cannot be sidestepped and a golden file shows what is really set.
            return f"write the option in full: '--{long_name}' means '--{name}' (in {line!r})"
        attached = rest.startswith("=")
        if attached:
            value = rest[1:]
        elif rest[:1] in ("", " ", "\t"):
            value = rest.strip()
        else:
            return f"'--{long_name}' is not an sbatch option (in {line!r})"
    if name in OWNED_OPTIONS:
        return f"'--{name}' is set by slurmplan itself and cannot be an extra line (got {line!r})"
    if name in FIELD_OPTIONS:
        return f"'--{name}' has its own field: set '{FIELD_OPTIONS[name]}' instead (got {line!r})"
    if name in COMMAND_LINE_ONLY:
        return f"'--{name}' only makes sense on sbatch's command line (got {line!r})"
    if name in OPTIONS_TAKING_VALUE and not value:
        return f"'--{name}' needs a value (got {line!r})"
    if value and name not in OPTIONS_TAKING_VALUE and not attached:
        how = "its value attached with '='" if name in OPTIONS_OPTIONAL_VALUE else "no value"
        return f"'--{name}' takes {how}; sbatch would not read {value!r} as its value (in {line!r})"
    if _VALUE.fullmatch(value) is None:
        return (
            'an #SBATCH value must be one word without # or quotes, or one "double-quoted" '
            f"string without # (got {line!r})"
        )
    return None


def dedupe(lines: Iterable[str]) -> tuple[str, ...]:
    """Lines in order, each kept at its first occurrence."""
    return tuple(dict.fromkeys(lines))
