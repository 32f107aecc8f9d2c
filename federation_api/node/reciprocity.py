"""Reciprocity on a node: the projected replica the service recognises endorsements from
(`ProjectedReplica`, a `ledger.service.RecognitionSource`), and the reactor that records the
transfer out when another association recognises one of ours (`TransferReactor`)."""

from __future__ import annotations

import datetime as dt
import logging

from domain.errors import DomainError
from domain.lookup import HeldEndorsement
from ledger.chain.entries import entry_hash
from ledger.chain.store import LedgerStore
from ledger.codec import decode_body, decode_payload, decode_signed
from ledger.errors import NotFound
from ledger.service import AssociationService, ReplicaRecord
from projections.projector import Projector
from projections.standing import Standing

RECOGNIZED = "EndorsementRecognized"
log = logging.getLogger("alliance.reciprocity")


class ProjectedReplica:
    """Answers 'is endorsement X current on D, and what is its latest entry' from projections."""

    def __init__(self, projector: Projector, ledger: LedgerStore) -> None:
        self.projector = projector
        self.ledger = ledger

    def current_endorsement(self, endorsement_id: str, on: dt.date) -> ReplicaRecord | None:
        """The endorsement if its standing on `on` is current."""
        answer = self.projector.status_as_of(endorsement_id, on)
        row = self.projector.endorsement(endorsement_id)
        if answer is None or row is None or answer.standing is not Standing.CURRENT:
            return None
        entry_hash = self.ledger.entry_hash(row.association, row.last_seq)
        if entry_hash is None:
            return None
        return ReplicaRecord(
            held=HeldEndorsement(person_id=row.person_id, endorsement_id=row.endorsement_id,
                                 association=row.association, level=row.level,
                                 designation=row.designation, granted_on=row.granted_on,
                                 masters_prepared_since=self.projector.masters_prepared_since(
                                     row.endorsement_id)),
            family_name=row.family_name, given_name=row.given_name,
            valid_through=answer.valid_through, entry_hash=entry_hash)


class TransferReactor:
    """When a peer recognises one of our endorsements, record the transfer out (once).

    Follows each peer ledger from a tracked position; `transfer_out` is idempotent, so a
    crash between the reaction and the position update only repeats a harmless no-op.
    """

    def __init__(self, own: str, ledger: LedgerStore, service: AssociationService) -> None:
        self.own = own
        self.ledger = ledger
        self.service = service

    def react(self, now: dt.datetime) -> int:
        """Process new peer entries; return how many transfers were recorded."""
        recorded = 0
        for association in self.ledger.associations():
            if association == self.own:
                continue
            follower = f"reactor:{association}"
            position = self.ledger.position(follower)
            last = position
            for wire in self.ledger.wires(association, position + 1):
                signed = decode_signed(wire)
                body = decode_body(signed.body)
                last = body.seq
                if body.event_type != RECOGNIZED:
                    continue
                payload = decode_payload(body)
                if payload.get("origin_association") != self.own:
                    continue
                try:
                    done = self.service.transfer_out(
                        str(payload["origin_endorsement_id"]), to_association=association,
                        to_endorsement_id=str(payload["endorsement_id"]),
                        recognition_entry_hash=entry_hash(signed.body).hex(),
                        effective_on=dt.date.fromisoformat(str(payload["recognized_on"])),
                        now=now)
                except (NotFound, DomainError, ValueError) as e:
                    # Not ours to move (unknown id, or revoked): the recognition stands on
                    # the peer's ledger; ours records nothing.
                    log.warning("recognition not applied", extra={
                        "peer": association, "seq": body.seq, "error": str(e)})
                    continue
                recorded += done is not None
            if last != position:
                self.ledger.set_position(follower, last)
        return recorded
