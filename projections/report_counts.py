"""The board report's figures, kept by the projector in the transaction of the rows they count.

A cold report (the first view after an entry is projected) used to run a GROUP BY over the
whole roster and a window over the whole status history: its cost grew with the number of
endorsements. Instead the projector keeps three small tables beside the rows they summarise,
changed with each batch in the same transaction (so they can never disagree with the rows,
DESIGN invariant 6), and the report sums them:

- `report_counts`: endorsements per (association, level, designation, recorded status, year
  granted). A few hundred keys, however many endorsements.
- `report_active_through`: the active ones again, per valid-through day, so that the report
  can tell "expired" from "current" on its day: the expired are the active keys with a
  valid-through before it, read by a range of the primary key. Only endorsements past their
  valid-through and not yet lapsed are read, a number bounded by the calendar (the grace
  days times the levels and grant years), not by the roster.
- `report_renewals`: renewals and lapses per (association, year of the effective date), with
  exactly the rules of the window they replace (see `renewal_marks`).

Each transition of a roster row is a decrement of its old keys and an increment of its new
ones; each history row added recounts the history of its endorsement (a few rows), because a
row dated before others changes what follows it. Keys that reach zero are deleted, so the
tables equal a from-scratch GROUP BY of the rows exactly (tests/integration/
test_report_counts.py). They are derived from tables the digest already covers, so they are
not part of the digest, and a rebuild clears and recounts them with everything else.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from domain.levels import EndorsementStatus
from ledger.storage.database import Cursor
from projections.rows import HistoryRow, RosterRow
from projections.values import iso

CountKey = tuple[str, str, str, str, int]  # association, level, designation, status, year
ThroughKey = tuple[str, str, str, str, int]  # association, valid_through, level, designation, year
RenewalKey = tuple[str, int]  # association, year of the effective date

_COUNT_KEY = ("association", "level", "designation", "status", "year_granted")
_THROUGH_KEY = ("association", "valid_through", "level", "designation", "year_granted")
_RENEWAL_KEY = ("association", "year")


def count_key(row: RosterRow) -> CountKey:
    """Where a roster row is counted. A key column may not be NULL on PostgreSQL, so no
    designation is stored as ''."""
    return (row.association, str(row.level), str(row.designation or ""), str(row.status),
            row.granted_on.year)


def through_key(row: RosterRow) -> ThroughKey | None:
    """Where an active roster row is counted by its valid-through (None: not active)."""
    if row.status is not EndorsementStatus.ACTIVE:
        return None
    return (row.association, iso(row.valid_through), str(row.level),
            str(row.designation or ""), row.granted_on.year)


def renewal_marks(history: Iterable[HistoryRow]) -> Iterator[tuple[RenewalKey, int, int]]:
    """(key, renewed, lapsed) of each history row of ONE endorsement, in history order.

    A renewal is an active row that follows an active row with a later valid-through from a
    later day (a correction keeps the day it corrects, a reinstatement follows a lapse, so
    neither counts); a lapse is a lapsed row that does not follow one. The order is the
    report's window's: effective date, then seq, then association.
    """
    previous: HistoryRow | None = None
    for row in sorted(history, key=lambda h: h.order):
        renewed = (row.status is EndorsementStatus.ACTIVE and previous is not None
                   and previous.status is EndorsementStatus.ACTIVE
                   and row.valid_through > previous.valid_through
                   and row.effective_on > previous.effective_on)
        lapsed = row.status is EndorsementStatus.LAPSED and (
            previous is None or previous.status is not EndorsementStatus.LAPSED)
        yield (row.association, row.effective_on.year), int(renewed), int(lapsed)
        previous = row


class CountChanges:
    """What one batch changes in the kept counts, summed per key before anything is written
    (a batch of grants touches a few hundred keys, not one row per entry)."""

    def __init__(self) -> None:
        self.counts: Counter[CountKey] = Counter()
        self.through: Counter[ThroughKey] = Counter()
        self.renewed: Counter[RenewalKey] = Counter()
        self.lapsed: Counter[RenewalKey] = Counter()

    def moved(self, before: RosterRow | None, after: RosterRow) -> None:
        """A roster row went from `before` (None: new) to `after`."""
        if before is not None:
            self.counts[count_key(before)] -= 1
            if (old := through_key(before)) is not None:
                self.through[old] -= 1
        self.counts[count_key(after)] += 1
        if (new := through_key(after)) is not None:
            self.through[new] += 1

    def history(self, before: Sequence[HistoryRow], added: Sequence[HistoryRow]) -> None:
        """One endorsement's history had `before` and gains `added`."""
        for key, renewed, lapsed in renewal_marks(before):  # none for a new endorsement
            if renewed or lapsed:
                self.renewed[key] -= renewed
                self.lapsed[key] -= lapsed
        for key, renewed, lapsed in renewal_marks([*before, *added]):
            if renewed or lapsed:
                self.renewed[key] += renewed
                self.lapsed[key] += lapsed

    def write(self, cur: Cursor) -> None:
        """Add the changes to the tables, in the caller's transaction; drop emptied keys."""
        _add(cur, "report_counts", _COUNT_KEY, ("endorsements",),
             {k: (n,) for k, n in self.counts.items() if n})
        _add(cur, "report_active_through", _THROUGH_KEY, ("endorsements",),
             {k: (n,) for k, n in self.through.items() if n})
        keys = set(self.renewed) | set(self.lapsed)
        _add(cur, "report_renewals", _RENEWAL_KEY, ("renewed", "lapsed"),
             {k: (self.renewed[k], self.lapsed[k]) for k in keys
              if self.renewed[k] or self.lapsed[k]})


def _add(cur: Cursor, table: str, key: tuple[str, ...], values: tuple[str, ...],
         changes: dict[tuple[object, ...], tuple[int, ...]]) -> None:
    if not changes:
        return
    ordered = sorted(changes.items())  # a fixed order: two writers lock keys alike
    columns = (*key, *values)
    updates = ", ".join(f"{v} = {table}.{v} + excluded.{v}" for v in values)
    cur.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        f"({', '.join('?' for _ in columns)}) ON CONFLICT ({', '.join(key)}) "
        f"DO UPDATE SET {updates}", [(*k, *v) for k, v in ordered])
    # A key that some change lowered may now count nothing: gone, as from a GROUP BY.
    where = " AND ".join(f"{k} = ?" for k in key)
    empty = " AND ".join(f"{v} = 0" for v in values)
    cur.executemany(f"DELETE FROM {table} WHERE {where} AND {empty}",
                    [k for k, v in ordered if any(n < 0 for n in v)])
