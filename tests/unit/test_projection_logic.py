"""The pure projection rules: how entries change rows, and what standing a row has on a date.

Entries here carry the payloads the real aggregates produce (encoded and decoded with the
ledger codec), so a change to an event's fields that the projection does not follow fails
here first, without any database.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.application import NO_EVIDENCE, Application, ApplicationState
from domain.endorsement import Endorsement
from domain.evidence import ApplicationEvidence, Membership, RenewalEvidence, Training
from domain.levels import Designation, EndorsementStatus, Level, ReviewDecision
from domain.lookup import NoEndorsements
from domain.policy import AssociationPolicy
from domain.unmet import Unmet
from ledger.codec import (
    EVENT_TYPES,
    EntryBody,
    decode_payload,
    event_type_of,
    public_and_private,
)
from projections.credential_rules import CREDENTIAL_EVENTS
from projections.decoded_entries import DecodedEntry
from projections.errors import (
    DuplicateAggregate,
    ForeignAggregate,
    MalformedPayload,
    UnhandledEvent,
    UnknownAggregate,
)
from projections.rows import HistoryRow, recorded_on
from projections.standing import Standing, standing_on
from projections.transitions import (
    APPLICATION_EVENTS,
    ENDORSEMENT_EVENTS,
    OPEN_STATES,
    EndorsementView,
    ViewBatch,
    apply_application,
    apply_endorsement,
)

D = dt.date
# Renewals due 31 Dec, 60 days' grace; the first cycle ends on the first 31 Dec after the grant
# (no minimum length), so these tables count cycles by calendar year.
POLICY = AssociationPolicy(first_cycle_min_months=0)
ACTIVE, LAPSED, SUSPENDED = (EndorsementStatus.ACTIVE, EndorsementStatus.LAPSED,
                             EndorsementStatus.SUSPENDED)


def at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


class Ledger:
    """Turns the aggregates' pending events into entries, numbered like one ledger."""

    def __init__(self, association: str = "AK") -> None:
        self.association = association
        self.seq = 0

    def entries(self, aggregate: Any) -> list[DecodedEntry]:
        out = []
        for event in aggregate.collect_events():
            self.seq += 1
            public, _ = public_and_private(event)
            body = EntryBody(association=self.association, seq=self.seq, prev_hash=bytes(32),
                             recorded_at=event.timestamp, event_type=event_type_of(type(event)),
                             schema_version=1, aggregate_id=str(event.originator_id),
                             aggregate_version=event.originator_version, payload=public,
                             commitment=b"", key_id="k")
            out.append(DecodedEntry(association=self.association, seq=self.seq,
                                    event_type=body.event_type, aggregate_id=body.aggregate_id,
                                    payload=decode_payload(body)))
        return out


GRANTED_ON = D(2024, 3, 1)


def _granted(endorsement_id: str = "AK-1", *, granted_on: dt.date = GRANTED_ON,
             association: str = "AK") -> Endorsement:
    return Endorsement.grant(endorsement_id=endorsement_id, association=association,
                             person_id="p1", family_name="Doe", given_name="Jane",
                             level=Level.IFA, designation=None, granted_on=granted_on,
                             application_id="a1", policy=POLICY, now=at(granted_on))


def _evidence(year: int) -> RenewalEvidence:
    return RenewalEvidence(
        trainings=(Training(title="t", hours=15, completed_on=D(year, 6, 1)),),
        memberships=(Membership(association="AK", valid_through=D(year, 12, 31)),))


def _fold(entries: list[DecodedEntry]) -> tuple[EndorsementView, list[HistoryRow]]:
    view: EndorsementView | None = None
    history = []
    for entry in entries:
        view, added = apply_endorsement(view, entry)
        if added is not None:
            history.append(added)
    assert view is not None
    return view, history


