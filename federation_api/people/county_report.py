"""The board's counts of current endorsements by county: the ledger knows who holds an
endorsement, and only this node's private person records know where they live, so the
table exists for this association alone and never Alliance-wide (no node has another
association's addresses).

Counties are typed by staff, so they are grouped ignoring case and spacing ("Anchorage" and
"anchorage " are one county) and shown as most of their records spell them. An endorsement
whose person has no record here, or a record without a county, is counted under its own
heading rather than dropped, so the counts add up to the current endorsements.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass

NO_RECORD = "(no person record on this node)"
NO_COUNTY = "(county not recorded)"


@dataclass(frozen=True)
class CountyCount:
    """How many current endorsements are held by people recorded in one county."""

    county: str
    count: int


class CountyTally:
    """Counts per county (and the spellings seen of each) that holders join and leave one at
    a time: what `by_county` computes from scratch, kept up to date by `CountyCache` as the
    projection moves without reading every current endorsement again."""

    def __init__(self, counties: Mapping[str, str]) -> None:
        self.counties = counties
        self._counts: Counter[str] = Counter()
        self._spellings: dict[str, Counter[str]] = {}

    def _key(self, person_id: str) -> tuple[str, str]:
        typed = self.counties.get(person_id)
        if typed is None:
            return NO_RECORD, ""
        shown = " ".join(typed.split())
        return (shown.casefold(), shown) if shown else (NO_COUNTY, "")

    def add(self, person_id: str, n: int = 1) -> None:
        """The holder of one more current endorsement (n=-1: of one fewer)."""
        key, shown = self._key(person_id)
        self._counts[key] += n
        if shown:
            self._spellings.setdefault(key, Counter())[shown] += n

    def result(self) -> list[CountyCount]:
        """The counts, the largest first, then by name; the two headings without a county
        come last."""
        counts = self._counts
        named = [CountyCount(_spelling(self._spellings[k]), n) for k, n in counts.items()
                 if n > 0 and k not in (NO_RECORD, NO_COUNTY)]
        named.sort(key=lambda c: (-c.count, c.county.casefold()))
        rest = [CountyCount(k, counts[k]) for k in (NO_COUNTY, NO_RECORD) if counts[k] > 0]
        return named + rest


def by_county(holders: Iterable[str], counties: Mapping[str, str]) -> list[CountyCount]:
    """Counts per county of the holders (a person id per current endorsement), the largest
    first, then by name; the two headings without a county come last."""
    tally = CountyTally(counties)
    for person_id in holders:
        tally.add(person_id)
    return tally.result()


def _spelling(seen: Counter[str]) -> str:
    # The most used spelling; a tie goes to the first in sort order, so the page is stable.
    return min((s for s in seen if seen[s] > 0), key=lambda s: (-seen[s], s))


@dataclass
class _Kept:
    on: dt.date
    generation: Hashable
    position: int
    holders: dict[str, str]  # endorsement id -> person id, of the current endorsements
    tally: CountyTally


class CountyCache:
    """The counts of each association's current endorsements by county on one day, kept
    while the person records' generation stands and moved with the projection.

    The first view of a day (or after any person record changed) reads every current
    endorsement's holder and every record's county. After that, a view when the projection
    has moved reads only the association's roster rows changed since the position the
    counts were made at (`changed(position)`: endorsement id, person id, whether current on
    the day; an index of (association, last_seq)), and moves each one's holder in or out of
    the tally; a view while nothing moved reads two small rows. The rows are taken as they
    are now, not as differences, so a row counted twice (changed after the position was
    read) is counted right."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[str, _Kept] = {}  # by association: the latest day only

    def counts(self, association: str, on: dt.date, *, position: int, generation: Hashable,
               holders: Callable[[], dict[str, str]],
               changed: Callable[[int], Iterable[tuple[str, str, bool]]],
               counties: Callable[[], Mapping[str, str]]) -> list[CountyCount]:
        """The counts; `position` (the association's tracking position) and `generation`
        are read by the caller before any data, so a change in between is seen next time."""
        with self._lock:  # one computation at a time, as the other reports
            kept = self._kept.get(association)
            if kept is None or kept.on != on or kept.generation != generation:
                tally = CountyTally(counties())
                held = holders()
                for person_id in held.values():
                    tally.add(person_id)
                kept = self._kept[association] = _Kept(on, generation, position, held, tally)
            elif kept.position != position:
                for endorsement_id, person_id, current in changed(kept.position):
                    before = kept.holders.pop(endorsement_id, None)
                    if before is not None:
                        kept.tally.add(before, -1)
                    if current:
                        kept.holders[endorsement_id] = person_id
                        kept.tally.add(person_id)
                kept.position = position
            return kept.tally.result()
