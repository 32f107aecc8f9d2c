"""A level's full title as the public page and the certificate print it.

Its own module because both the public verification page and the staff certificate need it,
and one route module may not import another (tests/unit/test_layers.py).
"""

from __future__ import annotations

from domain.levels import Designation, Level

LEVEL_NUMERALS = {1: "I", 2: "II", 3: "III", 4: "IV"}
DESIGNATIONS = {Designation.CLINICAL: "Clinical", Designation.POLICY: "Policy",
                Designation.RESEARCH_FACULTY: "Research/Faculty"}


def level_title(level: Level, designation: Designation | None) -> str:
    """E.g. "Level IV: Infant Mental Health Mentor - Clinical (IMHM-C)"."""
    code = f"{level.value}-{designation.value}" if designation else level.value
    title = f"{level.title} - {DESIGNATIONS[designation]}" if designation else level.title
    return f"Level {LEVEL_NUMERALS[level.numeral]}: {title} ({code})"
