"""Driving the portal pages as a browser does: sign up, sign in by the link read from the
real SMTP server, send forms with the session's CSRF token (a fixtures module)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import httpx
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from domain.levels import Level
from federation_api.accounts.tokens import Role
from federation_api.clock import now, today
from federation_api.people.records import PersonDetails
from tests.integration.accounts_world import link_token
from tests.integration.staff_browser import add_staff, form_token, sign_in
from tests.integration.staff_workspace import Workspace

PORTAL_COOKIE = "alliance_portal"


def sign_up(browser: TestClient, name: str, email: str) -> httpx.Response:
    """Send the sign-up form."""
    page = browser.get("/portal/sign-up")
    return browser.post("/portal/sign-up", data={"display_name": name, "email": email,
                                                 "csrf_token": form_token(page.text)})


def request_link(browser: TestClient, email: str) -> httpx.Response:
    """Ask for a sign-in link."""
    page = browser.get("/portal/sign-in")
    return browser.post("/portal/sign-in", data={"email": email,
                                                 "csrf_token": form_token(page.text)})


def open_link(browser: TestClient, token: str) -> httpx.Response:
    """Open the emailed link and press its button."""
    page = browser.get(f"/portal/sign-in/link?token={token}")
    return browser.post("/portal/sign-in/link", data={"token": token,
                                                      "csrf_token": form_token(page.text)})


def latest_token(ws: Workspace, email: str, count: int = 1) -> str:
    """The token of the `count`-th sign-in link mailed to `email`."""
    return link_token(ws.mail_to(email, count)[count - 1].text())


def signed_up(ws: Workspace, name: str, email: str) -> TestClient:
    """A new browser with a new applicant account, signed in through its emailed link."""
    browser = ws.browser()
    assert sign_up(browser, name, email).status_code == 200
    answer = open_link(browser, latest_token(ws, email))
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/", answer.text
    return browser


def post(browser: TestClient, path: str, page: str, **data: object) -> httpx.Response:
    """Send to `path` a form carrying the CSRF token of the signed-in page `page`."""
    token = form_token(browser.get(page).text)
    return browser.post(path, data={"csrf_token": token, **data})


def walk(table: Any, prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) of every API route, through FastAPI's lazily included routers."""
    for route in table:
        if hasattr(route, "original_router"):
            yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            yield prefix + route.path, route


def add_person(ws: Workspace, person_id: str, given_name: str, family_name: str,
               email: str = "") -> None:
    """A person record, as a coordinator makes it on the people pages."""
    details = PersonDetails(person_id=person_id, given_name=given_name,
                            family_name=family_name, email=email,
                            birth_date=dt.date(1990, 4, 30))
    with ws.node.people.db.transaction() as cur:
        ws.node.people.create(cur, details, by="test", now=now())


def endorse(ws: Workspace, person_id: str, given_name: str, family_name: str,
            level: Level = Level.IMHS) -> None:
    """An endorsement held here (e.g. an RS/C provider or an endorsed rater)."""
    ws.node.service.record_existing(
        endorsement_id=f"AK-{person_id[-4:]}", person_id=person_id, family_name=family_name,
        given_name=given_name, level=level, designation=None,
        granted_on=dt.date(2020, 1, 1), valid_through=today() + dt.timedelta(days=300),
        legacy_reference=f"legacy {person_id}", now=now())
    ws.node.project()


def coordinator(ws: Workspace, email: str = "cora@ak.example.org") -> TestClient:
    """A browser signed in as a coordinator (with the authenticator step)."""
    add_staff(ws.node, email, "coordinator", name="Cora Coordinator")
    browser = ws.browser()
    sign_in(browser, email)
    return browser


def account_id_of(ws: Workspace, email: str) -> str:
    """The account id of an address."""
    return next(a.account_id for a in ws.node.accounts.store.all()
                if a.email.casefold() == email.casefold())


def confirm_identity(staff: TestClient, account_id: str, person_id: str) -> httpx.Response:
    """The coordinator ties a portal account to a person record on the staff page."""
    page = f"/staff/portal-accounts/{account_id}"
    token = form_token(staff.get(page).text)
    return staff.post(f"{page}/identity", data={"csrf_token": token, "person_id": person_id})


def draft_id_of(response: httpx.Response) -> str:
    """The draft id a new draft's redirect names."""
    found = re.search(r"/portal/drafts/(drf_[0-9a-f]+)", response.headers["location"])
    assert found, response.headers
    return found.group(1)


def form_version(html: str) -> str:
    """The version the draft form was read at."""
    found = re.search(r'name="version" value="(\d+)"', html)
    assert found, html
    return found.group(1)