# -- standing --------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "on", "expected"), [
    (ACTIVE, D(2024, 12, 30), Standing.CURRENT),
    (ACTIVE, D(2024, 12, 31), Standing.CURRENT),  # the last valid day
    (ACTIVE, D(2025, 1, 1), Standing.EXPIRED),  # lapse not recorded yet: still not current
    (LAPSED, D(2024, 6, 1), Standing.LAPSED),
    (SUSPENDED, D(2024, 6, 1), Standing.SUSPENDED),
    (EndorsementStatus.REVOKED, D(2024, 6, 1), Standing.REVOKED),
    (EndorsementStatus.RELINQUISHED, D(2024, 6, 1), Standing.RELINQUISHED),
    (EndorsementStatus.TRANSFERRED, D(2024, 6, 1), Standing.TRANSFERRED),
])
def test_standing_on_a_date(status: EndorsementStatus, on: dt.date, expected: Standing) -> None:
    assert standing_on(status, D(2024, 12, 31), on) is expected


_history_rows = st.builds(
    HistoryRow, endorsement_id=st.just("AK-1"),
    effective_on=st.dates(D(2020, 1, 1), D(2030, 1, 1)), association=st.just("AK"),
    seq=st.integers(1, 50), status=st.sampled_from(EndorsementStatus),
    level=st.just(Level.IFA), designation=st.none(),
    valid_through=st.dates(D(2020, 1, 1), D(2030, 1, 1)))


@given(history=st.lists(_history_rows, max_size=8), on=st.dates(D(2019, 1, 1), D(2031, 1, 1)))
def test_never_current_after_valid_through(history: list[HistoryRow], on: dt.date) -> None:
    row = recorded_on(history, on)
    if row is None:
        assert all(h.effective_on > on for h in history)
        return
    assert row.effective_on <= on
    transfers = [h for h in history if h.effective_on <= on
                 and h.status is EndorsementStatus.TRANSFERRED]
    if transfers:  # a transfer is final: the earliest one in force wins
        assert row == min(transfers, key=lambda h: h.order)
    else:
        assert all(h.order <= row.order for h in history if h.effective_on <= on)
    if standing_on(row.status, row.valid_through, on) is Standing.CURRENT:
        assert row.status is ACTIVE and on <= row.valid_through


# -- endorsements ----------------------------------------------------------------------------


def test_each_endorsement_event_sets_status_valid_through_and_effective_date() -> None:
    ledger = Ledger()
    e = _granted()
    entries = ledger.entries(e)
    e.renew(_evidence(2024), renewed_on=D(2024, 12, 1), policy=POLICY, now=at(D(2024, 12, 1)))
    e.suspend(effective_on=D(2025, 2, 1), reason="complaint", now=at(D(2025, 2, 1)))
    e.reinstate(reinstated_on=D(2025, 3, 1), reason="cleared", evidence=RenewalEvidence(),
                by_committee=True, policy=POLICY, now=at(D(2025, 3, 1)))
    e.lapse(on=D(2026, 3, 2), policy=POLICY, now=at(D(2026, 3, 2)))
    entries += ledger.entries(e)
    view, history = _fold(entries)
    assert [(h.effective_on, h.seq, h.status, h.valid_through) for h in history] == [
        (D(2024, 3, 1), 1, ACTIVE, D(2024, 12, 31)),
        (D(2024, 12, 1), 2, ACTIVE, D(2025, 12, 31)),
        (D(2025, 2, 1), 3, SUSPENDED, D(2025, 12, 31)),
        (D(2025, 3, 1), 4, ACTIVE, D(2025, 12, 31)),
        (D(2026, 3, 2), 5, LAPSED, D(2025, 12, 31)),
    ]
    assert (view.row.status, view.row.valid_through, view.row.last_seq) == (
        LAPSED, D(2025, 12, 31), 5)
    assert view.latest == history[-1]
    assert (view.row.endorsement_id, view.row.aggregate_id, view.row.granted_on) == (
        "AK-1", str(e.id), D(2024, 3, 1))


@pytest.mark.parametrize(("act", "status"), [("revoke", EndorsementStatus.REVOKED),
                                             ("relinquish", EndorsementStatus.RELINQUISHED)])
def test_terminal_events_take_effect_on_their_date(act: str, status: EndorsementStatus) -> None:
    ledger = Ledger()
    e = _granted()
    getattr(e, act)(effective_on=D(2024, 5, 1), reason="r", now=at(D(2024, 5, 1)))
    view, history = _fold(ledger.entries(e))
    assert view.row.status is status
    assert (history[-1].effective_on, history[-1].status) == (D(2024, 5, 1), view.row.status)


