"""The association's command service: load aggregates, apply domain rules, store, seal.

A command returns only after its events are stored AND sealed into signed ledger entries
(DESIGN invariant 2). If the process dies between the two, the writer seals the stored events
on the next start; an unacknowledged command may thus still land, but an acknowledged one is
never lost.

So that a retry of such a command can tell whether it landed, a caller may ask (`announcing`)
to be told, before the events are saved, exactly which events a command is about to store:
(aggregate id, version, digest of the stored bytes). `landed` later checks the event store
for exactly those events; a version taken by any other command has another digest.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import hashlib
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

import msgspec
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from domain.application import Application as EndorsementApplication
from domain.duplicates import PossibleDuplicate, possible_duplicates
from domain.endorsement import Endorsement, endorsement_uuid
from domain.errors import InvalidTransition
from domain.evidence import ApplicationEvidence, RenewalEvidence
from domain.levels import Designation, EndorsementStatus, Level, ReviewDecision
from domain.lookup import HeldEndorsement, NameMatch, PersonLookup
from domain.policy import AssociationPolicy
from domain.progress import Progress, of_application
from domain.standing import NewEndorsement, replaced_by_new_endorsement
from domain.unmet import Unmet
from ledger.chain.writer import LedgerWriter
from ledger.errors import ConcurrencyConflict, NotFound
from ledger.storage.event_store import PrivateEventStore

_A = TypeVar("_A", EndorsementApplication, Endorsement)


class StoredMark(msgspec.Struct, frozen=True, kw_only=True):
    """One event a command is about to store: where, and the SHA-256 of its stored bytes."""

    aggregate_id: uuid.UUID
    version: int
    digest: str


Announce = Callable[[tuple[StoredMark, ...]], None]
_announce: contextvars.ContextVar[Announce | None] = contextvars.ContextVar(
    "alliance_announce", default=None)


class ReplicaRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An endorsement as the node's replica shows it, with the hash of its latest entry."""

    held: HeldEndorsement
    family_name: str
    given_name: str
    valid_through: dt.date
    entry_hash: bytes


class RecognitionSource(Protocol):
    """Where reciprocity looks up an endorsement held elsewhere (the node's verified replica
    of the other associations' ledgers, projected)."""

    def current_endorsement(self, endorsement_id: str, on: dt.date) -> ReplicaRecord | None:
        """The endorsement if it is current (active, within valid-through) on `on`."""
        ...


