"""Driving the portal pages as a browser does: sign up, sign in by the link read from the
real SMTP server, send forms with the session's CSRF token (a fixtures module)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tests.integration.accounts_world import link_token
from tests.integration.staff_browser import form_token
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