def test_a_name_correction_changes_the_roster_but_not_the_history() -> None:
    ledger = Ledger()
    e = _granted()
    e.correct(corrects_version=1, family_name="Dow", reason="typo", now=at(D(2024, 3, 2)))
    view, history = _fold(ledger.entries(e))
    assert (view.row.family_name, view.row.given_name, view.row.last_seq) == ("Dow", "Jane", 2)
    assert len(history) == 1


def test_a_valid_through_correction_takes_effect_where_the_history_ends() -> None:
    ledger = Ledger()
    e = _granted()
    e.renew(_evidence(2024), renewed_on=D(2024, 12, 1), policy=POLICY, now=at(D(2024, 12, 1)))
    # A suspension back-dated before the renewal: the history's end is still the renewal.
    e.suspend(effective_on=D(2024, 11, 1), reason="complaint", now=at(D(2024, 12, 2)))
    e.correct(corrects_version=2, valid_through=D(2025, 6, 30), reason="wrong date",
              now=at(D(2024, 12, 3)))
    view, history = _fold(ledger.entries(e))
    correction = history[-1]
    assert (correction.effective_on, correction.seq, correction.status,
            correction.valid_through) == (D(2024, 12, 1), 4, ACTIVE, D(2025, 6, 30))
    assert view.row.valid_through == D(2025, 6, 30)
    assert view.row.status is SUSPENDED
    assert view.latest == correction
    assert recorded_on(history, D(2024, 11, 15)) == history[2]  # the suspension


def test_a_correction_needs_the_latest_history_row() -> None:
    ledger = Ledger()
    e = _granted()
    view, _ = _fold(ledger.entries(e))
    e.correct(corrects_version=1, valid_through=D(2025, 1, 31), reason="r",
              now=at(D(2024, 4, 1)))
    (entry,) = ledger.entries(e)
    with pytest.raises(RuntimeError):
        apply_endorsement(EndorsementView(row=view.row), entry)
    corrected, added = apply_endorsement(view, entry)
    assert added is not None and corrected.latest == added


def _entry(event_type: str, payload: dict[str, Any], *, seq: int = 2,
           association: str = "AK", aggregate_id: str = "agg") -> DecodedEntry:
    return DecodedEntry(association=association, seq=seq, event_type=event_type,
                        aggregate_id=aggregate_id, payload=payload)


def _granted_view() -> EndorsementView:
    e = _granted()
    view, _ = _fold(Ledger().entries(e))
    return view


def _grant_payload(**changes: Any) -> dict[str, Any]:
    (entry,) = Ledger().entries(_granted())
    return {**entry.payload, **changes}


@pytest.mark.parametrize(("view", "entry", "error"), [
    (None, _entry("EndorsementRenewed", {"valid_through": "2025-12-31",
                                         "renewed_on": "2024-12-01"}), UnknownAggregate),
    ("granted", _entry("EndorsementGranted", _grant_payload()), DuplicateAggregate),
    ("granted", _entry("EndorsementSuspended", {"effective_on": "2024-05-01", "reason": "r"},
                       association="WA"), ForeignAggregate),
    (None, _entry("EndorsementGranted", _grant_payload(association="WA")), ForeignAggregate),
    (None, _entry("EndorsementGranted", _grant_payload(level="V")), MalformedPayload),
    (None, _entry("EndorsementGranted", _grant_payload(designation="X")), MalformedPayload),
    (None, _entry("EndorsementGranted", _grant_payload(granted_on="1 March")),
     MalformedPayload),
    (None, _entry("EndorsementGranted", _grant_payload(granted_on=20240301)), MalformedPayload),
    (None, _entry("EndorsementGranted", _grant_payload(family_name=7)), MalformedPayload),
    (None, _entry("EndorsementGranted", {"association": "AK"}), MalformedPayload),
    ("granted", _entry("EndorsementRenewed", {"valid_through": "2025-12-31"}),
     MalformedPayload),
    ("granted", _entry("EndorsementTransferred", {}), UnhandledEvent),
])
def test_entries_the_domain_cannot_write_fail_loudly(view: str | None, entry: DecodedEntry,
                                                     error: type[Exception]) -> None:
    current = _granted_view() if view == "granted" else None
    if current is not None:
        entry = msgspec.structs.replace(entry, aggregate_id=current.row.aggregate_id)
    with pytest.raises(error) as raised:
        apply_endorsement(current, entry)
    assert (raised.value.association, raised.value.seq) == (  # type: ignore[attr-defined]
        entry.association, entry.seq)


