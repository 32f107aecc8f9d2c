"""Renewals due within 30, 60 and 90 days with the holders' contact details from the person
records, as a page and a CSV download, over a real node (SQLite and PostgreSQL); the download
is audited and formula-safe; a window other than 30, 60 or 90 is refused."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.levels import Level
from federation_api.clock import now, today
from federation_api.node.endorsement_ids import new_endorsement_id
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.staff_browser import add_staff, form_token, sign_in
from tests.integration.staff_workspace import Workspace, workspace

# (person id, family name, days from today to the end of the endorsement)
HOLDERS = (("AK-P-0301", "Ahn", 10), ("AK-P-0302", "Baker", 45), ("AK-P-0303", "Cruz", 80),
           ("AK-P-0304", "Diaz", 200), ("AK-P-0305", "Eze", -5))


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        add_staff(made.node, "cora@ak.example.org", "coordinator", name="Cora")
        add_staff(made.node, "cal@ak.example.org", "committee", name="Cal")
        on = today()
        for person_id, family, days in HOLDERS:
            made.node.service.record_existing(
                endorsement_id=new_endorsement_id("AK", f"due:{person_id}"),
                person_id=person_id, family_name=family, given_name="Jo", level=Level.IFA,
                designation=None, granted_on=on - dt.timedelta(days=700),
                valid_through=on + dt.timedelta(days=days), legacy_reference=person_id,
                now=now())
        yield made


@pytest.fixture
def cora(ws: Workspace) -> TestClient:
    browser = ws.browser()
    sign_in(browser, "cora@ak.example.org")
    token = form_token(browser.get("/staff/people/new").text)
    r = browser.post("/staff/people", data={
        "csrf_token": token, "person_id": "AK-P-0301", "given_name": "Jo",
        "family_name": "Ahn", "email": "jo.ahn@example.org", "phone": "+1 907 555 0101",
        "street": "=HYPERLINK(1)", "city": "Sitka", "county": "Sitka Borough"})
    assert r.status_code == 303, r.text
    return browser


class RenewalsDueContract:
    """The renewals-due page on every backend."""

    def test_each_window_lists_whose_endorsement_ends_with_contact_details(
            self, cora: TestClient) -> None:
        def listed(within: int) -> set[str]:
            page = cora.get("/staff/renewals-due", params={"within": within})
            assert page.status_code == 200
            return {pid for pid, _, _ in HOLDERS if f"({pid})" in page.text}

        assert listed(30) == {"AK-P-0301", "AK-P-0305"}
        assert listed(60) == {"AK-P-0301", "AK-P-0302", "AK-P-0305"}
        assert listed(90) == {"AK-P-0301", "AK-P-0302", "AK-P-0303", "AK-P-0305"}
        page = cora.get("/staff/renewals-due").text  # 30 days unless chosen
        assert "jo.ahn@example.org" in page and "Sitka Borough" in page
        assert "(ended 5 days ago)" in page and "(10 days left)" in page
        assert "No person record" in page  # Eze has none
        for bad in ("45", "x", "-30"):
            assert cora.get("/staff/renewals-due", params={"within": bad}).status_code == 422

    def test_the_csv_has_the_contact_details_and_the_download_is_audited(
            self, ws: Workspace, cora: TestClient) -> None:
        r = cora.get("/staff/renewals-due.csv", params={"within": 60})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert [row["person_id"] for row in rows] == ["AK-P-0305", "AK-P-0301", "AK-P-0302"]
        ahn = rows[1]
        assert ahn["email"] == "jo.ahn@example.org" and (ahn["state"], ahn["days"]) == ("due", "10")
        assert ahn["street"] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet
        assert rows[0]["email"] == "" and (rows[0]["state"], rows[0]["days"]) == ("overdue", "5")
        (entry,) = [e for e in ws.node.accounts.audit.entries()
                    if e.action == "renewals_due.export"]
        assert entry.detail == "3 rows; within 60 days" and "jo.ahn" not in entry.detail
        assert cora.get("/staff/renewals-due.csv", params={"within": "7"}).status_code == 422

    def test_contact_details_are_for_coordinators_only(self, ws: Workspace) -> None:
        committee = ws.browser()
        sign_in(committee, "cal@ak.example.org")
        assert committee.get("/staff/renewals-due").status_code == 403
        assert committee.get("/staff/renewals-due.csv").status_code == 403


class TestRenewalsDueOnSQLite(RenewalsDueContract, OnSQLite):
    """On SQLite files."""


class TestRenewalsDueOnPostgreSQL(RenewalsDueContract, OnPostgreSQL):
    """On a PostgreSQL schema."""
