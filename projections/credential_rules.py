"""How the credential events change the read models: status lists, their indexes and recorded
versions, and the issued credentials. Pure: the projector loads what a batch touches and
writes back what `CredentialBatch` collected.

Every node projects these from the replicated ledgers, so every node can say which bit of
which list is whose, which list version stood when (for `alliance verify-credential` and for
checking what the origin serves), and serve the very credential the origin issued.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from domain.credentials import StatusPurpose
from projections.decoded_entries import DecodedEntry
from projections.errors import (
    DuplicateAggregate,
    ForeignAggregate,
    MalformedPayload,
    UnknownAggregate,
)

LIST_CREATED = "StatusListCreated"
INDEX_ASSIGNED = "CredentialIndexAssigned"
LIST_PUBLISHED = "StatusListPublished"
CREDENTIAL_ISSUED = "CredentialIssued"
CREDENTIAL_EVENTS = frozenset({LIST_CREATED, INDEX_ASSIGNED, LIST_PUBLISHED, CREDENTIAL_ISSUED})


class StatusListRow(msgspec.Struct, frozen=True, kw_only=True):
    """One status list of one association."""

    aggregate_id: str
    association: str
    purpose: StatusPurpose
    list_number: int
    size: int


class ListVersionRow(msgspec.Struct, frozen=True, kw_only=True):
    """A published version of a list as the ledger records it (StatusListPublished)."""

    aggregate_id: str
    list_version: int
    association: str
    list_hash: str
    set_bits_count: int
    seq: int
    recorded_at: str  # the entry's recorded_at, ISO 8601 with offset


class CredentialBatch:
    """The credential rows one batch touches: what was loaded, and what to write back."""

    def __init__(self, lists: Iterable[StatusListRow], taken_indexes: Iterable[tuple[str, int]],
                 last_versions: dict[str, int], taken_credentials: Iterable[str]) -> None:
        self.lists = {row.aggregate_id: row for row in lists}
        self._taken_indexes = set(taken_indexes)
        self._versions = dict(last_versions)
        self._taken_credentials = set(taken_credentials)
        self.new_lists: list[StatusListRow] = []
        self.indexes: list[tuple[Any, ...]] = []
        self.versions: list[ListVersionRow] = []
        self.credentials: list[tuple[Any, ...]] = []

    def apply(self, entry: DecodedEntry) -> None:
        """Apply one credential entry; a ProjectionError (before any change) if it breaks a
        rule the domain keeps."""
        try:
            self._apply(entry, entry.payload)
        except (KeyError, ValueError, TypeError) as e:
            raise MalformedPayload(f"{entry.event_type}: {type(e).__name__}: {e}",
                                   association=entry.association, seq=entry.seq) from e

    def _apply(self, entry: DecodedEntry, p: dict[str, Any]) -> None:
        a, n = entry.association, entry.seq  # where, for the errors
        if entry.event_type == LIST_CREATED:
            if entry.aggregate_id in self.lists:
                raise DuplicateAggregate(f"status list {entry.aggregate_id} exists",
                                         association=a, seq=n)
            if p["association"] != entry.association:
                raise ForeignAggregate(f"creates a list of {p['association']!r}",
                                       association=a, seq=n)
            row = StatusListRow(aggregate_id=entry.aggregate_id, association=entry.association,
                                purpose=StatusPurpose(p["purpose"]),
                                list_number=_int(p["list_number"]), size=_int(p["size"]))
            self.lists[row.aggregate_id] = row
            self.new_lists.append(row)
            return
        if entry.event_type == CREDENTIAL_ISSUED:
            credential_id = str(p["credential_id"])
            if credential_id in self._taken_credentials:
                raise DuplicateAggregate(f"credential {credential_id} exists", association=a, seq=n)
            if p["association"] != entry.association:
                raise ForeignAggregate(f"issues a credential of {p['association']!r}",
                                       association=a, seq=n)
            self._taken_credentials.add(credential_id)
            self.credentials.append((credential_id, entry.association, str(p["endorsement_id"]),
                                     _int(p["endorsement_version"]), entry.seq,
                                     str(p["document"])))
            return
        listed = self.lists.get(entry.aggregate_id)
        if listed is None:
            raise UnknownAggregate(f"{entry.event_type} for unknown status list "
                                   f"{entry.aggregate_id}", association=a, seq=n)
        if listed.association != entry.association:
            raise ForeignAggregate(f"changes a status list of {listed.association}",
                                   association=a, seq=n)
        if entry.event_type == INDEX_ASSIGNED:
            index = _int(p["index"])
            if not 0 <= index < listed.size or (entry.aggregate_id, index) in self._taken_indexes:
                raise DuplicateAggregate(f"index {index} of list {entry.aggregate_id} is taken "
                                         "or outside the list", association=a, seq=n)
            self._taken_indexes.add((entry.aggregate_id, index))
            self.indexes.append((entry.aggregate_id, index, entry.association,
                                 str(p["credential_id"]), str(p["endorsement_id"])))
            return
        version = _int(p["list_version"])
        if version != self._versions.get(entry.aggregate_id, 0) + 1:
            raise MalformedPayload(f"list version {version} does not follow "
                                   f"{self._versions.get(entry.aggregate_id, 0)}",
                                   association=a, seq=n)
        self._versions[entry.aggregate_id] = version
        self.versions.append(ListVersionRow(
            aggregate_id=entry.aggregate_id, list_version=version, association=entry.association,
            list_hash=str(p["list_hash"]), set_bits_count=_int(p["set_bits_count"]),
            seq=entry.seq, recorded_at=entry.recorded_at))


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value
