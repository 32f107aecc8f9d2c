"""The lookup port: what endorsement did a person hold on a given date, anywhere in the Alliance.

Rules about RS/C providers and raters depend on another person's endorsement as it stood when
the hours or the rating were given. The domain asks this port; the node answers it from its
projections (its own ledger now, every replicated peer ledger after federation).
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

import msgspec

from domain.levels import Designation, Level


class HeldEndorsement(msgspec.Struct, frozen=True, kw_only=True):
    """An endorsement a person held (active and within its valid-through) on some date."""

    person_id: str
    endorsement_id: str
    association: str
    level: Level
    designation: Designation | None
    granted_on: dt.date


class EndorsementLookup(Protocol):
    """Answers 'what did person P hold on date D', across all known associations."""

    def held_on(self, person_id: str, on: dt.date) -> tuple[HeldEndorsement, ...]:
        """Every endorsement P held in good standing on date `on` (usually zero or one)."""
        ...


class NoEndorsements:
    """A lookup that knows nobody: for evaluating an application before any ledger exists."""

    def held_on(self, person_id: str, on: dt.date) -> tuple[HeldEndorsement, ...]:
        """Nobody held anything."""
        return ()
