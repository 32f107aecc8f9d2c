"""Real association ledgers for integration tests, built the way a node builds them.

Plain functions and small classes (no pytest fixtures, so any test module can use them):
the real domain aggregates are saved in a real eventsourcing event store (SQLite, with the
project's EventMapper), a real LedgerWriter seals and signs them into a LedgerStore on the
Database under test, and `replicate` copies a peer's verified entries into another store as
federation does. `Databases` hands out fresh SQLite files or fresh PostgreSQL schemas.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domain.application import Application
from domain.endorsement import Endorsement
from domain.evidence import (
    ApplicationEvidence,
    Degree,
    Membership,
    Rating,
    RenewalEvidence,
    RscHours,
    Training,
)
from domain.levels import DegreeKind, Designation, Level, RaterRole
from domain.lookup import EndorsementLookup, NoEndorsements
from domain.policy import AssociationPolicy
from ledger.chain.commitments import CommitmentKey
from ledger.chain.entries import open_entry
from ledger.chain.store import LedgerStore
from ledger.chain.writer import LedgerWriter
from ledger.signing import Signer
from ledger.storage.database import Database, DatabaseUrl
from ledger.storage.event_store import PrivateEventStore
from ledger.trust.keyring import KeyRecord, Keyring
from tests.pg import postgres_schema_url

KEYS_VALID_FROM = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
# The policy these ledgers renew by: 31 December, 60 days' grace, and (unlike the default,
# which gives a first cycle of at least a year) a first cycle ending on the first 31 December
# after the grant, so that tests can count cycles by calendar year.
CALENDAR_YEAR_POLICY = AssociationPolicy(first_cycle_min_months=0)


def at(day: dt.date) -> dt.datetime:
    """The command time used for a business date (tests never read the clock)."""
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


# -- databases -----------------------------------------------------------------------------


class Databases:
    """Fresh databases on one backend: SQLite files under `root`, or PostgreSQL schemas.

    PostgreSQL schemas come from `tests.pg` (skipped without a server, failed under CI) and
    are dropped by `close`, after every connection handed out is closed.
    """

    def __init__(self, backend: str, root: Path) -> None:
        if backend not in ("sqlite", "postgres"):
            raise ValueError(backend)
        self.backend = backend
        self._root = root
        self._opened: list[Database] = []
        self._schemas = contextlib.ExitStack()

    def new(self) -> Database:
        """A new, empty database (its own file or its own schema)."""
        if self.backend == "sqlite":
            url = f"sqlite:///{self._root / f't_{secrets.token_hex(8)}'}.sqlite"
        else:
            url = self._schemas.enter_context(postgres_schema_url())
        db = Database(DatabaseUrl.parse(url))
        self._opened.append(db)
        return db

    def close(self) -> None:
        """Close every connection handed out, then drop the schemas."""
        for db in self._opened:
            db.close()
        self._opened.clear()
        self._schemas.close()


# -- association ledgers -------------------------------------------------------------------


@dataclass
class AssociationLedger:
    """One association's event store, writer and ledger store."""

    association: str
    events: PrivateEventStore
    writer: LedgerWriter
    store: LedgerStore
    signer: Signer
    policy: AssociationPolicy = CALENDAR_YEAR_POLICY

    def save(self, *aggregates: Any) -> int:
        """Commit the aggregates' new events and seal them into the ledger."""
        self.events.save(*aggregates)
        return self.writer.catch_up()

    def endorsement(self, endorsement_id: str) -> Endorsement:
        """The current state of an endorsement from the event store."""
        from domain.endorsement import endorsement_uuid

        found: Endorsement = self.events.repository.get(endorsement_uuid(endorsement_id))
        return found

    def keyring(self) -> Keyring:
        """A keyring in which this association's key signs from 2000 on."""
        return Keyring().with_key(KeyRecord(association=self.association,
                                            public_key=self.signer.public_key,
                                            valid_from=KEYS_VALID_FROM))

    def close(self) -> None:
        """Close the event store and the ledger store's connection."""
        self.events.close()
        self.store.db.close()


def open_ledger(events_dir: Path, ledger_db: Database, association: str,
                policy: AssociationPolicy | None = None) -> AssociationLedger:
    """A new association whose events live in SQLite under `events_dir`, ledger on `ledger_db`."""
    events_dir.mkdir(parents=True, exist_ok=True)
    path = events_dir / f"events-{association}-{secrets.token_hex(4)}.sqlite"
    events = PrivateEventStore(env=DatabaseUrl.parse(f"sqlite:///{path}").eventsourcing_env())
    store = LedgerStore(ledger_db)
    signer = Signer.generate()
    writer = LedgerWriter(association=association, recorder=events.recorder,
                          mapper=events.mapper, store=store, signer=signer,
                          commitments=CommitmentKey(bytes(32)))
    return AssociationLedger(association=association, events=events, writer=writer,
                             store=store, signer=signer, policy=policy or CALENDAR_YEAR_POLICY)


