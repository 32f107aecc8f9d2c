"""The board report's kept counts equal a from-scratch GROUP BY, on SQLite and PostgreSQL.

The projector keeps the report's counts (`projections.report_counts`) in the transaction of
each batch. Here real ledgers (domain aggregates, eventsourcing, the signing writer) take a
random sequence of grants, imports, renewals, lapses, reinstatements, suspensions,
revocations, relinquishments, corrections of the valid-through (some dated before earlier
changes) and transfers between two associations (a recognition on MI's ledger, replicated,
and AK's transfer out), projected at random points in batches of random sizes. After each
projection the kept tables must equal the aggregates the report used to run over the whole
roster and status history (`tests/integration/report_oracle.py`), and the report's figures must
equal the old queries' for several days and both scopes; and again after a rebuild on a
fresh database and on the same one.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.endorsement import Endorsement
from domain.errors import DomainError
from domain.levels import Designation, EndorsementStatus, Level
from domain.lookup import HeldEndorsement
from ledger.storage.database import Database
from projections.projector import Projector
from projections.reports import BoardReports, RenewalYear
from projections.standing import Standing
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.ledger_fixtures import (
    AssociationLedger,
    Databases,
    at,
    open_ledger,
    renewal_evidence,
    replicate,
)
from tests.integration.report_oracle import from_scratch, kept_tables, old_counts, old_renewals

D = dt.date
LEVEL_CHOICES = ((Level.IFA, None), (Level.IFS, None), (Level.IMHS, None),
                 (Level.IMHM, Designation.CLINICAL), (Level.IMHM, Designation.POLICY))

def assert_kept_counts_hold(db: Database, days: list[dt.date]) -> None:
    """The kept tables equal the GROUP BY, and the report's figures the old queries'."""
    assert kept_tables(db) == from_scratch(db)
    reports = BoardReports(db)
    for association in ("AK", "MI", None):
        assert reports.renewal_years(association) == old_renewals(db, association)
        for on in days:
            assert reports.counts(association, on) == old_counts(db, association, on), (
                association, on)


# -- a random history -----------------------------------------------------------------------

KINDS = ("grant", "import", "renew", "lapse", "reinstate", "suspend", "revoke", "relinquish",
         "correct", "transfer")
WEIGHTS = (3, 2, 5, 4, 2, 1, 1, 1, 2, 3)


class History:
    """Random commands on AK's and MI's real ledgers; AK's store also holds MI's replica,
    and the projector under test projects AK's store (both ledgers)."""

    def __init__(self, ak: AssociationLedger, mi: AssociationLedger, projector: Projector,
                 seed: int) -> None:
        self.ledgers = {"AK": ak, "MI": mi}
        self.projector = projector
        self.rng = random.Random(seed)
        self.endorsements: dict[str, list[Endorsement]] = {"AK": [], "MI": []}
        self.day = D(2021, 1, 4)
        self.days = [self.day]
        self.recorded: dict[str, int] = {}

    def project(self) -> None:
        replicate(self.ledgers["MI"], self.ledgers["AK"].store)
        self.projector.batch_size = self.rng.choice((1, 2, 3, 7, 50))
        self.projector.catch_up(self.ledgers["AK"].store)

    def step(self) -> None:
        rng = self.rng
        self.day += dt.timedelta(days=rng.choice((0, 1, 5, 20, 60, 200)))
        self.days.append(self.day)
        kind = rng.choices(KINDS, weights=WEIGHTS)[0]
        association = rng.choice(("AK", "MI"))
        ledger = self.ledgers[association]
        if kind in ("grant", "import"):
            self._new(ledger, kind)
            return
        if not self.endorsements[association]:
            return
        e = rng.choice(self.endorsements[association])
        if kind == "transfer":  # of one that may move: active and in date
            movable = [m for m in self.endorsements[association]
                       if m.status is EndorsementStatus.ACTIVE and m.valid_through >= self.day]
            e = rng.choice(movable or [e])
        day, now, policy = self.day, at(self.day), ledger.policy
        back = day - dt.timedelta(days=rng.choice((0, 0, 3, 60)))  # some dated in the past
        try:
            if kind == "renew":
                start = max(e.granted_on, D(e.valid_through.year, 1, 1))
                e.renew(renewal_evidence(start, e.valid_through), renewed_on=day,
                        policy=policy, now=now)
            elif kind == "lapse":
                e.lapse(on=day, policy=policy, now=now)
            elif kind == "reinstate":
                start = max(e.granted_on, D(e.valid_through.year, 1, 1))
                e.reinstate(reinstated_on=day, reason="caught up", by_committee=True,
                            policy=policy, evidence=renewal_evidence(start, e.valid_through),
                            now=now)
            elif kind == "suspend":
                e.suspend(effective_on=back, reason="complaint", now=now)
            elif kind == "revoke":
                e.revoke(effective_on=back, reason="ethics", now=now)
            elif kind == "relinquish":
                e.relinquish(effective_on=back, reason="retired", now=now)
            elif kind == "correct":
                e.correct(corrects_version=e.version, reason="wrong date", now=now,
                          valid_through=e.valid_through + dt.timedelta(
                              days=rng.choice((-400, -30, 1, 45, 365))))
            else:
                self._transfer(e, association)
                return
        except DomainError:
            return  # refused by the domain: nothing written
        ledger.save(e)
        self.recorded[kind] = self.recorded.get(kind, 0) + 1
        if rng.random() < 0.3:
            self.project()

    def _new(self, ledger: AssociationLedger, kind: str) -> None:
        n = sum(len(v) for v in self.endorsements.values())
        level, designation = self.rng.choice(LEVEL_CHOICES)
        endorsement_id = f"{ledger.association}-{n:05d}"
        if kind == "grant":
            e = Endorsement.grant(
                endorsement_id=endorsement_id, association=ledger.association,
                person_id=f"p{n}", family_name="Doe", given_name="Jane", level=level,
                designation=designation, granted_on=self.day, application_id=f"app-{n}",
                policy=ledger.policy, now=at(self.day))
        else:  # from a paper roster: any grant year, any valid-through
            granted = self.day - dt.timedelta(days=self.rng.randrange(0, 3000))
            e = Endorsement.record_existing(
                endorsement_id=endorsement_id, association=ledger.association,
                person_id=f"p{n}", family_name="Roe", given_name="Ann", level=level,
                designation=designation, granted_on=granted,
                valid_through=self.day + dt.timedelta(days=self.rng.randrange(-200, 700)),
                legacy_reference=f"paper-{n}", now=at(self.day))
        ledger.save(e)
        self.endorsements[ledger.association].append(e)

    def _transfer(self, origin: Endorsement, association: str) -> None:
        """The other association recognises `origin`; its home then records the move."""
        if origin.status is not EndorsementStatus.ACTIVE or origin.valid_through < self.day:
            return
        home, other = self.ledgers[association], self.ledgers["MI" if association == "AK"
                                                               else "AK"]
        n = sum(len(v) for v in self.endorsements.values())
        held = HeldEndorsement(person_id=origin.person_id, endorsement_id=origin.endorsement_id,
                               association=association, level=origin.level,
                               designation=origin.designation, granted_on=origin.granted_on)
        moved = Endorsement.recognize(
            endorsement_id=f"{other.association}-{n:05d}", association=other.association,
            origin=held, family_name=origin.family_name, given_name=origin.given_name,
            valid_through=origin.valid_through, origin_entry_hash="ab" * 32,
            recognized_on=self.day, now=at(self.day))
        other.save(moved)
        self.endorsements[other.association].append(moved)
        if self.rng.random() < 0.8:  # sometimes the home has not recorded it yet
            origin.transfer_out(to_association=other.association,
                                to_endorsement_id=moved.endorsement_id,
                                recognition_entry_hash="cd" * 32, effective_on=self.day,
                                now=at(self.day))
            home.save(origin)
        self.recorded["transfer"] = self.recorded.get("transfer", 0) + 1


