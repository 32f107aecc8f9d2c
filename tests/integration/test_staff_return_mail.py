"""A returned application mails the applicant the comments, over a real node (SQLite and
PostgreSQL) and a real SMTP server: the coordinator's return and the two reviewers' "return
for more" each reach the person record's email address once, with the comments and without
the reviewers' names; the form says beforehand where the mail goes, and without an email
address (or a person record) the page says the applicant was not emailed and nothing is
queued."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.levels import Level
from federation_api.clock import now, today
from federation_api.demo.seed import level_two_evidence
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.staff_browser import add_staff, form_token, sign_in
from tests.integration.staff_workspace import Workspace, workspace

KAI = "kai.moss@example.org"


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        add_staff(made.node, "cora@ak.example.org", "coordinator", name="Cora")
        for name in ("rae", "ray"):
            add_staff(made.node, f"{name}@ak.example.org", "reviewer", name=name.title())
        yield made


def signed_in(ws: Workspace, email: str) -> TestClient:
    browser = ws.browser()
    sign_in(browser, email)
    return browser


def post(browser: TestClient, path: str, page: str, **data: str):  # type: ignore[no-untyped-def]
    return browser.post(path, data={"csrf_token": form_token(browser.get(page).text), **data})


def person(browser: TestClient, person_id: str, email: str) -> None:
    r = post(browser, "/staff/people", "/staff/people/new", person_id=person_id,
             given_name="Kai", family_name="Moss", email=email)
    assert r.status_code == 303, r.text


def open_application(browser: TestClient, person_id: str) -> str:
    r = post(browser, "/staff/applications", "/staff/applications", person_id=person_id,
             given_name="Kai", family_name="Moss", level="IFA")
    assert r.status_code == 303, r.text
    return str(r.headers["location"].split("?")[0])


def to(ws: Workspace, recipient: str) -> int:
    with ws.node.outbox.db.transaction() as cur:
        row = cur.execute("SELECT COUNT(*) FROM mail_outbox WHERE recipient = ?",
                          (recipient,)).fetchone()
    assert row is not None
    return int(row[0])


class ReturnMailContract:
    """The return mail on every backend."""

    def test_the_coordinators_return_is_mailed_once_to_the_person_record(
            self, ws: Workspace) -> None:
        cora = signed_in(ws, "cora@ak.example.org")
        person(cora, "AK-P-0202", KAI)
        page = open_application(cora, "AK-P-0202")
        assert f"emailed to the applicant at {KAI}" in cora.get(page).text
        r = post(cora, f"{page}/return", page, comments="Please send your transcript.")
        assert r.status_code == 303 and "mail=queued" in r.headers["location"]
        shown = cora.get(r.headers["location"]).text
        assert f"The comments are emailed to the applicant at {KAI}." in shown
        (mail,) = ws.mail_to(KAI)
        body = mail.message.get_content()
        assert "Please send your transcript." in body and "The coordinator wrote" in body
        assert "Hello Kai" in body and "returned" in str(mail.message["Subject"])
        assert "Cora" not in body  # staff are named by role only
        assert to(ws, KAI) == 1
        # The same return shown again (a reload of the page after) queues nothing more.
        cora.get(r.headers["location"])
        assert to(ws, KAI) == 1
        entry = next(e for e in ws.node.accounts.audit.entries()
                     if e.action == "application.return")
        assert entry.outcome.value == "ok" and entry.ledger is not None

    def test_without_an_email_address_the_page_says_so_and_nothing_is_queued(
            self, ws: Workspace) -> None:
        cora = signed_in(ws, "cora@ak.example.org")
        person(cora, "AK-P-0203", "")
        page = open_application(cora, "AK-P-0203")
        assert "has no email address: the comments will not be emailed" in cora.get(page).text
        r = post(cora, f"{page}/return", page, comments="Please send your transcript.")
        assert r.status_code == 303 and "mail=no-email" in r.headers["location"]
        assert "The applicant was not emailed: their person record has no email address" \
            in cora.get(r.headers["location"]).text
        unknown = open_application(cora, "AK-P-0299")  # no person record at all
        assert "No person record has the id AK-P-0299" in cora.get(unknown).text
        r = post(cora, f"{unknown}/return", unknown, comments="Who are you?")
        assert "there is no person record with the id AK-P-0299" in cora.get(
            r.headers["location"]).text
        with ws.node.outbox.db.transaction() as cur:
            rows = cur.execute("SELECT dedupe_key FROM mail_outbox WHERE dedupe_key LIKE "
                               "'application.returned:%'").fetchall()
        assert rows == []

    def test_the_reviewers_return_for_more_is_mailed_with_both_comments(
            self, ws: Workspace) -> None:
        cora = signed_in(ws, "cora@ak.example.org")
        person(cora, "AK-P-0204", KAI)
        application = uuid.uuid4()
        ws.node.service.submit_application(
            application_id=application, person_id="AK-P-0204", family_name="Moss",
            given_name="Kai", level=Level.IFS, designation=None,
            evidence=level_two_evidence(today()), submitted_on=today(), now=now())
        page = f"/staff/applications/{application}"
        ids = {a.email.split("@")[0]: a.account_id for a in ws.node.accounts.store.all()}
        assert post(cora, f"{page}/reviewers", page, first=ids["rae"],
                    second=ids["ray"]).status_code == 303
        first = signed_in(ws, "rae@ak.example.org")
        r = post(first, f"{page}/decision", page, decision="return_for_more",
                 comments="The rating from the supervisor is missing.")
        assert r.status_code == 303 and "mail=" not in r.headers["location"]  # one of two
        assert to(ws, KAI) == 0
        second = signed_in(ws, "ray@ak.example.org")
        r = post(second, f"{page}/decision", page, decision="return_for_more",
                 comments="Add the dates of the training.")
        assert r.status_code == 303 and "mail=queued" in r.headers["location"], r.headers
        (mail,) = ws.mail_to(KAI)
        body = mail.message.get_content()
        assert "The rating from the supervisor is missing." in body
        assert "Add the dates of the training." in body
        assert "Reviewer 1 wrote" in body and "Reviewer 2 wrote" in body
        assert "Rae" not in body and "Ray" not in body


class TestReturnMailOnSQLite(ReturnMailContract, OnSQLite):
    """On SQLite files."""


class TestReturnMailOnPostgreSQL(ReturnMailContract, OnPostgreSQL):
    """On a PostgreSQL schema."""