def replicate(source: AssociationLedger, target: LedgerStore) -> int:
    """Copy the source's entries that `target` lacks, verified, as a federation consumer does."""
    head = target.head(source.association)
    first = head[0] + 1 if head else 1
    keys = source.keyring()
    entries = [open_entry(w, keys) for w in source.store.wires(source.association, first)]
    if entries:
        target.append(entries, follower=f"replica:{source.association}",
                      position=entries[-1].seq)
    return len(entries)


# -- domain commands -----------------------------------------------------------------------


def grant(ledger: AssociationLedger, endorsement_id: str, person_id: str, granted_on: dt.date,
          *, level: Level = Level.IFA, designation: Designation | None = None,
          family_name: str = "Doe", given_name: str = "Jane",
          masters_prepared: bool = False) -> Endorsement:
    """Grant an endorsement and seal it."""
    endorsement = Endorsement.grant(
        endorsement_id=endorsement_id, association=ledger.association, person_id=person_id,
        family_name=family_name, given_name=given_name, level=level, designation=designation,
        granted_on=granted_on, application_id=f"app-{endorsement_id}", policy=ledger.policy,
        now=at(granted_on), masters_prepared=masters_prepared)
    ledger.save(endorsement)
    return endorsement


def renewal_evidence(cycle_start: dt.date, cycle_end: dt.date) -> RenewalEvidence:
    """Evidence that renews any level for the cycle: 15 h training, 12 h RS/C, membership."""
    return RenewalEvidence(
        trainings=(Training(title="IMH seminar", hours=15, completed_on=cycle_start),),
        rsc=(RscHours(provider_id="provider", hours=12, started_on=cycle_start,
                      ended_on=cycle_start),),
        memberships=(Membership(association="any", valid_through=cycle_end),))


def renew(ledger: AssociationLedger, endorsement: Endorsement, renewed_on: dt.date) -> None:
    """Renew for the next cycle with sufficient evidence, and seal it."""
    start = max(endorsement.granted_on, dt.date(endorsement.valid_through.year, 1, 1))
    endorsement.renew(renewal_evidence(start, endorsement.valid_through),
                      renewed_on=renewed_on, policy=ledger.policy, now=at(renewed_on))
    ledger.save(endorsement)


def start_application(ledger: AssociationLedger, person_id: str, started_on: dt.date, *,
                      level: Level = Level.IFA, family_name: str = "Roe",
                      given_name: str = "Rita") -> Application:
    """Open an application and seal it."""
    application = Application.start(
        application_id=uuid.uuid4(), association=ledger.association, person_id=person_id,
        family_name=family_name, given_name=given_name, level=level, designation=None,
        started_on=started_on, now=at(started_on))
    ledger.save(application)
    return application


def level_one_evidence(rated_on: dt.date, *, complete: bool = True,
                       endorsed_rater: str = "rater-3") -> ApplicationEvidence:
    """Level I evidence that meets every requirement once `endorsed_rater` qualifies."""
    return ApplicationEvidence(
        degrees=(Degree(kind=DegreeKind.BACHELOR, field_of_study="psychology",
                        awarded_on=dt.date(2010, 6, 1), transcript_received=True),),
        trainings=(Training(title="IMH foundations", hours=30, completed_on=rated_on),),
        ratings=(Rating(rater_id="rater-1", rater_name="Sam Super",
                        role=RaterRole.CURRENT_SUPERVISOR, rated_on=rated_on),
                 Rating(rater_id="rater-2", rater_name="Cal Colleague",
                        role=RaterRole.COLLEAGUE, rated_on=rated_on),
                 Rating(rater_id=endorsed_rater, rater_name="Erin Endorsed",
                        role=RaterRole.COLLEAGUE, rated_on=rated_on)),
        code_of_ethics_signed=True, agreement_signed=complete,
        memberships=(Membership(association="AK", valid_through=dt.date(2099, 1, 1)),),
        fee_paid=True)


def submit(ledger: AssociationLedger, application: Application, evidence: ApplicationEvidence,
           submitted_on: dt.date, lookup: EndorsementLookup | None = None) -> None:
    """Submit evidence (evaluated with `lookup`) and seal it."""
    application.submit_evidence(evidence, lookup or NoEndorsements(),
                                submitted_on=submitted_on, now=at(submitted_on))
    ledger.save(application)
