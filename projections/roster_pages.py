"""The staff roster one page at a time, by keyset: the rows after the last id shown.

A page costs the same at the first row as at the 100,000th (no OFFSET to skip through), and
an endorsement granted while someone pages through cannot shift the pages under them. The
filters the database can answer (association, status, level, renewal due by a date) are in
the SQL; the name filter folds accents and case in Python (as the public search does, the
same on both backends), so with a name the rows are read in chunks until the page is full.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from domain.levels import EndorsementStatus, Level
from ledger.storage.database import Database
from projections.queries import fold_name
from projections.rows import RosterRow
from projections.tables import ROSTER_COLUMNS, roster_row, select
from projections.values import iso

CHUNK = 500  # rows read per statement while a name filter fills a page


class RosterQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Which rows: one association's, with the optional filters."""

    association: str
    status: EndorsementStatus | None = None
    level: Level | None = None
    due_by: dt.date | None = None  # active and ending on or before this day
    name: str = ""  # folded substring of "given family"


class RosterPage(msgspec.Struct, frozen=True, kw_only=True):
    """Up to `limit` rows in endorsement id order, and the id to continue after (None on
    the last page)."""

    rows: tuple[RosterRow, ...]
    next_after: str | None


def roster_page(db: Database, query: RosterQuery, *, after: str = "",
                limit: int = 100) -> RosterPage:
    """The page of rows after the endorsement id `after` ("" for the first page)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    where, params = ["association = ?"], [query.association]
    if query.status is not None:
        where.append("status = ?")
        params.append(query.status.value)
    if query.level is not None:
        where.append("level = ?")
        params.append(query.level.value)
    if query.due_by is not None:
        where += ["status = ?", "valid_through <= ?"]
        params += [EndorsementStatus.ACTIVE.value, iso(query.due_by)]
    folded = fold_name(query.name) if query.name else ""
    sql = (f"{select('roster', ROSTER_COLUMNS)} WHERE {' AND '.join(where)} "
           "AND endorsement_id > ? ORDER BY endorsement_id LIMIT ?")
    found: list[RosterRow] = []
    cursor = after
    while len(found) <= limit:
        # Without a name filter one statement reads the page and one row more (is there a
        # next page?); with one, chunks are read until the page and one more are found.
        size = CHUNK if folded else limit + 1 - len(found)
        chunk = [roster_row(r) for r in db.query(sql, (*params, cursor, size))]
        found += [r for r in chunk
                  if not folded or folded in fold_name(f"{r.given_name} {r.family_name}")]
        if len(chunk) < size:
            break
        cursor = chunk[-1].endorsement_id
    more = len(found) > limit
    rows = tuple(found[:limit])
    return RosterPage(rows=rows, next_after=rows[-1].endorsement_id if more else None)
