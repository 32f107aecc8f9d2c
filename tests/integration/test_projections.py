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
from domain.endorsement import Endorsement
from domain.errors import DomainError
from domain.levels import EndorsementStatus, Level, ReviewDecision
from domain.lookup import HeldEndorsement
from domain.policy import AssociationPolicy, RenewalCycle
from ledger.codec import EntryBody, encode
from ledger.database import Database
from ledger.entries import seal
from ledger.errors import MalformedEntry
from projections.errors import ForeignAggregate, ProjectionGap
from projections.projector import Projector
from projections.standing import Standing
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
from tests.pg import require_postgres

D = dt.date


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dbs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Databases]:
    """Fresh databases on the backend under test (PostgreSQL: one schema each, dropped after)."""
    if request.param == "postgres":
        require_postgres()
    databases = Databases(request.param, tmp_path)
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


def test_status_as_of_follows_the_recorded_history(ak: AssociationLedger,
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


def test_an_expired_endorsement_is_not_current_before_its_lapse_arrives(
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


def test_held_on_answers_the_domain_lookup_by_date(ak: AssociationLedger,
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


def test_the_domain_evaluates_raters_through_the_projection(ak: AssociationLedger,
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


def test_pipeline_lists_open_applications_with_what_they_leave_unmet(
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


def test_renewals_lists_due_and_overdue_active_endorsements(dbs: Databases,
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


# -- exactly once ----------------------------------------------------------------------------


def _some_history(ak: AssociationLedger) -> None:
    _lifecycle(ak)
    for i in range(5):
        e = grant(ak, f"AK-1{i:03d}", f"q{i}", D(2024, 1, 1 + i))
        renew(ak, e, D(2024, 12, 1))
    app = start_application(ak, "applicant", D(2024, 4, 1))
    submit(ak, app, level_one_evidence(D(2024, 4, 1), complete=False), D(2024, 4, 2))


def test_reapplying_entries_changes_nothing(ak: AssociationLedger, dbs: Databases) -> None:
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


def test_racing_projectors_apply_each_entry_once(ak: AssociationLedger,
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


def test_a_gap_applies_nothing(ak: AssociationLedger, dbs: Databases) -> None:
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
def test_a_failing_entry_rolls_back_its_whole_batch(dbs: Databases, tmp_path: Path,
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


def test_a_peer_entry_breaking_a_rule_is_a_recorded_fault(dbs: Databases,
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


def test_an_unknown_event_type_fails_loudly(ak: AssociationLedger, dbs: Databases) -> None:
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


def test_peer_ledgers_project_side_by_side(dbs: Databases, tmp_path: Path) -> None:
    ak = open_ledger(tmp_path / "events", dbs.new(), "AK")
    wa = open_ledger(tmp_path / "events", dbs.new(), "WA")
    node = Projector(dbs.new())
    try:
        from ledger.store import LedgerStore

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


# -- determinism -----------------------------------------------------------------------------

_KINDS = ("grant", "renew", "lapse", "reinstate", "suspend", "revoke", "relinquish",
          "correct_name", "correct_valid_through", "start", "submit", "return", "deny",
          "approve", "withdraw", "project")
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
                                           level=level))
            return
        if kind == "start":
            self.applications.append(start_application(self.ledger, f"p{pick % 3}", day))
            return
        try:
            if kind in ("submit", "return", "deny", "approve", "withdraw"):
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


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(grants=st.integers(1, 4), applications=st.integers(0, 3), commands=_commands)
def test_rebuild_and_incremental_catch_up_give_one_digest(
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
