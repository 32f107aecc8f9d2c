"""Employer subscriptions, the notifier and the change feed, on a real node (SQLite files and
PostgreSQL), through the HTTP API.

The notifier is run by hand here (the app's background dispatcher is not started: the test
client is used without its lifespan), so each test decides when changes are noticed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.levels import Level
from domain.policy import AssociationPolicy
from federation_api.accounts.tokens import Role
from federation_api.node.root import Node
from federation_api.node.setup import init_node
from federation_api.notifications.webhooks import verify
from federation_api.settings import Settings
from federation_api.web.app import create_app
from tests.backends import Backend, OnPostgreSQL, OnSQLite

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
ON = dt.date(2026, 3, 1)


@pytest.fixture
def node(backend: Backend, tmp_path: Path) -> Iterator[Node]:
    """An Alaska node with three imported professionals."""
    with backend.database_url() as url:
        yield from _node(Settings(data_dir=tmp_path / "ak", database_url=url))


def _node(settings: Settings) -> Iterator[Node]:
    init_node(settings, association="AK", name="Alaska", policy=AssociationPolicy(), now=NOW)
    node = Node(settings)
    for i, (family, given) in enumerate([("García", "Ana"), ("Doe", "Jane"), ("Lee", "Kim")]):
        node.service.record_existing(
            endorsement_id=f"AK-EMP{i:04d}", person_id=f"AK-P-{i}", family_name=family,
            given_name=given, level=Level.IFS, designation=None,
            granted_on=dt.date(2020, 1, 1), valid_through=dt.date(2030, 12, 31),
            legacy_reference=f"ref-{i}", now=NOW)
    try:
        yield node
    finally:
        node.close()
        for db in (node.ledger.db, node.projector.db, node.tokens.db):
            db.close()


def _auth(node: Node, role: Role, label: str = "someone") -> dict[str, str]:
    _, token = node.tokens.issue(label=label, role=role, now=NOW)
    return {"Authorization": f"Bearer {token}"}


def _suspend(node: Node, endorsement_id: str) -> None:
    node.service.suspend(endorsement_id, effective_on=ON, reason="complaint", now=NOW)


# -- subscriptions -----------------------------------------------------------------------------


# -- CSV ---------------------------------------------------------------------------------------

CSV = "text/csv"


def _token_id(node: Node, headers: dict[str, str]) -> str:
    principal = node.tokens.authenticate(headers["Authorization"].split(" ", 1)[1])
    assert principal is not None
    return principal.token_id


GOOD = "AK-EMP0000,Garcia\n"
BAD_FILES = [
    # (name, body, line, field)
    ("wrong_header", b"id,name\n" + GOOD.encode(), 1, "header"),
    ("no_header", GOOD.encode(), 1, "header"),
    ("empty", b"", 1, "body"),
    ("header_only", b"endorsement_id,last_name\n", 2, "row"),
    ("three_fields", f"endorsement_id,last_name\n{GOOD}AK-EMP0001,Doe,extra\n".encode(), 3,
     "row"),
    ("bad_id", f"endorsement_id,last_name\n{GOOD}AK EMP 0001,Doe\n".encode(), 3,
     "endorsement_id"),
    ("empty_name", f"endorsement_id,last_name\n{GOOD}AK-EMP0001,\n".encode(), 3, "last_name"),
    ("long_name", f"endorsement_id,last_name\n{GOOD}AK-EMP0001,{'x' * 101}\n".encode(), 3,
     "last_name"),
    ("not_utf8", b"endorsement_id,last_name\nAK-EMP0000,Garc\xeda\n", 0, "body"),
    ("unterminated_quote", f'endorsement_id,last_name\n{GOOD}"AK-EMP0001,Doe\n'.encode(), 3,
     "body"),
    ("too_many_rows", ("endorsement_id,last_name\n" + GOOD * 5001).encode(), 5002, "row"),
]


# -- notifier and feed -------------------------------------------------------------------------


def _renewal_evidence():  # type: ignore[no-untyped-def]
    from tests.integration.ledger_fixtures import renewal_evidence

    return renewal_evidence(dt.date(2025, 3, 1), dt.date(2026, 12, 31))


# -- webhook registration ----------------------------------------------------------------------


def test_signature_scheme_round_trip() -> None:
    from federation_api.notifications.webhooks import sign

    body = b'{"a":1}'
    header = sign("whsec_x", 1_700_000_000, body)
    assert verify("whsec_x", header, body, now=1_700_000_100)
    assert not verify("whsec_y", header, body, now=1_700_000_100)
    assert not verify("whsec_x", header, body + b" ", now=1_700_000_100)
    assert not verify("whsec_x", header, body, now=1_700_000_000 + 301)  # replayed later
    assert not verify("whsec_x", "t=x,v1=00", body, now=1_700_000_000)


# -- the contract, and the backends it runs on ---------------------------------------------


class EmployerTablesContract:
    """Subscriptions, webhooks and the change feed in the node's tables, on every backend."""

    def test_subscribe_matches_like_verify_and_is_idempotent(self, node: Node) -> None:
        client = TestClient(create_app(node))
        acme = _auth(node, Role.EMPLOYER, "Acme Early Learning")
        wrong_name = client.post("/v1/subscriptions", headers=acme,
                                 json={"endorsement_id": "AK-EMP0000", "last_name": "Smith"})
        wrong_id = client.post("/v1/subscriptions", headers=acme,
                               json={"endorsement_id": "AK-NOPE0000", "last_name": "Garcia"})
        assert wrong_name.status_code == wrong_id.status_code == 404
        assert wrong_name.json() == wrong_id.json()  # no hint which of the two was wrong

        first = client.post("/v1/subscriptions", headers=acme,
                            json={"endorsement_id": "ak-emp0000", "last_name": "GARCIA"})
        assert first.status_code == 201, first.text
        body = first.json()
        assert (body["endorsement_id"], body["name"], body["status"], body["created"]) == (
            "AK-EMP0000", "Ana García", "current", True)
        again = client.post("/v1/subscriptions", headers=acme,
                            json={"endorsement_id": "AK-EMP0000", "last_name": "García"})
        assert again.status_code == 200 and again.json()["created"] is False
        listed = client.get("/v1/subscriptions", headers=acme).json()
        assert [s["endorsement_id"] for s in listed["subscriptions"]] == ["AK-EMP0000"]
        assert client.delete("/v1/subscriptions/AK-EMP0000", headers=acme).status_code == 204
        assert client.delete("/v1/subscriptions/AK-EMP0000", headers=acme).status_code == 404
        assert client.get("/v1/subscriptions", headers=acme).json()["subscriptions"] == []

    def test_staff_tokens_and_no_token_are_refused(self, node: Node) -> None:
        client = TestClient(create_app(node))
        calls = [("POST", "/v1/subscriptions",
                  {"endorsement_id": "AK-EMP0000", "last_name": "Doe"}),
                 ("GET", "/v1/subscriptions", None),
                 ("DELETE", "/v1/subscriptions/AK-EMP0000", None),
                 ("PUT", "/v1/webhook", {"url": "https://example.org/hook"}),
                 ("GET", "/v1/webhook", None), ("GET", "/v1/deliveries", None),
                 ("GET", "/v1/changes", None)]
        for role in (Role.COORDINATOR, Role.REVIEWER, Role.COMMITTEE, Role.AUDITOR):
            headers = _auth(node, role)
            for method, path, body in calls:
                r = client.request(method, path, headers=headers, json=body)
                assert r.status_code == 403, (role, method, path, r.text)
        for method, path, body in calls:
            assert client.request(method, path, json=body).status_code == 401
        r = client.post("/v1/subscriptions/csv", headers=_auth(node, Role.COORDINATOR),
                        content=b"endorsement_id,last_name\nAK-EMP0000,Garcia\n",
                        params={}, )
        assert r.status_code == 403
        assert node.subscriptions.count("anyone") == 0

    def test_an_employer_sees_only_its_own_rows(self, node: Node) -> None:
        client = TestClient(create_app(node))
        acme, other = _auth(node, Role.EMPLOYER, "Acme"), _auth(node, Role.EMPLOYER, "Other")
        assert client.post("/v1/subscriptions", headers=acme, json={
            "endorsement_id": "AK-EMP0001", "last_name": "Doe"}).status_code == 201
        assert client.put("/v1/webhook", headers=acme,
                          json={"url": "https://acme.example/hook"}).status_code == 201
        _suspend(node, "AK-EMP0001")
        assert node.notifier.catch_up() == 1

        assert client.get("/v1/subscriptions", headers=other).json()["subscriptions"] == []
        assert client.delete("/v1/subscriptions/AK-EMP0001", headers=other).status_code == 404
        assert client.get("/v1/changes", headers=other).json() == {"changes": [], "next_cursor": 0}
        assert client.get("/v1/deliveries", headers=other).json()["deliveries"] == []
        assert client.get("/v1/webhook", headers=other).status_code == 404
        # Acme still has everything.
        assert len(client.get("/v1/changes", headers=acme).json()["changes"]) == 1
        assert len(client.get("/v1/deliveries", headers=acme).json()["deliveries"]) == 1

    def test_csv_upload_gives_a_result_per_row(self, node: Node) -> None:
        client = TestClient(create_app(node))
        acme = _auth(node, Role.EMPLOYER)
        client.post("/v1/subscriptions", headers=acme,
                    json={"endorsement_id": "AK-EMP0002", "last_name": "Lee"})
        data = ("\ufeffEndorsement_ID,Last_Name\r\nAK-EMP0000,garcia\r\nAK-EMP0001,Wrong\r\n"
                "AK-EMP0002,Lee\r\n\r\nak-emp0001,Doe\r\n").encode()
        r = client.post("/v1/subscriptions/csv", headers={**acme, "Content-Type": CSV},
                        content=data)
        assert r.status_code == 200, r.text
        body = r.json()
        assert [(row["line"], row["endorsement_id"], row["result"]) for row in body["rows"]] == [
            (2, "AK-EMP0000", "subscribed"), (3, "AK-EMP0001", "not_found"),
            (4, "AK-EMP0002", "already_subscribed"), (6, "AK-EMP0001", "subscribed")]
        assert (body["subscribed"], body["already_subscribed"], body["not_found"]) == (2, 1, 1)
        as_csv = client.post("/v1/subscriptions/csv", headers={**acme, "Content-Type": CSV,
                                                               "Accept": "text/csv"}, content=data)
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert as_csv.text.splitlines() == [
            "line,endorsement_id,result", "2,AK-EMP0000,already_subscribed",
            "3,AK-EMP0001,not_found", "4,AK-EMP0002,already_subscribed",
            "6,AK-EMP0001,already_subscribed"]
        assert node.subscriptions.count(_token_id(node, acme)) == 3

    @pytest.mark.parametrize(("name", "data", "line", "field"), BAD_FILES,
                             ids=[b[0] for b in BAD_FILES])
    def test_a_malformed_csv_is_refused_whole_and_writes_nothing(self,
            node: Node, name: str, data: bytes, line: int, field: str) -> None:
        client = TestClient(create_app(node))
        acme = _auth(node, Role.EMPLOYER)
        r = client.post("/v1/subscriptions/csv", headers={**acme, "Content-Type": CSV},
                        content=data)
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["code"] == "invalid_csv"
        assert (body["line"], body["field"]) == (line, field), body
        if line:
            assert body["message"].startswith(f"line {line}: ")
        assert node.subscriptions.count(_token_id(node, acme)) == 0

    def test_csv_needs_text_csv_and_a_bounded_size(self, node: Node) -> None:
        client = TestClient(create_app(node))
        acme = _auth(node, Role.EMPLOYER)
        r = client.post("/v1/subscriptions/csv", headers=acme,
                        json={"endorsement_id": "AK-EMP0000", "last_name": "Garcia"})
        assert r.status_code == 415
        huge = b"endorsement_id,last_name\n" + b"AK-EMP0000," + b"x" * 1_000_001 + b"\n"
        r = client.post("/v1/subscriptions/csv", headers={**acme, "Content-Type": CSV},
                        content=huge)
        assert r.status_code == 413
        assert node.subscriptions.count(_token_id(node, acme)) == 0

    def test_changes_are_recorded_once_and_paged_by_cursor(self, node: Node) -> None:
        client = TestClient(create_app(node))
        acme = _auth(node, Role.EMPLOYER, "Acme")
        node.notifier.catch_up()  # the imports: nobody subscribed yet, nothing recorded
        assert node.changes.count() == 0
        client.post("/v1/subscriptions", headers=acme,
                    json={"endorsement_id": "AK-EMP0001", "last_name": "Doe"})
        _suspend(node, "AK-EMP0001")
        _suspend(node, "AK-EMP0002")  # nobody follows Kim Lee
        assert node.notifier.catch_up() == 1
        assert node.notifier.catch_up() == 0
        node.service.revoke("AK-EMP0001", effective_on=ON, reason="finding", now=NOW)
        assert node.notifier.catch_up() == 1

        page = client.get("/v1/changes", headers=acme, params={"limit": 1}).json()
        (first,) = page["changes"]
        assert (first["kind"], first["old_status"], first["new_status"], first["endorsement_id"],
                first["name"], first["level"], first["association"], first["effective_on"]) == (
            "suspended", "active", "suspended", "AK-EMP0001", "Jane Doe", "IFS", "AK",
            ON.isoformat())
        rest = client.get("/v1/changes", headers=acme,
                          params={"cursor": page["next_cursor"]}).json()
        assert [(c["kind"], c["old_status"], c["new_status"]) for c in rest["changes"]] == [
            ("revoked", "suspended", "revoked")]
        end = client.get("/v1/changes", headers=acme, params={"cursor": rest["next_cursor"]}).json()
        assert end == {"changes": [], "next_cursor": rest["next_cursor"]}

        # Replaying the entries after the imports again (as if the tracking position had been
        # lost) records nothing twice: change rows are unique per entry and endorsement.
        with node.notifier.db.transaction() as cur:
            cur.execute("UPDATE notifier_tracking SET seq = 3 WHERE association = 'AK'")
        assert node.notifier.catch_up() == 0
        assert node.changes.count() == 2
        assert node.notifier.positions() == {"AK": 6}

    def test_a_new_subscriber_does_not_get_old_news(self, node: Node) -> None:
        client = TestClient(create_app(node))
        early, late = _auth(node, Role.EMPLOYER, "Early"), _auth(node, Role.EMPLOYER, "Late")
        body = {"endorsement_id": "AK-EMP0001", "last_name": "Doe"}
        client.post("/v1/subscriptions", headers=early, json=body)
        _suspend(node, "AK-EMP0001")
        node.notifier.catch_up()
        client.post("/v1/subscriptions", headers=late, json=body)
        assert client.get("/v1/changes", headers=late).json()["changes"] == []
        node.service.reinstate("AK-EMP0001", reinstated_on=ON, reason="cleared",
                               evidence=_renewal_evidence(), by_committee=True, now=NOW)
        node.notifier.catch_up()
        kinds = [c["kind"] for c in client.get("/v1/changes", headers=late).json()["changes"]]
        assert kinds == ["reinstated"]
        kinds = [c["kind"] for c in client.get("/v1/changes", headers=early).json()["changes"]]
        assert kinds == ["suspended", "reinstated"]

    def test_outbox_rows_only_for_employers_with_a_webhook(self, node: Node) -> None:
        client = TestClient(create_app(node))
        hooked, feed_only = _auth(node, Role.EMPLOYER, "Hooked"), _auth(node, Role.EMPLOYER, "Feed")
        for headers in (hooked, feed_only):
            client.post("/v1/subscriptions", headers=headers,
                        json={"endorsement_id": "AK-EMP0000", "last_name": "Garcia"})
        created = client.put("/v1/webhook", headers=hooked, json={"url": "https://h.example/x"})
        assert created.status_code == 201
        _suspend(node, "AK-EMP0000")
        node.notifier.catch_up()
        (delivery,) = client.get("/v1/deliveries", headers=hooked).json()["deliveries"]
        assert delivery["state"] == "pending" and delivery["attempts"] == 0
        assert delivery["delivery_id"] == f"dlv_{delivery['change_id']}_{_token_id(node, hooked)}"
        assert client.get("/v1/deliveries", headers=feed_only).json()["deliveries"] == []
        assert len(client.get("/v1/changes", headers=feed_only).json()["changes"]) == 1

    @pytest.mark.parametrize("url", [
        "ftp://example.org/hook", "https://user:pw@example.org/hook", "https://example.org/x#frag",
        "http://127.0.0.1:9000/hook", "http://localhost/hook", "http://10.1.2.3/hook",
        "http://[::1]/hook", "http://169.254.169.254/latest", "not a url at all",
        "https:///nohost",
        "http://" + "a" * 64 + ".com/hook",  # a label IDNA cannot encode: never resolvable
        "http://\u2603.example/hook"])  # not a host name under IDNA 2008: httpx refuses it
    def test_webhook_urls_that_are_refused(self, node: Node, url: str) -> None:
        client = TestClient(create_app(node))
        acme = _auth(node, Role.EMPLOYER)
        r = client.put("/v1/webhook", headers=acme, json={"url": url})
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "url"
        assert client.get("/v1/webhook", headers=acme).status_code == 404

    def test_webhook_secret_is_shown_once_and_kept_across_url_changes(self, node: Node) -> None:
        client = TestClient(create_app(node))
        acme = _auth(node, Role.EMPLOYER)
        first = client.put("/v1/webhook", headers=acme, json={"url": "https://a.example/hook"})
        assert first.status_code == 201
        secret = first.json()["secret"]
        assert secret.startswith("whsec_") and len(secret) > 40
        moved = client.put("/v1/webhook", headers=acme, json={"url": "https://b.example/hook"})
        assert moved.status_code == 200 and moved.json()["secret"] is None
        shown = client.get("/v1/webhook", headers=acme).json()
        assert shown["url"] == "https://b.example/hook" and shown.get("secret") is None
        destination = node.webhooks.destination(_token_id(node, acme))
        assert destination == ("https://b.example/hook", secret)
        rotated = client.put("/v1/webhook", headers=acme,
                             json={"url": "https://b.example/hook", "rotate_secret": True})
        assert rotated.json()["secret"] not in (None, secret)
        assert client.delete("/v1/webhook", headers=acme).status_code == 204

    def test_private_destinations_only_when_the_node_allows_them(self, node: Node) -> None:
        node.settings = replace(node.settings, webhook_allow_private=True)
        client = TestClient(create_app(node))
        acme = _auth(node, Role.EMPLOYER)
        assert client.put("/v1/webhook", headers=acme,
                          json={"url": "http://127.0.0.1:9000/hook"}).status_code == 201

    def test_a_name_correction_is_a_change_too(self, node: Node) -> None:
        client = TestClient(create_app(node))
        acme = _auth(node, Role.EMPLOYER)
        client.post("/v1/subscriptions", headers=acme,
                    json={"endorsement_id": "AK-EMP0001", "last_name": "Doe"})
        node.service.correct("AK-EMP0001", corrects_version=1, reason="misspelt", family_name="Dow",
                             given_name=None, valid_through=None, now=NOW)
        node.notifier.catch_up()
        changes = client.get("/v1/changes", headers=acme).json()["changes"]
        assert [(c["kind"], c["old_status"], c["new_status"]) for c in changes] == [
            ("corrected", "active", "active")]
        assert changes[0]["name"] == "Jane Dow" and changes[0]["effective_on"] == ON.isoformat()
        assert changes[0]["valid_through"] == "2030-12-31"

    def test_the_openapi_document_describes_the_employer_endpoints(self, node: Node) -> None:
        document = TestClient(create_app(node)).get("/openapi.json").json()
        for path in ("/v1/subscriptions", "/v1/subscriptions/csv",
                     "/v1/subscriptions/{endorsement_id}", "/v1/webhook", "/v1/deliveries",
                     "/v1/changes"):
            assert path in document["paths"], path
        csv_body = document["paths"]["/v1/subscriptions/csv"]["post"]["requestBody"]
        assert "text/csv" in csv_body["content"]

    def test_subscription_rows_draw_on_the_tokens_row_budget(self, node: Node) -> None:
        from federation_api.settings import RateLimitSettings

        node.settings = replace(node.settings, rate_limits=RateLimitSettings(
            bulk_rows_burst=4, bulk_rows_per_hour=1))
        client = TestClient(create_app(node))
        acme = _auth(node, Role.EMPLOYER)
        data = b"endorsement_id,last_name\nAK-EMP0000,Garcia\nAK-EMP0001,Doe\nAK-EMP0002,Lee\n"
        first = client.post("/v1/subscriptions/csv", headers={**acme, "Content-Type": CSV},
                            content=data)
        assert first.status_code == 200 and first.json()["subscribed"] == 3
        client.delete("/v1/subscriptions/AK-EMP0000", headers=acme)
        again = client.post("/v1/subscriptions/csv", headers={**acme, "Content-Type": CSV},
                            content=data)
        assert again.status_code == 429 and int(again.headers["Retry-After"]) >= 1
        assert again.json()["rule"] == "rate_limit.bulk_rows"
        one = client.post("/v1/subscriptions", headers=acme,
                          json={"endorsement_id": "AK-EMP0000", "last_name": "Garcia"})
        assert one.status_code == 201  # the fourth row of the budget
        assert client.post("/v1/subscriptions", headers=acme, json={
            "endorsement_id": "AK-EMP0001", "last_name": "Doe"}).status_code == 429
        assert node.subscriptions.count(_token_id(node, acme)) == 3

    def test_change_rows_outbox_rows_and_position_commit_together(self, node: Node) -> None:
        """A pass that fails while writing leaves no change row, no outbox row and the old
        position; the next pass records the change once."""
        from ledger.errors import StorageError

        client = TestClient(create_app(node))
        acme = _auth(node, Role.EMPLOYER)
        client.post("/v1/subscriptions", headers=acme,
                    json={"endorsement_id": "AK-EMP0001", "last_name": "Doe"})
        client.put("/v1/webhook", headers=acme, json={"url": "https://h.example/x"})
        before = node.notifier.positions()
        _suspend(node, "AK-EMP0001")
        # A row in the way of the outbox insert: the pass fails after inserting its change row.
        blocker = f"dlv_1_{_token_id(node, acme)}"
        with node.notifier.db.transaction() as cur:
            cur.execute("INSERT INTO webhook_deliveries (delivery_id, employer, change_id, state, "
                        "attempts, next_attempt_at, created_at) VALUES (?, 'x', 0, 'failed', 0, 0, "
                        "'')", (blocker,))
        with pytest.raises(StorageError):
            node.notifier.catch_up()
        assert node.changes.count() == 0
        assert node.notifier.positions() == before
        with node.notifier.db.transaction() as cur:
            cur.execute("DELETE FROM webhook_deliveries WHERE delivery_id = ?", (blocker,))
        assert node.notifier.catch_up() == 1
        assert node.notifier.catch_up() == 0
        (delivery,) = client.get("/v1/deliveries", headers=acme).json()["deliveries"]
        assert delivery["delivery_id"] == blocker and delivery["state"] == "pending"


class TestEmployerTablesOnSQLite(EmployerTablesContract, OnSQLite):
    """The contract on SQLite files."""


class TestEmployerTablesOnPostgreSQL(EmployerTablesContract, OnPostgreSQL):
    """The contract on a real PostgreSQL (a fresh schema per test)."""
