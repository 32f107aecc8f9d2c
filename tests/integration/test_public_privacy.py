"""No enumeration and only public fields, checked against every route of the real app.

- Every route that answers without a token is on a reviewed list (`PUBLIC`); any other route
  must refuse a caller without credentials. A new unauthenticated route fails here until
  someone has looked at what it discloses and added it.
- Wildcards, patterns, prefixes and partial names sent to every public route find nobody.
- Answers to a correct (id, last name) carry the public fields only (name, level,
  designation, association, status, valid-through, as-of, warnings): never a person id, a
  legacy record reference, a grant date, an evidence detail or a suspension reason, in plain
  text or inside a base64 blob.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.routing import Mount

from domain.levels import Level
from federation_api.accounts.tokens import Role
from federation_api.clock import now, today
from federation_api.settings import RateLimitSettings
from federation_api.web.routes.bulk import ANSWER_COLUMNS
from tests.integration.live_app import LiveNode, live_node

PUBLIC = {("GET", "/"), ("GET", "/verify"), ("GET", "/v1/verify"), ("GET", "/v1/status"),
          ("GET", "/v1/receipts"), ("GET", "/receipts/view"), ("GET", "/receipts/download"),
          ("GET", "/v1/alliance/genesis.json"),
          ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
          ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/swagger-ui-bundle.js"),
          ("GET", "/docs/swagger-ui.css"),
          # The staff sign-in steps (test_staff_access.py lists the same ones).
          *((method, path) for path in ("/staff/login", "/staff/login/code",
                                        "/staff/login/enrol", "/staff/password-reset",
                                        "/staff/invitation") for method in ("GET", "POST")),
          # Portable credentials: the issuer's keys, lists of bits, and a credential only for
          # the id and last name together (docs/credentials.md).
          ("GET", "/.well-known/did.json"), ("GET", "/did.json"),
          ("GET", "/v1/credentials/{endorsement_id}"),
          ("GET", "/v1/status-lists/{association}/{purpose}/{list_number}"),
          ("GET", "/v1/status-lists/{association}/{purpose}/{list_number}/versions"),
          # A reference rater's form: the emailed link's token is the credential, and without
          # a live one the page says only that the link does not work (docs/ratings.md).
          ("GET", "/rate"), ("POST", "/rate"),
          # The portal's way in: sign-up and the emailed sign-in link (docs/portal.md); every
          # other /portal page is behind the PortalGate.
          *((method, path) for path in ("/portal/sign-up", "/portal/sign-in",
                                        "/portal/sign-in/link") for method in ("GET", "POST")),
          # The payment provider's callback: its HMAC signature over the body is the credential;
          # an unsigned or wrongly signed body is a 422 naming only the rule (docs/fees.md).
          ("POST", "/v1/payments/callback")}
PUBLIC_MOUNTS = {"/static"}
PUBLIC_FIELDS = {"name", "level", "level_title", "designation", "association", "status",
                 "valid_through", "as_of", "warnings"}

ZEB_ID = "AK-ZQ7W4X2P"
ZEB_GIVEN, ZEB_FAMILY = "Zebulon", "Quixotewright"
# Never leaves through a public endpoint: identifiers and records behind the answer, the
# demo's private evidence (Jane Doe's application), and reasons for a status.
HIDDEN = ("AK-P-7777", "AK-P-0005", "paper-secret-7777", "1999-03-03",
          "Anchorage Early Head Start", "Infant mental health foundations", "Program supervisor",
          "Confidential complaint 4242", "Code of Ethics complaint")
# Names that only an exact (id, last name) pair may reveal.
NAMES = (ZEB_GIVEN, ZEB_FAMILY, "Okafor", "Rivera", "Morgan")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNode]:
    # Unlimited: a refused (429) probe would reveal nothing and prove nothing.
    with live_node(tmp_path_factory.mktemp("privacy"), RateLimitSettings(enabled=False)
                   ) as served:
        svc = served.node.service
        svc.record_existing(endorsement_id=ZEB_ID, person_id="AK-P-7777", family_name=ZEB_FAMILY,
                            given_name=ZEB_GIVEN, level=Level.IMHS, designation=None,
                            granted_on=dt.date(1999, 3, 3), valid_through=dt.date(2099, 12, 31),
                            legacy_reference="paper-secret-7777", now=now())
        svc.suspend(ZEB_ID, effective_on=today(), reason="Confidential complaint 4242",
                    now=now())
        yield served


def _routes(routes: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route, through included routers and mounts."""
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI's lazily included router
            yield from _routes(route.original_router.routes,
                               prefix + route.include_context.prefix)
        elif isinstance(route, Mount):
            yield "MOUNT", prefix + route.path
        else:
            for method in sorted(getattr(route, "methods", None) or ()):
                if method != "HEAD":
                    yield method, prefix + route.path


