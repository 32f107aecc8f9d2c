"""A Level II applicant from application to lapse, driven through the real CLI and HTTP API.

`alliance init` and `alliance tokens create` set the node up, `alliance serve` runs as a child
process, and every step is an HTTP request a coordinator, reviewer or employer would make.
Dates are backdated (never future-dated) so that the whole life of an endorsement, including
the lapse after its grace period, happens before today.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import re
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import (
    PROVIDER_PERSON,
    NodeDir,
    ServerProcess,
    all_entries,
    applicant,
    head_seq,
    incomplete_level_two_evidence,
    init_node,
    level_two_evidence,
    provider_import,
    today,
)

D = dt.date
GRACE_DAYS = 60
ENDORSEMENT_ID = r"^AK-[0-9A-HJKMNP-TV-Z]{8}$"


def first_cycle_year(on: dt.date) -> int:
    """The latest year Y in which a grant on 1 June, renewed once, has lapsed by `on`.

    Granted Y-06-01, the first cycle lasts at least a year (the default policy), so it ends
    (Y+1)-12-31; renewed, the endorsement is valid through (Y+2)-12-31 and lapses when the
    grace period after that has ended.
    """
    year = on.year - 2
    while D(year + 2, 12, 31) + dt.timedelta(days=GRACE_DAYS + 1) > on:
        year -= 1
    return year


def renewal_evidence(year: int, training_hours: float = 16,
                     trained_on: dt.date | None = None) -> dict[str, Any]:
    """What a Level II holder documents for the first cycle of a grant on 1 June `year`
    (hours counted from the application's start, 1 March, to 31 December `year` + 1)."""
    return {
        "trainings": [{"title": "Annual IMH conference", "hours": training_hours,
                       "completed_on": (trained_on or D(year, 9, 20)).isoformat()}],
        "rsc": [{"provider_id": PROVIDER_PERSON, "hours": 12,
                 "started_on": D(year, 6, 15).isoformat(),
                 "ended_on": D(year, 10, 31).isoformat()}],
        "memberships": [{"association": "AK", "valid_through": D(year + 1, 12, 31).isoformat()}],
    }


def codes(unmet: list[dict[str, str]]) -> set[str]:
    return {u["code"] for u in unmet}


def status_on(client: httpx.Client, endorsement_id: str, last_name: str,
              on: dt.date) -> httpx.Response:
    return client.get("/v1/status", params={"endorsement_id": endorsement_id,
                                            "last_name": last_name, "on": on.isoformat()})


def standing(client: httpx.Client, endorsement_id: str, on: dt.date) -> tuple[str, str]:
    r = status_on(client, endorsement_id, "Doe", on)
    assert r.status_code == 200, r.text
    return r.json()["status"], r.json()["valid_through"]


# -- the walkthrough --------------------------------------------------------------------------


def test_level_two_applicant_from_application_to_lapse(tmp_path: Path) -> None:
    node = init_node(tmp_path / "node", grace_days=GRACE_DAYS)
    year = first_cycle_year(today())
    granted_on = D(year, 6, 1)
    server = ServerProcess(node)
    with server, server.client() as c:
        assert f"{server.url}/docs" in server.log()  # `serve` prints its URLs in full
        coordinator, reviewer = node.auth("coordinator"), node.auth("reviewer")

        # The RS/C provider comes from the old paper roster.
        r = c.post("/v1/endorsements/imports", headers=coordinator,
                   json=provider_import(D(today().year, 12, 31)))
        assert r.status_code == 201, r.text
        provider = r.json()
        assert provider["level"] == "IMHS" and provider["status"] == "active"

        # Jane Doe applies for Level II; the application is backdated.
        r = c.post("/v1/applications", headers=coordinator,
                   json=applicant(started_on=D(year, 3, 1).isoformat()))
        assert r.status_code == 201, r.text
        application = r.json()
        app_id = application["application_id"]
        assert application["state"] == "open" and application["version"] == 1

        # Incomplete evidence: every missing requirement is named at once.
        r = c.put(f"/v1/applications/{app_id}/evidence", headers=coordinator,
                  json={"evidence": incomplete_level_two_evidence(D(year, 12, 31)),
                        "submitted_on": D(year, 3, 15).isoformat()})
        assert r.status_code == 200, r.text
        assert codes(r.json()["unmet"]) == {"fee", "ratings.count", "ratings.roles",
                                            "ratings.endorsed_rater", "training.hours"}
        assert all(u["field"].startswith("evidence.") and u["reason"] for u in r.json()["unmet"])

        r = c.put(f"/v1/applications/{app_id}/evidence", headers=coordinator,
                  json={"evidence": level_two_evidence(D(year, 12, 31)),
                        "submitted_on": D(year, 4, 1).isoformat()})
        assert r.status_code == 200, r.text
        assert r.json()["unmet"] == []
        assert r.json()["version"] == 3

        # Only a reviewer decides.
        decision = {"decision": "approve", "reason": "complete",
                    "decided_on": D(year, 5, 15).isoformat()}
        r = c.post(f"/v1/applications/{app_id}/reviews", json=decision)
        assert r.status_code == 401, r.text
        r = c.post(f"/v1/applications/{app_id}/reviews", headers={"Authorization": "Bearer nope"},
                   json=decision)
        assert r.status_code == 401, r.text
        r = c.post(f"/v1/applications/{app_id}/reviews", headers=coordinator, json=decision)
        assert r.status_code == 403, r.text
        r = c.post(f"/v1/applications/{app_id}/reviews", headers=reviewer, json=decision)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "approved"

        r = c.post(f"/v1/applications/{app_id}/grant", headers=coordinator,
                   json={"granted_on": granted_on.isoformat()})
        assert r.status_code == 201, r.text
        endorsement = r.json()
        eid = endorsement["endorsement_id"]
        # Granted on 1 June: the first cycle runs to the first 31 December a year on.
        assert endorsement["valid_through"] == D(year + 1, 12, 31).isoformat()
        assert endorsement["level"] == "IFS" and endorsement["status"] == "active"
        assert re.match(ENDORSEMENT_ID, eid), eid
        r = c.get(f"/v1/applications/{app_id}", headers=reviewer)
        assert r.json()["state"] == "granted" and r.json()["endorsement_id"] == eid

        # An employer checks the status on a date inside the first cycle.
        r = status_on(c, eid, "Doe", D(year, 7, 1))
        assert r.status_code == 200, r.text
        public = r.json()
        expected = {"name": "Jane Doe", "level": "IFS",
                    "level_title": "Infant Family Specialist", "designation": None,
                    "association": "AK", "status": "current",
                    "valid_through": D(year + 1, 12, 31).isoformat(),
                    "as_of": D(year, 7, 1).isoformat()}
        assert {k: public.get(k) for k in expected} == expected
        assert not {"person_id", "endorsement_id", "granted_on", "version"} & set(public)
        assert standing(c, eid, D(year, 7, 1)) == ("current", D(year + 1, 12, 31).isoformat())
        assert status_on(c, eid.lower(), "DOE", D(year, 7, 1)).json()["status"] == "current"
        assert status_on(c, eid, "Doe", D(year, 5, 31)).status_code == 404  # not yet granted
        wrong_name = c.get("/v1/verify", params={"endorsement_id": eid, "last_name": "Roe"})
        wrong_id = c.get("/v1/verify", params={"endorsement_id": "AK-00000000",
                                               "last_name": "Doe"})
        assert wrong_name.status_code == wrong_id.status_code == 404
        assert wrong_name.json() == wrong_id.json()
        assert "Doe" not in wrong_name.text and "Jane" not in wrong_name.text

        # Renewal in the first cycle: too few hours is refused, naming the dates counted;
        # hours from before the application started never count.
        cycle = f"{D(year, 3, 1).isoformat()} to {D(year + 1, 12, 31).isoformat()}"
        before = head_seq(c, node)
        for evidence in (renewal_evidence(year, training_hours=10),
                         renewal_evidence(year, trained_on=D(year, 2, 28))):
            r = c.post(f"/v1/endorsements/{eid}/renewals", headers=coordinator,
                       json={"evidence": evidence, "renewed_on": D(year, 11, 15).isoformat()})
            assert r.status_code == 422, r.text
            assert r.json()["rule"] == "renewal.unmet" and cycle in r.json()["message"]
            assert codes(r.json()["unmet"]) == {"training.hours"}
            assert all(cycle in u["reason"] for u in r.json()["unmet"]), r.text
        assert head_seq(c, node) == before
        # Hours taken while the application was under review, before the grant, count.
        r = c.post(f"/v1/endorsements/{eid}/renewals", headers=coordinator,
                   json={"evidence": renewal_evidence(year, trained_on=D(year, 4, 20)),
                         "renewed_on": D(year, 11, 15).isoformat()})
        assert r.status_code == 200, r.text
        assert r.json()["valid_through"] == D(year + 2, 12, 31).isoformat()

        assert standing(c, eid, D(year + 1, 6, 1)) == ("current", D(year + 2, 12, 31).isoformat())
        # Within the grace period after valid-through: expired, never current.
        in_grace = D(year + 3, 1, 15)
        assert standing(c, eid, in_grace) == ("expired", D(year + 2, 12, 31).isoformat())
        assert standing(c, eid, D(year + 3, 1, 1))[0] == "expired"
        assert standing(c, eid, D(year + 2, 12, 31))[0] == "current"
        r = c.get("/v1/verify", params={"endorsement_id": eid, "last_name": "Doe"})
        assert r.status_code == 200 and r.json()["status"] == "expired", r.text

        # The association's daily lapse run.
        r = c.post("/v1/lapses", headers=coordinator, json={})
        assert r.status_code == 200, r.text
        assert [(e["endorsement_id"], e["status"]) for e in r.json()] == [(eid, "lapsed")]
        r = c.post("/v1/lapses", headers=coordinator, json={})
        assert r.status_code == 200 and r.json() == [], r.text  # nothing is due twice

        r = c.get("/v1/verify", params={"endorsement_id": eid, "last_name": "Doe"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "lapsed" and r.json()["as_of"] == today().isoformat()
        # Earlier dates answer as they were then.
        lapses_on = D(year + 2, 12, 31) + dt.timedelta(days=GRACE_DAYS + 1)
        assert standing(c, eid, D(year, 7, 1)) == ("current", D(year + 1, 12, 31).isoformat())
        assert standing(c, eid, D(year + 1, 6, 1)) == ("current", D(year + 2, 12, 31).isoformat())
        assert standing(c, eid, in_grace)[0] == "expired"
        assert standing(c, eid, lapses_on - dt.timedelta(days=1))[0] == "expired"
        assert standing(c, eid, lapses_on)[0] == "lapsed"
        r = c.get("/v1/verify", params={"endorsement_id": provider["endorsement_id"],
                                        "last_name": "rivera"})
        assert r.json()["status"] == "current"

        check_staff_reads(c, node, eid, provider["endorsement_id"])
        head = head_seq(c, node)
        roster_json = c.get("/v1/roster", headers=coordinator).json()

    assert_clean_shutdown(server)
    check_cli_after_stop(node, head, roster_json)


def assert_clean_shutdown(server: ServerProcess) -> None:
    """SIGTERM shuts down gracefully (uvicorn re-raises the signal after shutting down)."""
    assert server.stop() in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.log()


def check_staff_reads(c: httpx.Client, node: NodeDir, eid: str, provider_eid: str) -> None:
    """Roster as JSON and CSV, the auditors' ledger listing, metrics, the OpenAPI pages."""
    r = c.get("/v1/roster", headers=node.auth("coordinator"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    rows = {row["endorsement_id"]: row for row in r.json()}
    assert set(rows) == {eid, provider_eid}
    assert rows[eid]["status"] == "lapsed" and rows[provider_eid]["status"] == "active"
    assert c.get("/v1/roster", headers=node.auth("reviewer")).status_code == 403
    assert c.get("/v1/roster").status_code == 401

    r = c.get("/v1/roster", params={"format": "csv"}, headers=node.auth("auditor"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    parsed = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["endorsement_id"]: row["status"] for row in parsed} == {
        eid: "lapsed", provider_eid: "active"}
    r = c.get("/v1/roster", params={"format": "csv", "status": "active"},
              headers=node.auth("auditor"))
    assert [row["endorsement_id"] for row in csv.DictReader(io.StringIO(r.text))] == [
        provider_eid]

    entries = all_entries(c, node)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert entries[-1]["seq"] == head_seq(c, node)
    assert [e["event_type"] for e in entries] == [
        "EndorsementGranted", "ApplicationStarted", "ApplicationEvidenceSubmitted",
        "ApplicationEvidenceSubmitted", "ApplicationReviewed", "ApplicationGranted",
        "EndorsementGranted", "EndorsementRenewed", "EndorsementLapsed"]
    assert len({e["key_id"] for e in entries}) == 1
    # Evidence is private: employers and raters named in it never reach the ledger.
    wires = [base64.b64decode(e["wire"]) for e in entries]
    assert any(b"Doe" in w for w in wires)  # names as published do
    assert not any(b"Anchorage Early Head Start" in w or b"Program supervisor" in w
                   for w in wires)
    r = c.get(f"/v1/ledger/{node.association}/entries", headers=node.auth("reviewer"))
    assert r.status_code == 403

    r = c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert f'alliance_ledger_head_seq{{association="AK"}} {len(entries)}.0' in r.text
    assert "# TYPE alliance_http_requests_total counter" in r.text
    # `serve` froze the heap it started with (web/heap.py): the modules alone are >100,000.
    frozen = re.search(r"^alliance_heap_frozen_objects (\S+)$", r.text, re.MULTILINE)
    assert frozen is not None and float(frozen.group(1)) > 100_000
    assert 'python_gc_collections_total{generation="2"}' in r.text
    assert "Bearer" not in r.text

    r = c.get("/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()
    r = c.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in ("/v1/verify", "/v1/status", "/v1/applications", "/v1/endorsements/imports",
                 "/v1/ledger/{association}/entries"):
        assert path in paths
    assert c.get("/readyz").json()["status"] == "ready"


def check_cli_after_stop(node: NodeDir, head: int, roster_json: list[dict[str, Any]]) -> None:
    """The stopped node's ledger verifies, and its projections rebuild to the same digest."""
    done = node.cli("ledger", "verify")
    assert f"{head} entries verified" in done.stdout, done.stdout
    digest = node.cli("projections", "digest").stdout.strip()
    rebuilt = node.cli("projections", "rebuild").stdout.strip()
    assert len(digest) == 64 and digest == rebuilt
    assert node.cli("projections", "digest").stdout.strip() == digest
    exported = node.cli("roster", "export", "--format", "json").stdout
    assert json.loads(exported) == roster_json
    keys = node.cli("keys", "show").stdout
    assert keys.startswith("AK ") and "(current)" in keys


# -- bad input, idempotency and optimistic concurrency on one shared node ---------------------


@dataclass
class Shared:
    """A running node with a provider and an open application whose evidence is incomplete."""

    node: NodeDir
    server: ServerProcess
    client: httpx.Client
    provider_eid: str
    open_app: str  # incomplete evidence: approval must be refused


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    node = init_node(tmp_path_factory.mktemp("shared") / "node")
    server = ServerProcess(node)
    with server, server.client() as c:
        coordinator = node.auth("coordinator")
        r = c.post("/v1/endorsements/imports", headers=coordinator,
                   json=provider_import(D(today().year, 12, 31)))
        assert r.status_code == 201, r.text
        provider_eid = r.json()["endorsement_id"]
        r = c.post("/v1/applications", headers=coordinator, json=applicant("AK-P-0100"))
        assert r.status_code == 201, r.text
        app_id = r.json()["application_id"]
        r = c.put(f"/v1/applications/{app_id}/evidence", headers=coordinator,
                  json={"evidence": incomplete_level_two_evidence(D(today().year, 12, 31))})
        assert r.status_code == 200 and r.json()["unmet"], r.text
        yield Shared(node, server, c, provider_eid, app_id)
        assert server.running(), "the server died during the tests"
    assert_clean_shutdown(server)
    assert "entries verified" in node.cli("ledger", "verify").stdout


def tomorrow() -> str:
    return (today() + dt.timedelta(days=2)).isoformat()  # 2 days: safe across midnight UTC


def evidence_with(**changes: Any) -> dict[str, Any]:
    evidence = level_two_evidence(D(today().year, 12, 31))
    evidence.update(changes)
    return {"evidence": evidence}


TRAINING = {"title": "T", "hours": 10, "completed_on": "2020-01-01"}


@dataclass(frozen=True)
class Case:
    """One bad request and the 4xx answer it must get."""

    name: str
    method: str
    path: str  # may name {app} (the open application) or {provider} (an endorsement id)
    body: Any  # JSON value, or bytes sent as-is
    status: int
    field: str | None  # None: not a field's fault (the body is not JSON at all)
    rule: str
    role: str = "coordinator"


BAD_INPUT = [
    Case("malformed JSON", "POST", "/v1/applications", b'{"person_id": "AK-P-1",', 422,
         None, "json_invalid"),
    Case("JSON that is not an object", "POST", "/v1/applications", [1, 2], 422, None,
         "model_attributes_type"),
    Case("unknown field", "POST", "/v1/applications", applicant(nickname="JD"), 422,
         "nickname", "extra_forbidden"),
    Case("unknown nested field", "PUT", "/v1/applications/{app}/evidence",
         evidence_with(shoe_size=42), 422, "evidence.shoe_size", "extra_forbidden"),
    Case("missing field", "POST", "/v1/applications",
         {"person_id": "AK-P-1", "given_name": "J", "level": "IFS"}, 422, "family_name",
         "missing"),
    Case("wrong enum", "POST", "/v1/applications", applicant(level="IFX"), 422, "level",
         "enum"),
    Case("wrong enum in evidence", "PUT", "/v1/applications/{app}/evidence",
         evidence_with(degrees=[{"kind": "diploma", "field_of_study": "x",
                                 "awarded_on": "2016-01-01"}]),
         422, "evidence.degrees.0.kind", "enum"),
    Case("hours not a number", "PUT", "/v1/applications/{app}/evidence",
         evidence_with(trainings=[dict(TRAINING, hours="lots")]), 422,
         "evidence.trainings.0.hours", "float_parsing"),
    Case("impossible date", "POST", "/v1/applications", applicant(started_on="2024-02-30"),
         422, "started_on", "date_from_datetime_parsing"),
    Case("future start date", "POST", "/v1/applications", applicant(started_on=tomorrow()),
         422, "started_on", "date.future"),
    Case("future evidence date", "PUT", "/v1/applications/{app}/evidence",
         dict(evidence_with(), submitted_on=tomorrow()), 422, "submitted_on", "date.future"),
    Case("future lapse run", "POST", "/v1/lapses", {"on": tomorrow()}, 422, "on",
         "date.future"),
    Case("IMHM without designation", "POST", "/v1/applications", applicant(level="IMHM"), 422,
         "designation", "designation.required"),
    Case("designation on Level II", "POST", "/v1/applications",
         applicant(designation="C"), 422, "designation", "designation.forbidden"),
    Case("blank family name", "POST", "/v1/applications",
         dict(applicant(), family_name="   "), 422, "family_name", "required"),
    Case("person id with spaces", "POST", "/v1/applications",
         dict(applicant(), person_id="AK P 1"), 422, "person_id", "string_pattern_mismatch"),
    Case("approve with unmet requirements", "POST", "/v1/applications/{app}/reviews",
         {"decision": "approve"}, 422, "evidence", "review.unmet", role="reviewer"),
    Case("deny without a reason", "POST", "/v1/applications/{app}/reviews",
         {"decision": "deny"}, 422, "reason", "review.reason_required", role="reviewer"),
    Case("grant before approval", "POST", "/v1/applications/{app}/grant", {}, 409, "state",
         "grant.not_approved"),
    Case("lapse before the grace period ends", "POST", "/v1/endorsements/{provider}/lapse",
         {}, 409, "on", "lapse.not_due"),
    Case("import ending before it starts", "POST", "/v1/endorsements/imports",
         dict(provider_import(D(2009, 1, 1)), person_id="AK-P-0009"), 422, "valid_through",
         "import.dates"),
    Case("import without designation", "POST", "/v1/endorsements/imports",
         dict(provider_import(D(2030, 1, 1)), level="IMHM"), 422, "designation",
         "designation.required"),
    Case("renewal with no evidence", "POST", "/v1/endorsements/{provider}/renewals",
         {"evidence": {}}, 422, "evidence", "renewal.unmet"),
    Case("birth date after the application started", "POST", "/v1/applications",
         applicant(birth_date=tomorrow()), 422, "birth_date", "birth_date.range"),
    Case("Master's degree recorded on a Level III import", "POST", "/v1/endorsements/imports",
         dict(provider_import(D(2030, 1, 1)), person_id="AK-P-0010", masters_prepared=True),
         422, "masters_prepared", "degree.level_ii_only"),
    Case("degree attested from a future date", "POST",
         "/v1/endorsements/{provider}/degree-attestations",
         {"masters_prepared": True, "effective_on": tomorrow()}, 422, "effective_on",
         "date.future"),
    Case("vet a rater the application does not name", "POST",
         "/v1/applications/{app}/rater-vettings", {"rater_id": "AK-X-9999"}, 422, "rater_id",
         "rater.unknown"),
]


def send(shared: Shared, case: Case, headers: dict[str, str] | None = None) -> httpx.Response:
    path = case.path.format(app=shared.open_app, provider=shared.provider_eid)
    all_headers = {**shared.node.auth(case.role), **(headers or {})}
    if isinstance(case.body, bytes):
        return shared.client.request(case.method, path, content=case.body,
                                     headers={**all_headers, "Content-Type": "application/json"})
    return shared.client.request(case.method, path, json=case.body, headers=all_headers)


@pytest.mark.parametrize("case", BAD_INPUT, ids=[c.name for c in BAD_INPUT])
def test_bad_input_is_a_4xx_naming_field_and_rule_and_writes_nothing(shared: Shared,
                                                                     case: Case) -> None:
    before = head_seq(shared.client, shared.node)
    r = send(shared, case)
    assert r.status_code == case.status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert isinstance(body["field"], str) and body["rule"] == case.rule, body
    if case.field is not None:
        assert body["field"] == case.field, body
    assert body["code"] and body["message"]
    if case.rule.endswith(".unmet"):
        assert body["unmet"]
    # The same request retried with an Idempotency-Key is refused the same way.
    again = send(shared, case, {"Idempotency-Key": f"bad-{uuid.uuid4()}"})
    assert (again.status_code, again.json()["rule"]) == (case.status, case.rule)
    assert head_seq(shared.client, shared.node) == before


def test_negative_hours_are_refused(shared: Shared) -> None:
    c, coordinator = shared.client, shared.node.auth("coordinator")
    r = c.post("/v1/applications", headers=coordinator, json=applicant("AK-P-0150"))
    app_id = r.json()["application_id"]  # its own application: the bug writes an entry
    before = head_seq(c, shared.node)
    r = c.put(f"/v1/applications/{app_id}/evidence", headers=coordinator,
              json=evidence_with(trainings=[dict(TRAINING, hours=40), dict(TRAINING, hours=-5)]))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "evidence.trainings.1.hours" and r.json()["rule"], r.json()
    assert head_seq(c, shared.node) == before


@pytest.mark.parametrize("header", [{"If-Match": "version-two"}, {"Idempotency-Key": "a b"}])
def test_malformed_command_headers_name_field_and_rule(shared: Shared,
                                                       header: dict[str, str]) -> None:
    before = head_seq(shared.client, shared.node)
    r = shared.client.put(f"/v1/applications/{shared.open_app}/evidence",
                          headers={**shared.node.auth("coordinator"), **header},
                          json=evidence_with())
    assert r.status_code == 422, r.text
    assert head_seq(shared.client, shared.node) == before
    assert r.json()["field"] == next(iter(header)) and r.json()["rule"], r.json()


def test_unknown_records_are_404_json(shared: Shared) -> None:
    c, coordinator = shared.client, shared.node.auth("coordinator")
    before = head_seq(c, shared.node)
    for r in (c.get(f"/v1/applications/{uuid.uuid4()}", headers=coordinator),
              c.put(f"/v1/applications/{uuid.uuid4()}/evidence", headers=coordinator,
                    json=evidence_with()),
              c.post("/v1/endorsements/AK-00000000/lapse", headers=coordinator, json={}),
              c.get("/v1/endorsements/AK-00000000", headers=coordinator)):
        assert r.status_code == 404, r.text
        assert r.json()["code"] == "not_found"
    r = c.get("/v1/applications/not-a-uuid", headers=coordinator)
    assert r.status_code == 422 and r.json()["field"] == "path.application_id", r.text
    assert head_seq(c, shared.node) == before
    # The error names the endorsement id the caller sent, never an internal aggregate UUID.
    for r in (c.post("/v1/endorsements/ak-00000000/lapse", headers=coordinator, json={}),
              c.get("/v1/endorsements/AK-00000000", headers=coordinator)):
        assert r.json()["message"] == "no endorsement AK-00000000", r.text
    r = c.post(f"/v1/endorsements/{shared.provider_eid}/corrections", json={
        "corrects_version": 1, "family_name": "Rivera", "reason": "spelling"},
        headers={**coordinator, "If-Match": "9"})
    assert r.status_code == 409, r.text
    assert r.json()["message"] == f"endorsement {shared.provider_eid} is at version 1, not 9"
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", r.text)


def test_idempotency_key_retry_replays_and_writes_once(shared: Shared) -> None:
    c, coordinator = shared.client, shared.node.auth("coordinator")
    keyed = {**coordinator, "Idempotency-Key": f"start-{uuid.uuid4()}"}
    body = applicant("AK-P-0200", started_on="2024-01-10")
    before = head_seq(c, shared.node)
    first = c.post("/v1/applications", headers=keyed, json=body)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    assert head_seq(c, shared.node) == before + 1
    for _ in range(2):
        retry = c.post("/v1/applications", headers=keyed, json=body)
        assert retry.status_code == 201
        assert retry.headers["idempotent-replayed"] == "true"
        assert retry.content == first.content
    assert head_seq(c, shared.node) == before + 1

    changed = c.post("/v1/applications", headers=keyed, json=dict(body, given_name="Janet"))
    assert changed.status_code == 422, changed.text
    assert (changed.json()["field"], changed.json()["rule"]) == ("Idempotency-Key",
                                                                 "idempotency.reused")
    assert head_seq(c, shared.node) == before + 1

    # A keyed evidence submission retried: one entry, the same answer.
    app_id = first.json()["application_id"]
    ev_key = {**coordinator, "Idempotency-Key": f"evidence-{uuid.uuid4()}"}
    one = c.put(f"/v1/applications/{app_id}/evidence", headers=ev_key, json=evidence_with())
    two = c.put(f"/v1/applications/{app_id}/evidence", headers=ev_key, json=evidence_with())
    assert one.status_code == two.status_code == 200, one.text
    assert one.content == two.content and two.headers["idempotent-replayed"] == "true"
    assert one.json()["version"] == 2 and one.json()["unmet"] == []
    assert head_seq(c, shared.node) == before + 2

    # A keyed grant retried names one endorsement.
    r = c.post(f"/v1/applications/{app_id}/reviews", headers=shared.node.auth("reviewer"),
               json={"decision": "approve"})
    assert r.status_code == 200, r.text
    grant_key = {**coordinator, "Idempotency-Key": f"grant-{uuid.uuid4()}"}
    g1 = c.post(f"/v1/applications/{app_id}/grant", headers=grant_key, json={})
    g2 = c.post(f"/v1/applications/{app_id}/grant", headers=grant_key, json={})
    assert g1.status_code == g2.status_code == 201, g1.text
    assert g1.json()["endorsement_id"] == g2.json()["endorsement_id"]
    assert head_seq(c, shared.node) == before + 5  # reviewed + 2 grant events, once
    entries = all_entries(c, shared.node)
    assert sum(e["event_type"] == "EndorsementGranted" for e in entries) == 2  # + provider


def test_stale_if_match_is_409_and_writes_nothing(shared: Shared) -> None:
    c, coordinator = shared.client, shared.node.auth("coordinator")
    r = c.post("/v1/applications", headers=coordinator, json=applicant("AK-P-0300"))
    app_id = r.json()["application_id"]
    r = c.put(f"/v1/applications/{app_id}/evidence", json=evidence_with(),
              headers={**coordinator, "If-Match": "1"})
    assert r.status_code == 200 and r.json()["version"] == 2, r.text
    before = head_seq(c, shared.node)
    for stale in ("1", '"1"', "7"):
        r = c.put(f"/v1/applications/{app_id}/evidence", json=evidence_with(),
                  headers={**coordinator, "If-Match": stale})
        assert r.status_code == 409, r.text
        assert (r.json()["field"], r.json()["rule"]) == ("If-Match", "version.conflict")
    r = c.post(f"/v1/applications/{app_id}/reviews", json={"decision": "approve"},
               headers={**shared.node.auth("reviewer"), "If-Match": "1"})
    assert r.status_code == 409, r.text
    assert head_seq(c, shared.node) == before
    assert c.get(f"/v1/applications/{app_id}", headers=coordinator).json()["version"] == 2
    r = c.put(f"/v1/applications/{app_id}/evidence", json=evidence_with(),
              headers={**coordinator, "If-Match": '"2"'})
    assert r.status_code == 200 and r.json()["version"] == 3, r.text


def race(shared: Shared, send: Callable[[httpx.Client, int], httpx.Response]
         ) -> list[httpx.Response]:
    """Two requests from two connections, released at the same moment."""
    barrier = threading.Barrier(2, timeout=10)
    answers: list[httpx.Response] = []

    def one(n: int) -> None:
        with shared.server.client() as own:
            barrier.wait()
            answers.append(send(own, n))

    threads = [threading.Thread(target=one, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads) and len(answers) == 2
    return answers


def test_concurrent_commands_with_one_if_match_version_one_wins(shared: Shared) -> None:
    c, coordinator = shared.client, shared.node.auth("coordinator")
    r = c.post("/v1/applications", headers=coordinator, json=applicant("AK-P-0400"))
    app_id = r.json()["application_id"]
    for version in range(1, 6):
        before = head_seq(c, shared.node)
        answers = race(shared, lambda own, n, version=version: own.put(
            f"/v1/applications/{app_id}/evidence",
            json=evidence_with(trainings=[dict(TRAINING, hours=30 + n)]),
            headers={**coordinator, "If-Match": str(version)}))
        assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
        assert head_seq(c, shared.node) == before + 1
        r = c.get(f"/v1/applications/{app_id}", headers=coordinator)
        assert r.json()["version"] == version + 1
        winner = next(a for a in answers if a.status_code == 200)
        hours = c.get(f"/v1/applications/{app_id}/evidence", headers=coordinator).json()[
            "trainings"][0]["hours"]
        assert winner.json()["version"] == version + 1 and hours in (31, 32)


def test_concurrent_retries_of_one_idempotency_key_write_once(shared: Shared) -> None:
    c, coordinator = shared.client, shared.node.auth("coordinator")
    headers = {**coordinator, "Idempotency-Key": f"twin-{uuid.uuid4()}"}
    before = head_seq(c, shared.node)
    answers = race(shared, lambda own, _: own.post("/v1/applications", headers=headers,
                                                   json=applicant("AK-P-0500")))
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert answers[0].content == answers[1].content
    assert sorted(a.headers.get("idempotent-replayed", "") for a in answers) == ["", "true"]
    assert head_seq(c, shared.node) == before + 1


def approved_level_two(shared: Shared, person_id: str, started_on: dt.date) -> str:
    """Start, complete and approve a Level II application; the application id."""
    c, coordinator = shared.client, shared.node.auth("coordinator")
    r = c.post("/v1/applications", headers=coordinator,
               json=applicant(person_id, started_on=started_on.isoformat()))
    app_id = str(r.json()["application_id"])
    r = c.put(f"/v1/applications/{app_id}/evidence", headers=coordinator,
              json=evidence_with())
    assert r.json()["unmet"] == [], r.text
    r = c.post(f"/v1/applications/{app_id}/reviews", headers=shared.node.auth("reviewer"),
               json={"decision": "approve"})
    assert r.status_code == 200, r.text
    return app_id


def grant_level_two(shared: Shared, person_id: str, granted_on: dt.date) -> str:
    """Start, complete, approve and grant a Level II application; the endorsement id."""
    app_id = approved_level_two(shared, person_id, granted_on - dt.timedelta(days=90))
    r = shared.client.post(f"/v1/applications/{app_id}/grant",
                           headers=shared.node.auth("coordinator"),
                           json={"granted_on": granted_on.isoformat()})
    assert r.status_code == 201, r.text
    return str(r.json()["endorsement_id"])


@pytest.mark.parametrize("command", ["renewal", "suspension"])
def test_no_status_before_the_grant_even_after_a_backdated_command(shared: Shared,
                                                                   command: str) -> None:
    year = today().year - 2
    eid = grant_level_two(shared, f"AK-P-05{command[:2]}", D(year, 6, 1))
    before_grant = D(year - 3, 6, 1)
    assert status_on(shared.client, eid, "Doe", before_grant).status_code == 404
    if command == "renewal":
        path, role, body = f"/v1/endorsements/{eid}/renewals", "coordinator", {
            "evidence": renewal_evidence(year), "renewed_on": D(year - 4, 1, 1).isoformat()}
    else:
        path, role, body = f"/v1/endorsements/{eid}/suspension", "committee", {
            "reason": "complaint", "effective_on": D(year - 4, 1, 1).isoformat()}
    r = shared.client.post(path, headers=shared.node.auth(role), json=body)
    # Refusing the command (4xx) is one fix; either way nobody was endorsed before the grant.
    assert r.status_code < 500, r.text
    answer = status_on(shared.client, eid, "Doe", before_grant)
    assert answer.status_code == 404, answer.text


# -- one person, one standing; possible duplicates; a provider's degree on record -------------


def test_a_suspended_person_gets_no_fresh_endorsement_by_reapplying(shared: Shared) -> None:
    c, coordinator = shared.client, shared.node.auth("coordinator")
    person = "AK-P-0700"
    eid = grant_level_two(shared, person, D(today().year - 1, 6, 1))
    r = c.post(f"/v1/endorsements/{eid}/suspension", headers=shared.node.auth("committee"),
               json={"reason": "complaint under review"})
    assert r.status_code == 200 and r.json()["status"] == "suspended", r.text

    # The same person reapplies; the application is complete and approved, but not granted.
    app_id = approved_level_two(shared, person, today() - dt.timedelta(days=10))
    before = head_seq(c, shared.node)
    r = c.post(f"/v1/applications/{app_id}/grant", headers=coordinator, json={})
    assert r.status_code == 409, r.text
    assert (r.json()["rule"], r.json()["field"]) == ("standing.suspended", "person_id")
    assert f"{eid} (Level II, AK) is suspended" in r.json()["message"]
    r = c.post("/v1/endorsements/imports", headers=coordinator,
               json=dict(provider_import(D(today().year, 12, 31)), person_id=person,
                         level="IFS", legacy_reference="paper-0700"))
    assert (r.status_code, r.json()["rule"]) == (409, "standing.suspended"), r.text
    assert head_seq(c, shared.node) == before
    roster = c.get("/v1/roster", headers=coordinator).json()
    assert [row["endorsement_id"] for row in roster if row["person_id"] == person] == [eid]


def test_a_higher_level_replaces_the_lower_one(shared: Shared) -> None:
    c, coordinator = shared.client, shared.node.auth("coordinator")
    person = "AK-P-0710"
    r = c.post("/v1/endorsements/imports", headers=coordinator,
               json=dict(provider_import(D(today().year, 12, 31)), person_id=person,
                         level="IFA", legacy_reference="paper-0710"))
    assert r.status_code == 201, r.text
    lower = r.json()["endorsement_id"]
    higher = grant_level_two(shared, person, today() - dt.timedelta(days=1))
    r = c.get(f"/v1/endorsements/{lower}", headers=coordinator)
    assert r.json()["status"] == "relinquished", r.text
    assert c.get("/v1/verify", params={"endorsement_id": lower, "last_name": "Rivera"}
                 ).json()["status"] == "relinquished"
    roster = c.get("/v1/roster", headers=coordinator, params={"status": "active"}).json()
    assert [row["endorsement_id"] for row in roster if row["person_id"] == person] == [higher]


def test_the_same_applicant_under_two_person_ids_is_flagged(shared: Shared) -> None:
    c, coordinator = shared.client, shared.node.auth("coordinator")
    first = c.post("/v1/applications", headers=coordinator,
                   json=dict(applicant("AK-P-0800"), family_name="Þórsdóttir",
                             given_name="Harper", birth_date="1991-07-14"))
    assert first.status_code == 201 and first.json()["possible_duplicates"] == [], first.text
    second = c.post("/v1/applications", headers=coordinator,
                    json=dict(applicant("AK-P-0801"), family_name="þórsdóttir",
                              given_name="HARPER", birth_date="1991-07-14"))
    assert second.status_code == 201, second.text
    assert second.json()["possible_duplicates"] == [{
        "person_id": "AK-P-0800", "association": "AK", "endorsement_id": None,
        "application_id": first.json()["application_id"], "match": "name_and_birth_date"}]
    namesake = c.post("/v1/applications", headers=coordinator,
                      json=dict(applicant("AK-P-0802"), family_name="Thorsdottir",
                                given_name="Harper", birth_date="1991-07-14"))
    assert namesake.json()["possible_duplicates"] == []  # folding keeps letters apart
    r = c.get(f"/v1/applications/{first.json()['application_id']}", headers=coordinator)
    assert [d["person_id"] for d in r.json()["possible_duplicates"]] == ["AK-P-0801"]

    listed = c.get("/v1/possible-duplicates", headers=coordinator)
    assert listed.status_code == 200, listed.text
    flagged = {row["person_id"]: row for row in listed.json()}
    assert {"AK-P-0800", "AK-P-0801"} <= set(flagged)
    assert "AK-P-0802" not in flagged
    assert c.get("/v1/possible-duplicates", headers=shared.node.auth("reviewer")
                 ).status_code == 403
    # Nothing was merged, and the date of birth never reached the ledger.
    assert second.json()["person_id"] == "AK-P-0801"
    wires = [base64.b64decode(e["wire"]) for e in all_entries(c, shared.node)]
    assert not any(b"1991-07-14" in w for w in wires)


def test_a_level_two_providers_masters_degree_comes_from_the_providers_record(
        shared: Shared) -> None:
    c, coordinator = shared.client, shared.node.auth("coordinator")
    r = c.post("/v1/endorsements/imports", headers=coordinator,
               json=dict(provider_import(D(today().year, 12, 31)), person_id="AK-P-0900",
                         level="IFS", legacy_reference="paper-0900"))
    assert r.status_code == 201, r.text
    provider = r.json()["endorsement_id"]
    evidence = level_two_evidence(D(today().year, 12, 31))
    evidence["rsc"] = [dict(evidence["rsc"][0], provider_id="AK-P-0900")]
    evidence["ratings"][1] = dict(evidence["ratings"][1], rater_id="AK-P-0900",
                                  rater_degree="master")  # the applicant's claim
    r = c.post("/v1/applications", headers=coordinator, json=applicant("AK-P-0901"))
    app_id = r.json()["application_id"]
    r = c.put(f"/v1/applications/{app_id}/evidence", headers=coordinator,
              json={"evidence": evidence})
    assert codes(r.json()["unmet"]) == {"rsc.provider", "rsc.hours"}, r.text

    # The provider's own association records the Master's degree from her transcript.
    r = c.post(f"/v1/endorsements/{provider}/degree-attestations", headers=coordinator,
               json={"masters_prepared": True, "effective_on": "2012-05-01"})
    assert r.status_code == 200, r.text
    r = c.put(f"/v1/applications/{app_id}/evidence", headers=coordinator,
              json={"evidence": evidence})
    assert r.json()["unmet"] == [], r.text
    r = c.post(f"/v1/endorsements/{shared.provider_eid}/degree-attestations",
               headers=coordinator, json={"masters_prepared": True})
    assert (r.status_code, r.json()["rule"]) == (422, "degree.level_ii_only"), r.text
