"""The counts by county: spellings grouped, nobody dropped, a stable order."""

from __future__ import annotations

from federation_api.people.county_report import NO_COUNTY, NO_RECORD, CountyCount, by_county


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
