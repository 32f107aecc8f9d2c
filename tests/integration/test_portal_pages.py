"""The applicant portal over a real node, on SQLite files and on PostgreSQL: sign-up and
sign-in by the link read from a real SMTP server, the portal gate (own records only, no
staff), and the attacks its pages must withstand (forged forms, replayed links, markup in
names, a staff account on the portal, a portal account on the staff pages).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.dependencies.models import Dependant

from federation_api.accounts.roles import AccountRole
from federation_api.web.pages.portal_session import PortalGate
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.portal_browser import (
    PORTAL_COOKIE,
    latest_token,
    open_link,
    post,
    request_link,
    sign_up,
    signed_up,
    walk,
)
from tests.integration.staff_browser import add_staff, form_token
from tests.integration.staff_workspace import Workspace, workspace

ANA = "ana@example.org"


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    """The AK node's app on the backend under test."""
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        yield made


class PortalSignInContract:
    """Sign-up, sign-in, sign-out and the gate, on every backend."""

    def test_an_applicant_signs_up_signs_in_by_the_emailed_link_and_out(
            self, ws: Workspace) -> None:
        browser = ws.browser()
        assert browser.get("/portal/").headers["location"] == "/portal/sign-in"
        answer = sign_up(browser, "Ana García", ANA)
        assert answer.status_code == 200 and "Check your email" in answer.text
        account = ws.node.accounts.store.find(
            ws.node.accounts.store.all()[0].account_id)
        assert account is not None and account.roles == {AccountRole.APPLICANT}
        assert not account.email_verified and account.person_id is None
        token = latest_token(ws, ANA)
        # Opening the link (a mail scanner's GET) does not spend it.
        assert browser.get(f"/portal/sign-in/link?token={token}").status_code == 200
        signed = open_link(browser, token)
        assert signed.status_code == 303 and signed.headers["location"] == "/portal/"
        cookie = next(c for c in signed.headers.get_list("set-cookie")
                      if c.startswith(PORTAL_COOKIE + "="))
        assert "HttpOnly" in cookie and "Path=/portal" in cookie
        assert "samesite=strict" in cookie.lower()
        home = browser.get("/portal/")
        assert home.status_code == 200 and "Ana García" in home.text
        assert "not yet confirmed who you are" in home.text
        assert ws.node.accounts.store.find(account.account_id).email_verified  # type: ignore[union-attr]
        out = post(browser, "/portal/sign-out", "/portal/")
        assert out.status_code == 303 and browser.get("/portal/").status_code == 303
        # The link worked once.
        again = open_link(ws.browser(), token)
        assert again.status_code == 400 and "used already" in again.text

    def test_signing_up_again_or_as_staff_says_the_same_and_makes_nothing(
            self, ws: Workspace) -> None:
        signed_up(ws, "Ana García", ANA)
        add_staff(ws.node, "cora@ak.example.org", "coordinator")
        before = len(ws.node.accounts.store.all())
        for email in (ANA.upper(), "cora@ak.example.org"):
            answer = sign_up(ws.browser(), "Someone Else", email)
            assert answer.status_code == 200 and "Check your email" in answer.text
        assert len(ws.node.accounts.store.all()) == before
        # The applicant gets a second sign-in link only once the quarter hour is over; the
        # staff address gets none (staff sign in with password and code).
        assert request_link(ws.browser(), "cora@ak.example.org").status_code == 200
        with ws.sink.lock:
            assert not [m for m in ws.sink.received if "cora@ak.example.org" in m.rcpt_tos]

    def test_bad_sign_up_input_is_refused_next_to_its_field_and_writes_nothing(
            self, ws: Workspace) -> None:
        browser = ws.browser()
        for name, email, field in (("", ANA, "display_name"), ("Ana", "not-an-address", "email"),
                                   ("Ana\u0007", ANA, "display_name")):
            answer = sign_up(browser, name, email)
            assert answer.status_code == 422, answer.text
            assert f'id="{field}-error"' in answer.text
        page = browser.get("/portal/sign-up")
        forged = browser.post("/portal/sign-up", data={"display_name": "Ana", "email": ANA,
                                                       "csrf_token": "forged"})
        assert forged.status_code == 403 and form_token(page.text)
        assert ws.node.accounts.store.all() == []

    def test_markup_in_a_name_is_shown_as_text(self, ws: Workspace) -> None:
        browser = signed_up(ws, '<script>alert(1)</script><img src=x onerror=alert(2)>', ANA)
        home = browser.get("/portal/")
        assert "<script>alert(1)" not in home.text and "<img src=x" not in home.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in home.text
        assert "script-src" not in home.headers["content-security-policy"]
        assert "default-src 'none'" in home.headers["content-security-policy"]

    def test_a_forged_or_missing_csrf_token_is_refused(self, ws: Workspace) -> None:
        browser = signed_up(ws, "Ana García", ANA)
        for data in ({}, {"csrf_token": "forged"}):
            assert browser.post("/portal/sign-out", data=data).status_code == 403
        assert browser.get("/portal/").status_code == 200  # still signed in

    def test_a_staff_account_never_uses_the_portal(self, ws: Workspace) -> None:
        from tests.integration.staff_browser import post_login

        add_staff(ws.node, "rita@ak.example.org", "reviewer")
        staff = ws.browser()
        assert post_login(staff, "rita@ak.example.org").status_code == 303
        assert staff.get("/staff/").status_code == 200
        # The staff session is not a portal session, even sent under the portal's cookie.
        assert staff.get("/portal/").status_code == 303
        staff.cookies.set(PORTAL_COOKIE, str(staff.cookies.get("alliance_staff")),
                          path="/portal")
        assert staff.get("/portal/").status_code == 303
        # An applicant who later gets a staff role loses the portal.
        browser = signed_up(ws, "Ana García", ANA)
        account = ws.node.accounts.store.all()[0]
        account = next(a for a in ws.node.accounts.store.all() if a.email == ANA)
        with ws.node.accounts.store.db.transaction() as cur:
            ws.node.accounts.store.set_roles(cur, account.account_id,
                                             [AccountRole.APPLICANT, AccountRole.REVIEWER],
                                             now=account.created_at)
        assert browser.get("/portal/").status_code == 303

    def test_a_portal_account_never_passes_a_staff_gate(self, ws: Workspace) -> None:
        browser = signed_up(ws, "Ana García", ANA)
        session = str(browser.cookies.get(PORTAL_COOKIE, path="/portal"))
        browser.cookies.set("alliance_staff", session, path="/staff")
        for path in ("/staff/", "/staff/applications", "/staff/people"):
            answer = browser.get(path)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/staff/login"), path
        # A portal account's password-less sign-in is not a staff sign-in either.
        assert ws.node.accounts.sign_in.current(session, now=ws.node.accounts.store.all()[0]
                                                .created_at) is not None


