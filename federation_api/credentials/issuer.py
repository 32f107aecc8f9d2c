"""Issuing credentials in the transaction of the command that earns them.

`AssociationService` asks the issuer, just before it saves a command's aggregates, for the
aggregates to save with them (`companions`): for each grant, renewal, reinstatement or
recognition among the pending events, an `IssuedCredential` holding the signed
OpenBadgeCredential, and the status lists with the credential's random indexes. All of them
are saved in the command's one event-store transaction and sealed together, so a crash
leaves either the endorsement event with its credential or neither: never an endorsement
without its credential, never two credentials for one event (the credential's id derives
from the event, so a second one would collide with the first in the event store).

The status lists are held in memory between commands (loading one replays its events), under
`lock`, which the service holds from `companions` until the save is sealed, and which the
status list publisher holds while it records a version: the node is the single writer of its
lists. When a save fails, `rollback` forgets the lists (the next command reloads them).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from domain.credentials import (
    MIN_LIST_SIZE,
    IssuedCredential,
    StatusList,
    StatusPurpose,
    status_list_uuid,
)
from domain.endorsement import Endorsement
from federation_api.credentials.identity import IssuerIdentity
from ledger.codec import encode_json
from ledger.credentials.open_badges import EndorsementAward, build_credential, issue_credential
from ledger.credentials.status_list import StatusBits, status_entry
from ledger.signing import Signer
from ledger.storage.event_store import PrivateEventStore

_NAMESPACE = uuid.UUID("5b0f7a3e-2c41-4f8e-9d6a-1e3b7c9a4f20")
# A list takes new indexes until this share of it is assigned, then the next list starts:
# random draws stay cheap (at most 4 expected tries) and every bit keeps a large herd.
FILL_LIMIT = 0.75


def credential_id_for(association: str, endorsement_id: str, version: int) -> str:
    """The id of the credential issued for version `version` of an endorsement."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{association}/{endorsement_id}/{version}')}"


def _valid_from(event: Any) -> dt.date:
    for name in ("renewed_on", "reinstated_on", "recognized_on", "granted_on"):
        value = getattr(event, name, None)
        if isinstance(value, dt.date):
            return value
    raise ValueError(f"{type(event).__name__} has no effective date")


ISSUING_EVENTS = (Endorsement.Granted, Endorsement.Recognized, Endorsement.Renewed,
                  Endorsement.Reinstated)


