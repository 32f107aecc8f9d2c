"""Ledger entries as the projections consume them: position, event type, aggregate, payload.

Entries in a LedgerStore were verified when they were stored (DESIGN invariant 3), and
re-verifying every signature on each rebuild would cost more than the rest of the projection,
so this only parses. Unknown event types and schema versions still fail loudly, in
`decode_payload`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ledger.codec import EntryBody, decode_payload, decode_stored


class DecodedEntry(msgspec.Struct, frozen=True, kw_only=True):
    """The parts of one ledger entry that the read models use."""

    association: str
    seq: int
    event_type: str
    aggregate_id: str
    payload: dict[str, Any]
    recorded_at: str = ""  # ISO 8601 with offset; only the status list versions keep it


def decode_entry(wire: bytes) -> DecodedEntry:
    """Parse the wire bytes of a stored (already verified) entry."""
    return from_body(decode_stored(wire))


def from_body(body: EntryBody) -> DecodedEntry:
    """The projection's view of a body someone already decoded (an audit checking chains)."""
    return DecodedEntry(association=body.association, seq=body.seq,
                        event_type=body.event_type, aggregate_id=body.aggregate_id,
                        payload=decode_payload(body),
                        recorded_at=body.recorded_at.isoformat())