OPEN_ROUTES = {("GET", "/portal/sign-up"), ("POST", "/portal/sign-up"),
               ("GET", "/portal/sign-in"), ("POST", "/portal/sign-in"),
               ("GET", "/portal/sign-in/link"), ("POST", "/portal/sign-in/link")}


def portal_routes(ws: Workspace) -> list[tuple[str, str, bool]]:
    """(method, path, behind a PortalGate) of every route under /portal."""
    def gated(dependant: Dependant) -> bool:
        return any(isinstance(d.call, PortalGate) or gated(d) for d in dependant.dependencies)

    return [(method, path, gated(route.dependant))
            for path, route in walk(ws.main.app.router.routes)  # type: ignore[attr-defined]
            if path.startswith("/portal") for method in sorted(route.methods)]


def test_every_portal_page_but_the_way_in_is_behind_the_gate(tmp_path: Path) -> None:
    with workspace(tmp_path, None) as ws:
        routes = portal_routes(ws)
        assert len(routes) > len(OPEN_ROUTES)
        ungated = {(m, p) for m, p, gate in routes if not gate}
        assert ungated == OPEN_ROUTES, f"routes without a PortalGate: {ungated - OPEN_ROUTES}"
        browser = ws.browser()
        for method, path, _ in routes:
            if (method, path) in OPEN_ROUTES:
                continue
            concrete = re.sub(r"\{[a-z_]+\}", "00000000-0000-4000-8000-000000000000", path)
            answer = browser.request(method, concrete)
            assert answer.status_code == 303, (method, path)
            assert answer.headers["location"] == "/portal/sign-in", (method, path)


class TestPortalSignInOnSQLite(PortalSignInContract, OnSQLite):
    """SQLite files."""


class TestPortalSignInOnPostgreSQL(PortalSignInContract, OnPostgreSQL):
    """A PostgreSQL schema."""
