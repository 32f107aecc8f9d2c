"""The lookup port: what the Alliance's ledgers record about a person, anywhere in the Alliance.

Rules about RS/C providers and raters depend on another person's endorsement as it stood when
the hours or the rating were given; the one-standing rule (DESIGN invariant 9) depends on
every endorsement a person holds in any status; duplicate flags depend on the names others
were endorsed under. The domain asks this port; the node answers it from its projections
(its own ledger and every replicated peer ledger).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

import msgspec

from domain.levels import Designation, EndorsementStatus, Level


class HeldEndorsement(msgspec.Struct, frozen=True, kw_only=True):
    """An endorsement a person held (active and within its valid-through) on some date."""

    person_id: str
    endorsement_id: str
    association: str
    level: Level
    designation: Designation | None
    granted_on: dt.date
    # From when the endorsing association's own record shows the holder Master's-prepared
    # (recorded with a Level II grant or by the association's attestation); None: it does not.
    masters_prepared_since: dt.date | None = None


class RecordedEndorsement(msgspec.Struct, frozen=True, kw_only=True):
    """One endorsement of a person in whatever status the ledgers record for it on a date."""

    person_id: str
    endorsement_id: str
    association: str
    level: Level
    designation: Designation | None
    status: EndorsementStatus
    since: dt.date  # effective date of the entry that set this status
    valid_through: dt.date


class NameMatch(msgspec.Struct, frozen=True, kw_only=True):
    """Someone recorded under the same (folded) family and given names as a person asked about:
    an endorsement anywhere in the Alliance, or an application with the asking association."""

    person_id: str
    association: str
    endorsement_id: str | None = None
    application_id: str | None = None


class EndorsementLookup(Protocol):
    """Answers 'what did person P hold on date D', across all known associations."""

    def held_on(self, person_id: str, on: dt.date) -> tuple[HeldEndorsement, ...]:
        """Every endorsement P held in good standing on date `on` (usually zero or one)."""
        ...


class PersonLookup(EndorsementLookup, Protocol):
    """Everything the association's commands ask about people across the Alliance."""

    def recorded_for(self, person_id: str, on: dt.date) -> tuple[RecordedEndorsement, ...]:
        """Every endorsement of P in any association, with its status as recorded on `on`."""
        ...

    def same_names(self, names: Sequence[tuple[str, str]],
                   association: str) -> tuple[tuple[NameMatch, ...], ...]:
        """For each (family, given) name pair: the endorsements anywhere, and the
        applications with `association`, recorded under the same names after folding case
        and accents (one tuple per pair, in order)."""
        ...


class NoEndorsements:
    """A lookup that knows nobody: for evaluating an application before any ledger exists."""

    def held_on(self, person_id: str, on: dt.date) -> tuple[HeldEndorsement, ...]:
        """Nobody held anything."""
        return ()

    def recorded_for(self, person_id: str, on: dt.date) -> tuple[RecordedEndorsement, ...]:
        """Nobody was ever endorsed."""
        return ()

    def same_names(self, names: Sequence[tuple[str, str]],
                   association: str) -> tuple[tuple[NameMatch, ...], ...]:
        """Nobody shares a name with anyone."""
        return tuple(() for _ in names)
