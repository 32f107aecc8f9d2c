"""The board's figures, read from counts the projector keeps and from the projection tables.

The counts by standing and the renewals and lapses are sums over the kept counts
(`projections.report_counts`, moved by the projector in the transaction of each batch), so
a report computed cold costs the same over 1,000 endorsements as over 100,000: it reads a
few hundred keys, never the endorsements or their histories. The pipeline is a SQL
aggregate over the applications (an association's open work, which does not grow with its
roster). The one thing SQL cannot do on both backends alike is a percentile (SQLite has
none), so the pipeline query returns a histogram - how many applications took each number
of days - and the median and 90th percentile are read off it here (nearest rank).

`association=None` is Alliance-wide: every replicated ledger's projection, which every node
holds. No clock: the caller passes the day the standing is computed for.

The figures change only when an entry is projected, and every projected entry moves the
tracking position of its ledger (in the same transaction, invariant 6). So `ReportCache`
keeps the last report of each scope and day under the tracking positions it was computed
at, and recomputes when they moved: a board page costs one small read while nothing
changes, however many endorsements there are.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Sequence

import msgspec

from domain.application import ApplicationState
from domain.levels import Designation, EndorsementStatus, Level
from ledger.storage.database import Database
from projections.standing import Standing
from projections.values import LEVELS, STATES, iso, member, optional_designation

ACTIVE = EndorsementStatus.ACTIVE.value


class CountRow(msgspec.Struct, frozen=True, kw_only=True):
    """How many endorsements of one level and designation, granted in one year, have one
    standing on the report's day."""

    level: Level
    designation: Designation | None
    standing: Standing
    year: int  # the year of the grant
    count: int


class RenewalYear(msgspec.Struct, frozen=True, kw_only=True):
    """One year's renewals and lapses: of the cycles that came to an end that year (renewed
    or lapsed), the share renewed and the share lapsed."""

    year: int
    renewed: int
    lapsed: int

    @property
    def decided(self) -> int:
        """Cycles that ended that year in a renewal or a lapse."""
        return self.renewed + self.lapsed

    @property
    def renewal_rate(self) -> float:
        """Renewed over decided (0 when none were)."""
        return self.renewed / self.decided if self.decided else 0.0

    @property
    def lapse_rate(self) -> float:
        """Lapsed over decided (0 when none were)."""
        return self.lapsed / self.decided if self.decided else 0.0


class PipelineTime(msgspec.Struct, frozen=True, kw_only=True):
    """Days from an application's start to its grant, for the granted applications of one
    level: how many, the median and the 90th percentile (nearest rank), the longest."""

    level: Level
    granted: int
    median_days: int
    p90_days: int
    longest_days: int


def nearest_rank(histogram: Sequence[tuple[int, int]], fraction: float) -> int:
    """The smallest value whose cumulative count reaches `fraction` of the total (the
    nearest-rank percentile), from (value, count) pairs in any order."""
    total = sum(count for _, count in histogram)
    if total == 0:
        raise ValueError("an empty histogram has no percentile")
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for value, count in sorted(histogram):
        seen += count
        if seen >= rank:
            return value
    raise AssertionError("unreachable: the ranks add up to the total")


def _scope(column: str, association: str | None) -> tuple[str, tuple[str, ...]]:
    return (f" WHERE {column} = ?", (association,)) if association else ("", ())


