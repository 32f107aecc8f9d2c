"""Driving the staff pages as a browser does: form tokens, sign-in with the authenticator
step, enrolment (a fixtures module for the staff page tests)."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

from federation_api.accounts import totp
from federation_api.clock import now
from federation_api.node.root import Node

PASSWORD = "tulip harbour seventeen"
NEEDS_CODE = {"coordinator", "committee"}


def form_token(html: str) -> str:
    """The CSRF token of the (first) form on a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def add_staff(node: Node, email: str, *roles: str, password: str = PASSWORD,
              name: str | None = None) -> str:
    """An account made as `alliance staff add` makes it; its id."""
    added = node.accounts.invitations.staff_add(
        email=email, display_name=name or email.split("@")[0].title(), roles=roles,
        password=password, now=now())
    return added.account.account_id


def code_now(secret: str, ahead: int = 0) -> str:
    """What the authenticator app shows (`ahead` steps later: a code not yet used)."""
    return totp.code_at(secret, totp.step_of(now()) + ahead)


def post_login(client: TestClient, email: str, password: str = PASSWORD,
               next_path: str = "") -> httpx.Response:
    """Open the sign-in page and send email and password (no redirect followed)."""
    page = client.get("/staff/login" + (f"?next={next_path}" if next_path else ""))
    return client.post("/staff/login", data={"email": email, "password": password,
                                             "csrf_token": form_token(page.text),
                                             "next": next_path}, follow_redirects=False)


def enrol(client: TestClient, location: str) -> tuple[str, httpx.Response]:
    """Set up the authenticator on the enrolment page; (secret, the recovery codes page)."""
    page = client.get(location)
    assert page.status_code == 200, page.text
    secret = re.search(r'<code class="secret">([^<]+)</code>', page.text)
    assert secret
    plain = secret.group(1).replace(" ", "")
    answer = client.post("/staff/login/enrol", data={
        "code": code_now(plain), "csrf_token": form_token(page.text),
        "next": re.search(r'name="next" value="([^"]*)"', page.text).group(1)},  # type: ignore[union-attr]
        follow_redirects=False)
    return plain, answer


def sign_in(client: TestClient, email: str, password: str = PASSWORD, *,
            secret: str | None = None, ahead: int = 1) -> str | None:
    """Sign in through the pages, enrolling or entering a code where the role needs one;
    the authenticator secret (new, or the one given)."""
    r = post_login(client, email, password)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    if location.startswith("/staff/login/enrol"):
        secret, answer = enrol(client, location)
        assert answer.status_code == 200 and "recovery codes" in answer.text, answer.text
    elif location.startswith("/staff/login/code"):
        assert secret is not None
        page = client.get(location)
        answer = client.post("/staff/login/code", data={
            "code": code_now(secret, ahead), "csrf_token": form_token(page.text)},
            follow_redirects=False)
        assert answer.status_code == 303, answer.text
    return secret