def test_one_endorsement_id_cannot_be_granted_twice() -> None:
    ledger = Ledger()
    first = ledger.entries(_granted("AK-1"))
    twin = msgspec.structs.replace(ledger.entries(_granted("AK-1"))[0], aggregate_id="other")
    batch = ViewBatch({}, {})
    batch.apply(first[0])
    with pytest.raises(DuplicateAggregate):
        batch.apply(twin)
    stored_elsewhere = ViewBatch({}, {}, taken_endorsement_ids=["AK-2"])
    with pytest.raises(DuplicateAggregate):
        stored_elsewhere.apply(ledger.entries(_granted("AK-2"))[0])


def test_a_batch_collects_changed_rows_and_history_in_order() -> None:
    ledger = Ledger()
    b, a = _granted("AK-B"), _granted("AK-A")
    entries = ledger.entries(b) + ledger.entries(a)
    b.suspend(effective_on=D(2024, 4, 1), reason="r", now=at(D(2024, 4, 1)))
    entries += ledger.entries(b)
    batch = ViewBatch({}, {})
    for entry in entries:
        batch.apply(entry)
    assert [r.endorsement_id for r in batch.roster_rows()] == ["AK-A", "AK-B"]
    assert [(h.endorsement_id, h.seq) for h in batch.history] == [
        ("AK-B", 1), ("AK-A", 2), ("AK-B", 3)]
    with pytest.raises(UnhandledEvent):
        batch.apply(_entry("SomethingElse", {}))


def test_replaying_the_same_entries_gives_equal_rows() -> None:
    ledger = Ledger()
    e = _granted()
    e.renew(_evidence(2024), renewed_on=D(2024, 12, 1), policy=POLICY, now=at(D(2024, 12, 1)))
    entries = ledger.entries(e)
    assert _fold(entries) == _fold(list(entries))


# -- applications ----------------------------------------------------------------------------


def _started(ledger: Ledger, level: Level = Level.IMHS) -> tuple[Application, DecodedEntry]:
    app = Application.start(application_id=uuid.UUID(int=1), association="AK", person_id="p9",
                            family_name="Roe", given_name="Rita", level=level,
                            designation=Designation.POLICY if level is Level.IMHM else None,
                            started_on=D(2024, 1, 2), now=at(D(2024, 1, 2)))
    (entry,) = ledger.entries(app)
    return app, entry


def test_an_application_moves_through_the_pipeline() -> None:
    ledger = Ledger()
    app, started = _started(ledger)
    row = apply_application(None, started)
    assert (row.state, row.unmet, row.started_on, row.updated_on, row.application_id) == (
        ApplicationState.OPEN, NO_EVIDENCE, D(2024, 1, 2), D(2024, 1, 2), str(app.id))
    app.submit_evidence(ApplicationEvidence(), NoEndorsements(),
                        submitted_on=D(2024, 1, 5), now=at(D(2024, 1, 5)))
    app.review(ReviewDecision.RETURN_FOR_MORE, reviewer="r", reason="more", decided_on=D(
        2024, 1, 9), now=at(D(2024, 1, 9)))
    submitted, returned = ledger.entries(app)
    row = apply_application(row, submitted)
    assert row.unmet == app.unmet and all(isinstance(u, Unmet) for u in row.unmet)
    assert "exam.passed" in {u.code for u in row.unmet}
    row = apply_application(row, returned)
    assert (row.state, row.updated_on) == (ApplicationState.RETURNED, D(2024, 1, 9))
    app.submit_evidence(ApplicationEvidence(), NoEndorsements(),
                        submitted_on=D(2024, 2, 1), now=at(D(2024, 2, 1)))
    app.withdraw(withdrawn_on=D(2024, 2, 3), reason="moved", now=at(D(2024, 2, 3)))
    resubmitted, withdrawn = ledger.entries(app)
    row = apply_application(row, resubmitted)
    assert row.state is ApplicationState.OPEN  # resubmission reopens a returned application
    row = apply_application(row, withdrawn)
    assert (row.state, row.updated_on) == (ApplicationState.WITHDRAWN, D(2024, 2, 3))


