"""Bulk verification over a real HTTP server: CSV in, CSV out, the same answers as /v1/verify,
whole-file rejection of bad input, who may call it, and the per-token row budget."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from domain.levels import Level
from federation_api.accounts.tokens import Role
from federation_api.clock import now
from federation_api.settings import RateLimitSettings
from federation_api.web.routes.bulk import ANSWER_COLUMNS, MAX_ROWS
from tests.integration.live_app import LiveNode, live_node

CSV = {"Content-Type": "text/csv"}


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveNode]:
    with live_node(tmp_path) as served:
        yield served


def _post(client: httpx.Client, body: str | bytes, headers: dict[str, str] | None = None
          ) -> httpx.Response:
    return client.post("/v1/verify/bulk", content=body, headers=headers or CSV)


def _file(*rows: tuple[str, str]) -> str:
    return "endorsement_id,last_name\r\n" + "".join(f"{i},{n}\r\n" for i, n in rows)


def _answers(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(response.text))
    assert tuple(reader.fieldnames or ()) == ANSWER_COLUMNS
    return list(reader)


def test_answers_each_row_in_order_like_the_single_lookup(live: LiveNode) -> None:
    ids = live.ids
    rows = [(ids["rivera"], "RIVERA"), (ids["chen"], "chen"), ("AK-ZZZZZZZZ", "Doe"),
            (ids["morgan"], "Morgan"), (ids["rivera"], "Okafor"), (ids["rivera"].lower(), "rivera"),
            (ids["okafor"], " Okafor ")]
    with live.client(**live.token(Role.EMPLOYER)) as client:
        answers = _answers(_post(client, _file(*rows)))
        assert [a["row"] for a in answers] == [str(i) for i in range(1, len(rows) + 1)]
        assert [a["found"] for a in answers] == ["yes", "yes", "no", "yes", "no", "yes", "yes"]
        assert [a["status"] for a in answers] == ["current", "lapsed", "not found", "suspended",
                                                  "not found", "current", "current"]
        first = answers[0]
        assert (first["endorsement_id"], first["last_name"]) == (ids["rivera"], "RIVERA")
        assert first["name"] == "Maria Rivera"
        assert (first["level"], first["level_title"]) == ("IMHS", Level.IMHS.title)
        for row, (endorsement_id, last_name) in zip(answers, rows, strict=True):
            single = client.get("/v1/verify", params={"endorsement_id": endorsement_id,
                                                      "last_name": last_name.strip()})
            if row["found"] == "no":
                assert single.status_code == 404
                continue
            one = single.json()
            assert (row["name"], row["level"], row["level_title"], row["designation"],
                    row["association"], row["status"], row["valid_through"], row["as_of"]) == (
                one["name"], one["level"], one["level_title"], one["designation"] or "",
                one["association"], one["status"], one["valid_through"], one["as_of"])
        # An unknown id and a wrong last name give the same row, apart from the echoed input.
        unknown, wrong_name = answers[2], answers[4]
        echoed = {"row", "endorsement_id", "last_name"}
        assert {k: v for k, v in unknown.items() if k not in echoed} == {
            k: v for k, v in wrong_name.items() if k not in echoed}


def test_five_thousand_rows_answer_and_one_more_is_refused_naming_the_row(
        live: LiveNode) -> None:
    full = [(live.ids["doe"] if i % 7 == 0 else f"AK-{i:08d}", "Doe") for i in range(MAX_ROWS)]
    with live.client(**live.token(Role.EMPLOYER)) as client:
        answers = _answers(_post(client, _file(*full)))
        assert len(answers) == MAX_ROWS
        assert sum(a["found"] == "yes" for a in answers) == len(range(0, MAX_ROWS, 7))
        too_many = _post(client, _file(*full, ("AK-00000001", "Doe")))
        assert too_many.status_code == 413
        assert too_many.json()["field"] == f"row {MAX_ROWS + 1}"
        assert f"row {MAX_ROWS + 1}" in too_many.json()["message"]


@pytest.mark.parametrize(("body", "status", "field", "rule"), [
    ("", 422, "header", "bulk.header"),
    ("\r\n\r\n", 422, "header", "bulk.header"),
    ("AK-QCQWSH76,Rivera\r\n", 422, "header", "bulk.header"),
    ("id,name\r\nAK-QCQWSH76,Rivera\r\n", 422, "header", "bulk.header"),
    ("endorsement_id,last_name\r\n", 422, "row 1", "bulk.no_rows"),
    ("endorsement_id,last_name\r\nAK-QCQWSH76,Rivera\r\nAK-%,Rivera\r\n", 422,
     "row 2.endorsement_id", "bulk.endorsement_id"),
    ("endorsement_id,last_name\r\nAK-QCQWSH76,Rivera\r\nAK-*,Rivera\r\n", 422,
     "row 2.endorsement_id", "bulk.endorsement_id"),
    ("endorsement_id,last_name\r\nAK-QCQWSH76,Rivera\r\n\r\nAK-QCQWSH76,\r\n", 422,
     "row 2.last_name", "bulk.last_name"),
    ("endorsement_id,last_name\r\nAK-QCQWSH76,Rivera,extra\r\n", 422, "row 1", "bulk.fields"),
    ("endorsement_id,last_name\r\nAK-QCQWSH76\r\n", 422, "row 1", "bulk.fields"),
    ("endorsement_id,last_name\r\nAK-QCQWSH76," + "x" * 101 + "\r\n", 422, "row 1.last_name",
     "bulk.last_name"),
])
def test_a_bad_file_is_refused_whole_naming_the_row(live: LiveNode, body: str, status: int,
                                                    field: str, rule: str) -> None:
    with live.client(**live.token(Role.EMPLOYER)) as client:
        refused = _post(client, body)
        assert refused.status_code == status, refused.text
        assert refused.headers["content-type"].startswith("application/json")
        assert (refused.json()["field"], refused.json()["rule"]) == (field, rule)


def test_wrong_media_type_size_and_encoding_are_4xx(live: LiveNode) -> None:
    good = _file((live.ids["rivera"], "Rivera"))
    with live.client(**live.token(Role.COORDINATOR)) as client:
        assert _post(client, good, {"Content-Type": "application/json"}).status_code == 415
        assert _post(client, good, {"Content-Type": "text/csv; charset=utf-8"}).status_code == 200
        latin1 = _file((live.ids["rivera"], "Riviére")).encode("latin-1")
        bad = _post(client, latin1)
        assert (bad.status_code, bad.json()["rule"]) == (422, "bulk.encoding")
        assert bad.json()["field"] == "line 2"
        huge = _post(client, "endorsement_id,last_name\r\n" + "x" * 1_100_000)
        assert (huge.status_code, huge.json()["rule"]) == (413, "bulk.max_bytes")
        bom = _post(client, "\ufeff" + good)
        assert [a["found"] for a in _answers(bom)] == ["yes"]


def test_only_employer_and_staff_tokens_may_call_it(live: LiveNode) -> None:
    body = _file((live.ids["rivera"], "Rivera"))
    with live.client() as anonymous:
        denied = _post(anonymous, body)
        assert denied.status_code == 401
        assert "Maria" not in denied.text
        assert _post(anonymous, body, {**CSV, "Authorization": "Bearer alt_guess"}
                     ).status_code == 401
    for role in Role:
        with live.client(**live.token(role)) as client:
            assert _post(client, body).status_code == 200, role
    token_id, secret = live.node.tokens.issue(label="former employer", role=Role.EMPLOYER,
                                              now=now())
    live.node.tokens.revoke(token_id, now=now())
    with live.client(Authorization=f"Bearer {secret}") as revoked:
        assert _post(revoked, body).status_code == 401


def test_spreadsheet_formulas_are_neutralised(live: LiveNode) -> None:
    tricky = live.node.service.record_existing(
        endorsement_id="AK-FORMULA1", person_id="AK-P-0999", family_name="=HYPERLINK(1)",
        given_name="@Sum", level=Level.IFA, designation=None, granted_on=dt.date(2020, 1, 1),
        valid_through=dt.date(2099, 12, 31), legacy_reference="formula", now=now())
    assert tricky.id
    with live.client(**live.token(Role.EMPLOYER)) as client:
        answers = _answers(_post(client, _file(("AK-FORMULA1", '"=HYPERLINK(1)"'),
                                               ("AK-ZZZZZZZZ", "-2+3"))))
    assert answers[0]["found"] == "yes"
    assert answers[0]["last_name"] == "'=HYPERLINK(1)"
    assert answers[0]["name"] == "'@Sum =HYPERLINK(1)"
    assert answers[1]["last_name"] == "'-2+3"


def test_rows_cost_the_tokens_row_budget(tmp_path: Path) -> None:
    limits = RateLimitSettings(bulk_rows_burst=10, bulk_rows_per_hour=1)
    with live_node(tmp_path, limits) as live:
        first, second = live.token(Role.EMPLOYER), live.token(Role.EMPLOYER)
        eight = _file(*[(live.ids["rivera"], "Rivera")] * 8)
        with live.client(**first) as client:
            assert len(_answers(_post(client, eight))) == 8
            refused = _post(client, eight)
            assert refused.status_code == 429
            assert refused.headers["retry-after"].isdigit()
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.json()["rule"] == "rate_limit.bulk_rows"
            assert "Maria" not in refused.text  # nothing partial
            assert len(_answers(_post(client, _file((live.ids["rivera"], "Rivera"))))) == 1
        with live.client(**second) as other:  # another caller has its own budget
            assert len(_answers(_post(other, eight))) == 8
