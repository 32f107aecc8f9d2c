"""The application's raters on the staff pages over a real node (SQLite and PostgreSQL):
each rater listed with whether they were endorsed on the day of the rating and whether the
coordinator vetted them; a coordinator vets one (a ledger entry the next page names, in the
audit log); refused vetting writes nothing and the ledger head does not move."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.evidence import ApplicationEvidence, Degree, Membership, Rating, Training
from domain.levels import DegreeKind, Level, RaterRole
from federation_api.clock import now, today
from federation_api.demo.seed import seed
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.staff_browser import add_staff, form_token, sign_in
from tests.integration.staff_workspace import Workspace, workspace

CORA = "cora@ak.example.org"


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    """AK's node, seeded with the demo's history, with a coordinator and a reviewer."""
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        seed(made.node, today())
        add_staff(made.node, CORA, "coordinator", name="Cora Coordinator")
        add_staff(made.node, "rae@ak.example.org", "reviewer", name="Rae")
        yield made


def level_one_application(ws: Workspace) -> str:
    """A Level I application rated by Maria Rivera (endorsed, AK-P-0001) and by a program
    supervisor nobody endorsed; its page."""
    rated = dt.date(2021, 2, 1)
    evidence = ApplicationEvidence(
        degrees=(Degree(kind=DegreeKind.BACHELOR, field_of_study="Education",
                        awarded_on=dt.date(2018, 6, 1), transcript_received=True),),
        trainings=(Training(title="IMH basics", hours=30, completed_on=dt.date(2022, 3, 1)),),
        ratings=(Rating(rater_id="AK-P-0001", rater_name="Maria Rivera",
                        role=RaterRole.RSC_PROVIDER, rated_on=rated),
                 Rating(rater_id="AK-X-0500", rater_name="Robin Supervisor",
                        role=RaterRole.PROGRAM_SUPERVISOR, rated_on=rated)),
        code_of_ethics_signed=True, agreement_signed=True, fee_paid=True,
        memberships=(Membership(association="AK", valid_through=dt.date(today().year, 12, 31)),))
    application = uuid.uuid4()
    ws.node.service.submit_application(
        application_id=application, person_id="AK-P-0400", family_name="Lane",
        given_name="Jo", level=Level.IFA, designation=None, evidence=evidence,
        submitted_on=today(), now=now())
    return f"/staff/applications/{application}"


class StaffRatersContract:
    """Rater vetting on every backend."""

    def test_raters_are_listed_and_a_coordinator_vets_one(self, ws: Workspace) -> None:
        page = level_one_application(ws)
        coordinator = ws.browser()
        sign_in(coordinator, CORA)
        shown = coordinator.get(page).text
        assert "<td>Maria Rivera</td><td>AK-P-0001</td>" in shown
        assert "(IMHS)</td><td>No</td>" in shown  # Rivera held Level III that day
        assert "<td>Robin Supervisor</td><td>AK-X-0500</td>" in shown
        assert "writes a RaterVetted entry" in shown
        assert '<option value="AK-X-0500">' in shown
        token = form_token(shown)
        head = ws.head()
        for bad, field in (({"rater_id": "", "note": "Called her"}, "vet-rater_id"),
                           ({"rater_id": "AK-X-0500", "note": " "}, "vet-note"),
                           ({"rater_id": "AK-X-0500", "note": "x" * 501}, "vet-note"),
                           ({"rater_id": "AK-X-9999", "note": "Called"}, "vet-rater_id")):
            r = coordinator.post(f"{page}/rater-vettings", data={"csrf_token": token, **bad})
            assert r.status_code == 422, bad
            assert f'id="{field}-error"' in r.text and "Nothing was recorded" in r.text, bad
            assert ws.head() == head
        # A reviewer reads the page but cannot vet.
        reviewer = ws.browser()
        sign_in(reviewer, "rae@ak.example.org")
        assert "Vet a rater" not in reviewer.get(page).text
        assert reviewer.post(f"{page}/rater-vettings", data={
            "csrf_token": form_token(reviewer.get(page).text), "rater_id": "AK-X-0500",
            "note": "x"}).status_code == 403
        # Without the form's token nothing is written either.
        assert coordinator.post(f"{page}/rater-vettings", data={
            "rater_id": "AK-X-0500", "note": "Called"}).status_code == 403
        assert ws.head() == head

        r = coordinator.post(f"{page}/rater-vettings", data={
            "csrf_token": token, "rater_id": "AK-X-0500",
            "note": "Phoned the programme office"})
        assert r.status_code == 303, r.text
        after = coordinator.get(r.headers["location"]).text
        head_after = ws.head()
        assert head_after is not None and head_after != head
        assert "The rater is vetted" in after and f"#{head_after[0]}" in after
        assert head_after[1].hex()[:16] in after
        assert "<td>AK-X-0500</td><td>program supervisor</td>" in after
        assert '<option value="AK-X-0500">' not in after  # vetted once only
        application = uuid.UUID(page.rsplit("/", 1)[1])
        assert ws.node.service.application(application).vetted_rater_ids == ("AK-X-0500",)
        entries = ws.node.accounts.audit.entries(action="application.vet_rater")
        outcomes = sorted(e.outcome.value for e in entries)
        assert outcomes == ["ok", "refused"]  # the unknown rater the domain refused
        ok = next(e for e in entries if e.outcome.value == "ok")
        assert ok.ledger is not None and ok.ledger.seq == head_after[0]
        again = coordinator.post(f"{page}/rater-vettings", data={
            "csrf_token": token, "rater_id": "AK-X-0500", "note": "twice"})
        assert again.status_code == 422 and ws.head() == head_after


class TestStaffRatersOnSQLite(StaffRatersContract, OnSQLite):
    """On SQLite files."""


class TestStaffRatersOnPostgreSQL(StaffRatersContract, OnPostgreSQL):
    """On a PostgreSQL schema."""
