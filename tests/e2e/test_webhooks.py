"""Webhook delivery to a real local receiver through node restarts and a receiver outage.

`alliance serve` runs as a child process; the employer's receiver is a real HTTP server on a
loopback port that checks every signature and processes each delivery id once. Whatever
happens in between (SIGTERM, SIGKILL with requests in flight, the receiver down, the receiver
answering 503), every change must be processed exactly once by the receiver, and the node
must hold exactly one change row per status change.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import ROLES, NodeDir, ServerProcess, init_node, today
from tests.e2e.webhook_receiver import Receiver

# Fast retries so an outage of a few seconds is retried many times within the test.
ENV = {"ALLIANCE_WEBHOOK_ALLOW_PRIVATE": "1", "ALLIANCE_WEBHOOK_BACKOFF_SECONDS": "0.2",
       "ALLIANCE_WEBHOOK_BACKOFF_CAP_SECONDS": "1", "ALLIANCE_WEBHOOK_MAX_ATTEMPTS": "1000",
       "ALLIANCE_WEBHOOK_TIMEOUT_SECONDS": "5"}
WAIT = 60.0
PROFESSIONALS = 8


@pytest.fixture
def node(tmp_path: Path) -> NodeDir:
    return init_node(tmp_path / "ak", roles=(*ROLES, "employer"))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver().start()
    yield found
    found.stop()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def setup_employer(server: ServerProcess, node: NodeDir, receiver: Receiver) -> list[str]:
    """Import professionals, register the receiver, subscribe to all of them by CSV."""
    ids = []
    with server.client() as http:
        for i in range(PROFESSIONALS):
            r = http.post("/v1/endorsements/imports", headers=node.auth("coordinator"), json={
                "person_id": f"AK-P-{i:04d}", "family_name": f"Family{i}", "given_name": "Pat",
                "level": "IFS", "granted_on": "2020-01-06", "valid_through": "2030-12-31",
                "legacy_reference": f"paper-{i}"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["endorsement_id"])
        hook = http.put("/v1/webhook", headers=node.auth("employer"), json={"url": receiver.url})
        assert hook.status_code == 201, hook.text
        receiver.secret = hook.json()["secret"]
        csv = "endorsement_id,last_name\n" + "".join(
            f"{e},family{i}\n" for i, e in enumerate(ids))
        r = http.post("/v1/subscriptions/csv", content=csv.encode(),
                      headers={**node.auth("employer"), "Content-Type": "text/csv"})
        assert r.status_code == 200 and r.json()["subscribed"] == PROFESSIONALS, r.text
    return ids


def act(server: ServerProcess, node: NodeDir, endorsement_id: str, action: str) -> None:
    """A dated action (suspension, revocation: committee; relinquishment: coordinator)."""
    role = "coordinator" if action == "relinquishment" else "committee"
    with server.client() as http:
        r = http.post(f"/v1/endorsements/{endorsement_id}/{action}", headers=node.auth(role),
                      json={"reason": "e2e", "effective_on": today().isoformat()})
        assert r.status_code == 200, r.text


def feed(server: ServerProcess, node: NodeDir) -> list[dict[str, Any]]:
    """Every change in the employer's feed, paging with the cursor."""
    changes: list[dict[str, Any]] = []
    cursor = 0
    with server.client() as http:
        while True:
            page = http.get("/v1/changes", headers=node.auth("employer"),
                            params={"cursor": cursor, "limit": 3}).json()
            changes += page["changes"]
            if not page["changes"]:
                return changes
            cursor = page["next_cursor"]


def deliveries(server: ServerProcess, node: NodeDir, **params: Any) -> list[dict[str, Any]]:
    with server.client() as http:
        r = http.get("/v1/deliveries", headers=node.auth("employer"),
                     params={"limit": 1000, **params})
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()["deliveries"]
        return found


def assert_exactly_once(server: ServerProcess, node: NodeDir, receiver: Receiver,
                        expected: Counter[tuple[str, str]]) -> None:
    """The node recorded each change once and the receiver processed each change once."""
    changes = feed(server, node)
    assert Counter((c["endorsement_id"], c["kind"]) for c in changes) == expected
    ids = [c["change_id"] for c in changes]
    assert len(set(ids)) == len(ids)
    assert receiver.bad_signatures == 0
    assert set(receiver.processed_changes) == set(ids)
    assert all(n == 1 for n in receiver.processed_changes.values())
    assert [(c["endorsement_id"], c["kind"], c["new_status"]) for c in receiver.changes()] == [
        (c["endorsement_id"], c["kind"], c["new_status"]) for c in changes]
    states = Counter(d["state"] for d in deliveries(server, node))
    assert states == {"delivered": len(ids)}


