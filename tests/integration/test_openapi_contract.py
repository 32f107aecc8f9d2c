"""The OpenAPI document is a contract: schemathesis over every operation of the real app.

A node seeded with the demo history is served by a real uvicorn server on a loopback port.
For every operation of its `/openapi.json`, schemathesis generates requests from the schema
(schema-valid ones, then schema-violating ones), and each request is sent without a token and
with a token of every role. Every answer must be no 5xx, a documented status code with a
documented media type and headers, and a body that matches the documented schema; a request
that violates the schema must be refused with a 4xx.

Deterministic so CI cannot flake: hypothesis is derandomized, with no example database, a
fixed small number of examples per operation and no deadline; the operations run in the
document's order against one node, so the same requests are sent on every run. Rate limits
are off here (a 429 would only hide the answer being checked); the 429 answer is checked on
its own below.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from federation_api.accounts.tokens import Role
from federation_api.settings import RateLimitSettings
from federation_api.web.rate_limits import LIMITED_EXACT, is_limited
from tests.integration.live_app import LiveNode, live_node

EXAMPLES = 10  # per operation and generation mode; each is sent with all six credentials
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]
# Security parameters are the test's to send (below), not random Authorization headers.
CONFIG = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNode]:
    with live_node(tmp_path_factory.mktemp("contract"), RateLimitSettings(enabled=False)
                   ) as served:
        yield served


@pytest.fixture(scope="module")
def credentials(live: LiveNode) -> dict[str, dict[str, str]]:
    return {"no token": {}} | {role.value: live.token(role) for role in Role}


@pytest.fixture(scope="module")
def document(live: LiveNode) -> dict[str, Any]:
    with live.client() as client:
        found: dict[str, Any] = client.get("/openapi.json").json()
    return found


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["schema-valid", "schema-violating"])
def test_every_operation_answers_as_documented_for_every_role(
        live: LiveNode, credentials: dict[str, dict[str, str]], mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json", config=CONFIG)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck),
                  phases=[Phase.explicit, Phase.generate])
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: schemathesis.Case) -> None:
            for who, headers in credentials.items():
                try:
                    case.call_and_validate(headers=headers, checks=CHECKS)
                except (AssertionError, FailureGroup) as e:  # each failed check, with curl
                    failures.append(f"{case.operation.label} ({who}):\n{e}")
                    return

        try:
            check()
        except Unsatisfiable:
            # Nothing in this operation can be made schema-violating (no parameters, or only
            # unconstrained strings): there is no negative case to send.
            assert mode is GenerationMode.NEGATIVE, operation.label
    assert operations >= 50
    # The first few in full (each names the operation, the checks and a curl to reproduce).
    assert failures == [], f"{len(failures)} failed:\n\n" + "\n\n".join(
        failure[:4000] for failure in failures[:20])


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


def test_every_error_answer_is_documented_as_the_api_error_body(document: dict[str, Any]
                                                                ) -> None:
    for method, path, operation in _operations(document):
        for status, answer in operation["responses"].items():
            if not status.startswith(("4", "5")) or (path, status) == ("/readyz", "503"):
                continue
            content = answer.get("content", {})
            assert list(content) == ["application/json"], (method, path, status, content)
            assert content["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorOut"}, (method, path, status)
        if operation.get("parameters") or operation.get("requestBody"):
            assert "422" in operation["responses"], (method, path)
        assert "503" in operation["responses"] or path in ("/healthz",), (method, path)


def test_every_rate_limited_operation_documents_429(document: dict[str, Any]) -> None:
    limited = [(m, p) for m, p, _ in _operations(document) if is_limited(p)]
    assert ("GET", "/v1/verify") in limited and ("GET", "/v1/receipts") in limited
    for method, path, operation in _operations(document):
        if is_limited(path) or path in LIMITED_EXACT:
            assert "429" in operation["responses"], (method, path)


def test_the_429_answer_conforms(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A real refusal by the rate limiter, validated by schemathesis like any answer."""
    tight = RateLimitSettings(requests_per_minute=1, burst=1)
    with live_node(tmp_path_factory.mktemp("limited"), tight) as served:
        schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json", config=CONFIG)
        checked = 0
        for result in schema.get_all_operations():
            operation = result.ok()
            if not is_limited(operation.path) or operation.method.upper() != "GET":
                continue
            values = {"endorsement_id": served.ids["rivera"], "association": "AK",
                      "purpose": "suspension", "list_number": 1}
            path_parameters = {name: values[name]
                               for name in re.findall(r"\{(\w+)\}", operation.path)}
            case = operation.Case(path_parameters=path_parameters or None,
                                  query={"endorsement_id": served.ids["rivera"],
                                         "last_name": "Rivera", "on": "2024-01-01"})
            answers = [case.call() for _ in range(2)]
            assert answers[-1].status_code == 429, (operation.label, answers[-1].status_code)
            case.validate_response(answers[-1], checks=CHECKS)
            checked += 1
        assert checked >= 4


