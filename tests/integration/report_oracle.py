"""The oracle of the board report's kept counts: the aggregates the report ran over the whole
roster and status history before the counts were kept (`projections.report_counts`).

A fixture module, so that the counts' own test and the upgrade test (an old database gains
the tables, counted by its migration) compare with the same from-scratch GROUP BY.
"""

from __future__ import annotations

import datetime as dt

from ledger.storage.database import Database
from projections.reports import CountRow, RenewalYear
from projections.standing import Standing
from projections.values import LEVELS, member, optional_designation

_KEPT_COUNTS = (
    "SELECT association, level, COALESCE(designation, ''), status, "
    "CAST(substr(granted_on, 1, 4) AS BIGINT), COUNT(*) FROM roster GROUP BY association, "
    "level, COALESCE(designation, ''), status, CAST(substr(granted_on, 1, 4) AS BIGINT)")
_KEPT_THROUGH = (
    "SELECT association, valid_through, level, COALESCE(designation, ''), "
    "CAST(substr(granted_on, 1, 4) AS BIGINT), COUNT(*) FROM roster WHERE status = 'active' "
    "GROUP BY association, valid_through, level, COALESCE(designation, ''), "
    "CAST(substr(granted_on, 1, 4) AS BIGINT)")
_RENEWED = ("SUM(CASE WHEN status = 'active' AND prev_status = 'active' AND valid_through > "
            "prev_through AND effective_on > prev_on THEN 1 ELSE 0 END)")
_LAPSED = ("SUM(CASE WHEN status = 'lapsed' AND (prev_status IS NULL OR prev_status <> "
           "'lapsed') THEN 1 ELSE 0 END)")
_WINDOW = (
    "(SELECT substr(effective_on, 1, 4) AS year, association, status, valid_through, "
    "effective_on, LAG(status) OVER w AS prev_status, LAG(valid_through) OVER w AS "
    "prev_through, LAG(effective_on) OVER w AS prev_on FROM status_history WINDOW w AS "
    "(PARTITION BY endorsement_id ORDER BY effective_on, seq, association)) h")
_KEPT_RENEWALS = (f"SELECT association, CAST(year AS BIGINT), {_RENEWED}, {_LAPSED} FROM "
                  f"{_WINDOW} GROUP BY association, year HAVING {_RENEWED} + {_LAPSED} > 0")


def _rows(db: Database, sql: str) -> list[tuple[object, ...]]:
    return sorted(tuple(int(v) if isinstance(v, int) else v for v in r) for r in db.query(sql))


def kept_tables(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """The three kept tables' rows, sorted."""
    return {
        "report_counts": _rows(db, "SELECT association, level, designation, status, "
                                   "year_granted, endorsements FROM report_counts"),
        "report_active_through": _rows(db, "SELECT association, valid_through, level, "
                                           "designation, year_granted, endorsements FROM "
                                           "report_active_through"),
        "report_renewals": _rows(db, "SELECT association, year, renewed, lapsed FROM "
                                     "report_renewals"),
    }


def from_scratch(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """What the kept tables must hold: the GROUP BY of the roster and status history."""
    return {"report_counts": _rows(db, _KEPT_COUNTS),
            "report_active_through": _rows(db, _KEPT_THROUGH),
            "report_renewals": _rows(db, _KEPT_RENEWALS)}


def old_counts(db: Database, association: str | None, on: dt.date) -> list[CountRow]:
    """The board report's counts as the GROUP BY over the whole roster computed them."""
    where = " WHERE association = ?" if association else ""
    rows = db.query(
        "SELECT level, designation, CASE WHEN status = 'active' AND valid_through < ? "
        "THEN 'expired' WHEN status = 'active' THEN 'current' ELSE status END AS standing, "
        f"substr(granted_on, 1, 4) AS year, COUNT(*) FROM roster{where} "
        "GROUP BY level, designation, standing, year",
        (on.isoformat(), *((association,) if association else ())))
    found = [CountRow(level=member(LEVELS, level), designation=optional_designation(d),
                      standing=Standing(standing), year=int(year), count=int(n))
             for level, d, standing, year, n in rows]
    return sorted(found, key=lambda r: (r.year, r.level.numeral, r.designation or "",
                                        r.standing.value))


def old_renewals(db: Database, association: str | None) -> list[RenewalYear]:
    """The renewals and lapses per year as the window over the whole history computed them."""
    where = " WHERE association = ?" if association else ""
    rows = db.query(f"SELECT year, {_RENEWED}, {_LAPSED} FROM {_WINDOW}{where} GROUP BY year",
                    (association,) if association else ())
    years = [RenewalYear(year=int(y), renewed=int(r or 0), lapsed=int(n or 0))
             for y, r, n in rows]
    return sorted((y for y in years if y.decided), key=lambda y: y.year)