ANA = "ana@example.org"
SAM = ("AK-P-0100", "Sam", "Rivera")  # endorsed here; his person record has no address


def level_one_form(year: int) -> dict[str, str]:
    """A complete Level I application form as the portal takes it: the supervisor (Sam, see
    `ana_and_sam`) named by name, to be looked up; each rater with the address their link
    goes to. One form for every portal test, so a change of the form is made once."""
    return {
        "degrees-0-kind": "bachelor", "degrees-0-field_of_study": "Psychology",
        "degrees-0-awarded_on": "2015-06-01",
        "trainings-0-title": "Infant mental health foundations", "trainings-0-hours": "30",
        "trainings-0-completed_on": f"{year - 1}-01-10",
        "ratings-0-rater_id": "Rivera", "ratings-0-role": "current_supervisor",
        "ratings-0-rater_email": "sam@rivera.example.org",
        "ratings-1-rater_id": "X-0001", "ratings-1-rater_name": "Lee Colleague",
        "ratings-1-role": "colleague", "ratings-1-rater_email": "lee@example.org",
        "ratings-2-rater_id": "X-0002", "ratings-2-rater_name": "Pat Parent",
        "ratings-2-role": "parent_or_recipient", "ratings-2-rater_email": "pat@example.org",
        "memberships-0-association": "AK", "memberships-0-valid_through": f"{year + 1}-06-30",
    }


def answer_with_more_hours(browser: TestClient, application_id: str, response: str
                           ) -> httpx.Response:
    """Answer a returned Level I application from its page: the form again with six more
    training hours (Sam now by the id the saved draft gave him) and `response`."""
    form = level_one_form(today().year) | {"ratings-0-rater_id": "AK-P-0100",
                                           "ratings-0-rater_name": "Sam Rivera",
                                           "trainings-0-hours": "36"}
    return post(browser, f"/portal/applications/{application_id}/answer",
                f"/portal/applications/{application_id}", response=response, **form)


def ana_and_sam(ws: Workspace) -> TestClient:
    """The records a Level I application of Ana's needs: her person record (AK-P-0042, her
    address, for the coordinator to confirm her account against) and Sam's, endorsed here
    (the supervisor the form finds by name). Returns the coordinator's browser."""
    add_person(ws, "AK-P-0042", "Ana", "García", ANA)
    add_person(ws, *SAM)
    endorse(ws, *SAM)
    return coordinator(ws)


def start_draft(browser: TestClient, level: str = "IFA", designation: str = "") -> str:
    """Start a draft of `level` from the new-draft page: its id."""
    answer = post(browser, "/portal/drafts", "/portal/drafts/new", level=level,
                  designation=designation)
    assert answer.status_code == 303, answer.text
    return draft_id_of(answer)


def save_form(browser: TestClient, draft_id: str, values: dict[str, str]) -> httpx.Response:
    """Save the draft form with `values`, at the version the draft page was read at."""
    page = browser.get(f"/portal/drafts/{draft_id}").text
    return browser.post(f"/portal/drafts/{draft_id}", data={
        "csrf_token": form_token(page), "version": form_version(page), **values})


def sign_both(browser: TestClient, draft_id: str, name: str = "Ana García") -> None:
    """Sign the Code of Ethics and the Endorsement Agreement on the draft page."""
    for document in ("code_of_ethics", "endorsement_agreement"):
        answer = post(browser, f"/portal/drafts/{draft_id}/sign", f"/portal/drafts/{draft_id}",
                      document=document, signed_name=name, agreed="on")
        assert answer.status_code == 303, answer.text


def submit(browser: TestClient, draft_id: str) -> str:
    """Submit the draft from its page: the application's id, from the redirect."""
    answer = post(browser, f"/portal/drafts/{draft_id}/submit", f"/portal/drafts/{draft_id}")
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"].split("/")[3].split("?")[0])


def second_session(ws: Workspace, email: str, links: int) -> TestClient:
    """A new browser signed in by a new link (the `links`-th mailed to `email`)."""
    browser = ws.browser()
    assert request_link(browser, email).status_code == 200
    assert open_link(browser, latest_token(ws, email, links)).status_code == 303
    return browser


def daily_run(ws: Workspace, key: str, on: dt.date | None = None) -> httpx.Response:
    """The daily timer's request (`alliance lapses record`) for the day `on` (today unless
    given), under the idempotency key `key`: a timer firing twice sends the same key."""
    _, secret = ws.node.tokens.issue(label="timer", role=Role.COORDINATOR, now=now())
    day = today() if on is None else on
    answer = ws.browser().post("/v1/lapses", json={"on": day.isoformat()}, headers={
        "Authorization": f"Bearer {secret}", "Idempotency-Key": key})
    assert answer.status_code == 200, answer.text
    return answer
