"""The coordinator's endorsement actions over a real node (SQLite and PostgreSQL): relinquish,
correct and reinstate after a lapse, each saying what it will write, the page after naming the
ledger entry, the public verification reflecting it; refusals next to their field with the
ledger head unmoved; a stale correction refused. Recognition of a professional found by search
in a peer's replicated ledger runs on a small Alliance of real nodes (SQLite)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.levels import Level
from federation_api.clock import now, today
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.web.app import create_app
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.proof_fixtures import ProofAlliance
from tests.integration.staff_browser import add_staff, form_token, sign_in
from tests.integration.staff_workspace import Workspace, workspace


def imported(ws_node: object, key: str, family: str, valid_through: dt.date) -> str:
    eid = new_endorsement_id("AK", f"actions:{key}")
    ws_node.service.record_existing(  # type: ignore[attr-defined]
        endorsement_id=eid, person_id=f"AK-P-{key}", family_name=family, given_name="Jo",
        level=Level.IFA, designation=None, granted_on=valid_through - dt.timedelta(days=730),
        valid_through=valid_through, legacy_reference=key, now=now())
    return eid


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        add_staff(made.node, "cora@ak.example.org", "coordinator", name="Cora")
        add_staff(made.node, "cal@ak.example.org", "committee", name="Cal")
        yield made


@pytest.fixture
def cora(ws: Workspace) -> TestClient:
    browser = ws.browser()
    sign_in(browser, "cora@ak.example.org")
    return browser


def public(ws: Workspace, eid: str, family: str) -> str:
    r = ws.browser().get("/v1/verify", params={"endorsement_id": eid, "last_name": family})
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


class EndorsementActionsContract:
    """The coordinator's actions on every backend."""

    def test_relinquish_says_what_it_writes_and_names_the_entry(
            self, ws: Workspace, cora: TestClient) -> None:
        eid = imported(ws.node, "0401", "Ahn", today() + dt.timedelta(days=300))
        page = f"/staff/endorsements/{eid}"
        shown = cora.get(page).text
        assert "writes a relinquishment to the ledger" in shown
        head = ws.head()
        empty = cora.post(f"{page}/relinquish", data={
            "csrf_token": form_token(shown), "reason": " ", "effective_on": "2999-01-01"})
        assert empty.status_code == 422
        assert 'id="relinquish-reason-error"' in empty.text
        assert 'id="relinquish-effective_on-error"' in empty.text
        assert ws.head() == head
        done = cora.post(f"{page}/relinquish", data={
            "csrf_token": form_token(shown), "reason": "Her letter of 3 May",
            "effective_on": today().isoformat()})
        assert done.status_code == 303, done.text
        after = cora.get(done.headers["location"]).text
        moved = ws.head()
        assert moved is not None and moved != head
        assert "The endorsement is relinquished." in after
        assert f"Ledger entry AK #{moved[0]}, hash <code>{moved[1].hex()[:16]}</code>" in after
        assert public(ws, eid, "Ahn") == "relinquished"
        again = cora.post(f"{page}/relinquish", data={
            "csrf_token": form_token(after), "reason": "twice", "effective_on": ""})
        assert again.status_code == 422 and ws.head() == moved  # the domain refuses

        committee = ws.browser()
        sign_in(committee, "cal@ak.example.org")
        assert "Relinquish</button>" not in committee.get(page).text
        assert committee.post(f"{page}/relinquish").status_code == 403

    def test_a_correction_names_its_version_and_a_stale_one_is_refused(
            self, ws: Workspace, cora: TestClient) -> None:
        eid = imported(ws.node, "0402", "Bakr", today() + dt.timedelta(days=300))
        page = f"/staff/endorsements/{eid}"
        shown = cora.get(page).text
        assert "names the record it corrects (version 1)" in shown
        head = ws.head()
        nothing = cora.post(f"{page}/correct", data={
            "csrf_token": form_token(shown), "version": "1", "reason": "typo"})
        assert nothing.status_code == 422 and 'id="correct-given_name-error"' in nothing.text
        no_reason = cora.post(f"{page}/correct", data={
            "csrf_token": form_token(shown), "version": "1", "family_name": "Baker"})
        assert no_reason.status_code == 422 and 'id="correct-reason-error"' in no_reason.text
        assert ws.head() == head
        done = cora.post(f"{page}/correct", data={
            "csrf_token": form_token(shown), "version": "1", "family_name": "Baker",
            "reason": "Spelled as on the passport"})
        assert done.status_code == 303, done.text
        after = cora.get(done.headers["location"]).text
        assert "The correction is recorded." in after and f"<h1>Jo Baker: {eid}</h1>" in after
        assert public(ws, eid, "Baker") == "current"
        moved = ws.head()
        stale = cora.post(f"{page}/correct", data={
            "csrf_token": form_token(shown), "version": "1", "given_name": "Joe",
            "reason": "Another slip"})
        assert stale.status_code == 409 and "Nothing was recorded" in stale.text
        assert ws.head() == moved

    def test_a_lapsed_endorsement_is_reinstated_with_the_missed_cycles_hours(
            self, ws: Workspace, cora: TestClient) -> None:
        ended = today() - dt.timedelta(days=200)
        eid = imported(ws.node, "0403", "Cruz", ended)
        ws.node.service.lapse(eid, on=today(), now=now())
        page = f"/staff/endorsements/{eid}"
        assert "Reinstate this endorsement" in cora.get(page).text
        form_page = cora.get(f"{page}/reinstatement")
        assert form_page.status_code == 200 and "writes a reinstatement" in form_page.text
        head = ws.head()
        in_cycle = (ended - dt.timedelta(days=30)).isoformat()
        evidence = {"trainings-0-title": "Conference", "trainings-0-hours": "20",
                    "trainings-0-completed_on": in_cycle, "memberships-0-association": "AK",
                    "memberships-0-valid_through": f"{today().year + 1}-12-31"}
        no_reason = cora.post(f"{page}/reinstatement", data={
            "csrf_token": form_token(form_page.text), **evidence})
        assert no_reason.status_code == 422 and 'id="reinstate-reason-error"' in no_reason.text
        short = cora.post(f"{page}/reinstatement", data={
            "csrf_token": form_token(form_page.text), "reason": "Hours documented late",
            **evidence, "trainings-0-hours": "3"})
        assert short.status_code == 422 and "unmet" in short.text
        assert ws.head() == head
        done = cora.post(f"{page}/reinstatement", data={
            "csrf_token": form_token(form_page.text), "reason": "Hours documented late",
            **evidence})
        assert done.status_code == 303, done.text
        after = cora.get(done.headers["location"]).text
        assert "The endorsement is reinstated." in after and "Ledger entry AK #" in after
        assert public(ws, eid, "Cruz") == "current"