class CredentialIssuer:
    """The node's issuer: credentials and status list indexes for the commands that earn them."""

    def __init__(self, *, identity: IssuerIdentity, signer: Signer, events: PrivateEventStore,
                 list_size: int = MIN_LIST_SIZE, fill_limit: float = FILL_LIMIT,
                 draw: Callable[[int], int] = secrets.randbelow) -> None:
        self.identity = identity
        self.signer = signer
        self.events = events
        self.list_size = list_size
        self.fill_limit = fill_limit
        self._draw = draw
        self.lock = threading.RLock()
        self._open: dict[StatusPurpose, StatusList] | None = None
        self._all: dict[uuid.UUID, StatusList] = {}

    # -- the service's hook ------------------------------------------------------------------

    def companions(self, aggregates: Sequence[Aggregate]) -> list[Aggregate]:
        """The credentials and status lists to save with `aggregates` (the caller holds
        `lock` until they are saved and sealed)."""
        issued: list[Aggregate] = []
        touched: dict[uuid.UUID, StatusList] = {}
        for aggregate in aggregates:
            if not isinstance(aggregate, Endorsement):
                continue
            for event in aggregate.pending_events:
                if isinstance(event, ISSUING_EVENTS):
                    credential = self._issue(aggregate, event, touched)
                    if credential is not None:
                        issued.append(credential)
        return [*issued, *touched.values()]

    def holding(self) -> contextlib.AbstractContextManager[object]:
        """The lock the service holds while it saves what `companions` gave it."""
        return self.lock

    def rollback(self) -> None:
        """The save failed: forget the lists in memory (they may hold unsaved changes)."""
        with self.lock:
            self._open = None
            self._all = {}

    # -- status lists ----------------------------------------------------------------------

    def list_of(self, purpose: StatusPurpose, list_number: int) -> StatusList | None:
        """One of the association's lists, as stored (held in memory once loaded)."""
        with self.lock:
            key = status_list_uuid(self.identity.association, purpose, list_number)
            if key not in self._all:
                try:
                    found: object = self.events.repository.get(key)
                except AggregateNotFoundError:
                    return None
                if not isinstance(found, StatusList):
                    return None
                self._all[key] = found
            return self._all[key]

    def _current(self, purpose: StatusPurpose, now: dt.datetime,
                 touched: dict[uuid.UUID, StatusList]) -> StatusList:
        if self._open is None:
            self._open = {}
        current = self._open.get(purpose)
        if current is None:  # the highest-numbered list, if there is one
            number, current = 1, self.list_of(purpose, 1)
            while current is not None and (following := self.list_of(purpose,
                                                                      number + 1)) is not None:
                number, current = number + 1, following
        if current is None or current.size - current.free >= current.size * self.fill_limit:
            number = 1 if current is None else current.list_number + 1
            current = StatusList.create(association=self.identity.association, purpose=purpose,
                                        list_number=number, size=self.list_size, now=now)
            # Version 1 (every bit clear) is recorded with the list, in the transaction of the
            # credential that opens it: the list has a recorded version from that moment on.
            self.record_version(current, StatusBits.empty(current.size), now)
            self._all[current.id] = current
        self._open[purpose] = current
        touched[current.id] = current
        return current

    def _draw_index(self, status_list: StatusList) -> int:
        while True:
            index = self._draw(status_list.size)
            if not status_list.is_assigned(index):
                return index

    # -- one credential --------------------------------------------------------------------

    def _issue(self, endorsement: Endorsement, event: Any,
               touched: dict[uuid.UUID, StatusList]) -> IssuedCredential | None:
        """The credential for `event`; None if one was issued for it already (the event
        itself is stored already, and the save will refuse it as a conflict)."""
        now: dt.datetime = event.timestamp
        version = int(event.originator_version)
        credential_id = credential_id_for(self.identity.association,
                                          endorsement.endorsement_id, version)
        lists = {purpose: self._current(purpose, now, touched) for purpose in StatusPurpose}
        if any(credential_id in status_list.credentials for status_list in lists.values()):
            return None
        entries = []
        for purpose, status_list in lists.items():
            index = self._draw_index(status_list)
            status_list.assign_index(endorsement_id=endorsement.endorsement_id,
                                     credential_id=credential_id, index=index, now=now)
            entries.append(status_entry(self.identity.list_url(purpose, status_list.list_number),
                                        purpose, index))
        award = EndorsementAward(
            endorsement_id=endorsement.endorsement_id, family_name=endorsement.family_name,
            given_name=endorsement.given_name, level=endorsement.level,
            designation=endorsement.designation, awarded_on=endorsement.granted_on,
            valid_from=_valid_from(event), valid_through=endorsement.valid_through)
        unsigned = build_credential(credential_id=credential_id, issuer=self.identity.profile,
                                    award=award,
                                    achievement_base_url=self.identity.achievement_base,
                                    status_entries=entries)
        signed = issue_credential(unsigned, self.signer, self.identity.method(self.signer.key_id),
                                  now)
        return IssuedCredential.issue(
            association=self.identity.association, endorsement_id=endorsement.endorsement_id,
            endorsement_version=version, credential_id=credential_id,
            document=encode_json(signed).decode(), now=now)

    def record_version(self, status_list: StatusList, bits: StatusBits,
                       now: dt.datetime) -> int:
        """Give the list's next version `bits` (the caller saves `status_list` under `lock`);
        returns the version number."""
        version = status_list.published_version + 1
        status_list.publish(list_version=version, list_hash=bits.list_hash,
                            set_bits_count=bits.set_count, now=now)
        return version