@pytest.mark.parametrize(("decision", "state"), [
    ("approve", ApplicationState.APPROVED),
    ("return_for_more", ApplicationState.RETURNED),
    ("deny", ApplicationState.DENIED),
    ("approve_for_exam", ApplicationState.APPROVED_FOR_EXAM),
])
def test_review_decisions_map_to_states(decision: str, state: ApplicationState) -> None:
    _, started = _started(Ledger())
    row = apply_application(None, started)
    reviewed = _entry("ApplicationReviewed", {"decision": decision, "reviewer": "r",
                                              "reason": "x", "decided_on": "2024-01-10"},
                      aggregate_id=row.application_id)
    assert apply_application(row, reviewed).state is state


def test_granted_closes_and_open_states_are_the_pipeline() -> None:
    _, started = _started(Ledger())
    row = apply_application(None, started)
    granted = _entry("ApplicationGranted", {"endorsement_id": "AK-1",
                                            "granted_on": "2024-02-01"},
                     aggregate_id=row.application_id)
    assert apply_application(row, granted).state is ApplicationState.GRANTED
    expected = {ApplicationState.OPEN, ApplicationState.IN_REVIEW, ApplicationState.RETURNED,
                ApplicationState.APPROVED_FOR_EXAM, ApplicationState.EXAM_PASSED,
                ApplicationState.EXAM_FAILED, ApplicationState.APPROVED}
    assert expected == OPEN_STATES


@pytest.mark.parametrize(("current", "entry", "error"), [
    (False, _entry("ApplicationWithdrawn", {"withdrawn_on": "2024-01-03", "reason": ""}),
     UnknownAggregate),
    (True, _entry("ApplicationWithdrawn", {"withdrawn_on": "2024-01-03", "reason": ""},
                  association="WA"), ForeignAggregate),
    (True, _entry("ApplicationReviewed", {"decision": "maybe", "decided_on": "2024-01-03"}),
     MalformedPayload),
    (True, _entry("ApplicationEvidenceSubmitted", {"submitted_on": "2024-01-03",
                                                   "unmet": [{"code": 1}]}), MalformedPayload),
    (True, _entry("ApplicationPaused", {}), UnhandledEvent),
])
def test_application_entries_the_domain_cannot_write_fail_loudly(
        current: bool, entry: DecodedEntry, error: type[Exception]) -> None:
    _, started = _started(Ledger())
    row = apply_application(None, started) if current else None
    with pytest.raises(error):
        apply_application(row, entry)
    if current:
        with pytest.raises(DuplicateAggregate):
            apply_application(row, started)


def _assigned(*reviewers: str) -> DecodedEntry:
    return _entry("ApplicationReviewersAssigned", {"reviewers": list(reviewers),
                                                   "assigned_by": "c",
                                                   "assigned_on": "2024-01-03"})


def _sitting(attempt: Any, passed: Any = False) -> DecodedEntry:
    return _entry("ApplicationExamSittingRecorded", {
        "attempt": attempt, "sat_on": "2024-02-01", "passed": passed,
        "retake_from": "2024-03-01", "recorded_by": "c", "unmet": []})


