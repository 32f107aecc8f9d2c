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


def by_county(holders: Iterable[str], counties: Mapping[str, str]) -> list[CountyCount]:
    """Counts per county of the holders (a person id per current endorsement), the largest
    first, then by name; the two headings without a county come last."""
    counts: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for person_id in holders:
        typed = counties.get(person_id)
        if typed is None:
            key = NO_RECORD
        else:
            shown = " ".join(typed.split())
            key = shown.casefold() if shown else NO_COUNTY
            if shown:
                spellings.setdefault(key, Counter())[shown] += 1
        counts[key] += 1
    named = [CountyCount(_spelling(spellings[k]), n) for k, n in counts.items()
             if k not in (NO_RECORD, NO_COUNTY)]
    named.sort(key=lambda c: (-c.count, c.county.casefold()))
    rest = [CountyCount(k, counts[k]) for k in (NO_COUNTY, NO_RECORD) if counts[k]]
    return named + rest


def _spelling(seen: Counter[str]) -> str:
    # The most used spelling; a tie goes to the first in sort order, so the page is stable.
    return min(seen, key=lambda s: (-seen[s], s))


class CountyCache:
    """The last counts of each (association, day), kept while their inputs stand: the
    projection's tracking positions and the person records' generation, both passed in as
    one hashable `inputs`. A board opening the reports reads two small rows instead of every
    current endorsement and every person record."""

    def __init__(self, keep: int = 16) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._kept: dict[tuple[str, dt.date], tuple[Hashable, list[CountyCount]]] = {}

    def counts(self, association: str, on: dt.date, inputs: Hashable,
               compute: Callable[[], list[CountyCount]]) -> list[CountyCount]:
        """The kept counts if `inputs` are those they were computed from, else `compute()`."""
        key = (association, on)
        with self._lock:  # one computation at a time, as the other reports
            kept = self._kept.get(key)
            if kept is not None and kept[0] == inputs:
                return kept[1]
            made = compute()
            if len(self._kept) >= self._keep:
                self._kept.clear()
            self._kept[key] = (inputs, made)
            return made
