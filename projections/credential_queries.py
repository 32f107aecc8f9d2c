"""Read-side queries of the portable credentials, part of the reader API (`ProjectionReader`
inherits them): the issued credentials, the status lists, whose bit is whose and each list's
recorded versions. No clock: the caller says what it asks about.
"""

from __future__ import annotations

from typing import Any

from domain.credentials import StatusPurpose
from domain.levels import EndorsementStatus
from ledger.codec import decode_json
from ledger.storage.database import Database
from projections.credential_rules import ListVersionRow, StatusListRow
from projections.tables import LIST_VERSION_COLUMNS, STATUS_LIST_COLUMNS, select


class CredentialQueries:
    """The credential part of the projection reader."""

    db: Database

    def latest_credential(self, endorsement_id: str) -> str | None:
        """The signed credential (JSON text) issued last for the endorsement, or None."""
        rows = self.db.query("SELECT document FROM credentials WHERE endorsement_id = ? "
                             "ORDER BY seq DESC LIMIT 1", (endorsement_id,))
        return str(rows[0][0]) if rows else None

    def status_lists(self, association: str) -> list[StatusListRow]:
        """The association's status lists, by purpose and number."""
        rows = [_list_row(r) for r in self.db.query(
            f"{select('status_lists', STATUS_LIST_COLUMNS)} WHERE association = ?",
            (association,))]
        return sorted(rows, key=lambda r: (r.purpose.value, r.list_number))

    def status_list(self, association: str, purpose: StatusPurpose,
                    list_number: int) -> StatusListRow | None:
        """One list, or None."""
        rows = self.db.query(f"{select('status_lists', STATUS_LIST_COLUMNS)} WHERE association "
                             "= ? AND purpose = ? AND list_number = ?",
                             (association, purpose.value, list_number))
        return _list_row(rows[0]) if rows else None

    def list_members(self, aggregate_id: str) -> list[tuple[int, EndorsementStatus]]:
        """Each assigned index of a list with the recorded status of the endorsement whose
        credential holds it (an index whose endorsement is not projected has no status yet
        and is left out)."""
        rows = self.db.query(
            "SELECT i.list_index, r.status FROM status_list_indexes i JOIN roster r ON "
            "r.endorsement_id = i.endorsement_id WHERE i.aggregate_id = ?", (aggregate_id,))
        return sorted((int(index), EndorsementStatus(status)) for index, status in rows)

    def assigned_count(self, aggregate_id: str) -> int:
        """How many indexes of the list are assigned."""
        rows = self.db.query("SELECT COUNT(*) FROM status_list_indexes WHERE aggregate_id = ?",
                             (aggregate_id,))
        return int(rows[0][0])

    def list_url_of(self, aggregate_id: str, purpose: str) -> str | None:
        """The URL the credentials holding the list's indexes name for it (its origin's)."""
        rows = self.db.query(
            "SELECT c.document FROM status_list_indexes i JOIN credentials c ON "
            "c.credential_id = i.credential_id WHERE i.aggregate_id = ? LIMIT 1",
            (aggregate_id,))
        if not rows:
            return None
        document = decode_json(str(rows[0][0]).encode(), dict[str, Any])
        for entry in document.get("credentialStatus") or ():
            if isinstance(entry, dict) and entry.get("statusPurpose") == purpose:
                url = entry.get("statusListCredential")
                return url if isinstance(url, str) else None
        return None

    def list_versions(self, aggregate_id: str) -> list[ListVersionRow]:
        """Every recorded version of the list, oldest first."""
        rows = self.db.query(f"{select('status_list_versions', LIST_VERSION_COLUMNS)} WHERE "
                             "aggregate_id = ?", (aggregate_id,))
        versions = [ListVersionRow(aggregate_id=r[0], list_version=int(r[1]), association=r[2],
                                   list_hash=r[3], set_bits_count=int(r[4]), seq=int(r[5]),
                                   recorded_at=r[6]) for r in rows]
        return sorted(versions, key=lambda v: v.list_version)


def _list_row(r: tuple[object, ...]) -> StatusListRow:
    return StatusListRow(aggregate_id=str(r[0]), association=str(r[1]),
                         purpose=StatusPurpose(str(r[2])), list_number=int(str(r[3])),
                         size=int(str(r[4])))
