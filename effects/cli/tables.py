"""Plain-text tables for the terminal (status, collect, show): columns two spaces apart."""

from __future__ import annotations

from collections.abc import Sequence


def table_lines(
    rows: Sequence[Sequence[str]], *, right: frozenset[int] = frozenset(), indent: str = ""
) -> list[str]:
    """One line per row, the header first: each cell padded to its column's widest cell.

    Columns are left-aligned, those in `right` right-aligned; each line starts with
    `indent` and has no trailing blanks.
    """
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent
        + "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def table_text(rows: Sequence[Sequence[str]]) -> str:
    """The table as text to print: table_lines, each ending in a newline."""
    return "".join(line + "\n" for line in table_lines(rows))
