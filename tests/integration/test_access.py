"""Who may call what: every route of the real app against every role, from one matrix.

`ACCESS` below is the one declaration of the access rules (the README's "HTTP API" section
says the same in words). The test walks the app's own route table, so a route added without
an entry here fails until someone decides who may call it; then it calls every route without
a token and with a token of every role, on a real uvicorn server, and checks that exactly the
declared roles get past authentication (a refused caller gets 401 without a valid token and
403 with another role's). The OpenAPI document must name the same roles (`x-roles`).

Least privilege, in short: the workflow roles see the workflow (coordinator runs it, reviewer
decides applications, committee acts on endorsements), auditors read the ledgers, checkpoints,
proofs and the federation's state (entries carry person ids, dates and reasons), employers
see only their own notifications, and the public sees one answer per id and last name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount

from federation_api.accounts.tokens import Role
from federation_api.settings import RateLimitSettings
from federation_api.web.app import create_app
from federation_api.web.auth import GatedRoute, gate_of
from tests.integration.live_app import LiveNode, live_node

NONE = "none"
COORDINATOR, REVIEWER, COMMITTEE, AUDITOR, EMPLOYER = (r.value for r in Role)
CALLERS = (NONE, COORDINATOR, REVIEWER, COMMITTEE, AUDITOR, EMPLOYER)
STAFF = frozenset({COORDINATOR, REVIEWER, COMMITTEE, AUDITOR})
ANYONE = frozenset(CALLERS)
ROSTER = frozenset({COORDINATOR, COMMITTEE, AUDITOR})

BEARER, OPEN = "bearer", "open"
"""How a route is protected: a bearer token with one of the roles, or nothing (anyone). The
staff pages (/staff/...) are signed in with accounts, not tokens: their matrix is
`test_staff_access.py`, which enumerates them the same way; the applicant portal's pages
(/portal/...) are signed in with portal accounts: `test_portal_pages.py` walks them the same
way, every one but the way in behind the PortalGate."""
STAFF_PAGES = "/staff"
PORTAL_PAGES = "/portal"

ACCESS: dict[tuple[str, str], tuple[str, frozenset[str]]] = {
    # Public: one answer per (id, last name), health, the documents and the sign-in form.
    ("GET", "/"): (OPEN, ANYONE),
    ("GET", "/verify"): (OPEN, ANYONE),
    ("GET", "/v1/verify"): (OPEN, ANYONE),
    ("GET", "/v1/status"): (OPEN, ANYONE),
    ("GET", "/v1/receipts"): (OPEN, ANYONE),  # a staff token gets the full receipt
    ("GET", "/receipts/view"): (OPEN, ANYONE),
    ("GET", "/healthz"): (OPEN, ANYONE),
    ("GET", "/readyz"): (OPEN, ANYONE),
    ("GET", "/metrics"): (OPEN, ANYONE),
    ("GET", "/openapi.json"): (OPEN, ANYONE),
    ("GET", "/docs"): (OPEN, ANYONE),
    ("GET", "/docs/swagger-ui.css"): (OPEN, ANYONE),
    ("GET", "/docs/swagger-ui-bundle.js"): (OPEN, ANYONE),
    ("GET", "/v1/alliance/genesis.json"): (OPEN, ANYONE),
    ("GET", "/receipts/download"): (OPEN, ANYONE),
    ("MOUNT", "/static"): (OPEN, ANYONE),
    # Portable credentials: the issuer's DID document, the wallet file, the status lists.
    ("GET", "/.well-known/did.json"): (OPEN, ANYONE),
    ("GET", "/did.json"): (OPEN, ANYONE),
    ("GET", "/v1/credentials/{endorsement_id}"): (OPEN, ANYONE),
    ("GET", "/v1/status-lists/{association}/{purpose}/{list_number}"): (OPEN, ANYONE),
    ("GET", "/v1/status-lists/{association}/{purpose}/{list_number}/versions"): (OPEN, ANYONE),
    # The payment provider's callback: trusted by its HMAC signature, not a token.
    ("POST", "/v1/payments/callback"): (OPEN, ANYONE),
    # A reference rater's form: the emailed link's single-use token is the credential.
    ("GET", "/rate"): (OPEN, ANYONE),
    ("POST", "/rate"): (OPEN, ANYONE),
    # Bulk verification and the entries behind an answer.
    ("POST", "/v1/verify/bulk"): (BEARER, STAFF | {EMPLOYER}),
    ("GET", "/v1/proofs/status"): (BEARER, STAFF),
    # Applications.
    ("POST", "/v1/applications"): (BEARER, frozenset({COORDINATOR})),
    ("GET", "/v1/applications"): (BEARER, STAFF),
    ("GET", "/v1/applications/{application_id}"): (BEARER, STAFF),
    ("GET", "/v1/applications/{application_id}/evidence"): (BEARER,
                                                            frozenset({COORDINATOR, REVIEWER})),
    ("PUT", "/v1/applications/{application_id}/evidence"): (BEARER, frozenset({COORDINATOR})),
    ("POST", "/v1/applications/{application_id}/rater-vettings"): (BEARER,
                                                                   frozenset({COORDINATOR})),
    ("POST", "/v1/applications/{application_id}/reviews"): (BEARER, frozenset({REVIEWER})),
    ("POST", "/v1/applications/{application_id}/withdrawal"): (BEARER, frozenset({COORDINATOR})),
    ("POST", "/v1/applications/{application_id}/grant"): (BEARER,
                                                           frozenset({COORDINATOR, COMMITTEE})),
    ("GET", "/v1/possible-duplicates"): (BEARER, frozenset({COORDINATOR})),
    # Endorsements.
    ("POST", "/v1/endorsements/imports"): (BEARER, frozenset({COORDINATOR})),
    ("POST", "/v1/endorsements/recognitions"): (BEARER, frozenset({COORDINATOR})),
    ("GET", "/v1/endorsements/{endorsement_id}"): (BEARER, STAFF),
    ("POST", "/v1/endorsements/{endorsement_id}/renewals"): (BEARER, frozenset({COORDINATOR})),
    ("POST", "/v1/endorsements/{endorsement_id}/lapse"): (BEARER, frozenset({COORDINATOR})),
    ("POST", "/v1/lapses"): (BEARER, frozenset({COORDINATOR})),
    ("POST", "/v1/endorsements/{endorsement_id}/reinstatement"): (
        BEARER, frozenset({COORDINATOR, COMMITTEE})),
    ("POST", "/v1/endorsements/{endorsement_id}/suspension"): (BEARER, frozenset({COMMITTEE})),
    ("POST", "/v1/endorsements/{endorsement_id}/revocation"): (BEARER, frozenset({COMMITTEE})),
    ("POST", "/v1/endorsements/{endorsement_id}/relinquishment"): (BEARER,
                                                                   frozenset({COORDINATOR})),
    ("POST", "/v1/endorsements/{endorsement_id}/corrections"): (BEARER,
                                                                frozenset({COORDINATOR})),
    ("POST", "/v1/endorsements/{endorsement_id}/degree-attestations"): (
        BEARER, frozenset({COORDINATOR})),
    # Rosters.
    ("GET", "/v1/roster"): (BEARER, ROSTER),
    ("GET", "/v1/renewals"): (BEARER, frozenset({COORDINATOR})),
    # Auditors: the ledgers, their checkpoints and proofs, keys, registry, federation state.
    ("GET", "/v1/ledger/{association}/entries"): (BEARER, frozenset({AUDITOR})),
    ("GET", "/v1/ledger/keys"): (BEARER, frozenset({AUDITOR})),
    ("GET", "/v1/ledger/registry"): (BEARER, frozenset({AUDITOR})),
    ("GET", "/v1/ledger/heads"): (BEARER, frozenset({AUDITOR})),
    ("GET", "/v1/ledger/{association}/checkpoints"): (BEARER, frozenset({AUDITOR})),
    ("GET", "/v1/ledger/{association}/checkpoint"): (BEARER, frozenset({AUDITOR})),
    ("GET", "/v1/ledger/{association}/witness-refusals"): (BEARER, frozenset({AUDITOR})),
    ("GET", "/v1/ledger/{association}/proofs/inclusion"): (BEARER, frozenset({AUDITOR})),
    ("GET", "/v1/ledger/{association}/proofs/consistency"): (BEARER, frozenset({AUDITOR})),
    ("GET", "/v1/federation/peers"): (BEARER, frozenset({AUDITOR})),
    ("GET", "/v1/federation/quarantine"): (BEARER, frozenset({AUDITOR})),
    ("GET", "/v1/federation/forks/{association}"): (BEARER, frozenset({AUDITOR})),
    ("POST", "/v1/federation/forks/{association}/resolution"): (BEARER, frozenset({AUDITOR})),
    ("POST", "/v1/federation/status-list-checks/{association}"): (BEARER, frozenset({AUDITOR})),
    ("GET", "/v1/federation/status-list-forks/{association}"): (BEARER, frozenset({AUDITOR})),
    # Employers: only their own subscriptions, webhook, deliveries and changes.
    ("POST", "/v1/subscriptions"): (BEARER, frozenset({EMPLOYER})),
    ("POST", "/v1/subscriptions/csv"): (BEARER, frozenset({EMPLOYER})),
    ("GET", "/v1/subscriptions"): (BEARER, frozenset({EMPLOYER})),
    ("DELETE", "/v1/subscriptions/{endorsement_id}"): (BEARER, frozenset({EMPLOYER})),
    ("PUT", "/v1/webhook"): (BEARER, frozenset({EMPLOYER})),
    ("GET", "/v1/webhook"): (BEARER, frozenset({EMPLOYER})),
    ("DELETE", "/v1/webhook"): (BEARER, frozenset({EMPLOYER})),
    ("GET", "/v1/deliveries"): (BEARER, frozenset({EMPLOYER})),
    ("GET", "/v1/changes"): (BEARER, frozenset({EMPLOYER})),
}


def routes(table: Any, prefix: str = "") -> Iterator[tuple[str, str, Any]]:
    """(method, path, route) of every route of an app, through included routers and mounts."""
    for route in table:
        if hasattr(route, "original_router"):  # FastAPI's lazily included router
            yield from routes(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Mount):
            yield "MOUNT", prefix + route.path, route
        else:
            for method in sorted(getattr(route, "methods", None) or ()):
                if method != "HEAD":
                    yield method, prefix + route.path, route


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNode]:
    with live_node(tmp_path_factory.mktemp("access"), RateLimitSettings(enabled=False)
                   ) as served:
        yield served


@pytest.fixture(scope="module")
def tokens(live: LiveNode) -> dict[str, dict[str, str]]:
    return {NONE: {}} | {role.value: live.token(role) for role in Role}


def _url(path: str, live: LiveNode) -> str:
    values = {"association": "AK", "endorsement_id": live.ids["rivera"],
              "application_id": "00000000-0000-0000-0000-000000000001",
              "purpose": "suspension", "list_number": "1"}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def test_the_matrix_names_every_route_and_the_code_enforces_it_where_it_is_declared(
        live: LiveNode) -> None:
    every = list(routes(create_app(live.node).router.routes))
    assert ("GET", "/staff/roster") in {(m, p) for m, p, _ in every}  # walked all
    table = [(m, p, r) for m, p, r in every if not p.startswith((STAFF_PAGES, PORTAL_PAGES))]
    found = {(method, path) for method, path, _ in table}
    assert ("GET", "/v1/roster") in found
    assert found - set(ACCESS) == set(), "routes without a declared access rule"
    assert set(ACCESS) - found == set(), "declared routes that no longer exist"
    for method, path, route in table:
        kind, allowed = ACCESS[(method, path)]
        gate = gate_of(route.dependant) if isinstance(route, APIRoute) else None
        if kind == BEARER:
            # The token is checked by GatedRoute, before the body is read.
            assert isinstance(route, GatedRoute) and gate is not None, (method, path)
            assert {r.value for r in gate.roles} == allowed, (method, path)
        else:
            assert gate is None, (method, path)


def test_the_openapi_document_names_the_same_roles(live: LiveNode) -> None:
    with live.client() as client:
        document = client.get("/openapi.json").json()
    seen = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            kind, allowed = ACCESS[(method.upper(), path)]
            seen.add((method.upper(), path))
            if kind == BEARER:
                assert set(operation["x-roles"]) == allowed, (method, path)
                assert f"Roles: {', '.join(operation['x-roles'])}." in operation["description"]
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
            else:
                assert "x-roles" not in operation, (method, path)
    assert {key for key, (kind, _) in ACCESS.items() if kind == BEARER} <= seen


@pytest.mark.parametrize("caller", CALLERS)
def test_every_route_admits_exactly_its_roles(live: LiveNode, tokens: dict[str, dict[str, str]],
                                              caller: str) -> None:
    wrong: list[str] = []
    for (method, path), (_, allowed) in sorted(ACCESS.items()):
        if method == "MOUNT":
            continue
        with live.client() as client:
            status = client.request(method, _url(path, live), json={},
                                    headers=tokens[caller], follow_redirects=False
                                    ).status_code
            admitted = status not in (401, 403)
            expected_refusal = 401 if caller == NONE else 403
            refused = status == expected_refusal
        if caller in allowed and not admitted:
            wrong.append(f"{method} {path}: {caller} refused with {status}")
        if caller not in allowed and not refused:
            wrong.append(f"{method} {path}: {caller} got {status}")
    assert wrong == []


def test_a_coordinator_reads_no_signed_entries(live: LiveNode,
                                               tokens: dict[str, dict[str, str]]) -> None:
    """The reported case: a coordinator token read every auditor and federation route."""
    with live.client(**tokens[COORDINATOR]) as client:
        for path in ("/v1/ledger/AK/entries", "/v1/ledger/heads", "/v1/ledger/keys",
                     "/v1/ledger/registry", "/v1/ledger/AK/checkpoints",
                     "/v1/federation/quarantine", "/v1/federation/peers"):
            answer = client.get(path)
            assert answer.status_code == 403, (path, answer.status_code)
            assert answer.json()["code"] == "forbidden"
    with live.client(**tokens[AUDITOR]) as client:
        assert client.get("/v1/ledger/AK/entries").json()["entries"]
