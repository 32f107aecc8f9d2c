"""Person records over a real node (SQLite and PostgreSQL): create, search and edit through the
staff pages with every wrong field named next to it and nothing written; each change in the
audit log with the account; edits from a stale form refused; possible duplicates on this node
(same email; same names and date of birth, not namesakes) and against the ledgers' names."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from federation_api.clock import now, today
from federation_api.demo.seed import seed
from federation_api.people.errors import PersonExists
from federation_api.people.records import parse_person
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.staff_browser import add_staff, form_token, sign_in
from tests.integration.staff_workspace import Workspace, workspace

ADA = {"person_id": "AK-P-0100", "given_name": "Ada", "family_name": "Núñez",
       "birth_date": "1988-02-14", "email": "ada@example.org", "phone": "+1 907 555 0100",
       "street": "1 Main Street", "city": "Juneau", "county": "Juneau Borough",
       "postal_code": "99801", "membership_number": "M-77", "membership_expires": "2030-06-30"}


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        add_staff(made.node, "cora@ak.example.org", "coordinator", name="Cora")
        yield made


@pytest.fixture
def cora(ws: Workspace) -> TestClient:
    browser = ws.browser()
    sign_in(browser, "cora@ak.example.org")
    return browser


def create(browser: TestClient, **fields: str) -> httpx.Response:
    token = form_token(browser.get("/staff/people/new").text)
    return browser.post("/staff/people", data={"csrf_token": token, **fields})


def edit(browser: TestClient, person_id: str, **changes: str) -> httpx.Response:
    page = browser.get(f"/staff/people/{person_id}/edit").text
    version = page.split('name="version" value="')[1].split('"')[0]
    record = {**ADA, **changes}
    return browser.post(f"/staff/people/{person_id}/edit", data={
        "csrf_token": form_token(page), "version": version, **record})


class StaffPeopleContract:
    """The person records' pages on every backend."""

    def test_bad_input_is_named_next_to_each_field_and_nothing_is_written(
            self, ws: Workspace, cora: TestClient) -> None:
        r = create(cora, person_id="AK P 1", given_name=" ", family_name="Núñez",
                   birth_date="14/02/1988", email="ada at example", phone="call me",
                   membership_expires="2030-06-30")
        assert r.status_code == 422
        for field in ("person_id", "given_name", "birth_date", "email", "phone",
                      "membership_number"):
            assert f'id="{field}-error"' in r.text, field
        assert 'value="Núñez"' in r.text  # what was typed comes back
        future = create(cora, **{**ADA, "birth_date": "2999-01-01"})
        assert future.status_code == 422 and 'id="birth_date-error"' in future.text
        assert ws.node.people.search("") == []
        assert not [e for e in ws.node.accounts.audit.entries()
                    if e.action.startswith("person.")]

    def test_create_search_and_edit_with_the_account_in_the_audit_log(
            self, ws: Workspace, cora: TestClient) -> None:
        r = create(cora, **ADA)
        assert r.status_code == 303, r.text
        page = cora.get(r.headers["location"]).text
        assert "<h1>Ada Núñez: AK-P-0100</h1>" in page and "Juneau Borough" in page
        for query in ("nunez", "ADA@EXAMPLE", "ak-p-01", "Ada Núñez"):
            found = cora.get("/staff/people", params={"q": query}).text
            assert "AK-P-0100" in found, query
        assert "No person record contains" in cora.get("/staff/people",
                                                       params={"q": "100%"}).text
        again = create(cora, **{**ADA, "given_name": "Other"})
        assert again.status_code == 422 and 'id="person_id-error"' in again.text

        stale = cora.get("/staff/people/AK-P-0100/edit").text
        saved = edit(cora, "AK-P-0100", email="ada.n@example.org")
        assert saved.status_code == 303, saved.text
        assert "ada.n@example.org" in cora.get(saved.headers["location"]).text
        lost = cora.post("/staff/people/AK-P-0100/edit", data={
            "csrf_token": form_token(stale), "version": "1", **ADA, "phone": "+1 907 555 0199"})
        assert lost.status_code == 409 and "Nothing was saved" in lost.text
        record = ws.node.people.get("AK-P-0100")
        assert record is not None and record.details.phone == ADA["phone"]
        assert record.version == 2
        bad = edit(cora, "AK-P-0100", membership_expires="never")
        assert bad.status_code == 422 and 'id="membership_expires-error"' in bad.text
        account = next(a for a in ws.node.accounts.store.all()
                       if a.email == "cora@ak.example.org")
        entries = [e for e in ws.node.accounts.audit.entries() if e.action.startswith("person.")]
        assert sorted((e.action, e.target, e.account_id) for e in entries) == [
            ("person.create", "AK-P-0100", account.account_id),
            ("person.edit", "AK-P-0100", account.account_id)]
        assert all("ada" not in e.detail for e in entries)  # field names, never values
        assert any(e.detail == "changed: email" for e in entries)
        assert cora.get("/staff/people/AK-NOBODY").status_code == 404

        # An application opened from the record takes its names and date of birth.
        link = "/staff/applications?person_id=AK-P-0100"
        assert f'href="{link}#intake-title"' in cora.get("/staff/people/AK-P-0100").text
        intake = cora.get(link).text
        assert 'value="Núñez"' in intake and 'value="1988-02-14"' in intake
        opened = cora.post("/staff/applications", data={
            "csrf_token": form_token(intake), "person_id": "AK-P-0100", "level": "IFA"})
        assert opened.status_code == 303, opened.text
        application = ws.node.service.application(
            uuid.UUID(opened.headers["location"].split("?")[0].rsplit("/", 1)[1]))
        assert (application.given_name, application.family_name) == ("Ada", "Núñez")
        assert application.birth_date == dt.date(1988, 2, 14)

    def test_possible_duplicates_on_this_node_and_in_the_ledgers(
            self, ws: Workspace, cora: TestClient) -> None:
        seed(ws.node, today())  # Maria Rivera, endorsed as AK-P-0001
        assert create(cora, **ADA).status_code == 303
        # The same names and date of birth, in another spelling: one person, two ids.
        assert create(cora, **{**ADA, "person_id": "AK-P-0101", "family_name": "NUNEZ",
                               "email": ""}).status_code == 303
        # The same names, another date of birth: a namesake, not a duplicate.
        assert create(cora, **{**ADA, "person_id": "AK-P-0102", "birth_date": "1970-01-01",
                               "email": ""}).status_code == 303
        # Another name, the same mailbox.
        assert create(cora, **{**ADA, "person_id": "AK-P-0103", "given_name": "Bea",
                               "email": "ADA@example.org"}).status_code == 303
        # Maria Rivera's names under another id than her endorsement's.
        assert create(cora, person_id="AK-P-0200", given_name="María",
                      family_name="Rivera").status_code == 303

        page = cora.get("/staff/people/AK-P-0100").text
        duplicates = page.split('id="duplicates-title"')[1]
        assert "AK-P-0101" in duplicates and "the same names and date of birth" in duplicates
        assert "AK-P-0103" in duplicates and "the same email address" in duplicates
        assert "AK-P-0102" not in duplicates
        rivera = cora.get("/staff/people/AK-P-0200").text.split('id="duplicates-title"')[1]
        assert "AK-P-0001 with AK" in rivera and "/staff/endorsements/AK-" in rivera
        # Alex Kim's seeded application shows on his record, linked by the professional id.
        assert create(cora, person_id="AK-P-0006", given_name="Alex",
                      family_name="Kim").status_code == 303
        kim = cora.get("/staff/people/AK-P-0006").text
        opened = kim.split('id="applications-title"')[1].split('id="endorsements-title"')[0]
        assert 'href="/staff/applications/' in opened
        assert "None." in cora.get("/staff/people/AK-P-0100").text.split(
            'id="applications-title"')[1].split('id="endorsements-title"')[0]
        listed = cora.get("/staff/people/duplicates").text
        pairs = listed.split('id="pairs-title"')[1].split('id="alliance-title"')[0]
        assert pairs.count("<tr><td>") == 2  # 0100 with 0101 (names, birth), with 0103 (email)
        assert "AK-P-0102" not in pairs

    def test_an_id_taken_by_another_transaction_is_refused_by_the_insert(
            self, ws: Workspace) -> None:
        details = parse_person(ADA, today=today())
        store = ws.node.people
        with store.db.transaction() as cur:
            store.create(cur, details, by="a", now=now())
        with pytest.raises(PersonExists), store.db.transaction() as cur:
            store.create(cur, replace(details, given_name="Other"), by="b", now=now())
        (only,) = store.search("")
        assert only.details.given_name == "Ada" and only.created_by == "a"


class TestStaffPeopleOnSQLite(StaffPeopleContract, OnSQLite):
    """On SQLite files."""


class TestStaffPeopleOnPostgreSQL(StaffPeopleContract, OnPostgreSQL):
    """On a PostgreSQL schema."""
