"""Slurm's own memory and time formats, parsed at compile time.

Memory follows `sbatch --mem`: a bare integer is MiB; a suffix K, M, G or T
(any case, optionally followed by B) scales by powers of 1024; kibibytes are
rounded up to whole MiB.  The reference (fractal-server) multiplies G by 1000;
we follow Slurm, because Slurm is what enforces the limit.

Time follows `sbatch --time`: minutes, minutes:seconds, hours:minutes:seconds,
days-hours, days-hours:minutes, days-hours:minutes:seconds, or 0, UNLIMITED,
INFINITE for no limit.  The leading field may be any size (hours may exceed 24);
a field after a colon must be below 60, as Slurm requires.
"""

from __future__ import annotations

import re

MEM_FORM = "<integer>[K|M|G|T] or an integer of MiB"
TIME_FORM = (
    "minutes, minutes:seconds, hours:minutes:seconds, days-hours, "
    "days-hours:minutes, days-hours:minutes:seconds, 0, UNLIMITED or INFINITE"
)

_MEM_RE = re.compile(r"([0-9]+)(?:([KMGTkmgt])[Bb]?)?")
_MEM_SCALE_KIB = {"K": 1, "M": 1024, "G": 1024**2, "T": 1024**3}

_NUM = r"([0-9]+)"
_SUB = r"([0-9]{1,2})"  # a field after a colon; its bound (< 60) is checked below
_TIME_FORMS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(_NUM), ("m",)),
    (re.compile(f"{_NUM}:{_SUB}"), ("m", "s")),
    (re.compile(f"{_NUM}:{_SUB}:{_SUB}"), ("h", "m", "s")),
    (re.compile(f"{_NUM}-{_NUM}"), ("d", "h")),
    (re.compile(f"{_NUM}-{_NUM}:{_SUB}"), ("d", "h", "m")),
    (re.compile(f"{_NUM}-{_NUM}:{_SUB}:{_SUB}"), ("d", "h", "m", "s")),
)
_UNLIMITED_WORDS = frozenset({"UNLIMITED", "INFINITE"})
UNLIMITED = "UNLIMITED"


class FormatError(ValueError):
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
        leading = fields[0]
        for name in ("m", "s"):
            if name in parts and name != leading and parts[name] >= 60:
                raise FormatError(TIME_FORM)
        if "d" in parts and parts["h"] >= 24:
            raise FormatError(TIME_FORM)
        seconds = (
            parts.get("d", 0) * 86400
            + parts.get("h", 0) * 3600
            + parts.get("m", 0) * 60
            + parts.get("s", 0)
        )
        if seconds == 0:
            return None  # Slurm reads any zero limit as "no limit"
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


def scale_time(seconds: int | None, factor: int) -> int | None:
    """A per-task limit times the number of sequential waves of a job."""
    return None if seconds is None else seconds * factor