@pytest.fixture
def dbs(backend: Backend, tmp_path: Path) -> Iterator[Databases]:
    """Fresh databases on the backend under test."""
    backend.require()
    databases = Databases(backend.name, tmp_path)
    yield databases
    databases.close()


class ReportCountsContract:
    """The kept counts against the GROUP BY, on every backend."""

    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_kept_counts_equal_the_group_by(self, dbs: Databases, tmp_path: Path,
                                            seed: int) -> None:
        ak = open_ledger(tmp_path / "events", dbs.new(), "AK")
        mi = open_ledger(tmp_path / "events", dbs.new(), "MI")
        try:
            db = dbs.new()
            history = History(ak, mi, Projector(db), seed)
            checked = 0
            for step in range(90):
                history.step()
                if step % 15 == 14:
                    history.project()
                    assert_kept_counts_hold(db, history.rng.sample(history.days, 4))
                    checked += 1
            history.project()
            days = sorted(set(history.days))
            assert_kept_counts_hold(db, [*days[::max(1, len(days) // 8)], history.day])
            kept = kept_tables(db)
            # Not vacuous: every kind of figure is there, transfers and lapses too.
            statuses = {r[3] for r in kept["report_counts"]}
            assert {"active", "transferred"} <= statuses, statuses
            assert kept["report_renewals"] and kept["report_active_through"]
            assert sum(int(r[3]) for r in kept["report_renewals"]) > 0  # lapses
            assert sum(int(r[2]) for r in kept["report_renewals"]) > 0  # renewals
            assert checked == 6
            assert {"renew", "lapse", "correct", "transfer"} <= set(history.recorded)

            # A rebuild on a fresh database and on this one counts the same.
            fresh = dbs.new()
            Projector(fresh).rebuild(ak.store)
            assert kept_tables(fresh) == kept
            Projector(db).rebuild(ak.store)
            assert kept_tables(db) == kept
            assert_kept_counts_hold(db, [history.day])
        finally:
            ak.close()
            mi.close()

    def test_a_key_that_counts_nothing_is_gone(self, dbs: Databases, tmp_path: Path) -> None:
        ak = open_ledger(tmp_path / "events", dbs.new(), "AK")
        try:
            db = dbs.new()
            projector = Projector(db)
            e = Endorsement.record_existing(
                endorsement_id="AK-ONLY0001", association="AK", person_id="p1",
                family_name="Roe", given_name="Ann", level=Level.IFS, designation=None,
                granted_on=D(2019, 5, 1), valid_through=D(2024, 12, 31),
                legacy_reference="paper-1", now=at(D(2024, 1, 1)))
            ak.save(e)
            projector.catch_up(ak.store)
            assert kept_tables(db)["report_counts"] == [("AK", "IFS", "", "active", 2019, 1)]
            assert kept_tables(db)["report_active_through"] == [
                ("AK", "2024-12-31", "IFS", "", 2019, 1)]
            reports = BoardReports(db)
            assert [(r.standing, r.count) for r in reports.counts("AK", D(2024, 12, 31))] == [
                (Standing.CURRENT, 1)]
            assert [(r.standing, r.count) for r in reports.counts(None, D(2025, 1, 1))] == [
                (Standing.EXPIRED, 1)]
            e.lapse(on=D(2025, 3, 2), policy=ak.policy, now=at(D(2025, 3, 2)))
            ak.save(e)
            projector.catch_up(ak.store)
            assert kept_tables(db) == {
                "report_counts": [("AK", "IFS", "", "lapsed", 2019, 1)],
                "report_active_through": [],
                "report_renewals": [("AK", 2025, 0, 1)]}
            assert reports.renewal_years("AK") == [RenewalYear(year=2025, renewed=0, lapsed=1)]
            assert reports.renewal_years("MI") == []
        finally:
            ak.close()


class TestReportCountsOnSQLite(ReportCountsContract, OnSQLite):
    """The contract on SQLite files."""


class TestReportCountsOnPostgreSQL(ReportCountsContract, OnPostgreSQL):
    """The contract on a real PostgreSQL (a fresh schema per test)."""
