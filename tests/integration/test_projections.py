"""Projections built from real ledgers, on SQLite files and on PostgreSQL.

Ledgers are written the way a node writes them (domain aggregates, eventsourcing, the ledger
writer signing entries); the projector then answers roster, status-on-a-date, lookup,
pipeline and renewal questions. Exactly-once (invariant 6) and determinism (invariant 5) are
checked by re-applying, failing mid-batch, and comparing rebuilt with incremental digests.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from domain.application import Application, ApplicationState
from domain.duplicates import DuplicateMatch, PossibleDuplicate
from domain.endorsement import Endorsement, endorsement_uuid
from domain.errors import DomainError, InvalidCommand, InvalidTransition
from domain.evidence import ApplicationEvidence, Degree, Rating, RenewalEvidence, RscHours
from domain.levels import DegreeKind, EndorsementStatus, Level, RaterRole, ReviewDecision
from domain.lookup import HeldEndorsement
from domain.policy import AssociationPolicy, RenewalCycle, RevocationReapply
from domain.requirements import evaluate_application
from federation_api.node.reciprocity import ProjectedReplica
from ledger.chain.entries import seal
from ledger.codec import EntryBody, decode_body, decode_payload, decode_signed, encode
from ledger.errors import ConcurrencyConflict, MalformedEntry, NotFound
from ledger.service import AssociationService
from ledger.storage.database import Database
from projections.errors import ForeignAggregate, ProjectionGap
from projections.projector import Projector
from projections.standing import Standing
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.ledger_fixtures import (
    AssociationLedger,
    Databases,
    at,
    grant,
    level_one_evidence,
    open_ledger,
    renew,
    renewal_evidence,
    replicate,
    start_application,
    submit,
)

D = dt.date


@pytest.fixture
def dbs(backend: Backend, tmp_path: Path) -> Iterator[Databases]:
    """Fresh databases on the backend under test (PostgreSQL: one schema each, dropped after)."""
    backend.require()
    databases = Databases(backend.name, tmp_path)
    yield databases
    databases.close()


@pytest.fixture
def ak(dbs: Databases, tmp_path: Path) -> Iterator[AssociationLedger]:
    """Alaska's ledger: fixed renewal date 31 Dec, 60 days' grace, catch-up reinstatement."""
    ledger = open_ledger(tmp_path / "events", dbs.new(), "AK")
    yield ledger
    ledger.close()


def _wires(ledger: AssociationLedger) -> list[bytes]:
    return list(ledger.store.wires(ledger.association))


# -- answers -----------------------------------------------------------------------------------


def _lifecycle(ak: AssociationLedger) -> Endorsement:
    """AK-0001: granted, renewed, suspended, reinstated, renamed, then not renewed: lapsed."""
    e = grant(ak, "AK-0001", "p1", D(2024, 3, 1), level=Level.IFS)  # valid through 2024-12-31
    renew(ak, e, D(2024, 12, 15))  # valid through 2025-12-31
    e.suspend(effective_on=D(2025, 6, 1), reason="complaint", now=at(D(2025, 6, 1)))
    ak.save(e)
    e.reinstate(reinstated_on=D(2025, 7, 1), reason="cleared", evidence=renewal_evidence(
        D(2025, 1, 1), D(2025, 12, 31)), by_committee=True, policy=ak.policy,
        now=at(D(2025, 7, 1)))
    ak.save(e)
    e.correct(corrects_version=1, family_name="Dow", reason="misspelt", now=at(D(2025, 7, 2)))
    ak.save(e)
    e.lapse(on=D(2026, 3, 2), policy=ak.policy, now=at(D(2026, 3, 2)))  # 60 days' grace
    ak.save(e)
    return e


# -- exactly once ----------------------------------------------------------------------------


def _some_history(ak: AssociationLedger) -> None:
    _lifecycle(ak)
    for i in range(5):
        e = grant(ak, f"AK-1{i:03d}", f"q{i}", D(2024, 1, 1 + i))
        renew(ak, e, D(2024, 12, 1))
    app = start_application(ak, "applicant", D(2024, 4, 1))
    submit(ak, app, level_one_evidence(D(2024, 4, 1), complete=False), D(2024, 4, 2))


# -- determinism -----------------------------------------------------------------------------

_KINDS = ("grant", "renew", "lapse", "reinstate", "suspend", "revoke", "relinquish",
          "correct_name", "correct_valid_through", "start", "submit", "return", "deny",
          "approve", "withdraw", "project", "attest_degree", "assign", "conflict",
          "panel_decide", "coordinator_return", "resubmit")
_PANEL_DECISIONS = (ReviewDecision.APPROVE, ReviewDecision.RETURN_FOR_MORE, ReviewDecision.DENY)
# (command, which aggregate / parameter, days to advance the calendar first)
_commands = st.lists(st.tuples(st.sampled_from(_KINDS), st.integers(0, 7),
                               st.sampled_from((0, 1, 30, 120, 400))), min_size=5, max_size=40)


_T = TypeVar("_T")


def _pick(items: list[_T], pick: int) -> _T:
    if not items:
        raise IndexError("nothing to act on yet")
    return items[pick % len(items)]


class _Scenario:
    """Runs random commands against the real aggregates; rejected commands write nothing."""

    def __init__(self, ledger: AssociationLedger, projector: Projector) -> None:
        self.ledger = ledger
        self.projector = projector
        self.endorsements: list[Endorsement] = []
        self.applications: list[Application] = []
        self.day = D(2024, 1, 1)

    def run(self, kind: str, pick: int, advance: int) -> None:
        self.day += dt.timedelta(days=advance)
        day, now, policy = self.day, at(self.day), self.ledger.policy
        if kind == "project":
            self.projector.batch_size = 1 + pick
            self.projector.catch_up(self.ledger.store)
            return
        if kind == "grant":
            n = len(self.endorsements)
            level = (Level.IFA, Level.IFS, Level.IMHS)[pick % 3]
            self.endorsements.append(grant(self.ledger, f"AK-{n:04d}", f"p{pick % 3}", day,
                                           level=level, masters_prepared=(
                                               level is Level.IFS and pick % 2 == 0)))
            return
        if kind == "start":
            self.applications.append(start_application(self.ledger, f"p{pick % 3}", day))
            return
        try:
            if kind in ("submit", "return", "deny", "approve", "withdraw", "assign", "conflict",
                        "panel_decide", "coordinator_return", "resubmit"):
                target: Endorsement | Application = self._application(kind, pick, day)
            else:
                target = self._endorsement(kind, pick, day, now, policy)
        except (DomainError, IndexError):
            return  # the domain rejected it, or there is nothing to act on yet
        self.ledger.save(target)
        event(f"{kind} recorded")

    def _endorsement(self, kind: str, pick: int, day: dt.date, now: dt.datetime,
                     policy: AssociationPolicy) -> Endorsement:
        e = _pick(self.endorsements, pick)
        start = max(e.granted_on, D(e.valid_through.year, 1, 1))
        if kind == "renew":
            e.renew(renewal_evidence(start, e.valid_through), renewed_on=day, policy=policy,
                    now=now)
        elif kind == "lapse":
            e.lapse(on=day, policy=policy, now=now)
        elif kind == "reinstate":
            e.reinstate(reinstated_on=day, reason="caught up", by_committee=True, policy=policy,
                        evidence=renewal_evidence(start, e.valid_through), now=now)
        elif kind == "suspend":
            e.suspend(effective_on=day, reason="complaint", now=now)
        elif kind == "revoke":
            e.revoke(effective_on=day, reason="ethics", now=now)
        elif kind == "relinquish":
            e.relinquish(effective_on=day, reason="retired", now=now)
        elif kind == "correct_name":
            e.correct(corrects_version=1, family_name=f"Name{pick}", reason="typo", now=now)
        elif kind == "attest_degree":
            e.attest_degree(masters_prepared=pick % 3 != 0, effective_on=day, attested_by="c",
                            now=now)
        else:
            e.correct(corrects_version=e.version,
                      valid_through=e.valid_through + dt.timedelta(days=pick * 20 - 70),
                      reason="wrong date", now=now)
        return e

    def _application(self, kind: str, pick: int, day: dt.date) -> Application:
        a = _pick(self.applications, pick)
        now = at(day)
        if kind == "submit":
            a.submit_evidence(level_one_evidence(day, complete=pick % 2 == 0),
                              self.projector, submitted_on=day, now=now)
        elif kind == "withdraw":
            a.withdraw(withdrawn_on=day, reason="changed plans", now=now)
        elif kind == "assign":
            a.assign_reviewers((f"rev-{pick % 3}",), assigned_by="coord", assigned_on=day,
                               now=now)
        elif kind == "conflict":
            a.declare_conflict(reviewer=_pick([s.reviewer for s in a.reviewers], pick),
                               declared_on=day, note="kin", now=now)
        elif kind == "panel_decide":
            a.decide(_PANEL_DECISIONS[pick % 3],
                     reviewer=_pick([s.reviewer for s in a.reviewers if s.awaiting], pick),
                     comments="why", decided_on=day, now=now)
        elif kind == "coordinator_return":
            a.return_with_comments(returned_by="coord", comments="a transcript",
                                   returned_on=day, now=now)
        elif kind == "resubmit":
            a.resubmit(None, self.projector, response="sent", resubmitted_on=day, now=now)
        else:
            decision = {"return": ReviewDecision.RETURN_FOR_MORE, "deny": ReviewDecision.DENY,
                        "approve": ReviewDecision.APPROVE}[kind]
            a.review(decision, reviewer="r", reason="because", decided_on=day, now=now)
        return a


def _check_never_current_after_valid_through(projector: Projector) -> None:
    for row in projector.roster():
        days = {row.granted_on, row.valid_through, row.valid_through + dt.timedelta(days=1)}
        for day in sorted(days):
            for probe in (day - dt.timedelta(days=1), day, day + dt.timedelta(days=1)):
                answer = projector.status_as_of(row.endorsement_id, probe)
                if answer is not None and answer.standing is Standing.CURRENT:
                    assert answer.status is EndorsementStatus.ACTIVE
                    assert probe <= answer.valid_through
                held = {h.endorsement_id for h in projector.held_on(row.person_id, probe)}
                is_current = answer is not None and answer.standing is Standing.CURRENT
                assert (row.endorsement_id in held) == is_current


_WORKFLOW_KINDS = ("submit", "assign", "assign", "conflict", "panel_decide", "panel_decide",
                   "panel_decide", "coordinator_return", "resubmit", "return", "withdraw",
                   "project")
_workflow_commands = st.lists(st.tuples(st.sampled_from(_WORKFLOW_KINDS), st.integers(0, 7),
                                        st.sampled_from((0, 1, 30))), min_size=5, max_size=40)


# -- one person, one standing (DESIGN invariant 9), through the real projection ---------------

DAY = D(2024, 10, 1)


def _service(ledger: AssociationLedger, projector: Projector,
             policy: AssociationPolicy | None = None) -> AssociationService:
    """The association's command service over its real ledger; lookups are answered by a
    projection of its ledger store, which also holds the replicas of its peers."""
    return AssociationService(association=ledger.association, events=ledger.events,  # type: ignore[arg-type]
                              writer=ledger.writer, lookup=projector,
                              policy=policy or ledger.policy,
                              on_committed=lambda: projector.catch_up(ledger.store))


IMPORTED_ON = D(2020, 1, 6)
HOURS_ENDED = D(2020, 12, 31)


def _import(service: AssociationService, endorsement_id: str, person_id: str, level: Level,
            *, granted_on: dt.date = IMPORTED_ON, day: dt.date = DAY,
            masters_prepared: bool = False) -> Endorsement:
    return service.record_existing(
        endorsement_id=endorsement_id, person_id=person_id, family_name="Nunez",
        given_name="Maria", level=level, designation=None, granted_on=granted_on,
        valid_through=D(2099, 12, 31), legacy_reference=f"paper-{endorsement_id}", now=at(day),
        masters_prepared=masters_prepared)


def _approved_application(ledger: AssociationLedger, projector: Projector, person_id: str,
                          day: dt.date) -> Application:
    """An approved Level I application (its endorsed rater imported here once)."""
    if projector.endorsement("AK-RATER003") is None:
        rater = Endorsement.record_existing(
            endorsement_id="AK-RATER003", association=ledger.association, person_id="rater-3",
            family_name="Endorsed", given_name="Erin", level=Level.IMHS, designation=None,
            granted_on=D(2010, 1, 1), valid_through=D(2099, 12, 31), legacy_reference="r-3",
            now=at(D(2010, 1, 1)))
        ledger.save(rater)
        projector.catch_up(ledger.store)
    application = start_application(ledger, person_id, day)
    submit(ledger, application, level_one_evidence(day), day, lookup=projector)
    application.review(ReviewDecision.APPROVE, reviewer="r", reason="", decided_on=day,
                       now=at(day))
    ledger.save(application)
    projector.catch_up(ledger.store)
    return application


@pytest.fixture
def alliance(dbs: Databases, tmp_path: Path) -> Iterator[tuple[AssociationLedger, ...]]:
    """AK (whose store also holds its replicas of MI and WA), MI and WA."""
    ledgers = tuple(open_ledger(tmp_path / "events", dbs.new(), a) for a in ("AK", "MI", "WA"))
    yield ledgers
    for ledger in ledgers:
        ledger.close()


# -- the contract, and the backends it runs on ---------------------------------------------


class ProjectionTablesContract:
    """The projector's tables and queries: one contract, on every backend."""

    def test_status_as_of_follows_the_recorded_history(self, ak: AssociationLedger,
                                                       dbs: Databases) -> None:
        _lifecycle(ak)
        projector = Projector(dbs.new())
        assert projector.catch_up(ak.store) == 6

        def answer(on: dt.date) -> tuple[str, str, dt.date] | None:
            a = projector.status_as_of("AK-0001", on)
            return None if a is None else (a.status, a.standing, a.valid_through)

        assert answer(D(2024, 2, 29)) is None  # not yet granted
        assert answer(D(2024, 3, 1)) == ("active", "current", D(2024, 12, 31))
        assert answer(D(2024, 12, 20)) == ("active", "current", D(2025, 12, 31))
        assert answer(D(2025, 6, 1)) == ("suspended", "suspended", D(2025, 12, 31))
        assert answer(D(2025, 7, 1)) == ("active", "current", D(2025, 12, 31))
        assert answer(D(2025, 12, 31)) == ("active", "current", D(2025, 12, 31))
        # Past valid-through, before the lapse entry's date: recorded active, never shown current.
        assert answer(D(2026, 1, 1)) == ("active", "expired", D(2025, 12, 31))
        assert answer(D(2026, 3, 2)) == ("lapsed", "lapsed", D(2025, 12, 31))

        full = projector.status_as_of("AK-0001", D(2025, 8, 1))
        assert full is not None
        assert (full.endorsement_id, full.family_name, full.given_name, full.level,
                full.designation, full.association, full.as_of) == (
            "AK-0001", "Dow", "Jane", Level.IFS, None, "AK", D(2025, 8, 1))
        assert projector.status_as_of("AK-9999", D(2025, 8, 1)) is None

        row = projector.endorsement("AK-0001")
        assert row is not None
        assert (row.status, row.family_name, row.valid_through, row.last_seq, row.granted_on) == (
            EndorsementStatus.LAPSED, "Dow", D(2025, 12, 31), 6, D(2024, 3, 1))
        assert projector.roster() == [row]
        assert projector.roster(association="AK", status="lapsed") == [row]
        assert projector.roster(status="active") == []
        assert projector.roster(association="WA") == []

    def test_an_expired_endorsement_is_not_current_before_its_lapse_arrives(self,
            ak: AssociationLedger, dbs: Databases) -> None:
        grant(ak, "AK-0002", "p2", D(2024, 5, 1))  # valid through 2024-12-31, never renewed
        projector = Projector(dbs.new())
        projector.catch_up(ak.store)
        on_last_day = projector.status_as_of("AK-0002", D(2024, 12, 31))
        day_after = projector.status_as_of("AK-0002", D(2025, 1, 1))
        assert on_last_day is not None and on_last_day.standing is Standing.CURRENT
        assert day_after is not None
        assert (day_after.status, day_after.standing) == ("active", "expired")
        assert projector.held_on("p2", D(2024, 12, 31)) != ()
        assert projector.held_on("p2", D(2025, 1, 1)) == ()

    def test_held_on_answers_the_domain_lookup_by_date(self, ak: AssociationLedger,
                                                       dbs: Databases) -> None:
        _lifecycle(ak)
        projector = Projector(dbs.new())
        projector.catch_up(ak.store)
        held = HeldEndorsement(person_id="p1", endorsement_id="AK-0001", association="AK",
                               level=Level.IFS, designation=None, granted_on=D(2024, 3, 1))
        assert projector.held_on("p1", D(2024, 3, 1)) == (held,)
        assert projector.held_on("p1", D(2025, 6, 15)) == ()  # suspended
        assert projector.held_on("p1", D(2025, 8, 1)) == (held,)
        assert projector.held_on("p1", D(2026, 1, 2)) == ()  # expired
        assert projector.held_on("p1", D(2024, 1, 1)) == ()
        assert projector.held_on("nobody", D(2025, 8, 1)) == ()

    def test_the_domain_evaluates_raters_through_the_projection(self, ak: AssociationLedger,
                                                                dbs: Databases) -> None:
        projector = Projector(dbs.new())
        grant(ak, "AK-0100", "rater-3", D(2024, 1, 10), level=Level.IFS)
        projector.catch_up(ak.store)
        rated_after = start_application(ak, "p7", D(2024, 2, 1))
        submit(ak, rated_after, level_one_evidence(D(2024, 2, 1)), D(2024, 2, 2), lookup=projector)
        rated_before = start_application(ak, "p8", D(2024, 1, 5))
        submit(ak, rated_before, level_one_evidence(D(2024, 1, 5)), D(2024, 1, 6), lookup=projector)
        assert rated_after.unmet == ()
        assert [u.code for u in rated_before.unmet] == ["ratings.endorsed_rater"]

    def test_pipeline_lists_open_applications_with_what_they_leave_unmet(self,
            ak: AssociationLedger, dbs: Databases) -> None:
        projector = Projector(dbs.new())
        grant(ak, "AK-0100", "rater-3", D(2024, 1, 10), level=Level.IFS)
        projector.catch_up(ak.store)
        day = D(2024, 3, 1)

        def application(person: str, *, complete: bool) -> Application:
            app = start_application(ak, person, day)
            submit(ak, app, level_one_evidence(day, complete=complete), day, lookup=projector)
            return app

        still_open = application("p-open", complete=False)
        returned = application("p-returned", complete=False)
        returned.review(ReviewDecision.RETURN_FOR_MORE, reviewer="r", reason="sign the agreement",
                        decided_on=D(2024, 3, 5), now=at(D(2024, 3, 5)))
        denied = application("p-denied", complete=False)
        denied.review(ReviewDecision.DENY, reviewer="r", reason="no", decided_on=D(2024, 3, 6),
                      now=at(D(2024, 3, 6)))
        withdrawn = application("p-withdrawn", complete=False)
        withdrawn.withdraw(withdrawn_on=D(2024, 3, 7), reason="moved", now=at(D(2024, 3, 7)))
        approved = application("p-approved", complete=True)
        approved.review(ReviewDecision.APPROVE, reviewer="r", reason="", decided_on=D(2024, 3, 8),
                        now=at(D(2024, 3, 8)))
        granted = application("p-granted", complete=True)
        granted.review(ReviewDecision.APPROVE, reviewer="r", reason="", decided_on=D(2024, 3, 8),
                       now=at(D(2024, 3, 8)))
        granted.mark_granted("AK-0200", granted_on=D(2024, 3, 9), now=at(D(2024, 3, 9)))
        ak.save(returned, denied, withdrawn, approved, granted)
        projector.catch_up(ak.store)

        pipeline = projector.pipeline("AK")
        by_person = {a.person_id: a for a in pipeline}
        assert sorted(by_person) == ["p-approved", "p-open", "p-returned"]
        assert by_person["p-open"].state is ApplicationState.OPEN
        assert by_person["p-open"].unmet == still_open.unmet != ()
        assert by_person["p-returned"].state is ApplicationState.RETURNED
        assert by_person["p-returned"].updated_on == D(2024, 3, 5)
        assert by_person["p-approved"].state is ApplicationState.APPROVED
        assert by_person["p-approved"].unmet == ()
        assert projector.pipeline("WA") == []
        closed = {str(a.id): a.state for a in (denied, withdrawn, granted)}
        for application_id, state in closed.items():
            row = projector.application(application_id)
            assert row is not None and row.state is state

        # Resubmitting a returned application reopens it.
        submit(ak, returned, level_one_evidence(day), D(2024, 3, 20), lookup=projector)
        projector.catch_up(ak.store)
        reopened = projector.application(str(returned.id))
        assert reopened is not None
        assert (reopened.state, reopened.unmet, reopened.updated_on) == (
            ApplicationState.OPEN, (), D(2024, 3, 20))

    def test_renewals_lists_due_and_overdue_active_endorsements(self, dbs: Databases,
                                                                tmp_path: Path) -> None:
        ledger = open_ledger(tmp_path / "events", dbs.new(), "WA",
                             AssociationPolicy(cycle=RenewalCycle.ANNIVERSARY))
        try:
            grant(ledger, "WA-DUE-SOON", "a", D(2024, 1, 15))  # valid through 2025-01-14
            grant(ledger, "WA-DUE-LATER", "b", D(2024, 2, 20))  # 2025-02-19
            grant(ledger, "WA-NOT-YET", "c", D(2024, 6, 1))  # 2025-05-31
            grant(ledger, "WA-OVERDUE", "d", D(2023, 12, 1))  # 2024-11-30
            suspended = grant(ledger, "WA-SUSPENDED", "e", D(2024, 1, 20))  # 2025-01-19
            suspended.suspend(effective_on=D(2024, 6, 1), reason="r", now=at(D(2024, 6, 1)))
            lapsed = grant(ledger, "WA-LAPSED", "f", D(2023, 1, 1))  # 2023-12-31
            lapsed.lapse(on=D(2024, 3, 1), policy=ledger.policy, now=at(D(2024, 3, 1)))
            ledger.save(suspended, lapsed)
            projector = Projector(dbs.new())
            projector.catch_up(ledger.store)

            def ids(rows: list[object]) -> list[str]:
                return [r.endorsement_id for r in rows]  # type: ignore[attr-defined]

            due, overdue = projector.renewals("WA", D(2025, 1, 1), 30)
            assert (ids(due), ids(overdue)) == (["WA-DUE-SOON"], ["WA-OVERDUE"])
            due, overdue = projector.renewals("WA", D(2025, 1, 1), 60)
            assert ids(due) == ["WA-DUE-SOON", "WA-DUE-LATER"]
            due, overdue = projector.renewals("WA", D(2025, 1, 14), 0)
            assert ids(due) == ["WA-DUE-SOON"]
            due, overdue = projector.renewals("WA", D(2025, 1, 15), 0)
            assert (ids(due), ids(overdue)) == ([], ["WA-OVERDUE", "WA-DUE-SOON"])
            assert projector.renewals("AK", D(2025, 1, 1), 365) == ([], [])
        finally:
            ledger.close()

    def test_reapplying_entries_changes_nothing(self, ak: AssociationLedger,
                                                dbs: Databases) -> None:
        _some_history(ak)
        wires = _wires(ak)
        reference = Projector(dbs.new())
        assert reference.catch_up(ak.store) == len(wires)
        digest = reference.digest()
        assert reference.catch_up(ak.store) == 0
        assert reference.apply_wires(wires) == 0
        assert reference.apply_wires(wires[3:7]) == 0
        assert reference.digest() == digest
        assert reference.position("AK") == len(wires) == reference.positions()["AK"]

        # Re-delivery in any order, with duplicates and overlaps, still applies each entry once.
        shuffled = Projector(dbs.new(), batch_size=3)
        assert shuffled.apply_wires(wires[:5]) == 5
        redelivered = wires[2:] + wires[:9] + wires[4:6]
        random.Random(7).shuffle(redelivered)
        assert shuffled.apply_wires(redelivered) == len(wires) - 5
        assert shuffled.digest() == digest
        assert shuffled.table_digests() == reference.table_digests()

    def test_racing_projectors_apply_each_entry_once(self, ak: AssociationLedger,
                                                    dbs: Databases) -> None:
        _some_history(ak)
        wires = _wires(ak)
        db = dbs.new()
        second_connection = Database(db.url)
        try:
            projectors = [Projector(db, batch_size=2), Projector(second_connection, batch_size=3)]
            with ThreadPoolExecutor(max_workers=2) as pool:
                applied = list(pool.map(lambda p: p.catch_up(ak.store), projectors))
            assert sum(applied) == len(wires)
            reference = Projector(dbs.new())
            reference.catch_up(ak.store)
            assert projectors[0].digest() == projectors[1].digest() == reference.digest()
        finally:
            second_connection.close()

    def test_a_gap_applies_nothing(self, ak: AssociationLedger, dbs: Databases) -> None:
        _some_history(ak)
        wires = _wires(ak)
        projector = Projector(dbs.new())
        empty = projector.digest()
        with pytest.raises(ProjectionGap) as raised:
            projector.apply_wires(wires[:2] + wires[3:])
        assert (raised.value.association, raised.value.seq) == ("AK", 4)
        assert projector.digest() == empty
        assert projector.position("AK") == 0

    @pytest.mark.parametrize(("batch_size", "committed"), [(10, 0), (2, 2)])
    def test_a_failing_entry_rolls_back_its_whole_batch(self, dbs: Databases, tmp_path: Path,
                                                        batch_size: int, committed: int) -> None:
        # A ledger the domain cannot produce on one node: AK's writer seals a WA endorsement.
        ak = open_ledger(tmp_path / "events", dbs.new(), "AK")
        try:
            for i in range(3):
                grant(ak, f"AK-{i}", f"p{i}", D(2024, 1, 1))
            foreign = Endorsement.grant(
                endorsement_id="WA-1", association="WA", person_id="x", family_name="X",
                given_name="Y", level=Level.IFA, designation=None, granted_on=D(2024, 1, 2),
                application_id="a", policy=ak.policy, now=at(D(2024, 1, 2)))
            ak.save(foreign)
            projector = Projector(dbs.new(), batch_size=batch_size,
                                  strict_associations=frozenset({"AK"}))
            with pytest.raises(ForeignAggregate) as raised:
                projector.catch_up(ak.store)
            assert (raised.value.association, raised.value.seq) == ("AK", 4)
            assert projector.position("AK") == committed
            assert [r.endorsement_id for r in projector.roster()] == [
                f"AK-{i}" for i in range(committed)]
            with pytest.raises(ForeignAggregate):  # still stuck there, loudly, on retry
                projector.catch_up(ak.store)
            assert projector.position("AK") == committed
        finally:
            ak.close()

    def test_a_peer_entry_breaking_a_rule_is_a_recorded_fault(self, dbs: Databases,
                                                              tmp_path: Path) -> None:
        # Seen from a node that is not AK, AK's bad entry must not stop projection, and every
        # node must skip it the same way (the fault is part of the digest).
        ak = open_ledger(tmp_path / "events", dbs.new(), "AK")
        try:
            grant(ak, "AK-0", "p0", D(2024, 1, 1))
            ak.save(Endorsement.grant(
                endorsement_id="WA-1", association="WA", person_id="x", family_name="X",
                given_name="Y", level=Level.IFA, designation=None, granted_on=D(2024, 1, 2),
                application_id="a", policy=ak.policy, now=at(D(2024, 1, 2))))
            grant(ak, "AK-2", "p2", D(2024, 1, 3))
            first, second = Projector(dbs.new()), Projector(dbs.new(), batch_size=1)
            for projector in (first, second):
                projector.catch_up(ak.store)
                assert [r.endorsement_id for r in projector.roster()] == ["AK-0", "AK-2"]
                assert [(a, s) for a, s, _ in projector.faults()] == [("AK", 2)]
            assert first.digest() == second.digest()
        finally:
            ak.close()

    def test_an_unknown_event_type_fails_loudly(self, ak: AssociationLedger,
                                                dbs: Databases) -> None:
        e = grant(ak, "AK-0001", "p1", D(2024, 3, 1))
        head = ak.store.head("AK")
        assert head is not None
        body = EntryBody(association="AK", seq=head[0] + 1, prev_hash=head[1],
                         recorded_at=at(D(2024, 3, 2)), event_type="EndorsementTeleported",
                         schema_version=1, aggregate_id=str(e.id), aggregate_version=2,
                         payload=encode({"to": "Mars"}), commitment=b"", key_id=ak.signer.key_id)
        ak.store.append([seal(body, ak.signer)], follower="test-forger", position=1)
        projector = Projector(dbs.new(), batch_size=1)
        with pytest.raises(MalformedEntry, match="unknown event type"):
            projector.catch_up(ak.store)
        assert projector.position("AK") == 1

    def test_peer_ledgers_project_side_by_side(self, dbs: Databases, tmp_path: Path) -> None:
        ak = open_ledger(tmp_path / "events", dbs.new(), "AK")
        wa = open_ledger(tmp_path / "events", dbs.new(), "WA")
        node = Projector(dbs.new())
        try:
            from ledger.chain.store import LedgerStore

            store = LedgerStore(dbs.new())
            grant(ak, "AK-1", "p-ak", D(2024, 2, 1))
            moved = grant(wa, "WA-1", "p-moved", D(2024, 2, 1), level=Level.IMHS)
            assert replicate(ak, store) == 1 and replicate(wa, store) == 1
            assert node.catch_up(store) == 2
            assert node.positions() == {"AK": 1, "WA": 1}
            assert [r.endorsement_id for r in node.roster(association="WA")] == ["WA-1"]
            assert [h.endorsement_id for h in node.held_on("p-moved", D(2024, 6, 1))] == ["WA-1"]

            moved.relinquish(effective_on=D(2024, 7, 1), reason="retired", now=at(D(2024, 7, 1)))
            wa.save(moved)
            replicate(wa, store)
            assert node.catch_up(store) == 1
            assert node.positions() == {"AK": 1, "WA": 2}
            assert node.held_on("p-moved", D(2024, 7, 1)) == ()
            answer = node.status_as_of("WA-1", D(2024, 7, 1))
            assert answer is not None and answer.standing is Standing.RELINQUISHED

            rebuilt = Projector(dbs.new())
            rebuilt.rebuild(store)
            assert rebuilt.digest() == node.digest()
        finally:
            ak.close()
            wa.close()

    # differing_executors: the one property runs in each backend's class (as the contract
    # means it to); an example found on one backend is worth replaying on the other.
    @settings(max_examples=30, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.differing_executors])
    @given(grants=st.integers(1, 4), applications=st.integers(0, 3), commands=_commands)
    def test_rebuild_and_incremental_catch_up_give_one_digest(self,
            dbs: Databases, tmp_path: Path, grants: int, applications: int,
            commands: list[tuple[str, int, int]]) -> None:
        ledger = open_ledger(tmp_path / f"events-{uuid.uuid4().hex}", dbs.new(), "AK")
        incremental_db, rebuilt_db = dbs.new(), dbs.new()
        try:
            incremental = Projector(incremental_db)
            scenario = _Scenario(ledger, incremental)
            preamble = [("grant", i, 0) for i in range(grants)]
            preamble += [("start", i, 0) for i in range(applications)]
            for command in preamble + commands:
                scenario.run(*command)
            incremental.catch_up(ledger.store)
            rebuilt = Projector(rebuilt_db)
            assert rebuilt.rebuild(ledger.store) == len(_wires(ledger))
            assert incremental.table_digests() == rebuilt.table_digests()
            assert incremental.digest() == rebuilt.digest()
            _check_never_current_after_valid_through(rebuilt)
            digest = rebuilt.digest()
            incremental.batch_size = 4
            incremental.rebuild(ledger.store)
            assert incremental.digest() == digest
        finally:
            ledger.close()
            incremental_db.close()
            rebuilt_db.close()

    @settings(max_examples=30, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.differing_executors])
    @given(applications=st.integers(1, 3), commands=_workflow_commands)
    def test_the_review_workflow_rebuilds_to_the_incremental_digest(
            self, dbs: Databases, tmp_path: Path, applications: int,
            commands: list[tuple[str, int, int]]) -> None:
        ledger = open_ledger(tmp_path / f"events-{uuid.uuid4().hex}", dbs.new(), "AK")
        incremental_db, rebuilt_db = dbs.new(), dbs.new()
        try:
            incremental = Projector(incremental_db)
            scenario = _Scenario(ledger, incremental)
            # The endorsed rater of the Level I evidence, so that panels can approve.
            grant(ledger, "AK-RATER", "rater-3", D(2020, 1, 1), level=Level.IMHS)
            for command in [("start", i, 0) for i in range(applications)] + commands:
                scenario.run(*command)
            incremental.catch_up(ledger.store)
            rebuilt = Projector(rebuilt_db)
            rebuilt.rebuild(ledger.store)
            assert incremental.table_digests() == rebuilt.table_digests()
            for application in scenario.applications:
                row = rebuilt.application(str(application.id))
                assert row is not None
                assert (row.state, row.reviewers) == (application.state, application.reviewers)
            incremental.batch_size = 3
            incremental.rebuild(ledger.store)
            assert incremental.digest() == rebuilt.digest()
        finally:
            ledger.close()
            incremental_db.close()
            rebuilt_db.close()

    def test_a_suspended_person_gets_no_new_endorsement_anywhere(self,
            alliance: tuple[AssociationLedger, ...], dbs: Databases) -> None:
        ak, mi, wa = alliance
        suspended = grant(mi, "MI-KBJE7FMY", "p-moved", D(2024, 2, 1), level=Level.IFS)
        suspended.suspend(effective_on=D(2024, 9, 1), reason="complaint", now=at(D(2024, 9, 1)))
        mi.save(suspended)
        grant(wa, "WA-CURRENT1", "p-moved", D(2024, 3, 1), level=Level.IFS)
        replicate(mi, ak.store)
        replicate(wa, ak.store)
        projector = Projector(dbs.new())
        projector.catch_up(ak.store)
        service = _service(ak, projector)
        application = _approved_application(ak, projector, "p-moved", DAY)
        head = ak.store.head("AK")

        attempts = {
            "grant": lambda: service.grant(application.id, endorsement_id="AK-FNBY8P0J",
                                           granted_on=DAY, now=at(DAY)),
            "import": lambda: _import(service, "AK-IMPORT01", "p-moved", Level.IFS),
            "recognition": lambda: service.recognize(
                "WA-CURRENT1", endorsement_id="AK-RECOG001", recognized_on=DAY, now=at(DAY),
                replica=ProjectedReplica(projector, ak.store)),
        }
        for what, attempt in attempts.items():
            with pytest.raises(InvalidTransition) as raised:
                attempt()
            assert raised.value.rule == "standing.suspended", what
            assert "MI-KBJE7FMY (Level II, MI) is suspended" in raised.value.message, what
        assert ak.store.head("AK") == head  # nothing written
        assert projector.endorsement("AK-FNBY8P0J") is None

        # Once MI's committee lifts the suspension, the person still holds MI's and WA's
        # endorsements: a third is refused, naming one of them.
        suspended.reinstate(reinstated_on=D(2024, 9, 20), reason="cleared",
                            evidence=renewal_evidence(D(2024, 2, 1), D(2024, 12, 31)),
                            by_committee=True, policy=mi.policy, now=at(D(2024, 9, 20)))
        mi.save(suspended)
        replicate(mi, ak.store)
        projector.catch_up(ak.store)
        with pytest.raises(InvalidTransition) as raised:
            attempts["grant"]()
        assert raised.value.rule == "standing.held_elsewhere"
        assert "MI-KBJE7FMY" in raised.value.message
        assert ak.store.head("AK") == head

    @pytest.mark.parametrize(("policy", "years_later", "committee", "allowed"), [
        pytest.param(AssociationPolicy(reapply_after_revocation=RevocationReapply.NEVER), 20,
                     True, False, id="never"),
        pytest.param(AssociationPolicy(reapply_after_revocation=RevocationReapply.AFTER_YEARS,
                                       reapply_after_years=5), 4, False, False, id="4-of-5-years"),
        pytest.param(AssociationPolicy(reapply_after_revocation=RevocationReapply.AFTER_YEARS,
                                       reapply_after_years=5), 5, False, True, id="5-of-5-years"),
        pytest.param(AssociationPolicy(), 1, False, False, id="default-coordinator"),
        pytest.param(AssociationPolicy(), 1, True, True, id="default-committee"),
    ])
    def test_a_revoked_person_is_endorsed_again_only_as_the_policy_allows(self,
            alliance: tuple[AssociationLedger, ...], dbs: Databases, policy: AssociationPolicy,
            years_later: int, committee: bool, allowed: bool) -> None:
        ak, mi, _ = alliance
        revoked = grant(mi, "MI-REVOKED1", "p-revoked", D(2010, 2, 1), level=Level.IFS)
        revoked.revoke(effective_on=D(2010, 6, 1), reason="ethics", now=at(D(2010, 6, 1)))
        mi.save(revoked)
        replicate(mi, ak.store)
        projector = Projector(dbs.new())
        projector.catch_up(ak.store)
        service = _service(ak, projector, policy)
        day = D(2010 + years_later, 6, 1)
        application = _approved_application(ak, projector, "p-revoked", day)

        def by_grant() -> Endorsement:
            return service.grant(application.id, endorsement_id="AK-AGAIN001", granted_on=day,
                                 now=at(day), by_committee=committee)

        if allowed:
            assert by_grant().status is EndorsementStatus.ACTIVE
            return
        with pytest.raises(InvalidTransition) as raised:
            by_grant()
        assert raised.value.rule == "standing.revoked"
        assert "MI-REVOKED1 (Level II, MI) was revoked (effective 2010-06-01)" in (
            raised.value.message)
        # An import never bypasses it, whatever the policy.
        with pytest.raises(InvalidTransition) as raised:
            _import(service, "AK-IMPORT02", "p-revoked", Level.IFS, granted_on=day, day=day)
        assert raised.value.rule == "standing.revoked"

    def test_a_higher_level_replaces_the_lower_one_and_nothing_else_is_held_twice(self,
            alliance: tuple[AssociationLedger, ...], dbs: Databases) -> None:
        ak, mi, _ = alliance
        grant(mi, "MI-HELD0001", "p-mi", D(2024, 2, 1), level=Level.IFS)
        replicate(mi, ak.store)
        projector = Projector(dbs.new())
        projector.catch_up(ak.store)
        service = _service(ak, projector)

        lower = _import(service, "AK-LOWER001", "p-1", Level.IFS)
        higher = _import(service, "AK-HIGHER01", "p-1", Level.IMHS, day=DAY + dt.timedelta(days=1))
        old = service.endorsement("AK-LOWER001")
        assert old.status is EndorsementStatus.RELINQUISHED and lower.version == 1
        answer = projector.status_as_of("AK-LOWER001", DAY + dt.timedelta(days=1))
        assert answer is not None and answer.standing is Standing.RELINQUISHED
        assert [h.endorsement_id for h in projector.held_on("p-1", DAY + dt.timedelta(days=2))
                ] == [higher.endorsement_id]
        entries = [decode_payload(decode_body(decode_signed(w).body)) for w in _wires(ak)]
        assert entries[-1]["reason"] == "replaced by Level III endorsement AK-HIGHER01"

        for endorsement_id, person, level, rule in (
                ("AK-SAME0001", "p-1", Level.IMHS, "standing.held"),
                ("AK-LOWER002", "p-1", Level.IFS, "standing.held"),
                ("AK-ELSEWH01", "p-mi", Level.IMHS, "standing.held_elsewhere")):
            head = ak.store.head("AK")
            with pytest.raises(InvalidTransition) as raised:
                _import(service, endorsement_id, person, level, day=DAY + dt.timedelta(days=3))
            assert raised.value.rule == rule
            assert ak.store.head("AK") == head

    def test_possible_duplicates_are_flagged_never_merged(self,
            alliance: tuple[AssociationLedger, ...], dbs: Databases) -> None:
        ak, mi, _ = alliance
        grant(mi, "MI-NAMESAKE", "p-mi", D(2024, 2, 1), level=Level.IFS, family_name="Núñez",
              given_name="María")
        replicate(mi, ak.store)
        projector = Projector(dbs.new())
        projector.catch_up(ak.store)
        service = _service(ak, projector)

        def start(person: str, family: str, given: str, born: dt.date | None) -> Application:
            return service.start_application(
                application_id=uuid.uuid4(), person_id=person, family_name=family,
                given_name=given, level=Level.IFA, designation=None, started_on=DAY,
                now=at(DAY), birth_date=born)

        first = start("p-a", "Núñez", "María", D(1990, 4, 2))
        again = start("p-b", "NUNEZ", "maria", D(1990, 4, 2))
        namesake = start("p-c", "Nunez", "Maria", D(1985, 1, 1))
        undated = start("p-d", "Nunez", "Maria", None)
        stranger = start("p-e", "Roe", "Rita", D(1990, 4, 2))
        flags = dict(zip(("first", "again", "namesake", "undated", "stranger"),
                         service.possible_duplicates(first, again, namesake, undated, stranger),
                         strict=True))

        def seen(found: tuple[PossibleDuplicate, ...]) -> list[tuple[str, str]]:
            return [(d.person_id, d.match.value) for d in found]

        assert seen(flags["again"]) == [("p-a", "name_and_birth_date"), ("p-d", "name"),
                                        ("p-mi", "name")]
        assert flags["again"][0].application_id == str(first.id)
        assert seen(flags["namesake"]) == [("p-d", "name"), ("p-mi", "name")]
        assert seen(flags["undated"]) == [("p-a", "name"), ("p-b", "name"), ("p-c", "name"),
                                          ("p-mi", "name")]
        assert flags["stranger"] == ()
        assert flags["first"][0] == PossibleDuplicate(
            person_id="p-b", association="AK", endorsement_id=None,
            application_id=str(again.id), match=DuplicateMatch.NAME_AND_BIRTH_DATE)
        # Flagged, not merged: every application keeps its own person id.
        assert sorted(a.person_id for a in projector.pipeline("AK")) == [
            "p-a", "p-b", "p-c", "p-d", "p-e"]
        # The date of birth stays in the private store: not one entry carries it.
        assert not any(b"1990-04-02" in w or b"\xa91990-04-02" in w for w in _wires(ak))

    def test_a_providers_masters_degree_comes_from_the_providers_own_record(self,
            alliance: tuple[AssociationLedger, ...], dbs: Databases) -> None:
        ak, mi, _ = alliance
        projector = Projector(dbs.new())
        service = _service(ak, projector)
        granted = grant(ak, "AK-MASTERS1", "prov-granted", D(2020, 1, 5), level=Level.IFS,
                        masters_prepared=True)
        _import(service, "AK-MASTERS2", "prov-imported", Level.IFS, granted_on=D(2015, 3, 1),
                masters_prepared=True)
        _import(service, "AK-BACHEL01", "prov-bachelor", Level.IFS, granted_on=D(2015, 3, 1))
        _import(service, "AK-LATERMA1", "prov-later", Level.IFS, granted_on=D(2015, 3, 1))
        service.attest_degree("AK-LATERMA1", masters_prepared=True, effective_on=D(2021, 6, 1),
                              attested_by="Jo Coordinator", now=at(DAY))
        projector.catch_up(ak.store)

        def since(person: str, on: dt.date = HOURS_ENDED) -> dt.date | None:
            (held,) = projector.held_on(person, on)
            return held.masters_prepared_since

        assert since("prov-granted") == granted.granted_on
        assert since("prov-imported") == D(2015, 3, 1)
        assert since("prov-bachelor") is None
        assert since("prov-later") == D(2021, 6, 1)

        def provider_refused(provider: str) -> bool:
            evidence = ApplicationEvidence(
                degrees=(Degree(kind=DegreeKind.BACHELOR, field_of_study="ECE",
                                awarded_on=D(2014, 5, 1), transcript_received=True),),
                rsc=(RscHours(provider_id=provider, hours=24, started_on=D(2020, 1, 1),
                              ended_on=D(2020, 12, 31), post_bachelor=True),),
                ratings=(Rating(rater_id=provider, rater_name="Provider",
                                role=RaterRole.RSC_PROVIDER, rated_on=D(2021, 2, 1),
                                rater_degree=DegreeKind.MASTER),))
            unmet = evaluate_application(Level.IFS, None, evidence, projector)
            return any(u.code == "rsc.provider" for u in unmet)

        assert not provider_refused("prov-granted")
        assert not provider_refused("prov-imported")
        assert provider_refused("prov-bachelor")  # the applicant's rater_degree proves nothing
        assert provider_refused("prov-later")  # the Master's is on record only after the hours

        # A mistaken attestation is withdrawn by another; the record follows the last one.
        service.attest_degree("AK-MASTERS2", masters_prepared=False, effective_on=DAY,
                              attested_by="Jo Coordinator", now=at(DAY))
        assert since("prov-imported") is None
        with pytest.raises(InvalidCommand) as raised:
            _import(service, "AK-IMHS0001", "prov-iii", Level.IMHS, masters_prepared=True)
        assert raised.value.rule == "degree.level_ii_only"

        # Reciprocity carries the origin's record to the new home.
        replicate(ak, mi.store)
        mi_projector = Projector(dbs.new())
        mi_projector.catch_up(mi.store)
        moved = _service(mi, mi_projector).recognize(
            "AK-LATERMA1", endorsement_id="MI-MOVED001", recognized_on=DAY, now=at(DAY),
            replica=ProjectedReplica(mi_projector, mi.store))
        assert moved.masters_prepared_since == D(2021, 6, 1)
        (held,) = mi_projector.held_on("prov-later", DAY)
        assert (held.endorsement_id, held.masters_prepared_since) == ("MI-MOVED001", D(2021, 6, 1))

        rebuilt = Projector(dbs.new())
        rebuilt.rebuild(ak.store)
        assert rebuilt.digest() == projector.digest()

    def test_errors_name_the_endorsement_id_the_caller_sent(self, ak: AssociationLedger,
                                                            dbs: Databases) -> None:
        projector = Projector(dbs.new())
        service = _service(ak, projector)
        with pytest.raises(NotFound) as missing:
            service.renew("AK-NOPE0001", RenewalEvidence(), renewed_on=DAY, now=at(DAY))
        assert str(missing.value) == "no endorsement AK-NOPE0001"
        _import(service, "AK-HERE0001", "p-here", Level.IFS)
        with pytest.raises(ConcurrencyConflict) as stale:
            service.suspend("AK-HERE0001", effective_on=DAY, reason="complaint", now=at(DAY),
                            expected_version=7)
        assert str(stale.value) == "endorsement AK-HERE0001 is at version 1, not 7"
        for error in (missing.value, stale.value):
            assert str(endorsement_uuid("AK-NOPE0001")) not in str(error)
            assert str(endorsement_uuid("AK-HERE0001")) not in str(error)


class TestProjectionTablesOnSQLite(ProjectionTablesContract, OnSQLite):
    """The contract on SQLite files."""


class TestProjectionTablesOnPostgreSQL(ProjectionTablesContract, OnPostgreSQL):
    """The contract on a real PostgreSQL (a fresh schema per test)."""