class AssociationService:
    """Every command of one association's endorsement workflow."""

    def __init__(self, *, association: str, events: PrivateEventStore,
                 writer: LedgerWriter, lookup: PersonLookup, policy: AssociationPolicy,
                 on_committed: Callable[[], object] = lambda: None) -> None:
        self.association = association
        self.events = events
        self.writer = writer
        self.lookup = lookup
        self.policy = policy
        self._on_committed = on_committed
        # A new endorsement's standing check, save and projection run one at a time, so two
        # grants for one person cannot both pass the check before either is projected.
        self._new_endorsements = threading.Lock()

    # -- applications ----------------------------------------------------------------------

    def start_application(self, *, application_id: uuid.UUID, person_id: str, family_name: str,
                          given_name: str, level: Level, designation: Designation | None,
                          started_on: dt.date, now: dt.datetime,
                          birth_date: dt.date | None = None) -> EndorsementApplication:
        """Open an application (the id comes from the caller, so a retry cannot open two)."""
        application = EndorsementApplication.start(
            application_id=application_id, association=self.association, person_id=person_id,
            family_name=family_name, given_name=given_name, level=level,
            designation=designation, started_on=started_on, now=now, birth_date=birth_date)
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

    # -- the two-reviewer workflow and the exam (issue 11) ----------------------------------
    # Account ids (reviewer, assigned_by, settled_by, returned_by, recorded_by) are the staff
    # accounts that act: opaque references, recorded on the ledger; names never are.

    def submit_application(self, *, application_id: uuid.UUID, person_id: str,
                           family_name: str, given_name: str, level: Level,
                           designation: Designation | None, evidence: ApplicationEvidence,
                           submitted_on: dt.date, now: dt.datetime,
                           birth_date: dt.date | None = None) -> EndorsementApplication:
        """Submit a draft (kept in the private store until now) as one command: the
        application and its evidence in one transaction, so no half-typed application is
        ever on the ledger. The id comes from the caller, so a retry cannot submit two."""
        application = EndorsementApplication.submit(
            application_id=application_id, association=self.association, person_id=person_id,
            family_name=family_name, given_name=given_name, level=level,
            designation=designation, evidence=evidence, lookup=self.lookup,
            submitted_on=submitted_on, now=now, birth_date=birth_date)
        self._commit(application)
        return application

    def assign_reviewers(self, application_id: uuid.UUID, reviewers: Sequence[str], *,
                         assigned_by: str, assigned_on: dt.date, now: dt.datetime,
                         expected_version: int | None = None) -> EndorsementApplication:
        """The coordinator assigns reviewers (two; or one in a conflicted reviewer's place)."""
        return self._on_application(application_id, expected_version, lambda a: a.assign_reviewers(
            tuple(reviewers), assigned_by=assigned_by, assigned_on=assigned_on, now=now))

    def declare_conflict(self, application_id: uuid.UUID, *, reviewer: str,
                         declared_on: dt.date, note: str, now: dt.datetime,
                         expected_version: int | None = None) -> EndorsementApplication:
        """An assigned reviewer declares a conflict of interest (the note stays private)."""
        return self._on_application(application_id, expected_version, lambda a: a.declare_conflict(
            reviewer=reviewer, declared_on=declared_on, note=note, now=now))

    def decide(self, application_id: uuid.UUID, decision: ReviewDecision, *, reviewer: str,
               comments: str, decided_on: dt.date, now: dt.datetime,
               expected_version: int | None = None) -> EndorsementApplication:
        """An assigned reviewer's decision with comments (private); the second decision
        concludes the review in the same transaction, unless the two are split."""
        return self._on_application(application_id, expected_version, lambda a: a.decide(
            decision, reviewer=reviewer, comments=comments, decided_on=decided_on, now=now))

    def settle_split(self, application_id: uuid.UUID, decision: ReviewDecision, *,
                     settled_by: str, comments: str, decided_on: dt.date, now: dt.datetime,
                     expected_version: int | None = None) -> EndorsementApplication:
        """The coordinator decides where one reviewer approved and the other denied."""
        return self._on_application(application_id, expected_version, lambda a: a.settle_split(
            decision, settled_by=settled_by, comments=comments, decided_on=decided_on, now=now))

    def return_with_comments(self, application_id: uuid.UUID, *, returned_by: str,
                             comments: str, returned_on: dt.date, now: dt.datetime,
                             expected_version: int | None = None) -> EndorsementApplication:
        """The coordinator returns a submitted or in-review application with comments."""
        return self._on_application(application_id, expected_version,
                                    lambda a: a.return_with_comments(
                                        returned_by=returned_by, comments=comments,
                                        returned_on=returned_on, now=now))

    def resubmit(self, application_id: uuid.UUID, evidence: ApplicationEvidence | None, *,
                 response: str, resubmitted_on: dt.date, now: dt.datetime,
                 expected_version: int | None = None) -> EndorsementApplication:
        """Answer a return: the response (private) and the changed evidence (None: as it
        is); the application goes back to its reviewers for a new round."""
        return self._on_application(application_id, expected_version, lambda a: a.resubmit(
            evidence, self.lookup, response=response, resubmitted_on=resubmitted_on, now=now))

    def record_exam_sitting(self, application_id: uuid.UUID, *, sat_on: dt.date, score: float,
                            recorded_by: str, now: dt.datetime,
                            expected_version: int | None = None) -> EndorsementApplication:
        """Record a sitting of the written exam under this association's exam policy."""
        return self._on_application(application_id, expected_version,
                                    lambda a: a.record_exam_sitting(
                                        sat_on=sat_on, score=score, recorded_by=recorded_by,
                                        policy=self.policy, lookup=self.lookup, now=now))

    def progress(self, application_id: uuid.UUID) -> Progress:
        """Where the application stands, in the staff pages' words, with its checklist."""
        return of_application(self.application(application_id))

    def _on_application(self, application_id: uuid.UUID, expected_version: int | None,
                        change: Callable[[EndorsementApplication], Any]
                        ) -> EndorsementApplication:
        application = self._get(EndorsementApplication, application_id, expected_version)
        change(application)
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
              now: dt.datetime, expected_version: int | None = None,
              by_committee: bool = False) -> Endorsement:
        """Turn an approved application into an endorsement; both change in one transaction,
        with the applicant's lower-level endorsement here, which the new one replaces."""
        application = self._get(EndorsementApplication, application_id, expected_version)
        application.mark_granted(endorsement_id, granted_on=granted_on, now=now)
        endorsement = Endorsement.grant(
            endorsement_id=endorsement_id, association=self.association,
            person_id=application.person_id, family_name=application.family_name,
            given_name=application.given_name, level=application.level,
            designation=application.designation, granted_on=granted_on,
            application_id=str(application.id), policy=self.policy, now=now,
            applied_on=application.started_on, masters_prepared=application.masters_prepared)
        with self._new_endorsements:
            replaced = self._replaced(endorsement, NewEndorsement.GRANT, now,
                                      by_committee=by_committee)
            self._commit(application, endorsement, *replaced)
        return endorsement

    def record_existing(self, *, endorsement_id: str, person_id: str, family_name: str,
                        given_name: str, level: Level, designation: Designation | None,
                        granted_on: dt.date, valid_through: dt.date, legacy_reference: str,
                        now: dt.datetime, masters_prepared: bool = False) -> Endorsement:
        """Import an endorsement granted before the ledger existed."""
        endorsement = Endorsement.record_existing(
            endorsement_id=endorsement_id, association=self.association, person_id=person_id,
            family_name=family_name, given_name=given_name, level=level,
            designation=designation, granted_on=granted_on, valid_through=valid_through,
            legacy_reference=legacy_reference, now=now, masters_prepared=masters_prepared)
        with self._new_endorsements:
            replaced = self._replaced(endorsement, NewEndorsement.IMPORT, now)
            self._commit(endorsement, *replaced)
        return endorsement

    def _replaced(self, new: Endorsement, how: NewEndorsement, now: dt.datetime, *,
                  by_committee: bool = False, exclude: str = "") -> list[Endorsement]:
        """The endorsements of the same person that `new` replaces, superseded in memory;
        InvalidTransition if the person may not be given `new` (DESIGN invariant 9).

        Statuses are read as recorded today (a backdated grant must still see a suspension
        recorded since); the policy's waiting periods count from the new grant date.
        """
        on = max(new.granted_on, now.date())
        recorded = [r for r in self.lookup.recorded_for(new.person_id, on)
                    if r.endorsement_id not in (new.endorsement_id, exclude)]
        lower = replaced_by_new_endorsement(
            association=self.association, level=new.level, recorded=recorded,
            policy=self.policy, on=new.granted_on, how=how, by_committee=by_committee)
        replaced = []
        for record in lower:
            old = self.endorsement(record.endorsement_id)
            old.supersede(by_endorsement_id=new.endorsement_id, by_level=new.level,
                          effective_on=max(new.granted_on, old.home_since), now=now)
            replaced.append(old)
        return replaced

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

    def lapse_due(self, endorsement_ids: Sequence[str], *, on: dt.date,
                  now: dt.datetime) -> list[Endorsement]:
        """Record, in one transaction, the lapse of each of these endorsements that is due on
        `on` (the association's daily run); the others are left as they are."""
        due = [e for e in (self.endorsement(i) for i in endorsement_ids)
               if e.is_lapse_due(on, self.policy)]
        for endorsement in due:
            endorsement.lapse(on=on, policy=self.policy, now=now)
        if due:
            self._commit(*due)
        return due

    def attest_degree(self, endorsement_id: str, *, masters_prepared: bool,
                      effective_on: dt.date, attested_by: str, now: dt.datetime,
                      expected_version: int | None = None) -> Endorsement:
        """Record, from the holder's transcript, whether a Level II holder is Master's-prepared."""
        return self._on_endorsement(endorsement_id, expected_version, lambda e: e.attest_degree(
            masters_prepared=masters_prepared, effective_on=effective_on,
            attested_by=attested_by, now=now))

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
                  recognized_on: dt.date, now: dt.datetime,
                  replica: RecognitionSource) -> Endorsement:
        """Become the home of an endorsement that the replica shows current elsewhere."""
        found = replica.current_endorsement(origin_endorsement_id, recognized_on)
        if found is None:
            raise InvalidTransition("the replica shows no current endorsement with that id; "
                                    "it may be unknown, lapsed, suspended or not yet replicated",
                                    field="origin_endorsement_id",
                                    rule="reciprocity.not_current")
        endorsement = Endorsement.recognize(
            endorsement_id=endorsement_id, association=self.association, origin=found.held,
            family_name=found.family_name, given_name=found.given_name,
            valid_through=found.valid_through, origin_entry_hash=found.entry_hash.hex(),
            recognized_on=recognized_on, now=now)
        with self._new_endorsements:
            self._replaced(endorsement, NewEndorsement.RECOGNITION, now,
                           exclude=origin_endorsement_id)
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

    def application(self, application_id: uuid.UUID,
                    version: int | None = None) -> EndorsementApplication:
        """The application aggregate (private evidence included: staff only), as it is now
        or as it was at `version`."""
        return self._get(EndorsementApplication, application_id, None, version=version)

    def endorsement(self, endorsement_id: str, version: int | None = None) -> Endorsement:
        """The endorsement aggregate, as it is now or as it was at `version`."""
        return self._get(Endorsement, endorsement_uuid(endorsement_id), None,
                         name=endorsement_id, version=version)

    def endorsement_by_aggregate(self, aggregate_id: uuid.UUID,
                                 version: int | None = None) -> Endorsement:
        """The endorsement aggregate with this aggregate id (at `version`)."""
        return self._get(Endorsement, aggregate_id, None, version=version)

    def unmet(self, application_id: uuid.UUID) -> tuple[Unmet, ...]:
        """What the application still lacks, as last evaluated."""
        return self.application(application_id).unmet

    def possible_duplicates(self, *applications: EndorsementApplication
                            ) -> tuple[tuple[PossibleDuplicate, ...], ...]:
        """For each application: other person ids that may be the same applicant, by the
        same folded name and date of birth within this association's private records, or by
        the same folded name anywhere in the Alliance (flagged for the coordinator, never
        merged)."""
        found = self.lookup.same_names([(a.family_name, a.given_name) for a in applications],
                                       self.association)
        birth_dates: dict[tuple[str | None, str | None], dt.date | None] = {}
        answers = []
        for application, matches in zip(applications, found, strict=True):
            dated = []
            for match in matches:
                if match.person_id == application.person_id:
                    continue
                key = (match.endorsement_id, match.application_id)
                if key not in birth_dates:
                    birth_dates[key] = self._birth_date_of(match)
                dated.append((match, birth_dates[key]))
            answers.append(possible_duplicates(application.person_id, application.birth_date,
                                               dated))
        return tuple(answers)

    def _birth_date_of(self, match: NameMatch) -> dt.date | None:
        """The date of birth this association's private store holds for a name match."""
        if match.association != self.association:
            return None  # another association's private data: never replicated
        application_id = match.application_id
        if application_id is None and match.endorsement_id is not None:
            try:
                application_id = self.endorsement(match.endorsement_id).application_id
            except NotFound:
                return None
        try:
            return self.application(uuid.UUID(application_id or "")).birth_date
        except (ValueError, NotFound):  # an import (legacy:...) or a recognition has none
            return None

    # -- crash-safe retries ----------------------------------------------------------------

    @contextlib.contextmanager
    def announcing(self, announce: Announce) -> Iterator[None]:
        """Within the block, each commit first passes `announce` the events it is about to
        store, and stores them only if `announce` returns (it must make them durable)."""
        token = _announce.set(announce)
        try:
            yield
        finally:
            _announce.reset(token)

    def landed(self, marks: Sequence[StoredMark]) -> bool:
        """Whether every one of these events is in the event store, byte for byte.

        A command's events are saved in one transaction, so they are all there or none is;
        another command that took one of these versions stored other bytes.
        """
        if not marks:
            return False
        for mark in marks:
            stored = self.events.recorder.select_events(mark.aggregate_id,
                                                        gt=mark.version - 1, lte=mark.version)
            if len(stored) != 1 or _digest(stored[0].topic, stored[0].state) != mark.digest:
                return False
        return True

    def settle(self) -> None:
        """Seal and project whatever is stored but not yet sealed (after a crash, or after a
        command whose sealing failed), so that an answer replayed for a landed command is
        only given once its entries are committed."""
        self.writer.catch_up()
        self._on_committed()

    # -- plumbing --------------------------------------------------------------------------

    def _on_endorsement(self, endorsement_id: str, expected_version: int | None,
                        change: Callable[[Endorsement], Any]) -> Endorsement:
        endorsement = self._get(Endorsement, endorsement_uuid(endorsement_id), expected_version,
                                name=endorsement_id)
        change(endorsement)
        self._commit(endorsement)
        return endorsement

    def _get(self, kind: type[_A], aggregate_id: uuid.UUID, expected_version: int | None, *,
             name: str | None = None, version: int | None = None) -> _A:
        # Errors name the record as the caller named it (an endorsement's public id), never
        # the internal aggregate UUID derived from it.
        what = f"{kind.__name__.lower()} {name or aggregate_id}"
        try:
            aggregate: object = self.events.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError as e:
            raise NotFound(f"no {what}") from e
        if not isinstance(aggregate, kind):
            raise NotFound(f"no {what}")
        if expected_version is not None and aggregate.version != expected_version:
            raise ConcurrencyConflict(f"{what} is at version {aggregate.version}, not "
                                      f"{expected_version}")
        return aggregate

    def _commit(self, *aggregates: EndorsementApplication | Endorsement) -> None:
        self.writer.gate.check()  # a ledger that lost entries stores no event it cannot seal
        # Nor one for a record version sealed before a restore whose event was lost with it.
        self.writer.refuse_lost([(str(aggregate.id), event.originator_version)
                                 for aggregate in aggregates
                                 for event in aggregate.pending_events])
        announce = _announce.get()
        if announce is not None:
            marks = []
            for aggregate in aggregates:
                for event in aggregate.pending_events:
                    stored = self.events.mapper.to_stored_event(event)
                    marks.append(StoredMark(aggregate_id=aggregate.id,
                                            version=stored.originator_version,
                                            digest=_digest(stored.topic, stored.state)))
            announce(tuple(marks))
        try:
            recordings = self.events.save(*aggregates)
        except IntegrityError as e:
            raise ConcurrencyConflict("another command changed this record first; reload and "
                                      "retry") from e
        self.writer.seal_recorded(recordings)
        self._on_committed()


def _digest(topic: str, state: bytes) -> str:
    return hashlib.sha256(topic.encode() + b"\0" + state).hexdigest()
