"""Text forms of the domain values the views hold: ISO dates and enum values, both ways.

Payloads carry dates as ISO strings and enums as their values, and the tables store the same
text. Rebuilds convert every field of every entry, so these are table lookups rather than the
enum machinery (Level("IFS") costs ~0.5 us, a dict lookup ~0.05 us); the date caches stay
small because the dates of a ledger repeat (cycle ends, grant days).
"""

from __future__ import annotations

import datetime as dt
import functools
from enum import StrEnum
from typing import Any, TypeVar

from domain.application import ApplicationState
from domain.levels import Designation, EndorsementStatus, Level, ReviewDecision

_E = TypeVar("_E", bound=StrEnum)


def _members(enum: type[_E]) -> dict[str, _E]:
    return {member.value: member for member in enum}


LEVELS = _members(Level)
DESIGNATIONS = _members(Designation)
STATUSES = _members(EndorsementStatus)
STATES = _members(ApplicationState)
DECISIONS = _members(ReviewDecision)


def member(members: dict[str, _E], value: Any) -> _E:
    """The member with text `value`; ValueError if there is none."""
    found = members.get(value) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f"unknown value {value!r}")
    return found


def optional_designation(value: Any) -> Designation | None:
    """A Level IV designation from its text, or None."""
    return None if value is None else member(DESIGNATIONS, value)


@functools.lru_cache(maxsize=1 << 16)
def _parse_date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def parse_date(value: Any) -> dt.date:
    """A date from its ISO text; TypeError or ValueError for anything else."""
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO date string, got {type(value).__name__}")
    return _parse_date(value)


@functools.lru_cache(maxsize=1 << 16)
def iso(day: dt.date) -> str:
    """The ISO text of a date (what the tables store, so text order is date order)."""
    return day.isoformat()


def optional_date(value: Any) -> dt.date | None:
    """A date from its ISO text, or None."""
    return None if value is None else parse_date(value)


def optional_iso(day: dt.date | None) -> str | None:
    """The ISO text of a date, or None."""
    return None if day is None else iso(day)


def text(value: StrEnum | None) -> str | None:
    """The stored text of an enum member (a plain str), or None."""
    return None if value is None else str(value)
