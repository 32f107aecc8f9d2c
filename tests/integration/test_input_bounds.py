"""Bad input at the API edge: the roster's status words, and bounds on every number.

Each answer to bad input is a 422 naming the field and the rule, never a 500, and writes
nothing. Regression inputs from the hostile test: `?status=current` (the public page's word),
`?status=` and `?status=Active`; an integer of 2**64 in evidence (`families_served`), which
reached the codec and overflowed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from domain.levels import Level
from federation_api.accounts.tokens import Role
from federation_api.cli.main import main
from federation_api.clock import now, today
from federation_api.demo.seed import seed
from federation_api.node.local_alliance import found_alliance
from federation_api.node.root import Node
from federation_api.settings import RateLimitSettings
from ledger.signing import Signer
from tests.integration.live_app import LiveNode, live_node

EXPIRED_ID = "AK-EXPIRED1"  # active, but its valid-through was yesterday (lapse not due yet)


def _import_expired(node: Node) -> None:
    node.service.record_existing(
        endorsement_id=EXPIRED_ID, person_id="AK-P-0901", family_name="Past", given_name="Ada",
        level=Level.IFA, designation=None, granted_on=dt.date(2020, 1, 1),
        valid_through=today() - dt.timedelta(days=1), legacy_reference="paper-0901", now=now())


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNode]:
    with live_node(tmp_path_factory.mktemp("bounds"), RateLimitSettings(enabled=False)
                   ) as served:
        _import_expired(served.node)
        yield served


@pytest.fixture(scope="module")
def coordinator(live: LiveNode) -> dict[str, str]:
    return live.token(Role.COORDINATOR)


def _ids(rows: list[dict[str, Any]]) -> set[str]:
    return {row["endorsement_id"] for row in rows}


def test_roster_status_current_is_what_the_public_page_calls_current(
        live: LiveNode, coordinator: dict[str, str]) -> None:
    ids = live.ids
    with live.client(**coordinator) as client:
        def roster(status: str) -> set[str]:
            answer = client.get("/v1/roster", params={"status": status})
            assert answer.status_code == 200, (status, answer.text)
            return _ids(answer.json())

        current = roster("current")
        assert current == {ids["rivera"], ids["okafor"], ids["doe"]}
        assert roster("expired") == {EXPIRED_ID}
        assert roster("active") == current | {EXPIRED_ID}
        assert roster("lapsed") == {ids["chen"]}
        assert roster("suspended") == {ids["morgan"]}
        assert roster("revoked") == set()
        # The public answer agrees, row by row.
        for endorsement_id, family in ((ids["rivera"], "Rivera"), (EXPIRED_ID, "Past")):
            public = client.get("/v1/verify", params={"endorsement_id": endorsement_id,
                                                      "last_name": family}).json()
            assert (public["status"] == "current") == (endorsement_id in current)
        csv_text = client.get("/v1/roster", params={"status": "current", "format": "csv"}).text
        assert csv_text.count("\r\n") == 1 + len(current)


@pytest.mark.parametrize("status", ["", "Active", "CURRENT", "Current", "bogus", "x" * 40,
                                    "active ", "current,lapsed"])
def test_any_other_status_word_is_a_422_listing_the_words(
        live: LiveNode, coordinator: dict[str, str], status: str) -> None:
    with live.client(**coordinator) as client:
        answer = client.get("/v1/roster", params={"status": status})
    assert answer.status_code == 422, (status, answer.status_code, answer.text)
    body = answer.json()
    assert body["code"] == "invalid_request" and body["field"] == "query.status"
    assert body["rule"] == "enum"
    assert "'current'" in body["message"] and "'active'" in body["message"]


def test_roster_export_on_the_command_line_takes_the_same_words(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    founded = found_alliance(tmp_path, {"AK": "Alaska"}, Signer.generate(), alliance="Test",
                             created=now() - dt.timedelta(days=1))
    settings = replace(founded["AK"], rate_limits=RateLimitSettings(enabled=False))
    node = Node(settings)
    ids = seed(node, today())
    _import_expired(node)
    node.close()
    args = ["roster", "export", "--data-dir", str(settings.data_dir), "--format", "json"]
    assert main([*args, "--status", "current"]) == 0
    assert _ids(json.loads(capsys.readouterr().out)) == {ids["rivera"], ids["okafor"],
                                                         ids["doe"]}
    assert main([*args, "--status", "expired"]) == 0
    assert _ids(json.loads(capsys.readouterr().out)) == {EXPIRED_ID}
    with pytest.raises(SystemExit) as refused:
        main([*args, "--status", "Active"])
    assert refused.value.code == 2
    assert "invalid choice: 'Active'" in capsys.readouterr().err


def _work(**changes: Any) -> dict[str, Any]:
    return {"kind": "infant_family", "employer": "Anchorage Early Head Start",
            "started_on": "2020-01-01", "ended_on": "2023-01-01", "paid": True,
            "families_served": 12, **changes}


def _training(**changes: Any) -> dict[str, Any]:
    return {"title": "Infant mental health foundations", "hours": 30,
            "completed_on": "2021-05-01", **changes}


# (what is sent inside `evidence`, the field the 422 must name, the rule)
OUT_OF_BOUNDS = [
    ({"work": [_work(families_served=2**64)]}, "evidence.work.0.families_served",
     "less_than_equal"),
    ({"work": [_work(families_served=10_001)]}, "evidence.work.0.families_served",
     "less_than_equal"),
    ({"work": [_work(families_served=-1)]}, "evidence.work.0.families_served",
     "greater_than_equal"),
    ({"trainings": [_training(hours=1e308)]}, "evidence.trainings.0.hours", "less_than_equal"),
    ({"trainings": [_training(hours=10_000.5)]}, "evidence.trainings.0.hours",
     "less_than_equal"),
    ({"trainings": [_training(completed_on="0001-01-01")]}, "evidence.trainings.0.completed_on",
     "greater_than_equal"),
    ({"trainings": [_training(completed_on="9999-12-31")]}, "evidence.trainings.0.completed_on",
     "less_than_equal"),
    ({"trainings": [_training(title="t" * 201)]}, "evidence.trainings.0.title",
     "string_too_long"),
    ({"trainings": [_training()] * 101}, "evidence.trainings", "too_long"),
    ({"exam": {"taken_on": "2022-01-01", "passed": True, "score": 10_001}}, "evidence.exam.score",
     "less_than_equal"),
]


@pytest.mark.parametrize(("evidence", "field", "rule"), OUT_OF_BOUNDS,
                         ids=[case[1] + ":" + case[2] for case in OUT_OF_BOUNDS])
def test_a_number_date_text_or_list_out_of_bounds_is_a_422_that_writes_nothing(
        live: LiveNode, coordinator: dict[str, str], evidence: dict[str, Any], field: str,
        rule: str) -> None:
    with live.client(**coordinator) as client:
        started = client.post("/v1/applications", json={
            "person_id": "AK-P-0950", "family_name": "Bound", "given_name": "Bea",
            "level": "IFS"})
        assert started.status_code == 201, started.text
        application = started.json()["application_id"]
        head = live.node.ledger.head("AK")
        answer = client.put(f"/v1/applications/{application}/evidence",
                            json={"evidence": evidence})
        assert answer.status_code == 422, answer.text
        body = answer.json()
        assert (body["field"], body["rule"]) == (field, rule), body
        assert live.node.ledger.head("AK") == head  # nothing was written
        assert client.get(f"/v1/applications/{application}").json()["version"] == 1


def test_the_bounds_are_in_the_openapi_document(live: LiveNode) -> None:
    with live.client() as client:
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
    work = schemas["WorkExperience"]["properties"]
    assert (work["families_served"]["minimum"], work["families_served"]["maximum"]) == (0, 10_000)
    hours = schemas["Training"]["properties"]["hours"]
    assert (hours["minimum"], hours["maximum"]) == (0, 10_000)
    assert schemas["Training"]["properties"]["title"]["maxLength"] == 200
    assert schemas["Training"]["properties"]["completed_on"]["formatMinimum"] == "1900-01-01"
    assert schemas["ApplicationEvidence"]["properties"]["trainings"]["maxItems"] == 100
    assert schemas["CorrectionIn"]["properties"]["corrects_version"]["maximum"] == 10**12


@pytest.mark.parametrize(("path", "params"), [
    ("/v1/ledger/AK/entries", {"from": 2**64}),
    ("/v1/ledger/AK/proofs/inclusion", {"seq": 2**63}),
    ("/v1/ledger/AK/proofs/consistency", {"from": 1, "to": 2**70}),
    ("/v1/status", {"endorsement_id": "AK-EXPIRED1", "last_name": "Past", "on": "0001-01-01"}),
])
def test_query_numbers_and_dates_are_bounded_too(live: LiveNode, path: str,
                                                 params: dict[str, object]) -> None:
    with live.client(**live.token(Role.AUDITOR)) as client:
        answer = client.get(path, params=params)
    assert answer.status_code == 422, (path, answer.status_code, answer.text)


def test_an_employer_cursor_beyond_any_ledger_is_a_422(live: LiveNode) -> None:
    """The schemathesis run found `/v1/changes?cursor=63124576793038885486592` answering 500."""
    with live.client(**live.token(Role.EMPLOYER)) as client:
        for path, name in (("/v1/changes", "cursor"), ("/v1/deliveries", "after")):
            answer = client.get(path, params={name: 63124576793038885486592})
            assert answer.status_code == 422, (path, answer.status_code, answer.text)
            assert answer.json()["field"] == f"query.{name}"
