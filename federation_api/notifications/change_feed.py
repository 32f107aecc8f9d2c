"""Recorded status changes as subscribers see them: the change value, its public fields, the
delivery id a receiver dedupes on, and the feed (always read through one employer's
subscriptions). The notifier writes these rows; this module only defines and reads them.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import msgspec

from domain.levels import Level
from federation_api.notifications import employer_tables
from ledger.storage.database import Database
from projections.transitions import CORRECTED, GRANTED, RECOGNIZED


class ChangeKind(StrEnum):
    """What happened to an endorsement, in the words a subscriber reads."""

    GRANTED = "granted"
    RECOGNISED = "recognised"  # another association became its home (reciprocity)
    RENEWED = "renewed"
    LAPSED = "lapsed"
    REINSTATED = "reinstated"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    RELINQUISHED = "relinquished"
    TRANSFERRED = "transferred"
    CORRECTED = "corrected"


KIND_OF_EVENT = {
    GRANTED: ChangeKind.GRANTED,
    RECOGNIZED: ChangeKind.RECOGNISED,
    "EndorsementRenewed": ChangeKind.RENEWED,
    "EndorsementLapsed": ChangeKind.LAPSED,
    "EndorsementReinstated": ChangeKind.REINSTATED,
    "EndorsementSuspended": ChangeKind.SUSPENDED,
    "EndorsementRevoked": ChangeKind.REVOKED,
    "EndorsementRelinquished": ChangeKind.RELINQUISHED,
    "EndorsementTransferredOut": ChangeKind.TRANSFERRED,
    CORRECTED: ChangeKind.CORRECTED,
}


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded status change of one endorsement; public fields only."""

    change_id: int
    association: str  # whose ledger entry recorded the change
    seq: int
    endorsement_id: str
    kind: ChangeKind
    old_status: str | None  # None before the endorsement existed
    new_status: str
    effective_on: dt.date
    valid_through: dt.date
    family_name: str
    given_name: str
    level: str
    designation: str | None
    endorsing_association: str  # the endorsement's home association
    recorded_at: dt.datetime


CHANGE_COLUMNS = tuple(f.name for f in msgspec.structs.fields(Change))
_SELECT_CHANGES = f"SELECT {', '.join(CHANGE_COLUMNS)} FROM status_changes"


def public_fields(change: Change) -> dict[str, Any]:
    """What a subscriber receives about a change (feed item and webhook body alike)."""
    level = Level(change.level)
    return {
        "change_id": change.change_id,
        "kind": str(change.kind),
        "endorsement_id": change.endorsement_id,
        "name": f"{change.given_name} {change.family_name}",
        "family_name": change.family_name,
        "given_name": change.given_name,
        "level": str(level),
        "level_title": level.title,
        "designation": change.designation,
        "association": change.endorsing_association,
        "old_status": change.old_status,
        "new_status": change.new_status,
        "effective_on": change.effective_on.isoformat(),
        "valid_through": change.valid_through.isoformat(),
        "recorded_by": change.association,
        "recorded_at": change.recorded_at.isoformat(),
    }


def change_from_row(row: tuple[Any, ...]) -> Change:
    """A Change from its columns (dates stored as ISO text)."""
    values = dict(zip(CHANGE_COLUMNS, row, strict=True))
    return msgspec.convert(values, Change, strict=False)


def delivery_id(change_id: int, employer: str) -> str:
    """The id a receiver dedupes on: one per (change, employer), the same on every retry."""
    return f"dlv_{change_id}_{employer}"


class ChangeFeed:
    """Reads of recorded changes, always through one employer's subscriptions."""

    def __init__(self, db: Database) -> None:
        self.db = db
        employer_tables.create(db)

    def since(self, employer: str, cursor: int, limit: int) -> tuple[list[Change], int]:
        """Changes of the employer's subscriptions after `cursor`, and the next cursor.

        A subscription shows only changes recorded after it was made (`from_change`).
        """
        columns = ", ".join(f"c.{c}" for c in CHANGE_COLUMNS)
        rows = self.db.query(
            f"SELECT {columns} FROM status_changes c JOIN employer_subscriptions s "
            "ON s.endorsement_id = c.endorsement_id AND s.employer = ? "
            "WHERE c.change_id > ? AND c.change_id > s.from_change "
            "ORDER BY c.change_id LIMIT ?", (employer, cursor, limit))
        changes = [change_from_row(r) for r in rows]
        return changes, (changes[-1].change_id if changes else cursor)

    def get(self, change_id: int) -> Change | None:
        """One change by id (for building a webhook payload)."""
        rows = self.db.query(f"{_SELECT_CHANGES} WHERE change_id = ?", (change_id,))
        return change_from_row(rows[0]) if rows else None

    def count(self, association: str | None = None) -> int:
        """How many change rows exist (tests and operations)."""
        if association is None:
            rows = self.db.query("SELECT COUNT(*) FROM status_changes")
        else:
            rows = self.db.query("SELECT COUNT(*) FROM status_changes WHERE association = ?",
                                 (association,))
        return int(rows[0][0])
