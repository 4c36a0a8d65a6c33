"""Slurm's own memory and time formats, parsed at compile time.

Memory follows `sbatch --mem`: a bare integer is MiB; a suffix K, M, G or T
(any case, optionally followed by B) scales by powers of 1024; kibibytes are
rounded up to whole MiB.  The reference (fractal-server) multiplies G by 1000;
we follow Slurm, because Slurm is what enforces the limit.

Time follows `sbatch --time`: minutes, minutes:seconds, hours:minutes:seconds,
days-hours, days-hours:minutes, days-hours:minutes:seconds, or 0, UNLIMITED,
INFINITE for no limit.  As in Slurm, no field has an upper bound (`30:00:00`,
`1:60:00`, `1-25` are all valid; docs/slurm-formats.md has the measurements),
an all-zero limit means no limit, and Slurm rounds seconds up to whole minutes.
A limit above 35,791,393 minutes is refused: Slurm's seconds overflow a 32-bit
integer there and the limit silently wraps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from slurmplan.compiler.errors import SlurmplanError

MEM_FORM = "<integer>[K|M|G|T] or an integer of MiB"
TIME_FORM = (
    "minutes, minutes:seconds, hours:minutes:seconds, days-hours, "
    "days-hours:minutes, days-hours:minutes:seconds, 0, UNLIMITED or INFINITE"
)

_MEM_RE = re.compile(r"([0-9]+)(?:([KMGTkmgt])[Bb]?)?")
_MEM_SCALE_KIB = {"K": 1, "M": 1024, "G": 1024**2, "T": 1024**3}

_NUM = r"([0-9]+)"
_TIME_FORMS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(_NUM), ("m",)),
    (re.compile(f"{_NUM}:{_NUM}"), ("m", "s")),
    (re.compile(f"{_NUM}:{_NUM}:{_NUM}"), ("h", "m", "s")),
    (re.compile(f"{_NUM}-{_NUM}"), ("d", "h")),
    (re.compile(f"{_NUM}-{_NUM}:{_NUM}"), ("d", "h", "m")),
    (re.compile(f"{_NUM}-{_NUM}:{_NUM}:{_NUM}"), ("d", "h", "m", "s")),
)
_UNLIMITED_WORDS = frozenset({"UNLIMITED", "INFINITE"})
UNLIMITED = "UNLIMITED"
MAX_MINUTES = 35_791_393  # the largest limit Slurm 22.05 stores without wrapping


class FormatError(SlurmplanError, ValueError):
    """A value that is not in the expected Slurm format; the message says which."""


def parse_mem_mib(value: int | str) -> int:
    """Memory in whole MiB, as `sbatch --mem` would read it; at least 1."""
    if isinstance(value, bool):
        raise FormatError(MEM_FORM)
    if isinstance(value, int):
        mib = value
    else:
        match = _MEM_RE.fullmatch(value)
        if match is None:
            raise FormatError(MEM_FORM)
        number, unit = int(match.group(1)), (match.group(2) or "M").upper()
        kib = number * _MEM_SCALE_KIB[unit]
        mib = -(-kib // 1024)  # kibibytes round up to whole MiB
    if mib < 1:
        raise FormatError(f"{MEM_FORM}, at least 1 MiB")
    return mib


def parse_time_seconds(value: str) -> int | None:
    """Seconds of a Slurm time limit, or None for no limit."""
    if value.upper() in _UNLIMITED_WORDS or value == "0":
        return None
    for regex, fields in _TIME_FORMS:
        match = regex.fullmatch(value)
        if match is None:
            continue
        parts = dict(zip(fields, (int(g) for g in match.groups()), strict=True))
        seconds = (
            parts.get("d", 0) * 86400
            + parts.get("h", 0) * 3600
            + parts.get("m", 0) * 60
            + parts.get("s", 0)
        )
        if seconds == 0:
            return None  # Slurm reads any zero limit as "no limit"
        if seconds > MAX_MINUTES * 60:
            raise FormatError(f"{TIME_FORM}, at most {format_time(MAX_MINUTES * 60)}")
        return seconds
    raise FormatError(TIME_FORM)


def format_time(seconds: int | None) -> str:
    """The canonical Slurm form: [D-]HH:MM:SS, or UNLIMITED."""
    if seconds is None:
        return UNLIMITED
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{clock}" if days else clock


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeLimit:
    """A time limit as a layer of settings gives it: `time` or `time_per_task`."""

    seconds: int | None  # None: no limit (UNLIMITED)
    per_task: bool  # True: for one task, scaled by the job's waves (`time_per_task`)

    def for_job(self, waves: int) -> int | None:
        """The job's limit in seconds when its lanes run `waves` tasks one after another."""
        if self.per_task and self.seconds is not None:
            return self.seconds * waves
        return self.seconds
