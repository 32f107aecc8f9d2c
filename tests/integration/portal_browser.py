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
