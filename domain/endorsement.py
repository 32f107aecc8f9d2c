"""The Endorsement aggregate: a granted endorsement and everything that happens to it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, ClassVar

from eventsourcing.domain import Aggregate

from domain.application import check_level_designation
from domain.errors import InvalidCommand, InvalidTransition, RequirementsUnmet
from domain.evidence import RenewalEvidence
from domain.levels import Designation, EndorsementStatus, Level
from domain.lookup import HeldEndorsement
from domain.policy import AssociationPolicy, ReinstatementRule
from domain.renewal import cycle_words, evaluate_renewal
from domain.requirement_areas import level_label

# Endorsement ids are the public codes employers type (e.g. "AK-7Q4M2XKD"); the aggregate id
# is derived from the code so that any node can find the aggregate from the code alone.
_ENDORSEMENT_NAMESPACE = uuid.UUID("6f1d6c1e-3b0e-4a53-9d8e-2f1f0d6a7c11")


def endorsement_uuid(endorsement_id: str) -> uuid.UUID:
    """Aggregate id of the endorsement with public code `endorsement_id`."""
    return uuid.uuid5(_ENDORSEMENT_NAMESPACE, endorsement_id)


LEGACY_PREFIX = "legacy:"  # application_id of a grant recorded from before the ledger

_TERMINAL = (EndorsementStatus.REVOKED, EndorsementStatus.RELINQUISHED,
             EndorsementStatus.TRANSFERRED)


class Endorsement(Aggregate):
    """One person's endorsement at one level, held with one association."""

    TOPIC = "alliance:Endorsement"

    class Event(Aggregate.Event):
        """Base of endorsement events; PRIVATE_FIELDS never leave the node's private store."""

        TOPIC = "alliance:Endorsement.Event"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()

    class Granted(Aggregate.Created):
        """EndorsementGranted."""

        TOPIC = "alliance:EndorsementGranted"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        endorsement_id: str
        association: str
        person_id: str
        family_name: str
        given_name: str
        level: Level
        designation: Designation | None
        granted_on: dt.date
        valid_through: dt.date
        application_id: str
        # Added after the first entries were sealed: new optional fields with defaults, so
        # older entries and stored events (which lack them) still decode and verify
        # unchanged, and the schema version stays 1. None: hours of the first cycle count
        # from the grant; False: no Master's degree on this association's record.
        first_cycle_start: dt.date | None = None
        masters_prepared: bool = False

    def __init__(self, endorsement_id: str, association: str, person_id: str, family_name: str,
                 given_name: str, level: Level, designation: Designation | None,
                 granted_on: dt.date, valid_through: dt.date, application_id: str = "",
                 origin_association: str = "", origin_endorsement_id: str = "",
                 origin_entry_hash: str = "", recognized_on: dt.date | None = None,
                 first_cycle_start: dt.date | None = None, masters_prepared: bool = False,
                 masters_prepared_since: dt.date | None = None) -> None:
        self.endorsement_id = endorsement_id
        self.association = association
        self.person_id = person_id
        self.family_name = family_name
        self.given_name = given_name
        self.level = level
        self.designation = designation
        self.granted_on = granted_on
        self.valid_through = valid_through
        self.application_id = application_id
        self.status = EndorsementStatus.ACTIVE
        # Set when this endorsement came by reciprocity from another association.
        self.origin_association = origin_association
        self.origin_endorsement_id = origin_endorsement_id
        _ = origin_entry_hash  # recorded in the event; nothing to keep here
        # From when this association is the endorsement's home: nothing it records about the
        # endorsement may take effect earlier (a backdated command cannot rewrite the past).
        self.home_since = recognized_on or granted_on
        # While in its first cycle, the day from which renewal hours count (None: the usual
        # cycle arithmetic); cleared once the first cycle is renewed or reinstated.
        self.first_cycle_start = first_cycle_start
        # From when this association's record shows the holder Master's-prepared (None: not).
        self.masters_prepared_since = (granted_on if masters_prepared
                                       else masters_prepared_since)

    @classmethod
    def grant(cls, *, endorsement_id: str, association: str, person_id: str, family_name: str,
              given_name: str, level: Level, designation: Designation | None,
              granted_on: dt.date, application_id: str, policy: AssociationPolicy,
              now: dt.datetime, applied_on: dt.date | None = None,
              masters_prepared: bool = False) -> Endorsement:
        """Create the endorsement; its first cycle ends, and the hours for its first renewal
        count from, where the association's policy says (`applied_on`: the application's
        start). `masters_prepared` comes from the holder's own application evidence."""
        return cls._create(cls.Granted, id=endorsement_uuid(endorsement_id), timestamp=now,
                           endorsement_id=endorsement_id, association=association,
                           person_id=person_id, family_name=family_name, given_name=given_name,
                           level=level, designation=designation, granted_on=granted_on,
                           valid_through=policy.first_valid_through(granted_on),
                           application_id=application_id,
                           first_cycle_start=policy.first_cycle_start(granted_on, applied_on),
                           masters_prepared=masters_prepared and level is Level.IFS)

    @classmethod
    def record_existing(cls, *, endorsement_id: str, association: str, person_id: str,
                        family_name: str, given_name: str, level: Level,
                        designation: Designation | None, granted_on: dt.date,
                        valid_through: dt.date, legacy_reference: str,
                        now: dt.datetime, masters_prepared: bool = False) -> Endorsement:
        """Bring an endorsement granted before this ledger existed (from paper or the old
        system) onto the ledger, so that its holder can renew and can serve as a provider
        or rater. The grant names its legacy record instead of an application.
        `masters_prepared` (Level II only) is what the legacy record shows of the degree."""
        if not legacy_reference.strip():
            raise InvalidCommand("an imported endorsement must name its legacy record",
                                 field="legacy_reference", rule="import.reference_required")
        if valid_through < granted_on:
            raise InvalidCommand("valid_through is before granted_on", field="valid_through",
                                 rule="import.dates")
        check_level_designation(level, designation)
        _check_masters_level(level, masters_prepared)
        return cls._create(cls.Granted, id=endorsement_uuid(endorsement_id), timestamp=now,
                           endorsement_id=endorsement_id, association=association,
                           person_id=person_id, family_name=family_name, given_name=given_name,
                           level=level, designation=designation, granted_on=granted_on,
                           valid_through=valid_through,
                           application_id=f"{LEGACY_PREFIX}{legacy_reference.strip()}",
                           masters_prepared=masters_prepared)

    # -- reciprocity --------------------------------------------------------------------------

    class Recognized(Aggregate.Created):
        """EndorsementRecognized: by reciprocity, this association becomes the home of an
        endorsement granted elsewhere; level, designation and grant date carry over."""

        TOPIC = "alliance:EndorsementRecognized"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        endorsement_id: str
        association: str
        person_id: str
        family_name: str
        given_name: str
        level: Level
        designation: Designation | None
        granted_on: dt.date
        valid_through: dt.date
        origin_association: str
        origin_endorsement_id: str
        origin_entry_hash: str
        recognized_on: dt.date
        # Added later, with a default (see Granted): the origin's record of a Master's degree.
        masters_prepared_since: dt.date | None = None

    @classmethod
    def recognize(cls, *, endorsement_id: str, association: str, origin: HeldEndorsement,
                  family_name: str, given_name: str, valid_through: dt.date,
                  origin_entry_hash: str, recognized_on: dt.date,
                  now: dt.datetime) -> Endorsement:
        """Recognise an endorsement the replica shows current at another association."""
        if origin.association == association:
            raise InvalidCommand("an association cannot recognise its own endorsement",
                                 field="origin_endorsement_id", rule="reciprocity.own")
        if len(origin_entry_hash) != 64:
            raise InvalidCommand("origin_entry_hash must be a hex SHA-256",
                                 field="origin_entry_hash", rule="reciprocity.reference")
        return cls._create(cls.Recognized, id=endorsement_uuid(endorsement_id), timestamp=now,
                           endorsement_id=endorsement_id, association=association,
                           person_id=origin.person_id, family_name=family_name,
                           given_name=given_name, level=origin.level,
                           designation=origin.designation, granted_on=origin.granted_on,
                           valid_through=valid_through,
                           origin_association=origin.association,
                           origin_endorsement_id=origin.endorsement_id,
                           origin_entry_hash=origin_entry_hash, recognized_on=recognized_on,
                           masters_prepared_since=origin.masters_prepared_since)

    class TransferredOut(Event):
        """EndorsementTransferredOut: another association recognised it and is now its home."""

        TOPIC = "alliance:EndorsementTransferredOut"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        effective_on: dt.date
        to_association: str
        to_endorsement_id: str
        recognition_entry_hash: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = EndorsementStatus.TRANSFERRED

    def transfer_out(self, *, to_association: str, to_endorsement_id: str,
                     recognition_entry_hash: str, effective_on: dt.date,
                     now: dt.datetime) -> None:
        """Record that the endorsement moved to another association's roster."""
        self._require_not_terminal("transfer")
        effective_on = max(effective_on, self.home_since)  # the move cannot predate our grant
        self.trigger_event(self.TransferredOut, timestamp=now, effective_on=effective_on,
                           to_association=to_association, to_endorsement_id=to_endorsement_id,
                           recognition_entry_hash=recognition_entry_hash)

    # -- renewal ------------------------------------------------------------------------------

    class Renewed(Event):
        """EndorsementRenewed: the continuing requirements of one cycle were met."""

        TOPIC = "alliance:EndorsementRenewed"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset({"evidence"})
        cycle_start: dt.date
        cycle_end: dt.date
        valid_through: dt.date
        renewed_on: dt.date
        evidence: RenewalEvidence

        def apply(self, aggregate: Any) -> None:
            aggregate.valid_through = self.valid_through
            aggregate.first_cycle_start = None

    def renew(self, evidence: RenewalEvidence, *, renewed_on: dt.date,
              policy: AssociationPolicy, now: dt.datetime) -> None:
        """Renew for the next cycle, within the cycle or its grace period."""
        self._require(EndorsementStatus.ACTIVE, "renew")
        self._not_before_home(renewed_on, "renewed_on")
        cycle_end = self.valid_through
        cycle_start = self._cycle_start(cycle_end)
        lapses_on = policy.lapses_on(cycle_end)
        if renewed_on >= lapses_on:
            raise InvalidTransition(
                f"the grace period of the cycle {cycle_words(cycle_start, cycle_end)} ended on "
                f"{lapses_on - dt.timedelta(days=1)}; the endorsement must lapse and be "
                "reinstated", field="renewed_on", rule="renewal.too_late")
        unmet = evaluate_renewal(self.level, self.designation, self.granted_on, cycle_start,
                                 cycle_end, evidence)
        if unmet:
            raise RequirementsUnmet(f"renewal requirements of the cycle "
                                    f"{cycle_words(cycle_start, cycle_end)} are unmet", unmet,
                                    rule="renewal.unmet")
        self.trigger_event(self.Renewed, timestamp=now, cycle_start=cycle_start,
                           cycle_end=cycle_end, valid_through=policy.next_valid_through(cycle_end),
                           renewed_on=renewed_on, evidence=evidence)

    def _cycle_start(self, cycle_end: dt.date) -> dt.date:
        """First day whose hours count toward renewing the cycle ending on `cycle_end`.

        The first cycle after a grant counts from the day the grant recorded (the policy's
        `first_cycle_hours_from`, which may be before the grant); any later cycle began the
        day after the previous one ended, or at the grant. Entries sealed before the first
        cycle was recorded have no such day and keep the old arithmetic.
        """
        if self.first_cycle_start is not None:
            return self.first_cycle_start
        previous_end = cycle_end.replace(year=cycle_end.year - 1) if not (
            cycle_end.month == 2 and cycle_end.day == 29) else cycle_end.replace(
            year=cycle_end.year - 1, day=28)
        return max(self.granted_on, previous_end + dt.timedelta(days=1))

    def renewal_cycle(self) -> tuple[dt.date, dt.date]:
        """The cycle a renewal now would renew: (first day counted, valid-through)."""
        return self._cycle_start(self.valid_through), self.valid_through

    # -- lapse and reinstatement --------------------------------------------------------------

    class Lapsed(Event):
        """EndorsementLapsed: not renewed by the end of the grace period."""

        TOPIC = "alliance:EndorsementLapsed"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        lapsed_on: dt.date
        valid_through: dt.date

        def apply(self, aggregate: Any) -> None:
            aggregate.status = EndorsementStatus.LAPSED

    def lapse(self, *, on: dt.date, policy: AssociationPolicy, now: dt.datetime) -> None:
        """Record the lapse; only possible once the grace period has ended."""
        self._require(EndorsementStatus.ACTIVE, "lapse")
        self._not_before_home(on, "on")
        due = policy.lapses_on(self.valid_through)
        if on < due:
            raise InvalidTransition(f"not due: an endorsement valid through {self.valid_through} "
                                    f"lapses on {due}", field="on", rule="lapse.not_due")
        self.trigger_event(self.Lapsed, timestamp=now, lapsed_on=due,
                           valid_through=self.valid_through)

    def is_lapse_due(self, on: dt.date, policy: AssociationPolicy) -> bool:
        """Whether an active endorsement has passed its grace period on `on`."""
        return self.status is EndorsementStatus.ACTIVE and on >= policy.lapses_on(
            self.valid_through)

    class Reinstated(Event):
        """EndorsementReinstated: back in good standing after a lapse or a suspension."""

        TOPIC = "alliance:EndorsementReinstated"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset({"evidence"})
        reinstated_on: dt.date
        valid_through: dt.date
        reason: str
        evidence: RenewalEvidence

        def apply(self, aggregate: Any) -> None:
            if aggregate.status is EndorsementStatus.LAPSED:
                aggregate.first_cycle_start = None  # the missed cycle has been caught up
            aggregate.status = EndorsementStatus.ACTIVE
            aggregate.valid_through = self.valid_through

    def reinstate(self, *, reinstated_on: dt.date, reason: str, evidence: RenewalEvidence,
                  by_committee: bool, policy: AssociationPolicy, now: dt.datetime) -> None:
        """Reinstate a lapsed endorsement (per policy) or lift a suspension (committee)."""
        if not reason.strip():
            raise InvalidCommand("reinstatement needs a reason", field="reason",
                                 rule="reinstate.reason_required")
        self._not_before_home(reinstated_on, "reinstated_on")
        if self.status is EndorsementStatus.SUSPENDED:
            if not by_committee:
                raise InvalidTransition("only the committee lifts a suspension",
                                        field="role", rule="reinstate.committee_only")
            valid_through = self.valid_through
        elif self.status is EndorsementStatus.LAPSED:
            valid_through = self._reinstate_lapsed(reinstated_on, evidence, by_committee, policy)
        else:
            raise InvalidTransition(f"cannot reinstate: endorsement is {self.status}",
                                    field="status", rule="reinstate.not_lapsed_or_suspended")
        self.trigger_event(self.Reinstated, timestamp=now, reinstated_on=reinstated_on,
                           valid_through=valid_through, reason=reason, evidence=evidence)

    def _reinstate_lapsed(self, on: dt.date, evidence: RenewalEvidence, by_committee: bool,
                          policy: AssociationPolicy) -> dt.date:
        if policy.reinstatement is ReinstatementRule.REAPPLY:
            raise InvalidTransition("this association requires a new application after a lapse",
                                    field="status", rule="reinstate.reapply")
        if policy.reinstatement is ReinstatementRule.COMMITTEE_DISCRETION and not by_committee:
            raise InvalidTransition("only the committee reinstates a lapsed endorsement here",
                                    field="role", rule="reinstate.committee_only")
        # Catching up: the hours of the missed cycle are documented like a renewal.
        cycle_start = self._cycle_start(self.valid_through)
        if policy.reinstatement is ReinstatementRule.CATCH_UP_HOURS:
            unmet = evaluate_renewal(self.level, self.designation, self.granted_on, cycle_start,
                                     self.valid_through, evidence)
            if unmet:
                raise RequirementsUnmet(
                    f"the requirements of the missed cycle "
                    f"{cycle_words(cycle_start, self.valid_through)} are unmet", unmet,
                    rule="reinstate.unmet")
        valid_through = policy.next_valid_through(self.valid_through)
        while valid_through < on:
            valid_through = policy.next_valid_through(valid_through)
        return valid_through

    # -- committee and holder actions ---------------------------------------------------------

    class Suspended(Event):
        """EndorsementSuspended by the Endorsement Committee."""

        TOPIC = "alliance:EndorsementSuspended"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        effective_on: dt.date
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = EndorsementStatus.SUSPENDED

    def suspend(self, *, effective_on: dt.date, reason: str, now: dt.datetime) -> None:
        """Suspend (committee action, with a reason)."""
        self._require_reason(reason, "suspension")
        self._not_before_home(effective_on, "effective_on")
        self._require(EndorsementStatus.ACTIVE, "suspend")
        self.trigger_event(self.Suspended, timestamp=now, effective_on=effective_on,
                           reason=reason)

    class Revoked(Event):
        """EndorsementRevoked by the Endorsement Committee; final."""

        TOPIC = "alliance:EndorsementRevoked"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        effective_on: dt.date
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = EndorsementStatus.REVOKED

    def revoke(self, *, effective_on: dt.date, reason: str, now: dt.datetime) -> None:
        """Revoke (committee action, with a reason); nothing follows a revocation."""
        self._require_reason(reason, "revocation")
        self._not_before_home(effective_on, "effective_on")
        self._require_not_terminal("revoke")
        self.trigger_event(self.Revoked, timestamp=now, effective_on=effective_on, reason=reason)

    class Relinquished(Event):
        """EndorsementRelinquished by the professional."""

        TOPIC = "alliance:EndorsementRelinquished"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        effective_on: dt.date
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = EndorsementStatus.RELINQUISHED

    def relinquish(self, *, effective_on: dt.date, reason: str, now: dt.datetime) -> None:
        """The professional gives the endorsement up."""
        self._not_before_home(effective_on, "effective_on")
        self._require_not_terminal("relinquish")
        self.trigger_event(self.Relinquished, timestamp=now, effective_on=effective_on,
                           reason=reason)

    class Corrected(Event):
        """EndorsementCorrected: a mistaken recorded value is corrected; history is not edited."""

        TOPIC = "alliance:EndorsementCorrected"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        corrects_version: int
        family_name: str | None
        given_name: str | None
        valid_through: dt.date | None
        reason: str

        def apply(self, aggregate: Any) -> None:
            if self.family_name is not None:
                aggregate.family_name = self.family_name
            if self.given_name is not None:
                aggregate.given_name = self.given_name
            if self.valid_through is not None:
                aggregate.valid_through = self.valid_through

    def correct(self, *, corrects_version: int, reason: str, family_name: str | None = None,
                given_name: str | None = None, valid_through: dt.date | None = None,
                now: dt.datetime) -> None:
        """Correct a mistaken entry by a new event that names the version it corrects."""
        self._require_reason(reason, "correction")
        if not 1 <= corrects_version <= self.version:
            raise InvalidCommand(f"corrects_version must name an existing version "
                                 f"(1..{self.version})", field="corrects_version",
                                 rule="correction.unknown_version")
        if family_name is None and given_name is None and valid_through is None:
            raise InvalidCommand("a correction must change at least one value", field="body",
                                 rule="correction.empty")
        for name, value in (("family_name", family_name), ("given_name", given_name)):
            if value is not None and not value.strip():
                raise InvalidCommand(f"{name} must not be empty", field=name, rule="required")
        self.trigger_event(self.Corrected, timestamp=now, corrects_version=corrects_version,
                           family_name=family_name, given_name=given_name,
                           valid_through=valid_through, reason=reason)

    class DegreeAttested(Event):
        """EndorsementDegreeAttested: the association records, from the holder's transcript,
        whether the holder of this Level II endorsement is Master's-prepared, from when.

        Who may provide RS/C to a Bachelor's-prepared Level II applicant depends on it, so it
        is a public fact of the provider's own endorsement, recorded by the association that
        holds the provider's record, never taken from an applicant's evidence. Grants record
        it from the holder's application; this event records it for an endorsement granted
        before the grant carried it, or for a degree earned later (or corrects it).
        """

        TOPIC = "alliance:EndorsementDegreeAttested"
        PRIVATE_FIELDS: ClassVar[frozenset[str]] = frozenset()
        masters_prepared: bool
        effective_on: dt.date
        attested_by: str

        def apply(self, aggregate: Any) -> None:
            aggregate.masters_prepared_since = (self.effective_on if self.masters_prepared
                                                else None)

    def attest_degree(self, *, masters_prepared: bool, effective_on: dt.date, attested_by: str,
                      now: dt.datetime) -> None:
        """Record whether the holder is Master's-prepared from `effective_on` on."""
        _check_masters_level(self.level, True)
        self._require_not_terminal("attest a degree")
        self._not_before_home(effective_on, "effective_on")
        self.trigger_event(self.DegreeAttested, timestamp=now, masters_prepared=masters_prepared,
                           effective_on=effective_on, attested_by=attested_by)

    def supersede(self, *, by_endorsement_id: str, by_level: Level, effective_on: dt.date,
                  now: dt.datetime) -> None:
        """Close this endorsement because its holder was granted a higher level here.

        Recorded as EndorsementRelinquished with a reason naming the new endorsement: the
        association's process replaces the lower level with the higher one, the holder keeps
        one standing, and every node, page and notification already knows the word.
        """
        self._require(EndorsementStatus.ACTIVE, "supersede")
        self._not_before_home(effective_on, "granted_on")
        self.trigger_event(self.Relinquished, timestamp=now, effective_on=effective_on,
                           reason=f"replaced by {level_label(by_level, None)} endorsement "
                                  f"{by_endorsement_id}")

    # -- guards -------------------------------------------------------------------------------

    def _require(self, status: EndorsementStatus, action: str) -> None:
        if self.status is not status:
            raise InvalidTransition(f"cannot {action}: endorsement is {self.status}",
                                    field="status", rule=f"{action}.status")

    def _require_not_terminal(self, action: str) -> None:
        if self.status in _TERMINAL:
            raise InvalidTransition(f"cannot {action}: endorsement is {self.status}",
                                    field="status", rule=f"{action}.status")

    def _not_before_home(self, day: dt.date, field: str) -> None:
        if day < self.home_since:
            raise InvalidCommand(f"{field} {day} is before this endorsement's start here "
                                 f"({self.home_since})", field=field, rule="date.before_grant")

    @staticmethod
    def _require_reason(reason: str, what: str) -> None:
        if not reason.strip():
            raise InvalidCommand(f"a {what} needs a reason", field="reason",
                                 rule="reason.required")


def _check_masters_level(level: Level, masters_prepared: bool) -> None:
    # Levels III and IV require a Master's; Level I holders provide no RS/C. Only for Level II
    # does the record of a Master's degree decide anything (who may provide RS/C).
    if masters_prepared and level is not Level.IFS:
        raise InvalidCommand("only a Level II endorsement records a Master's degree; Levels "
                             "III and IV require one", field="masters_prepared",
                             rule="degree.level_ii_only")
