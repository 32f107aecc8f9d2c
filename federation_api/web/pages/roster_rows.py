"""The rows of a roster page as HTML (kept by `kept_rows.RowsCache` while the projection
stands).

Why not a Jinja loop: the roster page's own cost was in its 100 rows of seven cells. Profiled
(cProfile on the handler under bench/staff_pages_bench.py), Jinja spent about 30 us a row on
them; the f-string that replaced it then spent most of its time in markupsafe's `escape`,
which makes a `Markup` object of every value (six a row). The rows are now one f-string each
with the standard library's `html.escape` for the values from the data (ids, names) and the
fixed enum words (level code, status, standing) escaped once and kept: the handler's cost
about halved.

Why kept: twenty staff opening the roster read the same first page; the standing changes
with the day, so the rows made for a (filter, page, day) are kept (see `kept_rows`).
"""

from __future__ import annotations

import datetime as dt
import functools
import html
from collections.abc import Sequence

import msgspec
from markupsafe import Markup

from domain.levels import Designation, EndorsementStatus, Level
from projections.rows import RosterRow
from projections.standing import Standing, standing_on


@functools.cache
def _level_code(level: Level, designation: Designation | None) -> str:
    """E.g. "IV-C", escaped (a handful of pairs: made once each)."""
    return html.escape(f"{level.value}-{designation.value}" if designation else level.value)


@functools.cache
def _status_cells(status: EndorsementStatus, standing: Standing) -> str:
    """The status and standing cells, escaped (a handful of pairs: made once each)."""
    return f"<td>{html.escape(status.value)}</td><td>{html.escape(standing.value)}</td>"


@functools.lru_cache(maxsize=4096)
def _day(day: dt.date) -> str:
    """A date in ISO 8601: rows share their days (an association's renewal date above all),
    so most are made once."""
    return day.isoformat()


def roster_rows_html(rows: Sequence[RosterRow], on: dt.date) -> Markup:
    """The table rows of a roster page, with each endorsement's standing on `on`. Every
    value from the data is escaped."""
    esc = html.escape
    out = []
    for r in rows:
        eid = esc(r.endorsement_id)
        granted, through = _day(r.granted_on), _day(r.valid_through)
        out.append(f'<tr><td><a href="/staff/endorsements/{eid}">{eid}</a></td>'
                   f"<td>{esc(r.given_name)} {esc(r.family_name)}</td>"
                   f"<td>{_level_code(r.level, r.designation)}</td>"
                   f"{_status_cells(r.status, standing_on(r.status, r.valid_through, on))}"
                   f'<td><time datetime="{granted}">{granted}</time></td>'
                   f'<td><time datetime="{through}">{through}</time></td></tr>\n')
    return Markup("".join(out))  # noqa: S704 (every interpolated value is escaped above)


class KeptRows(msgspec.Struct, frozen=True, kw_only=True):
    """One roster page's rows as HTML, how many, and the id the next page starts after."""

    count: int
    next_after: str | None
    html: Markup