@pytest.mark.parametrize(("before", "entry"), [
    pytest.param((), _assigned("r1", "r1"), id="a-reviewer-twice"),
    pytest.param((), _assigned("r1", "r2", "r3"), id="three-reviewers"),
    pytest.param((_assigned("r1"),), _assigned("r1"), id="assigned-again"),
    pytest.param((), _entry("ApplicationReviewersAssigned", {
        "reviewers": "r1", "assigned_by": "c", "assigned_on": "2024-01-03"}),
        id="reviewers-not-a-list"),
    pytest.param((_assigned("r1", "r2"),), _entry("ApplicationReviewerDecided", {
        "reviewer": "r9", "decision": "approve", "decided_on": "2024-01-04"}),
        id="decided-by-someone-unassigned"),
    pytest.param((_assigned("r1", "r2"),), _entry("ApplicationReviewerDecided", {
        "reviewer": "r1", "decision": "maybe", "decided_on": "2024-01-04"}),
        id="unknown-decision"),
    pytest.param((), _entry("ApplicationReviewerConflictDeclared", {
        "reviewer": "r1", "declared_on": "2024-01-04"}), id="conflict-of-nobody"),
    pytest.param((), _sitting(2), id="sitting-attempt-out-of-order"),
    pytest.param((), _sitting(True), id="sitting-attempt-not-a-number"),
    pytest.param((), _sitting(1, passed="yes"), id="sitting-passed-not-a-boolean"),
])
def test_workflow_entries_the_domain_cannot_write_fail_loudly(
        before: tuple[DecodedEntry, ...], entry: DecodedEntry) -> None:
    _, started = _started(Ledger())
    row = apply_application(None, started)
    for earlier in before:
        row = apply_application(row, msgspec.structs.replace(earlier,
                                                             aggregate_id=row.application_id))
    with pytest.raises(MalformedPayload):
        apply_application(row, msgspec.structs.replace(entry, aggregate_id=row.application_id))


# -- fields added after entries were sealed ----------------------------------------------------


def _masters_batch(entries: list[DecodedEntry]) -> ViewBatch:
    batch = ViewBatch({}, {})
    for entry in entries:
        batch.apply(entry)
    return batch


def test_a_grant_sealed_before_the_optional_fields_existed_projects_the_same() -> None:
    (entry,) = Ledger().entries(_granted())
    assert {"first_cycle_start", "masters_prepared"} <= set(entry.payload)
    old = msgspec.structs.replace(entry, payload={
        k: v for k, v in entry.payload.items()
        if k not in ("first_cycle_start", "masters_prepared")})
    new_batch, old_batch = _masters_batch([entry]), _masters_batch([old])
    assert old_batch.roster_rows() == new_batch.roster_rows()
    assert old_batch.history == new_batch.history
    assert old_batch.masters_rows() == new_batch.masters_rows() == ([], [])


def test_the_masters_degree_record_follows_grant_and_attestations() -> None:
    ledger = Ledger()
    e = Endorsement.grant(endorsement_id="AK-MA1", association="AK", person_id="p9",
                          family_name="Doe", given_name="Jane", level=Level.IFS,
                          designation=None, granted_on=GRANTED_ON, application_id="a9",
                          policy=POLICY, now=at(GRANTED_ON), masters_prepared=True)
    entries = ledger.entries(e)
    assert _masters_batch(entries).masters_rows() == ([("AK-MA1", "2024-03-01")], [])
    e.attest_degree(masters_prepared=False, effective_on=D(2024, 4, 1), attested_by="c",
                    now=at(D(2024, 4, 1)))
    entries += ledger.entries(e)
    assert _masters_batch(entries).masters_rows() == ([], ["AK-MA1"])
    e.attest_degree(masters_prepared=True, effective_on=D(2024, 5, 1), attested_by="c",
                    now=at(D(2024, 5, 1)))
    entries += ledger.entries(e)
    batch = _masters_batch(entries)
    assert batch.masters_rows() == ([("AK-MA1", "2024-05-01")], [])
    (row,) = batch.roster_rows()
    assert row.last_seq == 3 and row.status is ACTIVE  # an attestation changes no status
    bad = msgspec.structs.replace(entries[-1], payload={**entries[-1].payload,
                                                        "masters_prepared": "yes"})
    with pytest.raises(MalformedPayload):
        _masters_batch([*entries[:-1], bad])


def test_every_event_type_has_a_projection_rule() -> None:
    # A new event the projections do not know would stop every node's projection of the
    # ledger that first records it.
    assert set(EVENT_TYPES) == ENDORSEMENT_EVENTS | APPLICATION_EVENTS | CREDENTIAL_EVENTS