def _json_body_operations(document: dict[str, Any]) -> Iterator[tuple[str, str, list[str]]]:
    for method, path, operation in _operations(document):
        if "application/json" in operation.get("requestBody", {}).get("content", {}):
            yield method, path, operation.get("x-roles", [])


def _url(path: str, live: LiveNode) -> str:
    values = {"association": "AK", "endorsement_id": live.ids["rivera"],
              "application_id": "00000000-0000-0000-0000-000000000001"}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


NOT_UTF8 = b'{"reason": "caf\xe9", "evidence": {}}'


# The one JSON body operation without a token: the payment provider's callback, which the
# node trusts only through the HMAC signature over its exact body (docs/fees.md).
SIGNED_BODY_OPERATIONS = {("POST", "/v1/payments/callback")}


def test_a_body_that_is_not_utf8_is_401_before_the_token_and_422_after(
        live: LiveNode, credentials: dict[str, dict[str, str]],
        document: dict[str, Any]) -> None:
    """The token is checked before the body is read; the encoding error is the API's 422."""
    operations = list(_json_body_operations(document))
    assert len(operations) >= 15
    with live.client() as client:
        for method, path, roles in operations:
            if not roles:  # open: trusted by a signature over the body, not a token
                assert (method, path) in SIGNED_BODY_OPERATIONS, (method, path)
                for body in (NOT_UTF8, b"{not json", b"[" * 100_000):
                    answer = client.request(method, _url(path, live), content=body,
                                            headers={"Content-Type": "application/json"})
                    assert answer.status_code == 422, (method, path, answer.status_code)
                continue
            anonymous = client.request(method, _url(path, live), content=NOT_UTF8,
                                       headers={"Content-Type": "application/json"})
            assert anonymous.status_code == 401, (method, path, anonymous.status_code)
            assert anonymous.json()["code"] == "unauthenticated"
            wrong_role = next(r.value for r in Role if r.value not in roles)
            refused = client.request(method, _url(path, live), content=NOT_UTF8, headers={
                "Content-Type": "application/json", **credentials[wrong_role]})
            assert refused.status_code == 403, (method, path, refused.status_code)
            admitted = client.request(method, _url(path, live), content=NOT_UTF8, headers={
                "Content-Type": "application/json", **credentials[roles[0]]})
            assert admitted.status_code == 422, (method, path, admitted.status_code)
            assert admitted.json()["rule"] == "body.encoding", (method, path)
            malformed = client.request(method, _url(path, live), content=b"{not json",
                                       headers={"Content-Type": "application/json"})
            assert malformed.status_code == 401, (method, path)  # not a 422 before the token
            # Python's JSON parser gives up on deep nesting with another error than a syntax
            # error, which FastAPI answered with an undocumented 400.
            nested = client.request(method, _url(path, live), content=b"[" * 100_000,
                                    headers={"Content-Type": "application/json",
                                             **credentials[roles[0]]})
            assert nested.status_code == 422, (method, path, nested.status_code)
            assert nested.json()["rule"] == "body.json", (method, path)


def test_csv_and_text_answers_are_documented(live: LiveNode,
                                             credentials: dict[str, dict[str, str]],
                                             document: dict[str, Any]) -> None:
    """The three answers the report named: roster CSV, subscription CSV, checkpoint text."""
    paths = document["paths"]
    assert "text/csv" in paths["/v1/roster"]["get"]["responses"]["200"]["content"]
    assert "application/json" in paths["/v1/roster"]["get"]["responses"]["200"]["content"]
    results = paths["/v1/subscriptions/csv"]["post"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv"} <= set(results)
    checkpoint = paths["/v1/ledger/{association}/checkpoint"]["get"]["responses"]
    assert list(checkpoint["200"]["content"]) == ["text/plain"]
    assert list(checkpoint["401"]["content"]) == ["application/json"]
    with httpx.Client(base_url=live.url) as client:
        answer = client.get("/v1/ledger/AK/checkpoint")
        assert answer.status_code == 401 and answer.json()["code"] == "unauthenticated"
        note = client.get("/v1/ledger/AK/checkpoint", headers=credentials["auditor"])
        assert note.headers["content-type"].startswith("text/plain")
        missing = client.get("/v1/ledger/ZZ/checkpoint", headers=credentials["auditor"])
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
