"""The association's command service: load aggregates, apply domain rules, store, seal.

A command returns only after its events are stored AND sealed into signed ledger entries
(DESIGN invariant 2). If the process dies between the two, the writer seals the stored events
on the next start; an unacknowledged command may thus still land, but an acknowledged one is
never lost.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import msgspec
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain.application import Application as EndorsementApplication
from domain.endorsement import Endorsement, endorsement_uuid
from domain.errors import InvalidTransition
from domain.evidence import ApplicationEvidence, RenewalEvidence
from domain.levels import Designation, EndorsementStatus, Level, ReviewDecision
from domain.lookup import EndorsementLookup, HeldEndorsement
from domain.policy import AssociationPolicy
from domain.unmet import Unmet
from ledger.codec import EventMapper
from ledger.errors import ConcurrencyConflict, NotFound
from ledger.writer import LedgerWriter

_A = TypeVar("_A", EndorsementApplication, Endorsement)


class ReplicaRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An endorsement as the node's replica shows it, with the hash of its latest entry."""

    held: HeldEndorsement
    family_name: str
    given_name: str
    valid_through: dt.date
    entry_hash: bytes


class ReplicaView(Protocol):
    """What reciprocity needs to know of another association's ledger."""

    def current_endorsement(self, endorsement_id: str, on: dt.date) -> ReplicaRecord | None:
        """The endorsement if it is current (active, within valid-through) on `on`."""
        ...


class EventStore(Application[uuid.UUID]):
    """The eventsourcing application that stores this association's private domain events."""

    name = "alliance"

    def construct_mapper(self) -> EventMapper:
        """Our msgspec mapper instead of eventsourcing's JSON transcoder."""
        return EventMapper()


