"""The application's raters and RS/C providers on the staff pages over a real node (SQLite
and PostgreSQL): each rater listed with whether they were endorsed on the day of the rating
and whether the coordinator vetted them; a coordinator vets one (a ledger entry the next page
names, in the audit log); refused vetting writes nothing and the ledger head does not move.
Providers and raters typed by name on the evidence form are looked up across the Alliance:
one match is used and shown, several are offered to choose from, none is an error, and
nothing is saved until each is settled; across two nodes, MI picks AK's provider by name."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.evidence import ApplicationEvidence, Degree, Membership, Rating, Training
from domain.levels import DegreeKind, Level, RaterRole
from federation_api.clock import now, today
from federation_api.demo.seed import level_two_evidence, seed
from federation_api.web.app import create_app
from federation_api.web.pages import evidence_form
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.proof_fixtures import ProofAlliance
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


    def test_providers_and_raters_typed_by_name_are_looked_up(self, ws: Workspace) -> None:
        # A second Rivera makes "riv" ambiguous; Sam Okafor (AK-P-0002) is the only Okafor.
        ws.node.service.record_existing(
            endorsement_id="AK-RIVERA02", person_id="AK-P-0090", family_name="Rivera",
            given_name="Dana", level=Level.IFS, designation=None,
            granted_on=dt.date(2020, 1, 1), valid_through=today() + dt.timedelta(days=300),
            legacy_reference="rivera-2", now=now())
        coordinator = ws.browser()
        sign_in(coordinator, CORA)
        r = coordinator.post("/staff/applications", data={
            "csrf_token": form_token(coordinator.get("/staff/applications").text),
            "person_id": "AK-P-0210", "given_name": "Eli", "family_name": "Stone",
            "level": "IFS"})
        page = r.headers["location"].split("?")[0]
        form_page = coordinator.get(f"{page}/evidence").text
        assert "Rater: name or person id" in form_page
        data = {k: v for k, v in evidence_form.form_values(level_two_evidence(today())).items()
                if v}
        head = ws.head()
        ambiguous = coordinator.post(f"{page}/evidence", data={
            "csrf_token": form_token(form_page), **data, "rsc-0-provider_id": "riv",
            "ratings-1-rater_id": "Sam Okafor", "ratings-2-rater_id": "Nobody Atall"})
        assert ambiguous.status_code == 422 and "The evidence was not saved" in ambiguous.text
        assert 'id="rsc-0-provider_id-error"' in ambiguous.text
        assert "2 people in the Alliance have a name like “riv”" in ambiguous.text
        for person, name in (("AK-P-0001", "Maria Rivera"), ("AK-P-0090", "Dana Rivera")):
            assert (f'name="rsc-0-provider_id-pick" value="{person}"><label '
                    f'for="rsc-0-provider_id-pick-') in ambiguous.text
            assert f"{name} ({person}): AK " in ambiguous.text
        assert 'id="ratings-2-rater_id-error"' in ambiguous.text
        assert "Nobody endorsed in the Alliance has a name like “Nobody Atall”" in ambiguous.text
        assert 'value="AK-P-0002"' in ambiguous.text  # Okafor resolved already, kept
        assert ws.head() == head
        application = uuid.UUID(page.rsplit("/", 1)[1])
        assert ws.node.service.application(application).evidence.rsc == ()

        saved = coordinator.post(f"{page}/evidence", data={
            "csrf_token": form_token(form_page), **data, "rsc-0-provider_id": "riv",
            "rsc-0-provider_id-pick": "AK-P-0001", "ratings-1-rater_id": "Sam Okafor"})
        assert saved.status_code == 303, saved.text
        assert saved.headers["location"].startswith(f"{page}/evidence?done=resolved&seq=")
        evidence = ws.node.service.application(application).evidence
        assert evidence.rsc[0].provider_id == "AK-P-0001"
        assert evidence.ratings[1].rater_id == "AK-P-0002"
        shown = coordinator.get(saved.headers["location"]).text
        head_after = ws.head()
        assert head_after is not None and f"#{head_after[0]}" in shown
        assert "replaced by the person id it found" in shown
        assert ("This id names Maria Rivera (AK-P-0001): AK Infant Mental Health Specialist "
                "(IMHS), current.") in shown
        assert "This id names Sam Okafor (AK-P-0002): AK " in shown
        assert "Nobody endorsed in the Alliance has this id" in shown  # AK-X-0100


class TestStaffRatersOnSQLite(StaffRatersContract, OnSQLite):
    """On SQLite files."""


class TestStaffRatersOnPostgreSQL(StaffRatersContract, OnPostgreSQL):
    """On a PostgreSQL schema."""


def test_a_coordinator_picks_another_associations_provider_by_name(tmp_path: Path) -> None:
    alliance = ProofAlliance(tmp_path / "alliance")
    try:
        ak, mi = alliance.nodes["AK"], alliance.nodes["MI"]
        ak.service.record_existing(
            endorsement_id="AK-PROVID01", person_id="AK-P-0700", family_name="Ñúñez",
            given_name="Inés", level=Level.IMHS, designation=None,
            granted_on=dt.date(2019, 1, 1), valid_through=today() + dt.timedelta(days=365),
            legacy_reference="provider", now=now())
        alliance.sync("AK", "MI")
        add_staff(mi, "cora@mi.example.org", "coordinator", name="Cora")
        browser = TestClient(create_app(mi), follow_redirects=False)
        sign_in(browser, "cora@mi.example.org")
        application = uuid.uuid4()
        mi.service.start_application(
            application_id=application, person_id="MI-P-0001", family_name="Ward",
            given_name="Lou", level=Level.IFS, designation=None, started_on=today(),
            now=now())
        page = f"/staff/applications/{application}/evidence"
        data = {k: v for k, v in evidence_form.form_values(level_two_evidence(today())).items()
                if v}
        saved = browser.post(page, data={"csrf_token": form_token(browser.get(page).text),
                                         **data, "rsc-0-provider_id": "ines nunez"})
        assert saved.status_code == 303, saved.text
        assert mi.service.application(application).evidence.rsc[0].provider_id == "AK-P-0700"
        shown = browser.get(saved.headers["location"]).text
        assert "This id names Inés Ñúñez (AK-P-0700): AK Infant Mental Health" in shown
    finally:
        for node in alliance.nodes.values():
            node.close()
