"""compiler.slurm.sbatch_options against the installed sbatch (its --help, --usage, manpage and
parser).

Skipped when sbatch is not installed or has no slurm.conf (sbatch cannot even print --help
without one) -- but under CI=true that is a failure, not a skip.  No job is submitted and
slurmctld is never contacted: every probe stops in sbatch's option parser.
"""

from __future__ import annotations

import gzip
import itertools
import os
import re
import shutil
import string
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from slurmplan.compiler.slurm.sbatch_options import (
    LONG_OPTIONS,
    OPTION_TABLE,
    OPTIONS_OPTIONAL_VALUE,
    OPTIONS_TAKING_VALUE,
    SHORT_OPTIONS,
    SLURM_VERSION,
    UNDOCUMENTED_OPTIONS,
    resolve_long_option,
)

IN_CI = os.environ.get("CI", "").lower() == "true"
SBATCH = shutil.which("sbatch")
SLURM_CONF = Path(os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf"))
MANPAGE = Path("/usr/share/man/man1/sbatch.1.gz")
_LONG = re.compile(r"(?<![\w-])--([a-z][a-z0-9_-]*)")


def _unavailable_reason() -> str | None:
    if SBATCH is None:
        return "sbatch is not on PATH (install slurm-client or run scripts/testbed.sh up)"
    if not SLURM_CONF.is_file():
        return f"sbatch is installed but {SLURM_CONF} is missing (sbatch needs it even for --help)"
    return None


_REASON = _unavailable_reason()


@pytest.fixture(autouse=True)
def _needs_sbatch() -> None:
    if _REASON is not None:
        if IN_CI:
            pytest.fail(f"CI=true but {_REASON}")
        pytest.skip(_REASON)


def _run(args: Sequence[str]) -> str:
    """sbatch's combined output; stdin is empty so no script is ever read from it."""
    assert SBATCH is not None
    proc = subprocess.run(
        [SBATCH, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LC_ALL": "C"},
        check=False,
    )
    return proc.stdout + proc.stderr


def _run_many(arg_lists: Sequence[Sequence[str]]) -> list[str]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(_run, arg_lists))


def _longs(text: str) -> set[str]:
    return set(_LONG.findall(text))


def _help() -> str:
    out = _run(["--help"])
    assert "Usage: sbatch" in out, out[:500]
    return out


def test_installed_version_matches_table() -> None:
    out = _run(["--version"])
    assert out.split() == ["slurm-wlm", SLURM_VERSION] or SLURM_VERSION in out, (
        f"table is for Slurm {SLURM_VERSION}, installed sbatch says {out.strip()!r}"
    )


def test_help_long_options_are_exactly_the_table_rows_documented_there() -> None:
    in_help = _longs(_help())
    table_help = {name for name, _, _, doc in OPTION_TABLE if doc == "help"}
    assert in_help - LONG_OPTIONS == set(), "in `sbatch --help` but not in the table"
    assert table_help - in_help == set(), "table says --help documents these; it does not"
    assert in_help == table_help
    # and vice versa: every other row is documented elsewhere (checked below) or hidden
    assert LONG_OPTIONS - in_help == {n for n, _, _, doc in OPTION_TABLE if doc != "help"}


def test_usage_options_are_in_the_table() -> None:
    in_usage = _longs(_run(["--usage"]))
    assert in_usage - LONG_OPTIONS == set()
    for name, _, _, doc in OPTION_TABLE:
        if doc == "usage":
            assert name in in_usage, name


def test_manpage_options_are_in_the_table() -> None:
    if not MANPAGE.is_file():
        pytest.skip(f"{MANPAGE} not installed")
    text = gzip.decompress(MANPAGE.read_bytes()).decode("utf-8", "replace")
    lines = text.splitlines()
    items = "\n".join(
        line.replace("\\-", "-").replace("\\fB", "").replace("\\fR", "").replace("\\fI", "")
        for prev, line in itertools.pairwise(lines)
        if prev.startswith(".TP") and line.startswith("\\fB\\-")
    )
    in_man = _longs(items)
    assert in_man - LONG_OPTIONS == set(), "documented in man sbatch but not in the table"
    assert LONG_OPTIONS - in_man == UNDOCUMENTED_OPTIONS


def test_short_letters_match_help() -> None:
    pairs = re.findall(r"^\s+-([A-Za-z0-9]),?\s+--([a-z][a-z0-9-]*)", _help(), re.MULTILINE)
    assert dict(pairs) == SHORT_OPTIONS


def test_every_short_letter_the_parser_accepts_is_in_the_table() -> None:
    letters = string.ascii_letters + string.digits
    outs = _run_many([[f"-{c}"] for c in letters])
    accepted = {c for c, out in zip(letters, outs, strict=True) if "invalid option" not in out}
    assert accepted == set(SHORT_OPTIONS)
    for c, out in zip(letters, outs, strict=True):
        if c in SHORT_OPTIONS and SHORT_OPTIONS[c] in OPTIONS_TAKING_VALUE:
            assert "requires an argument" in out, (c, out)


def test_parser_accepts_every_long_option_with_the_tabled_argument_kind() -> None:
    names = sorted(LONG_OPTIONS)
    # bare and last: getopt complains "requires an argument" iff the value is required
    bare = _run_many([[f"--{n}"] for n in names])
    # with a value, then --version: getopt complains iff the option takes no value
    with_value = _run_many([[f"--{n}=x", "--version"] for n in names])
    for name, out_bare, out_value in zip(names, bare, with_value, strict=True):
        both = out_bare + out_value
        assert "unrecognized option" not in both and "ambiguous" not in both, (name, both)
        required = "requires an argument" in out_bare
        no_value = "doesn't allow an argument" in out_value
        assert required == (name in OPTIONS_TAKING_VALUE), (name, out_bare)
        assert no_value == (name not in OPTIONS_TAKING_VALUE | OPTIONS_OPTIONAL_VALUE), (
            name,
            out_value,
        )


def test_resolve_long_option_agrees_with_sbatch_on_prefixes() -> None:
    prefixes = sorted(
        {n[:k] for n in LONG_OPTIONS for k in (1, 2, 3, len(n) - 1) if 0 < k < len(n)}
        | {"foo", "mem-per", "lic", "part", "ti", "clu"}
    )
    outs = _run_many([[f"--{p}=x", "--version"] for p in prefixes])
    for prefix, out in zip(prefixes, outs, strict=True):
        meant = resolve_long_option(prefix)
        if not meant:
            assert "unrecognized option" in out, (prefix, out)
        elif len(meant) > 1:
            assert "is ambiguous" in out, (prefix, meant, out)
        else:
            assert "unrecognized option" not in out and "is ambiguous" not in out, (prefix, out)
            complaint = re.search(r"option '--([a-z0-9_-]+)' doesn't allow", out)
            if complaint:
                assert complaint.group(1) == meant[0], (prefix, meant, out)