class AssociationService:
    """Every command of one association's endorsement workflow."""

    def __init__(self, *, association: str, events: EventStore, writer: LedgerWriter,
                 lookup: EndorsementLookup, policy: AssociationPolicy,
                 on_committed: Callable[[], object] = lambda: None) -> None:
        self.association = association
        self.events = events
        self.writer = writer
        self.lookup = lookup
        self.policy = policy
        self._on_committed = on_committed

    # -- applications ----------------------------------------------------------------------

    def start_application(self, *, application_id: uuid.UUID, person_id: str, family_name: str,
                          given_name: str, level: Level, designation: Designation | None,
                          started_on: dt.date, now: dt.datetime) -> EndorsementApplication:
        """Open an application (the id comes from the caller, so a retry cannot open two)."""
        application = EndorsementApplication.start(
            application_id=application_id, association=self.association, person_id=person_id,
            family_name=family_name, given_name=given_name, level=level,
            designation=designation, started_on=started_on, now=now)
        self._commit(application)
        return application

    def submit_evidence(self, application_id: uuid.UUID, evidence: ApplicationEvidence, *,
                        submitted_on: dt.date, now: dt.datetime,
                        expected_version: int | None = None) -> EndorsementApplication:
        """Replace an application's evidence and record what remains unmet."""
        application = self._get(EndorsementApplication, application_id, expected_version)
        application.submit_evidence(evidence, self.lookup, submitted_on=submitted_on, now=now)
        self._commit(application)
        return application

    def vet_rater(self, application_id: uuid.UUID, rater_id: str, *, vetted_by: str,
                  vetted_on: dt.date, note: str, now: dt.datetime,
                  expected_version: int | None = None) -> EndorsementApplication:
        """Record the coordinator's vetting of a rater who is not endorsed."""
        application = self._get(EndorsementApplication, application_id, expected_version)
        application.vet_rater(rater_id, self.lookup, vetted_by=vetted_by, vetted_on=vetted_on,
                              note=note, now=now)
        self._commit(application)
        return application

    def review(self, application_id: uuid.UUID, decision: ReviewDecision, *, reviewer: str,
               reason: str, decided_on: dt.date, now: dt.datetime,
               expected_version: int | None = None) -> EndorsementApplication:
        """Record a reviewer's decision."""
        application = self._get(EndorsementApplication, application_id, expected_version)
        application.review(decision, reviewer=reviewer, reason=reason, decided_on=decided_on,
                           now=now)
        self._commit(application)
        return application

    def withdraw(self, application_id: uuid.UUID, *, withdrawn_on: dt.date, reason: str,
                 now: dt.datetime, expected_version: int | None = None) -> EndorsementApplication:
        """Close an application at the applicant's request."""
        application = self._get(EndorsementApplication, application_id, expected_version)
        application.withdraw(withdrawn_on=withdrawn_on, reason=reason, now=now)
        self._commit(application)
        return application

    def grant(self, application_id: uuid.UUID, *, endorsement_id: str, granted_on: dt.date,
              now: dt.datetime, expected_version: int | None = None) -> Endorsement:
        """Turn an approved application into an endorsement; both change in one transaction."""
        application = self._get(EndorsementApplication, application_id, expected_version)
        application.mark_granted(endorsement_id, granted_on=granted_on, now=now)
        endorsement = Endorsement.grant(
            endorsement_id=endorsement_id, association=self.association,
            person_id=application.person_id, family_name=application.family_name,
            given_name=application.given_name, level=application.level,
            designation=application.designation, granted_on=granted_on,
            application_id=str(application.id), policy=self.policy, now=now)
        self._commit(application, endorsement)
        return endorsement

    def record_existing(self, *, endorsement_id: str, person_id: str, family_name: str,
                        given_name: str, level: Level, designation: Designation | None,
                        granted_on: dt.date, valid_through: dt.date, legacy_reference: str,
                        now: dt.datetime) -> Endorsement:
        """Import an endorsement granted before the ledger existed."""
        endorsement = Endorsement.record_existing(
            endorsement_id=endorsement_id, association=self.association, person_id=person_id,
            family_name=family_name, given_name=given_name, level=level,
            designation=designation, granted_on=granted_on, valid_through=valid_through,
            legacy_reference=legacy_reference, now=now)
        self._commit(endorsement)
        return endorsement

    # -- endorsements ----------------------------------------------------------------------

    def renew(self, endorsement_id: str, evidence: RenewalEvidence, *, renewed_on: dt.date,
              now: dt.datetime, expected_version: int | None = None) -> Endorsement:
        """Renew for the next cycle."""
        return self._on_endorsement(endorsement_id, expected_version, lambda e: e.renew(
            evidence, renewed_on=renewed_on, policy=self.policy, now=now))

    def lapse(self, endorsement_id: str, *, on: dt.date, now: dt.datetime,
              expected_version: int | None = None) -> Endorsement:
        """Record a lapse once the grace period has ended."""
        return self._on_endorsement(endorsement_id, expected_version, lambda e: e.lapse(
            on=on, policy=self.policy, now=now))

    def reinstate(self, endorsement_id: str, *, reinstated_on: dt.date, reason: str,
                  evidence: RenewalEvidence, by_committee: bool, now: dt.datetime,
                  expected_version: int | None = None) -> Endorsement:
        """Reinstate after a lapse (per policy) or lift a suspension (committee)."""
        return self._on_endorsement(endorsement_id, expected_version, lambda e: e.reinstate(
            reinstated_on=reinstated_on, reason=reason, evidence=evidence,
            by_committee=by_committee, policy=self.policy, now=now))

    def suspend(self, endorsement_id: str, *, effective_on: dt.date, reason: str,
                now: dt.datetime, expected_version: int | None = None) -> Endorsement:
        """Committee: suspend."""
        return self._on_endorsement(endorsement_id, expected_version, lambda e: e.suspend(
            effective_on=effective_on, reason=reason, now=now))

    def revoke(self, endorsement_id: str, *, effective_on: dt.date, reason: str,
               now: dt.datetime, expected_version: int | None = None) -> Endorsement:
        """Committee: revoke."""
        return self._on_endorsement(endorsement_id, expected_version, lambda e: e.revoke(
            effective_on=effective_on, reason=reason, now=now))

    def relinquish(self, endorsement_id: str, *, effective_on: dt.date, reason: str,
                   now: dt.datetime, expected_version: int | None = None) -> Endorsement:
        """The professional relinquishes."""
        return self._on_endorsement(endorsement_id, expected_version, lambda e: e.relinquish(
            effective_on=effective_on, reason=reason, now=now))

    def correct(self, endorsement_id: str, *, corrects_version: int, reason: str,
                family_name: str | None, given_name: str | None,
                valid_through: dt.date | None, now: dt.datetime,
                expected_version: int | None = None) -> Endorsement:
        """Correct a mistaken value by a correction event."""
        return self._on_endorsement(endorsement_id, expected_version, lambda e: e.correct(
            corrects_version=corrects_version, reason=reason, family_name=family_name,
            given_name=given_name, valid_through=valid_through, now=now))

    # -- reciprocity ------------------------------------------------------------------------

    def recognize(self, origin_endorsement_id: str, *, endorsement_id: str,
                  recognized_on: dt.date, now: dt.datetime, replica: ReplicaView) -> Endorsement:
        """Become the home of an endorsement that the replica shows current elsewhere."""
        found = replica.current_endorsement(origin_endorsement_id, recognized_on)
        if found is None:
            raise InvalidTransition("the replica shows no current endorsement with that id; "
                                    "it may be unknown, lapsed, suspended or not yet replicated",
                                    field="origin_endorsement_id",
                                    rule="reciprocity.not_current")
        held = [h for h in self.lookup.held_on(found.held.person_id, recognized_on)
                if h.endorsement_id != origin_endorsement_id]
        if held:
            raise InvalidTransition(f"the professional already holds {held[0].endorsement_id} "
                                    f"at {held[0].association}", field="origin_endorsement_id",
                                    rule="reciprocity.one_home")
        endorsement = Endorsement.recognize(
            endorsement_id=endorsement_id, association=self.association, origin=found.held,
            family_name=found.family_name, given_name=found.given_name,
            valid_through=found.valid_through, origin_entry_hash=found.entry_hash.hex(),
            recognized_on=recognized_on, now=now)
        self._commit(endorsement)
        return endorsement

    def transfer_out(self, endorsement_id: str, *, to_association: str, to_endorsement_id: str,
                     recognition_entry_hash: str, effective_on: dt.date,
                     now: dt.datetime) -> Endorsement | None:
        """Record the move of one of ours to another home; None if already recorded."""
        endorsement = self.endorsement(endorsement_id)
        if endorsement.status is EndorsementStatus.TRANSFERRED:
            return None
        endorsement.transfer_out(to_association=to_association,
                                 to_endorsement_id=to_endorsement_id,
                                 recognition_entry_hash=recognition_entry_hash,
                                 effective_on=effective_on, now=now)
        self._commit(endorsement)
        return endorsement

    # -- reads of the private store --------------------------------------------------------

    def application(self, application_id: uuid.UUID) -> EndorsementApplication:
        """The application aggregate (private evidence included: staff only)."""
        return self._get(EndorsementApplication, application_id, None)

    def endorsement(self, endorsement_id: str) -> Endorsement:
        """The endorsement aggregate."""
        return self._get(Endorsement, endorsement_uuid(endorsement_id), None)

    def unmet(self, application_id: uuid.UUID) -> tuple[Unmet, ...]:
        """What the application still lacks, as last evaluated."""
        return self.application(application_id).unmet

    # -- plumbing --------------------------------------------------------------------------

    def _on_endorsement(self, endorsement_id: str, expected_version: int | None,
                        change: Callable[[Endorsement], Any]) -> Endorsement:
        endorsement = self._get(Endorsement, endorsement_uuid(endorsement_id), expected_version)
        change(endorsement)
        self._commit(endorsement)
        return endorsement

    def _get(self, kind: type[_A], aggregate_id: uuid.UUID, expected_version: int | None) -> _A:
        try:
            aggregate: object = self.events.repository.get(aggregate_id)
        except AggregateNotFoundError as e:
            raise NotFound(f"no {kind.__name__.lower()} {aggregate_id}") from e
        if not isinstance(aggregate, kind):
            raise NotFound(f"no {kind.__name__.lower()} {aggregate_id}")
        if expected_version is not None and aggregate.version != expected_version:
            raise ConcurrencyConflict(f"{kind.__name__.lower()} is at version "
                                      f"{aggregate.version}, not {expected_version}")
        return aggregate

    def _commit(self, *aggregates: EndorsementApplication | Endorsement) -> None:
        self.writer.gate.check()  # a ledger that lost entries stores no event it cannot seal
        try:
            recordings = self.events.save(*aggregates)
        except IntegrityError as e:
            raise ConcurrencyConflict("another command changed this record first; reload and "
                                      "retry") from e
        self.writer.seal_recorded(recordings)
        self._on_committed()
