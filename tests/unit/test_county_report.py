"""The counts by county: spellings grouped, nobody dropped, a stable order; and the kept
counts, moved by the changed rows only, equal to the counts made from scratch."""

from __future__ import annotations

import datetime as dt
import random

from federation_api.people.county_report import (
    NO_COUNTY,
    NO_RECORD,
    CountyCache,
    CountyCount,
    by_county,
)


def test_counties_are_grouped_ignoring_case_and_spacing_and_every_holder_counts() -> None:
    counties = {"a": "Anchorage", "b": "anchorage", "c": " Anchorage ", "d": "Juneau",
                "e": "", "f": "Kenai  Peninsula", "g": "kenai peninsula"}
    holders = ["a", "b", "c", "d", "d", "e", "f", "g", "zz"]  # d holds two endorsements
    found = by_county(holders, counties)
    assert found == [CountyCount("Anchorage", 3), CountyCount("Juneau", 2),
                     CountyCount("Kenai Peninsula", 2), CountyCount(NO_COUNTY, 1),
                     CountyCount(NO_RECORD, 1)]
    assert sum(c.count for c in found) == len(holders)
    assert by_county([], counties) == []


def test_kept_counts_follow_the_changed_rows_as_counts_from_scratch_do() -> None:
    """A roster in memory (endorsement -> person, current or not, the position that changed
    it) stands in for the projection; the cache sees only the rows changed after its
    position, some of them again (changed after the position was read)."""
    rng = random.Random(7)
    counties = {f"p{i}": rng.choice(("Anchorage", "anchorage ", "Juneau", "", "Sitka"))
                for i in range(30)}
    roster: dict[str, tuple[str, bool, int]] = {}
    cache, day, generation = CountyCache(), dt.date(2026, 1, 1), (1, 1)
    reads = {"holders": 0}

    def holders() -> dict[str, str]:
        reads["holders"] += 1
        return {e: p for e, (p, current, _) in roster.items() if current}

    def changed(after: int) -> list[tuple[str, str, bool]]:
        return [(e, p, current) for e, (p, current, seq) in roster.items() if seq > after]

    for seq in range(1, 300):
        endorsement = f"e{rng.randrange(60)}"
        person = roster[endorsement][0] if endorsement in roster else f"p{rng.randrange(40)}"
        roster[endorsement] = (person, rng.random() < 0.7, seq)
        if rng.random() < 0.05:  # a person record is edited: counted again from scratch
            counties[f"p{rng.randrange(30)}"] = rng.choice(("Kenai", "juneau"))
            generation = (generation[0], generation[1] + 1)
        if rng.random() < 0.5:
            # At times the position was read before the last change (which the data may or
            # may not show yet): such counts may lag by that change, never beyond it.
            lag = rng.choice((0, 0, 1))
            found = cache.counts("AK", day, position=seq - lag, generation=generation,
                                 holders=holders, changed=changed,
                                 counties=lambda: dict(counties))
            if not lag:
                assert found == by_county(holders().values(), counties), seq
                reads["holders"] -= 1  # the check's own read
    assert 1 <= reads["holders"] < 30  # mostly moved by the changed rows