class TestEndorsementActionsOnSQLite(EndorsementActionsContract, OnSQLite):
    """On SQLite files."""


class TestEndorsementActionsOnPostgreSQL(EndorsementActionsContract, OnPostgreSQL):
    """On a PostgreSQL schema."""


def test_a_professional_found_in_a_peers_ledger_is_recognised_here(tmp_path: Path) -> None:
    alliance = ProofAlliance(tmp_path / "alliance")
    try:
        ak, mi = alliance.nodes["AK"], alliance.nodes["MI"]
        ak.service.record_existing(
            endorsement_id="AK-MOVER001", person_id="AK-P-0500", family_name="Müller",
            given_name="Ana", level=Level.IMHS, designation=None,
            granted_on=dt.date(2020, 1, 1), valid_through=today() + dt.timedelta(days=365),
            legacy_reference="mover", now=now())
        alliance.sync("AK", "MI")
        add_staff(mi, "cora@mi.example.org", "coordinator", name="Cora")
        browser = TestClient(create_app(mi), follow_redirects=False)
        sign_in(browser, "cora@mi.example.org")
        # MI's own record of her, under MI's id: a possible duplicate across the Alliance.
        token = form_token(browser.get("/staff/people/new").text)
        assert browser.post("/staff/people", data={
            "csrf_token": token, "person_id": "MI-P-0009", "given_name": "Ana",
            "family_name": "Muller"}).status_code == 303
        duplicates = browser.get("/staff/people/duplicates").text
        assert "AK-P-0500" in duplicates.split('id="alliance-title"')[1]

        found = browser.get("/staff/recognitions", params={"q": "muller"}).text
        assert "Recognise AK-MOVER001 here" in found and "writes\na recognition" in found
        assert "No current endorsement" in browser.get("/staff/recognitions",
                                                       params={"q": "nobody"}).text
        head = mi.ledger.head("MI")
        bad = browser.post("/staff/recognitions", data={
            "csrf_token": form_token(found), "origin_endorsement_id": "MI-NOTHING"})
        assert bad.status_code == 422 and mi.ledger.head("MI") == head
        done = browser.post("/staff/recognitions", data={
            "csrf_token": form_token(found), "origin_endorsement_id": "AK-MOVER001"})
        assert done.status_code == 303, done.text
        after = browser.get(done.headers["location"]).text
        moved = mi.ledger.head("MI")
        assert moved is not None and moved != head
        assert "The endorsement is recognised" in after and f"Ledger entry MI #{moved[0]}" in after
        assert "<h1>Ana Müller: MI-" in after
        again = browser.post("/staff/recognitions", data={
            "csrf_token": form_token(found), "origin_endorsement_id": "AK-MOVER001"})
        assert again.status_code == 422 and mi.ledger.head("MI") == moved  # one home
    finally:
        for node in alliance.nodes.values():
            node.close()
