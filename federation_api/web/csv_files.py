"""Every CSV file the node writes, and the one rule that keeps a spreadsheet from running it.

A spreadsheet that opens a CSV runs a cell starting with `=`, `+`, `-` or `@` as a formula,
and some also treat a leading tab or carriage return that way (OWASP, "CSV Injection"). A
name, a reason or an echoed input can start with any of them, so every cell of every file
written here that starts with one gets a leading apostrophe, which makes it text. One rule,
the strict one, in one place: the roster (HTTP, the staff page and `alliance roster
export`), the bulk verification answer and the subscription upload results all go through
`write_csv`. Lines end in CRLF (RFC 4180).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum

import msgspec

from projections.rows import RosterRow

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet treat a cell as a formula (OWASP)."""

ROSTER_COLUMNS = tuple(f.name for f in msgspec.structs.fields(RosterRow))


def safe_cell(value: object) -> str:
    """A cell's text: None as empty, enums by value, dates in ISO form, and a leading
    apostrophe before anything a spreadsheet would run as a formula."""
    if value is None:
        text = ""
    elif isinstance(value, Enum):
        text = str(value.value)
    elif isinstance(value, dt.date):
        text = value.isoformat()
    else:
        text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV file: the header line, then one line per row, every cell through `safe_cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(name) for name in header])
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    return out.getvalue()


def roster_csv(rows: Iterable[RosterRow | Mapping[str, object]]) -> str:
    """Roster rows (or their builtins form) as CSV, in `ROSTER_COLUMNS` order; an empty
    roster is the header line alone, so a spreadsheet still shows the columns."""
    return write_csv(ROSTER_COLUMNS, (
        tuple(r.get(c) if isinstance(r, Mapping) else getattr(r, c) for c in ROSTER_COLUMNS)
        for r in rows))
