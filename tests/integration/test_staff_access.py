"""Who may reach which staff page: every /staff route of the app, enumerated from the app
itself, for a visitor without a session and for an account of each staff role.

A route is either one of the sign-in steps listed in `SIGN_IN_ROUTES` (they must work before
anyone is signed in) or behind a `StaffGate`; a new route with neither fails here. For each
gated route and each role: without a session the browser is sent to sign in; an account
without the gate's roles gets 403 saying which role the page needs; an account with them
gets the page (GET), or for a POST without the session's CSRF token, the forged-form refusal.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from federation_api.accounts.roles import AccountRole
from federation_api.web.pages.staff_session import StaffGate, gate_of
from tests.integration.staff_browser import add_staff, form_token, sign_in
from tests.integration.staff_workspace import Workspace, workspace

SIGN_IN_ROUTES = {("GET", "/staff/login"), ("POST", "/staff/login"),
                  ("GET", "/staff/login/code"), ("POST", "/staff/login/code"),
                  ("GET", "/staff/login/enrol"), ("POST", "/staff/login/enrol"),
                  ("GET", "/staff/password-reset"), ("POST", "/staff/password-reset"),
                  ("GET", "/staff/invitation"), ("POST", "/staff/invitation")}
STAFF = (AccountRole.COORDINATOR, AccountRole.REVIEWER, AccountRole.COMMITTEE,
         AccountRole.AUDITOR)
PATH_VALUES = {"{account_id}": "acc_0000000000000000", "{token_id}": "000000000000",
               "{application_id}": "00000000-0000-4000-8000-000000000000",
               "{endorsement_id}": "AK-NOTHING0", "{person_id}": "AK-P-NOBODY",
               "{name}": "counts", "{document_id}": "doc_000000000000000000000000"}


def walk(table: Any, prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) of every API route, through FastAPI's lazily included routers."""
    for route in table:
        if hasattr(route, "original_router"):
            yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            yield prefix + route.path, route


def staff_routes(ws: Workspace) -> list[tuple[str, str, StaffGate | None]]:
    """(method, path, gate) of every route under /staff."""
    return [(method, path, gate_of(route.dependant))
            for path, route in walk(ws.main.app.router.routes)  # type: ignore[attr-defined]
            if path.startswith("/staff") for method in sorted(route.methods)]


def concrete(path: str) -> str:
    for placeholder, value in PATH_VALUES.items():
        path = path.replace(placeholder, value)
    assert "{" not in path, f"add a value for the parameter of {path} to PATH_VALUES"
    return path


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One node with an account of each role, each signed in in its own browser."""
    with workspace(Path(tmp_path_factory.mktemp("access")), None) as made:
        for role in STAFF:
            add_staff(made.node, f"{role.value}@ak.example.org", role.value)
        yield made


@pytest.fixture(scope="module")
def browsers(ws: Workspace) -> dict[AccountRole, TestClient]:
    signed = {}
    for role in STAFF:
        browser = ws.browser()
        sign_in(browser, f"{role.value}@ak.example.org")
        signed[role] = browser
    return signed


def test_every_staff_route_is_a_sign_in_step_or_gated(ws: Workspace) -> None:
    routes = staff_routes(ws)
    assert len(routes) > len(SIGN_IN_ROUTES)
    ungated = {(m, p) for m, p, gate in routes if gate is None}
    assert ungated == SIGN_IN_ROUTES, f"routes without a StaffGate: {ungated - SIGN_IN_ROUTES}"


def test_without_a_session_every_gated_route_sends_the_browser_to_sign_in(
        ws: Workspace) -> None:
    visitor = ws.browser()
    for method, path, gate in staff_routes(ws):
        if gate is None:
            continue
        r = visitor.request(method, concrete(path), data={"csrf_token": "x"})
        assert r.status_code == 303, (method, path, r.status_code)
        assert r.headers["location"].startswith("/staff/login"), (method, path)


@pytest.mark.parametrize("role", STAFF, ids=[r.value for r in STAFF])
def test_each_role_reaches_exactly_the_routes_its_gates_admit(
        ws: Workspace, browsers: dict[AccountRole, TestClient], role: AccountRole) -> None:
    browser = browsers[role]
    checked = 0
    for method, path, gate in staff_routes(ws):
        if gate is None or path == "/staff/logout":
            continue
        admitted = not gate.roles or role in gate.roles
        r = browser.request(method, concrete(path))
        if not admitted:
            assert r.status_code == 403 and "This page needs the" in r.text, (method, path)
        elif method == "GET":
            assert r.status_code in (200, 404), (method, path, r.status_code)
        else:  # admitted, but the form carries no CSRF token: refused, nothing done
            assert r.status_code == 403 and "did not come from this site" in r.text, (
                method, path, r.status_code)
        checked += 1
    assert checked >= 10
    assert browser.get("/staff/").status_code == 200  # still signed in after all that


# Routes whose roles are fixed by a decision written in their module's docstring.
DECIDED_GATES = {
    ("GET", "/staff/reports"): {AccountRole.COORDINATOR, AccountRole.COMMITTEE,
                                AccountRole.AUDITOR},
    ("GET", "/staff/reports/{name}.csv"): {AccountRole.COORDINATOR, AccountRole.COMMITTEE,
                                           AccountRole.AUDITOR},
    ("GET", "/staff/endorsements/{endorsement_id}/certificate.pdf"): {
        AccountRole.COORDINATOR, AccountRole.COMMITTEE, AccountRole.AUDITOR},
    ("GET", "/staff/applications/{application_id}/ratings"): {
        AccountRole.COORDINATOR, AccountRole.REVIEWER, AccountRole.COMMITTEE},
}


def test_the_reports_and_certificates_admit_the_decided_roles(ws: Workspace) -> None:
    gates = {(m, p): gate for m, p, gate in staff_routes(ws)}
    for route, roles in DECIDED_GATES.items():
        gate = gates[route]
        assert gate is not None and set(gate.roles) == roles, route


def test_sign_out_is_gated_and_needs_the_token(ws: Workspace) -> None:
    add_staff(ws.node, "leaving@ak.example.org", "reviewer")
    browser = ws.browser()
    sign_in(browser, "leaving@ak.example.org")
    assert browser.post("/staff/logout").status_code == 403
    token = form_token(browser.get("/staff/").text)
    assert browser.post("/staff/logout", data={"csrf_token": token}).status_code == 303
    assert browser.get("/staff/").status_code == 303


# Private contact details (person records, renewals due) and the coordinator's endorsement
# actions: coordinators only (docs/people.md).
COORDINATOR_ONLY = ("/staff/people", "/staff/renewals-due", "/staff/recognitions",
                    "/staff/endorsements/{endorsement_id}/relinquish",
                    "/staff/endorsements/{endorsement_id}/correct",
                    "/staff/endorsements/{endorsement_id}/reinstatement",
                    "/staff/applications/{application_id}/rater-vettings",
                    "/staff/applications/{application_id}/evidence",
                    "/staff/applications/{application_id}/rating-requests",
                    "/staff/applications/{application_id}/rating-waiver",
                    "/staff/fees", "/staff/applications/{application_id}/payment")


def test_person_records_and_the_coordinators_actions_are_for_coordinators_only(
        ws: Workspace) -> None:
    found = [(m, p, gate) for m, p, gate in staff_routes(ws) if p.startswith(COORDINATOR_ONLY)]
    assert len(found) >= 12
    for method, path, gate in found:
        assert gate is not None and gate.roles == (AccountRole.COORDINATOR,), (method, path)