class BoardReports:
    """The board's report queries over one projection database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def counts(self, association: str | None, on: dt.date) -> list[CountRow]:
        """Endorsements by level, designation, standing on `on` and year granted.

        From the kept counts (`projections.report_counts`): the recorded statuses per key,
        and, of the active ones, those whose valid-through is before `on`, which are
        "expired", never "current" (as `standing_on` says). The second part is a range of
        its key, so only the expired keys are read, never the current ones.
        """
        where, params = _scope("association", association)
        scope = " AND association = ?" if association else ""
        # One statement, so one snapshot on both backends: the expired can never be read
        # after a batch that the totals were read before (a count below zero).
        rows = self.db.query(
            "SELECT 0, level, designation, status, year_granted, SUM(endorsements) "
            f"FROM report_counts{where} GROUP BY level, designation, status, year_granted "
            "UNION ALL SELECT 1, level, designation, '', year_granted, SUM(endorsements) "
            f"FROM report_active_through WHERE valid_through < ?{scope} "
            "GROUP BY level, designation, year_granted", (*params, iso(on), *params))
        totals = [r[1:] for r in rows if int(r[0]) == 0]
        expired = {(level, d, int(year)): int(n)
                   for _, level, d, _, year, n in (r for r in rows if int(r[0]) == 1)}
        found: list[CountRow] = []
        for level, d, status, year, n in totals:
            key = (level, d, int(year))
            split: tuple[tuple[Standing, int], ...]
            if status == ACTIVE:
                split = ((Standing.EXPIRED, expired.get(key, 0)),
                         (Standing.CURRENT, int(n) - expired.get(key, 0)))
            else:
                split = ((Standing(status), int(n)),)
            found.extend(CountRow(level=member(LEVELS, level),
                                  designation=optional_designation(d or None),
                                  standing=standing, year=int(year), count=count)
                         for standing, count in split if count)
        return sorted(found, key=lambda r: (r.year, r.level.numeral, r.designation or "",
                                            r.standing.value))

    def current_holders(self, association: str, on: dt.date) -> dict[str, str]:
        """The person id of each of the association's endorsements in good standing on `on`,
        by endorsement id: what the node joins with its private records, e.g. to count by
        county. "Current" as `counts` computes it."""
        rows = self.db.query("SELECT endorsement_id, person_id FROM roster WHERE "
                             "association = ? AND status = ? AND valid_through >= ?",
                             (association, ACTIVE, iso(on)))
        return {str(e): str(p) for e, p in rows}

    def changed_holders(self, association: str, after_seq: int,
                        on: dt.date) -> list[tuple[str, str, bool]]:
        """(endorsement id, person id, current on `on`) of the association's roster rows
        changed by its entries after `after_seq`: how a count kept from `current_holders`
        follows the projection without reading every endorsement again (the
        `roster_changes` index on (association, last_seq))."""
        rows = self.db.query("SELECT endorsement_id, person_id, status, valid_through FROM "
                             "roster WHERE association = ? AND last_seq > ?",
                             (association, after_seq))
        day = iso(on)
        return [(str(e), str(p), status == ACTIVE and str(through) >= day)
                for e, p, status, through in rows]

    def renewal_years(self, association: str | None) -> list[RenewalYear]:
        """Renewals and lapses per year (of the effective date), from the kept counts.

        A renewal is an active history row that follows an active row with a later
        valid-through from a later day (a correction keeps the day it corrects, a
        reinstatement follows a lapse, so neither counts); a lapse is a lapsed row that does
        not follow one; each row is counted under its own association, its predecessor taken
        from the endorsement's whole history, so a transfer's rows count too
        (`projections.report_counts.renewal_marks`).
        """
        where, params = _scope("association", association)
        rows = self.db.query(
            f"SELECT year, SUM(renewed), SUM(lapsed) FROM report_renewals{where} GROUP BY year",
            params)
        years = [RenewalYear(year=int(y), renewed=int(r or 0), lapsed=int(n or 0))
                 for y, r, n in rows]
        return sorted((y for y in years if y.decided), key=lambda y: y.year)

    def open_applications(self, association: str) -> dict[ApplicationState, int]:
        """How many of the association's applications stand in each state (one GROUP BY:
        the dashboard's counts, without reading the applications)."""
        return {member(STATES, state): int(n) for state, n in self.db.query(
            "SELECT state, COUNT(*) FROM applications WHERE association = ? GROUP BY state",
            (association,))}

    def pipeline_times(self, association: str | None) -> list[PipelineTime]:
        """Days from start to grant of granted applications, per level (see module doc)."""
        where, params = _scope("association", association)
        days = ("CAST(julianday(updated_on) - julianday(started_on) AS INTEGER)"
                if self.db.dialect == "sqlite"
                else "(CAST(updated_on AS DATE) - CAST(started_on AS DATE))")
        state = " AND " if where else " WHERE "
        rows = self.db.query(
            f"SELECT level, {days} AS days, COUNT(*) FROM applications{where}{state}state = ? "
            "GROUP BY level, days", (*params, ApplicationState.GRANTED.value))
        by_level: dict[Level, list[tuple[int, int]]] = {}
        for level, d, n in rows:
            by_level.setdefault(member(LEVELS, level), []).append((int(d), int(n)))
        return [PipelineTime(level=level, granted=sum(n for _, n in histogram),
                             median_days=nearest_rank(histogram, 0.5),
                             p90_days=nearest_rank(histogram, 0.9),
                             longest_days=max(d for d, _ in histogram))
                for level, histogram in sorted(by_level.items(), key=lambda p: p[0].numeral)]


class BoardReport(msgspec.Struct, frozen=True, kw_only=True):
    """The three tables of one scope on one day."""

    association: str | None  # None: the whole Alliance
    on: dt.date
    counts: list[CountRow]
    renewals: list[RenewalYear]
    pipeline: list[PipelineTime]


class ReportCache:
    """The last report of each (scope, day), valid while the tracking positions stand."""

    def __init__(self, db: Database, *, keep: int = 16) -> None:
        self.reports = BoardReports(db)
        self._keep = keep
        self._lock = threading.Lock()
        self._kept: dict[tuple[str | None, dt.date],
                         tuple[tuple[tuple[str, int], ...], BoardReport]] = {}

    def _positions(self) -> tuple[tuple[str, int], ...]:
        return tuple(sorted((str(a), int(s)) for a, s in self.reports.db.query(
            "SELECT association, seq FROM projection_tracking")))

    def positions(self) -> tuple[tuple[str, int], ...]:
        """The projection's tracking positions: figures derived from the projections stay
        valid while these stand (for caches of figures joined with other data)."""
        return self._positions()

    def report(self, association: str | None, on: dt.date) -> BoardReport:
        """The report, from the cache when nothing was projected since it was made."""
        key = (association, on)
        positions = self._positions()
        # One computation at a time: twenty board members opening the page together after
        # a change wait for one report instead of each running the aggregates.
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept[0] == positions:
                return kept[1]
            made = BoardReport(association=association, on=on,
                               counts=self.reports.counts(association, on),
                               renewals=self.reports.renewal_years(association),
                               pipeline=self.reports.pipeline_times(association))
            if len(self._kept) >= self._keep:
                self._kept.clear()  # old days and scopes: cheaper to forget than to rank
            self._kept[key] = (positions, made)
            return made