def _fill(path: str, live: LiveNode) -> str:
    values = {"association": "AK", "endorsement_id": ZEB_ID, "seq": "1",
              "application_id": "00000000-0000-0000-0000-000000000001"}
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "1"), path)


def _revealed(text: str, secrets: tuple[str, ...]) -> list[str]:
    """Which secrets appear in `text`, as text or inside any base64 blob in it."""
    found = [s for s in secrets if s in text]
    for blob in re.findall(r"[A-Za-z0-9+/]{24,}={0,2}", text):
        try:
            raw = base64.b64decode(blob + "=" * (-len(blob) % 4))
        except (binascii.Error, ValueError):
            continue
        found += [s for s in secrets if s.encode() in raw and s not in found]
    return found


def test_every_route_outside_the_reviewed_list_needs_credentials(live: LiveNode) -> None:
    from federation_api.web.app import create_app

    routes = set(_routes(create_app(live.node).router.routes))
    assert ("GET", "/v1/roster") in routes and ("GET", "/v1/verify") in routes  # walked all
    mounts = {path for method, path in routes if method == "MOUNT"}
    assert mounts <= PUBLIC_MOUNTS, mounts - PUBLIC_MOUNTS
    with live.client() as anonymous:
        for method, path in sorted(routes - PUBLIC):
            if method == "MOUNT":
                continue
            answer = anonymous.request(method, _fill(path, live), json={})
            assert answer.status_code in (401, 403, 303, 307), (method, path, answer.status_code)
            assert not _revealed(answer.text, NAMES + HIDDEN), (method, path)


PROBES = ["%", "*", "_", "R%", "Riv", "Rivera*", ".*", "' OR '1'='1", "Quixote", "quix%",
          "AK-%", "AK-*", "AK", "AK-ZQ7W", "AK-ZQ7W4X2", " ", ""]


@pytest.mark.parametrize("probe", PROBES)
def test_wildcards_and_fragments_find_nobody_on_any_public_route(live: LiveNode,
                                                                 probe: str) -> None:
    queries: list[dict[str, str]] = [
        {"endorsement_id": probe, "last_name": probe},
        {"endorsement_id": ZEB_ID, "last_name": probe},
        {"endorsement_id": probe, "last_name": ZEB_FAMILY},
        {"by": "name", "first_name": probe, "last_name": probe, "state": "AK"},
        {"by": "name", "first_name": ZEB_GIVEN, "last_name": probe, "state": "AK"},
        {"by": "name", "first_name": probe, "last_name": ZEB_FAMILY, "state": "AK"},
        {"by": "name", "first_name": ZEB_GIVEN, "last_name": ZEB_FAMILY, "state": probe},
    ]
    dated = {"on": today().isoformat(), "as_of": today().isoformat()}
    with live.client() as anonymous:
        for method, path in sorted(PUBLIC):
            for query in (*queries, {**queries[0], **dated}, {**queries[1], **dated}):
                # A page may echo what was typed into its form; anything else is a finding.
                typed = " ".join(query.values()).casefold()
                hidden = tuple(n for n in NAMES if n.casefold() not in typed) + HIDDEN
                answer = anonymous.request(method, path, params=query)
                assert not _revealed(answer.text, hidden), (path, query)
                assert answer.status_code < 500, (path, query)


def _bulk(live: LiveNode, rows: str) -> httpx.Response:
    with live.client(**live.token(Role.EMPLOYER)) as client:
        return client.post("/v1/verify/bulk", content=f"endorsement_id,last_name\n{rows}",
                           headers={"Content-Type": "text/csv"})


def test_bulk_patterns_find_nobody(live: LiveNode) -> None:
    rows = "".join(f"{i},{n}\n" for i in ("AK-ZQ7W4X2P", ZEB_ID.lower(), "AK-ZQ7W4X2")
                   for n in ("%", "*", "Quix", "quixotewrigh", "_"))
    answer = _bulk(live, rows)
    assert answer.status_code == 200
    lines = answer.text.splitlines()[1:]
    assert len(lines) == 15
    assert all(",no,,,,,,not found," in line for line in lines)
    assert not _revealed(answer.text, (ZEB_GIVEN, ZEB_FAMILY, *HIDDEN))


