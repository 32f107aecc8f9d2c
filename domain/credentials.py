"""Status lists of portable credentials: which credential holds which bit, and every published
version of each list, as ledger events.

A W3C Bitstring Status List answers "is this credential revoked (or suspended) now?", but on
its own it cannot say what the answer was on a past date, and an issuer can show different
lists to different verifiers. Recording every published version's hash on the association's
ledger fixes both: the ledger is hash-chained, checkpointed and witnessed, so the version that
stood on any date is provable, and a list a node serves that its ledger does not record is
caught (a split view is a fork).

One `StatusList` aggregate per list (an association, a purpose, a list number). The node
draws each credential's index at random (herd privacy) and passes it in; the domain has no
randomness. Nothing here is private: an index only locates a bit in a public list, and the
credential ids and endorsement ids are public already.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any, ClassVar

from eventsourcing.domain import Aggregate

from domain.errors import InvalidCommand

# The Bitstring Status List recommendation's minimum: 16 KiB of bits, so one credential's
# bit hides among at least 131,072 others.
MIN_LIST_SIZE = 131_072
_HEX = frozenset("0123456789abcdef")
_STATUS_LIST_NAMESPACE = uuid.UUID("0c7e4f52-8a61-4d2e-b0f3-5e9a1c6d2b47")


class StatusPurpose(StrEnum):
    """What a set bit means (the recommendation's `statusPurpose` values we use)."""

    REVOCATION = "revocation"  # final: revoked, relinquished, transferred away
    SUSPENSION = "suspension"  # reversible: suspended, lapsed


def status_list_uuid(association: str, purpose: StatusPurpose, list_number: int) -> uuid.UUID:
    """Aggregate id of an association's list number `list_number` for `purpose`."""
    return uuid.uuid5(_STATUS_LIST_NAMESPACE, f"{association}/{purpose.value}/{list_number}")


class StatusList(Aggregate):
    """One status list of one association: its size, its assigned indexes, its versions."""

    TOPIC = "alliance:StatusList"

    class Event(Aggregate.Event):
        """Base of status list events; none has a private field."""

        TOPIC = "alliance:StatusList.Event"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()

    class Created(Aggregate.Created):
        """StatusListCreated: a new list of `size` bits, all clear, for `purpose`."""

        TOPIC = "alliance:StatusListCreated"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        association: str
        purpose: StatusPurpose
        list_number: int
        size: int

    def __init__(self, association: str, purpose: StatusPurpose, list_number: int,
                 size: int) -> None:
        self.association = association
        self.purpose = purpose
        self.list_number = list_number
        self.size = size
        self.assigned: dict[int, str] = {}  # index -> credential id
        self.credentials: dict[str, int] = {}  # credential id -> index
        self.endorsements: dict[int, str] = {}  # index -> endorsement id (whose status it is)
        self.published_version = 0
        self.published_hash = ""

    @classmethod
    def create(cls, *, association: str, purpose: StatusPurpose, list_number: int, size: int,
               now: dt.datetime) -> StatusList:
        """Start a list. Its size is fixed for life: an index names the same bit forever."""
        if not association.strip():
            raise InvalidCommand("a status list belongs to an association", field="association",
                                 rule="required")
        if isinstance(list_number, bool) or list_number < 1:
            raise InvalidCommand("list numbers start at 1", field="list_number",
                                 rule="status_list.number")
        if isinstance(size, bool) or size < MIN_LIST_SIZE or size % 8:
            raise InvalidCommand(f"a status list holds at least {MIN_LIST_SIZE} bits, a whole "
                                 "number of bytes", field="size", rule="status_list.size")
        return cls._create(cls.Created, id=status_list_uuid(association, purpose, list_number),
                           timestamp=now, association=association, purpose=purpose,
                           list_number=list_number, size=size)

    class IndexAssigned(Event):
        """CredentialIndexAssigned: bit `index` of this list is credential `credential_id`'s."""

        TOPIC = "alliance:CredentialIndexAssigned"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        endorsement_id: str
        credential_id: str
        index: int

        def apply(self, aggregate: Any) -> None:
            aggregate.assigned[self.index] = self.credential_id
            aggregate.credentials[self.credential_id] = self.index
            aggregate.endorsements[self.index] = self.endorsement_id

    def assign_index(self, *, endorsement_id: str, credential_id: str, index: int,
                     now: dt.datetime) -> None:
        """Give a credential its bit. Each index and each credential at most once per list:
        two credentials sharing a bit would change status together."""
        if not endorsement_id.strip() or not credential_id.strip():
            raise InvalidCommand("an index is assigned to a named credential of a named "
                                 "endorsement", field="credential_id", rule="required")
        if isinstance(index, bool) or not 0 <= index < self.size:
            raise InvalidCommand(f"index must be within 0..{self.size - 1}", field="index",
                                 rule="status_list.index_range")
        if index in self.assigned:
            raise InvalidCommand(f"index {index} is already assigned", field="index",
                                 rule="status_list.index_taken")
        if credential_id in self.credentials:
            raise InvalidCommand(f"credential {credential_id} already holds index "
                                 f"{self.credentials[credential_id]} in this list",
                                 field="credential_id", rule="status_list.credential_listed")
        self.trigger_event(self.IndexAssigned, timestamp=now, endorsement_id=endorsement_id,
                           credential_id=credential_id, index=index)

    def is_assigned(self, index: int) -> bool:
        """Whether bit `index` already belongs to a credential (the caller draws another)."""
        return index in self.assigned

    @property
    def free(self) -> int:
        """Bits not yet assigned; the node starts the next list well before this reaches 0,
        since random draws slow down and herd privacy thins as a list fills."""
        return self.size - len(self.assigned)

    class Published(Event):
        """StatusListPublished: version `list_version` of the list, whose bits hash to
        `list_hash`, with `set_bits_count` bits set, is what the node now serves."""

        TOPIC = "alliance:StatusListPublished"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        list_version: int
        list_hash: str
        set_bits_count: int

        def apply(self, aggregate: Any) -> None:
            aggregate.published_version = self.list_version
            aggregate.published_hash = self.list_hash

    def publish(self, *, list_version: int, list_hash: str, set_bits_count: int,
                now: dt.datetime) -> None:
        """Record a published version. Versions count 1, 2, 3 ... without gaps, so a verifier
        shown version N knows N-1 versions came before it and can ask the ledger for each."""
        if isinstance(list_version, bool) or list_version != self.published_version + 1:
            raise InvalidCommand(f"the next version of this list is "
                                 f"{self.published_version + 1}", field="list_version",
                                 rule="status_list.version_sequence")
        if len(list_hash) != 64 or not set(list_hash) <= _HEX:
            raise InvalidCommand("list_hash must be a lowercase hex SHA-256", field="list_hash",
                                 rule="status_list.hash")
        # A bit is set only for a credential's status: a set bit nobody holds would be noise
        # that no verifier can tell from a real status.
        if isinstance(set_bits_count, bool) or not 0 <= set_bits_count <= len(self.assigned):
            raise InvalidCommand(f"set_bits_count must be within 0..{len(self.assigned)} (the "
                                 "assigned indexes)", field="set_bits_count",
                                 rule="status_list.set_bits")
        self.trigger_event(self.Published, timestamp=now, list_version=list_version,
                           list_hash=list_hash, set_bits_count=set_bits_count)


def credential_uuid(credential_id: str) -> uuid.UUID:
    """Aggregate id of the issued credential `credential_id`."""
    return uuid.uuid5(_STATUS_LIST_NAMESPACE, f"credential/{credential_id}")


class IssuedCredential(Aggregate):
    """One signed credential, as issued: its bytes are on the ledger, so every node serves the
    same download, and a replay or a retry can never issue a second one for the same event.

    Its id derives from the endorsement event it was issued for (see the node's issuer), so a
    second issue for one event collides with the first in the event store.
    """

    TOPIC = "alliance:IssuedCredential"

    class Event(Aggregate.Event):
        """Base of issued-credential events (only its creation, so far)."""

        TOPIC = "alliance:IssuedCredential.Event"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()

    class Created(Aggregate.Created):
        """CredentialIssued: `document` (the signed credential, JSON) was issued for version
        `endorsement_version` of endorsement `endorsement_id`. Every field is public: the
        credential states only public registry fields."""

        TOPIC = "alliance:CredentialIssued"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        association: str
        endorsement_id: str
        endorsement_version: int
        credential_id: str
        document: str

    def __init__(self, association: str, endorsement_id: str, endorsement_version: int,
                 credential_id: str, document: str) -> None:
        self.association = association
        self.endorsement_id = endorsement_id
        self.endorsement_version = endorsement_version
        self.credential_id = credential_id
        self.document = document

    @classmethod
    def issue(cls, *, association: str, endorsement_id: str, endorsement_version: int,
              credential_id: str, document: str, now: dt.datetime) -> IssuedCredential:
        """Record a signed credential (built and signed by the caller, who has the key)."""
        if not endorsement_id.strip() or not credential_id.strip() or not document.strip():
            raise InvalidCommand("a credential names its endorsement, its id and its document",
                                 field="credential_id", rule="required")
        if isinstance(endorsement_version, bool) or endorsement_version < 1:
            raise InvalidCommand("endorsement versions start at 1", field="endorsement_version",
                                 rule="credential.version")
        return cls._create(cls.Created, id=credential_uuid(credential_id), timestamp=now,
                           association=association, endorsement_id=endorsement_id,
                           endorsement_version=endorsement_version,
                           credential_id=credential_id, document=document)
