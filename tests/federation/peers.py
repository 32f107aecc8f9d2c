"""A peer association that writes a valid ledger by hand, for tests of what a node does with
another association's entries (ingest, quarantine, forks, the pages' fork warnings).

Entries are sealed by a real signer over the exact wire bytes a node would publish.
"""

from __future__ import annotations

import datetime as dt
import uuid

from ledger.chain.entries import LedgerEntry, seal
from ledger.codec import EntryBody, encode
from ledger.signing import Signer

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class Peer:
    """A peer association that writes a valid ledger of imported endorsements."""

    def __init__(self, association: str, signer: Signer) -> None:
        self.association = association
        self.signer = signer
        self.entries: list[LedgerEntry] = []

    def entry(self, *, seq: int | None = None, prev: bytes | None = None,
              at: dt.datetime | None = None, association: str | None = None,
              signer: Signer | None = None, name: str = "Doe") -> LedgerEntry:
        seq = seq if seq is not None else len(self.entries) + 1
        if prev is None:
            prev = self.entries[seq - 2].entry_hash if seq > 1 else bytes(32)
        signer = signer or self.signer
        owner = association or self.association
        number = len(self.entries)
        payload = encode({
            "endorsement_id": f"{owner}-E{number:04d}-{name}", "association": owner,
            "person_id": f"{owner}-P{number}", "family_name": name, "given_name": "Jo",
            "level": "IMHS", "designation": None, "granted_on": "2020-01-01",
            "valid_through": "2030-12-31", "application_id": "legacy:x",
            "originator_topic": "alliance:Endorsement"})
        body = EntryBody(association=owner, seq=seq, prev_hash=prev,
                         recorded_at=at or T0 + dt.timedelta(minutes=seq),
                         event_type="EndorsementGranted", schema_version=1,
                         aggregate_id=_uuid(owner, seq, name),
                         aggregate_version=1, payload=payload, commitment=b"",
                         key_id=signer.key_id)
        return seal(body, signer)

    def append(self, **kwargs: object) -> LedgerEntry:
        entry = self.entry(**kwargs)  # type: ignore[arg-type]  # forwarded keywords
        self.entries.append(entry)
        return entry


def _uuid(owner: str, seq: int, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{owner}:{seq}:{name}"))