def test_correct_answers_carry_only_public_fields(live: LiveNode) -> None:
    pair = {"endorsement_id": ZEB_ID, "last_name": "quixotewright"}
    with live.client() as anonymous:
        for path, extra in (("/v1/verify", {}), ("/v1/status", {"on": "2099-01-01"})):
            answer = anonymous.get(path, params={**pair, **extra})
            assert answer.status_code == 200, answer.text
            assert set(answer.json()) == PUBLIC_FIELDS
            assert answer.json()["name"] == f"{ZEB_GIVEN} {ZEB_FAMILY}"
            assert not _revealed(answer.text, HIDDEN), path
        page = anonymous.get("/verify", params=pair)
        assert page.status_code == 200 and ZEB_FAMILY in page.text
        assert not _revealed(page.text, HIDDEN)
        for name_search in ({"by": "name", "first_name": ZEB_GIVEN, "last_name": ZEB_FAMILY,
                             "state": "AK"},):
            assert not _revealed(anonymous.get("/verify", params=name_search).text, HIDDEN)
    bulk = _bulk(live, f"{ZEB_ID},{ZEB_FAMILY}\n{live.ids['doe']},Doe\n")
    assert tuple(bulk.text.splitlines()[0].split(",")) == ANSWER_COLUMNS
    assert set(ANSWER_COLUMNS) == {"row", "endorsement_id", "last_name", "found"} | PUBLIC_FIELDS
    assert not _revealed(bulk.text, HIDDEN)


# Decided: the entries behind an answer (whose signed bytes hold the person id, legacy record
# reference, grant date and status reasons) go to Alliance staff token holders only; employers
# and anonymous callers get the public receipt (public fields, signed, with the checkpoints it
# rests on).
PROOF_ROUTES = ("/v1/receipts", "/receipts/view", "/receipts/download")


@pytest.mark.parametrize("path", PROOF_ROUTES)
def test_proofs_and_receipts_never_carry_private_evidence(live: LiveNode, path: str) -> None:
    evidence = ("Anchorage Early Head Start", "Infant mental health foundations",
                "Program supervisor")
    with live.client() as anonymous:
        answer = anonymous.get(path, params={"endorsement_id": live.ids["doe"],
                                             "last_name": "Doe"})
        assert answer.status_code == 200, answer.text
        assert not _revealed(answer.text, evidence)


@pytest.mark.parametrize("path", PROOF_ROUTES)
def test_proofs_and_receipts_carry_only_public_fields(live: LiveNode, path: str) -> None:
    with live.client() as anonymous:
        answer = anonymous.get(path, params={"endorsement_id": ZEB_ID,
                                             "last_name": ZEB_FAMILY})
        assert answer.status_code == 200, answer.text
        assert not _revealed(answer.text, HIDDEN)


def test_status_proofs_need_a_token_and_still_no_enumeration(live: LiveNode) -> None:
    pair = {"endorsement_id": ZEB_ID, "last_name": ZEB_FAMILY}
    with live.client() as anonymous:
        answer = anonymous.get("/v1/proofs/status", params=pair)
        assert answer.status_code == 401, answer.text
        assert not _revealed(answer.text, NAMES + HIDDEN)
    with live.client(**live.token(Role.EMPLOYER)) as employer:  # entries are for staff only
        answer = employer.get("/v1/proofs/status", params=pair)
        assert answer.status_code == 403, answer.text
        assert not _revealed(answer.text, NAMES + HIDDEN)
    with live.client(**live.token(Role.REVIEWER)) as member:
        assert member.get("/v1/proofs/status", params=pair).status_code == 200
        for probe in ("%", "*", "Quix", ""):
            miss = member.get("/v1/proofs/status", params={**pair, "last_name": probe})
            assert miss.status_code in (404, 422), probe
            assert not _revealed(miss.text, NAMES + HIDDEN), probe
        # Members get the entries, never the private evidence (a salted commitment only).
        doe = member.get("/v1/proofs/status", params={"endorsement_id": live.ids["doe"],
                                                      "last_name": "Doe"})
        assert doe.status_code == 200, doe.text
        assert not _revealed(doe.text, ("Anchorage Early Head Start",
                                        "Infant mental health foundations",
                                        "Program supervisor"))
