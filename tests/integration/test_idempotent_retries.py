"""A keyed command retried after its answer was lost, at each point a crash can leave it.

A crash cannot happen in-process, but the durable state it leaves can be built with the node's
real stores, by running the first half of what `command_runner.run` does: record the intent (the
events the command is about to store) with the key, then store the events (or not), and stop
before the answer is stored. The retry then goes through the real app. `tests/e2e/test_crash.py`
does the same with SIGKILL at random points of a real `alliance serve`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from domain.endorsement import endorsement_uuid
from domain.evidence import ApplicationEvidence
from domain.levels import Level
from domain.policy import AssociationPolicy
from federation_api.accounts.tokens import Principal, Role
from federation_api.clock import now, today
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.node.root import Node
from federation_api.node.setup import init_node
from federation_api.settings import Settings
from federation_api.web.app import create_app
from federation_api.web.schemas import (
    CommitteeActionIn,
    EvidenceIn,
    ImportEndorsementIn,
    LapseIn,
    to_domain,
)
from ledger.service import StoredMark
from tests.backends import Backend, OnPostgreSQL, OnSQLite


@dataclass
class Served:
    """A node with its app and one token per role."""

    node: Node
    client: TestClient
    principals: dict[Role, tuple[Principal, str]]

    def headers(self, role: Role, key: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.principals[role][1]}", "Idempotency-Key": key,
                **extra}

    def head(self) -> int:
        found = self.node.ledger.head("AK")
        return found[0] if found else 0

    def lost_answer(self, role: Role, key: str, method: str, path: str, body: BaseModel,
                    command: Callable[[], object]) -> None:
        """What a crash after the command committed leaves: intent, events, no answer."""
        principal = self.principals[role][0]
        fingerprint = self.node.idempotency.fingerprint(method, path,
                                                        body.model_dump_json().encode())

        def intend(marks: tuple[StoredMark, ...]) -> None:
            self.node.idempotency.intend(principal.token_id, key, fingerprint, marks, now())

        with self.node.service.announcing(intend):
            command()


@pytest.fixture
def served(backend: Backend, tmp_path: Path) -> Iterator[Served]:
    with backend.database_url() as url:
        settings = Settings(data_dir=tmp_path / "ak", database_url=url)
        init_node(settings, association="AK", name="Alaska", policy=AssociationPolicy(),
                  now=now() - dt.timedelta(days=1))
        node = Node(settings)
        principals = {}
        for role in (Role.COORDINATOR, Role.COMMITTEE):
            token_id, secret = node.tokens.issue(label=f"{role.value} on duty", role=role,
                                                 now=now())
            principal = node.tokens.authenticate(secret)
            assert principal is not None and principal.token_id == token_id
            principals[role] = (principal, secret)
        with TestClient(create_app(node)) as client:
            yield Served(node, client, principals)
        node.close()


def _import(person: str, *, lapsed: bool = False) -> dict[str, Any]:
    return {"person_id": person, "family_name": "Rivera", "given_name": "Maria",
            "level": "IMHS", "granted_on": "2015-01-05",
            "valid_through": "2019-12-31" if lapsed else f"{today().year + 2}-12-31",
            "legacy_reference": f"paper-{person}"}


def _imported(served: Served, person: str, **kw: bool) -> str:
    r = served.client.post("/v1/endorsements/imports", json=_import(person, **kw),
                           headers=served.headers(Role.COORDINATOR, f"setup-{person}"))
    assert r.status_code == 201, r.text
    return str(r.json()["endorsement_id"])


def _retried(served: Served, method: str, path: str, body: dict[str, Any], role: Role,
             key: str, status: int) -> dict[str, Any]:
    r = served.client.request(method, path, json=body, headers=served.headers(role, key))
    assert r.status_code == status, r.text
    assert r.headers["idempotent-replayed"] == "true"
    again = served.client.request(method, path, json=body, headers=served.headers(role, key))
    assert again.content == r.content
    answer: dict[str, Any] = r.json() if isinstance(r.json(), dict) else {"list": r.json()}
    return answer


# -- the contract, and the backends it runs on ---------------------------------------------


class IdempotencyContract:
    """Tokens, idempotency keys and intents in the node's tables, on every backend."""

    def test_an_import_that_committed_gets_its_endorsement_id(self, served: Served) -> None:
        node, key, body = served.node, "import-once", _import("AK-P-0001")
        principal = served.principals[Role.COORDINATOR][0]
        eid = new_endorsement_id("AK", f"{principal.token_id}:{key}")
        served.lost_answer(Role.COORDINATOR, key, "POST", "/v1/endorsements/imports",
                           ImportEndorsementIn(**body), lambda: node.service.record_existing(
                               endorsement_id=eid, person_id="AK-P-0001", family_name="Rivera",
                               given_name="Maria", level=Level.IMHS, designation=None,
                               granted_on=dt.date(2015, 1, 5),
                               valid_through=dt.date(today().year + 2, 12, 31),
                               legacy_reference="paper-AK-P-0001", now=now()))
        head = served.head()
        answer = _retried(served, "POST", "/v1/endorsements/imports", body, Role.COORDINATOR, key,
                          201)
        assert answer["endorsement_id"] == eid and answer["version"] == 1
        assert served.head() == head  # nothing written twice

    def test_a_suspension_that_committed_is_not_refused_as_already_suspended(self,
            served: Served) -> None:
        node = served.node
        eid = _imported(served, "AK-P-0002")
        path, body = f"/v1/endorsements/{eid}/suspension", {"reason": "complaint"}
        served.lost_answer(Role.COMMITTEE, "suspend-once", "POST", path, CommitteeActionIn(**body),
                           lambda: node.service.suspend(eid, effective_on=today(),
                                                        reason="complaint", now=now()))
        head = served.head()
        answer = _retried(served, "POST", path, body, Role.COMMITTEE, "suspend-once", 200)
        assert (answer["status"], answer["version"]) == ("suspended", 2)
        assert served.head() == head

    def test_an_evidence_submission_that_committed_is_not_a_version_conflict(self,
            served: Served) -> None:
        node, client = served.node, served.client
        r = client.post("/v1/applications", headers=served.headers(Role.COORDINATOR, "start"),
                        json={"person_id": "AK-P-0003", "family_name": "Doe", "given_name": "Jane",
                              "level": "IFA"})
        app_id = uuid.UUID(r.json()["application_id"])
        path, body = f"/v1/applications/{app_id}/evidence", {"evidence": {"fee_paid": True}}
        model = EvidenceIn(**body)
        served.lost_answer(Role.COORDINATOR, "evidence-once", "PUT", path, model,
                           lambda: node.service.submit_evidence(
                               app_id, to_domain(model.evidence, ApplicationEvidence),
                               submitted_on=today(), now=now(), expected_version=1))
        head = served.head()
        r = client.put(path, json=body, headers=served.headers(Role.COORDINATOR, "evidence-once",
                                                               **{"If-Match": "1"}))
        assert r.status_code == 200 and r.headers["idempotent-replayed"] == "true", r.text
        assert r.json()["version"] == 2
        assert served.head() == head

    def test_a_daily_lapse_run_that_committed_answers_with_what_it_lapsed(
            self, served: Served) -> None:
        node = served.node
        lapsed = sorted(_imported(served, f"AK-P-01{i}", lapsed=True) for i in range(3))
        served.lost_answer(Role.COORDINATOR, "lapses-today", "POST", "/v1/lapses", LapseIn(),
                           lambda: node.service.lapse_due(lapsed, on=today(), now=now()))
        head = served.head()
        answer = _retried(served, "POST", "/v1/lapses", {}, Role.COORDINATOR, "lapses-today", 200)
        assert sorted(e["endorsement_id"] for e in answer["list"]) == lapsed
        assert {e["status"] for e in answer["list"]} == {"lapsed"}
        assert served.head() == head

    def test_an_intent_whose_events_never_landed_runs_once_on_retry(self, served: Served) -> None:
        """A crash after the intent was recorded and before the events were stored."""
        node = served.node
        eid = _imported(served, "AK-P-0004")
        principal = served.principals[Role.COMMITTEE][0]
        path, body = f"/v1/endorsements/{eid}/suspension", {"reason": "complaint"}
        fingerprint = node.idempotency.fingerprint(
            "POST", path, CommitteeActionIn(**body).model_dump_json().encode())
        never_stored = (StoredMark(aggregate_id=endorsement_uuid(eid), version=2, digest="0" * 64),)
        node.idempotency.intend(principal.token_id, "suspend-later", fingerprint, never_stored,
                                now())
        head = served.head()
        r = served.client.post(path, json=body, headers=served.headers(Role.COMMITTEE,
                                                                       "suspend-later"))
        assert r.status_code == 200 and "idempotent-replayed" not in r.headers, r.text
        assert r.json()["status"] == "suspended" and served.head() == head + 1
        again = served.client.post(path, json=body, headers=served.headers(Role.COMMITTEE,
                                                                           "suspend-later"))
        assert again.content == r.content and again.headers["idempotent-replayed"] == "true"
        assert served.head() == head + 1

    def test_a_refused_command_leaves_no_intent_behind(self, served: Served) -> None:
        node = served.node
        eid = _imported(served, "AK-P-0005")
        node.service.relinquish(eid, effective_on=today(), reason="retired", now=now())
        path = f"/v1/endorsements/{eid}/suspension"
        r = served.client.post(path, json={"reason": "complaint"},
                               headers=served.headers(Role.COMMITTEE, "too-late"))
        assert r.status_code == 409, r.text
        assert node.idempotency.db.query("SELECT COUNT(*) FROM idempotency_intents") == [(0,)]


class TestIdempotencyOnSQLite(IdempotencyContract, OnSQLite):
    """The contract on SQLite files."""


class TestIdempotencyOnPostgreSQL(IdempotencyContract, OnPostgreSQL):
    """The contract on a real PostgreSQL (a fresh schema per test)."""