def test_deliveries_survive_sigterm_and_sigkill_of_the_node(node: NodeDir,
                                                           receiver: Receiver) -> None:
    server = ServerProcess(node, env=ENV)
    try:
        server.start()
        ids = setup_employer(server, node, receiver)
        expected: Counter[tuple[str, str]] = Counter()
        for endorsement_id in ids[:4]:
            act(server, node, endorsement_id, "suspension")
            expected[(endorsement_id, "suspended")] += 1
        assert server.stop() is not None  # SIGTERM right after the last command
        server.start()
        # Crash in the middle: once the receiver has processed a delivery but before the
        # node hears the answer (the receiver now answers late), so it must be sent again.
        receiver.delay = 30.0
        for endorsement_id, action, kind in [(ids[0], "revocation", "revoked"),
                                             (ids[1], "revocation", "revoked"),
                                             (ids[4], "relinquishment", "relinquished"),
                                             (ids[5], "relinquishment", "relinquished")]:
            act(server, node, endorsement_id, action)
            expected[(endorsement_id, kind)] += 1
        wait_for(lambda: len(receiver.processed) > 4, "a delivery in flight")
        server.kill()
        receiver.delay = 0.0
        server.start()
        wait_for(lambda: len(receiver.processed) == sum(expected.values()),
                 "every change to reach the receiver")
        time.sleep(1.0)  # anything still in the outbox would be re-sent by now
        assert_exactly_once(server, node, receiver, expected)
        assert receiver.duplicates >= 1  # re-sent after the crash, deduped by delivery id
        assert server.starts == 3
        log = server.log()
        assert receiver.secret not in log and "via=test" not in log
    finally:
        server.stop()


def test_a_receiver_outage_is_retried_until_delivered(node: NodeDir,
                                                      receiver: Receiver) -> None:
    server = ServerProcess(node, env=ENV)
    try:
        server.start()
        ids = setup_employer(server, node, receiver)
        expected: Counter[tuple[str, str]] = Counter({(ids[0], "suspended"): 1})
        act(server, node, ids[0], "suspension")
        wait_for(lambda: len(receiver.processed) == 1, "the first delivery")

        receiver.stop()
        for endorsement_id in ids[1:3]:
            act(server, node, endorsement_id, "suspension")
            expected[(endorsement_id, "suspended")] += 1
        wait_for(lambda: sum(d["attempts"] >= 3 for d in deliveries(server, node,
                                                                    state="pending")) == 2,
                 "failed attempts while the receiver is down")
        receiver.fail_remaining = 2  # back, but answering 503 at first
        receiver.start()
        wait_for(lambda: len(receiver.processed) == 3, "delivery after the outage")
        time.sleep(1.0)
        assert_exactly_once(server, node, receiver, expected)

        retried = [d for d in deliveries(server, node) if d["attempts"] > 1]
        assert len(retried) == 2
        for delivery in retried:
            log = delivery["log"]
            assert [a["attempt"] for a in log] == list(range(1, len(log) + 1))
            assert log[0]["error"] == "connection failed" and log[0]["status_code"] is None
            assert log[-1]["status_code"] == 204 and log[-1]["error"] is None
            for attempt in log:  # errors never carry the URL or the secret
                assert "127.0.0.1" not in (attempt["error"] or "")
                assert "whsec_" not in (attempt["error"] or "")
        codes = {a["status_code"] for d in retried for a in d["log"]}
        assert 503 in codes
    finally:
        server.stop()


def test_staff_and_anonymous_callers_cannot_use_employer_endpoints(node: NodeDir) -> None:
    with ServerProcess(node, env=ENV) as server, httpx.Client(base_url=server.url) as http:
        assert http.get("/v1/changes", headers=node.auth("coordinator")).status_code == 403
        assert http.get("/v1/deliveries").status_code == 401
        assert http.get("/v1/changes", headers=node.auth("employer")).status_code == 200
