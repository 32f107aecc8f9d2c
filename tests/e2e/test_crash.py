"""Crash safety: SIGKILL `alliance serve` in the middle of a burst of commands, restart, go on.

DESIGN invariant 2: a command is acknowledged only after its events and ledger entries are
committed, and a crash anywhere loses nothing and duplicates nothing. The client here behaves
like a careful integration: every command carries an Idempotency-Key, evidence submissions
carry If-Match, and a command whose answer was lost is retried with the same key. At the end
every acknowledged command must be in the ledger exactly once, the ledger must verify, and
the projections must equal a rebuild from the ledger.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import (
    NodeDir,
    ServerProcess,
    all_entries,
    applicant,
    head_seq,
    incomplete_level_two_evidence,
    init_node,
    provider_import,
    today,
)

SEED = 20261122
APPLICATIONS = 60
KILLS = 3
RETRY_FOR = 60.0  # seconds a command is retried while the server is down or restarting


@dataclass
class Tracked:
    """One application as the client knows it: acknowledged id, and each evidence version."""

    key: str
    application_id: str | None = None
    version: int = 0
    submissions: list[float] = field(default_factory=list)  # training hours, one per landing
    acknowledged: int = 0  # submissions answered 2xx


@dataclass
class Burst:
    """The client's record of what happened."""

    progress: int = 0  # commands finished (acknowledged or known landed)
    transport_errors: int = 0
    server_errors: list[str] = field(default_factory=list)
    kills: list[int] = field(default_factory=list)  # progress at each SIGKILL
    killer_failed: list[BaseException] = field(default_factory=list)


class Client:
    """Sends a command until it gets an HTTP answer, retrying lost answers with the same key."""

    def __init__(self, server: ServerProcess, node: NodeDir, burst: Burst) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=10.0)
        self.node = node
        self.burst = burst

    def send(self, method: str, path: str, key: str, json: Any,
             if_match: int | None = None) -> tuple[httpx.Response, bool]:
        """The answer, and whether an earlier attempt of this command lost its answer."""
        headers = {**self.node.auth("coordinator"), "Idempotency-Key": key}
        if if_match is not None:
            headers["If-Match"] = str(if_match)
        retried = False
        deadline = time.monotonic() + RETRY_FOR
        while True:
            try:
                r = self.http.request(method, path, json=json, headers=headers)
            except httpx.TransportError:
                self.burst.transport_errors += 1
                retried = True
                if self.burst.killer_failed:
                    raise AssertionError("the server could not be restarted") from (
                        self.burst.killer_failed[0])
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
                continue
            if r.status_code >= 500:
                self.burst.server_errors.append(f"{method} {path}: {r.status_code} {r.text}")
                retried = True
                if time.monotonic() > deadline:
                    return r, retried
                time.sleep(0.05)
                continue
            return r, retried

    def get(self, path: str) -> httpx.Response:
        """A read, retried while the server is down (a kill may land on it too)."""
        deadline = time.monotonic() + RETRY_FOR
        while True:
            try:
                return self.http.get(path, headers=self.node.auth("coordinator"))
            except httpx.TransportError:
                if self.burst.killer_failed or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def start(client: Client, app: Tracked, index: int) -> None:
    r, _ = client.send("POST", "/v1/applications", app.key,
                       applicant(f"AK-C-{index:04d}", started_on=today().isoformat()))
    assert r.status_code == 201, r.text
    app.application_id = r.json()["application_id"]
    app.version = r.json()["version"]
    assert app.version == 1, r.text  # a retry never opens a second application


def submit(client: Client, app: Tracked, hours: float) -> None:
    evidence = incomplete_level_two_evidence(today())
    evidence["trainings"] = [dict(evidence["trainings"][0], hours=hours)]
    key = f"{app.key}-evidence-{app.version}"
    r, retried = client.send("PUT", f"/v1/applications/{app.application_id}/evidence", key,
                             {"evidence": evidence}, if_match=app.version)
    if r.status_code == 409 and retried:
        # The lost attempt committed; its answer was not remembered before the crash.
        check = client.get(f"/v1/applications/{app.application_id}")
        assert check.json()["version"] == app.version + 1, (r.text, check.text)
        app.version += 1
    else:
        assert r.status_code == 200, r.text
        assert r.json()["version"] == app.version + 1, r.text
        app.version += 1
        app.acknowledged += 1
    app.submissions.append(hours)


def killer(server: ServerProcess, burst: Burst, schedule: list[tuple[int, float]],
           done: threading.Event) -> None:
    """SIGKILL the server once the burst has reached each scheduled point, then restart it."""
    try:
        for at, delay in schedule:
            deadline = time.monotonic() + 120
            while burst.progress < at and not done.is_set():
                if time.monotonic() > deadline:
                    raise AssertionError(f"the burst stalled before command {at}")
                time.sleep(0.002)
            if done.is_set():
                return
            time.sleep(delay)  # lands inside a request more often than between two
            server.kill()
            burst.kills.append(burst.progress)
            server.start()
    except BaseException as e:  # reported by the test thread
        burst.killer_failed.append(e)


@pytest.mark.slow
def test_sigkill_during_a_burst_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    node = init_node(tmp_path / "node")
    server = ServerProcess(node)
    burst = Burst()
    apps = [Tracked(key=f"crash-start-{i}") for i in range(APPLICATIONS)]
    plan = [1 + rng.randrange(2) for _ in apps]  # evidence submissions per application
    total = APPLICATIONS + sum(plan)
    schedule = [(at, rng.uniform(0.0, 0.03))
                for at in sorted(rng.sample(range(10, total - 10), KILLS))]
    done = threading.Event()
    thread = threading.Thread(target=killer, args=(server, burst, schedule, done), daemon=True)
    with server:
        r = httpx.post(f"{server.url}/v1/endorsements/imports", headers=node.auth("coordinator"),
                       json=provider_import(today()), timeout=10)
        assert r.status_code == 201, r.text
        client = Client(server, node, burst)
        thread.start()
        try:
            for i, app in enumerate(apps):
                start(client, app, i)
                burst.progress += 1
                for n in range(plan[i]):
                    submit(client, app, hours=float(i * 10 + n + 1))
                    burst.progress += 1
        finally:
            done.set()
            thread.join(timeout=60)
        assert not thread.is_alive() and not burst.killer_failed, burst.killer_failed
        assert len(burst.kills) == KILLS, f"killed at {burst.kills} of {total} commands"
        assert server.starts == KILLS + 1
        assert burst.transport_errors >= KILLS  # every kill cut the burst off at least once
        assert burst.server_errors == []

        check_every_acknowledged_command(client, node, apps)
        head = head_seq(client.http, node)
        client.http.close()
    assert "Finished server process" in server.log()

    verified = node.cli("ledger", "verify").stdout
    assert f"{head} entries verified" in verified, verified
    digest = node.cli("projections", "digest").stdout.strip()
    assert node.cli("projections", "rebuild").stdout.strip() == digest


def check_every_acknowledged_command(client: Client, node: NodeDir, apps: list[Tracked]) -> None:
    """Each application exists once, with exactly the evidence submissions that landed."""
    coordinator = node.auth("coordinator")
    for app in apps:
        r = client.http.get(f"/v1/applications/{app.application_id}", headers=coordinator)
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 1 + len(app.submissions), (app, r.text)
        evidence = client.http.get(f"/v1/applications/{app.application_id}/evidence",
                                   headers=coordinator).json()
        assert [t["hours"] for t in evidence["trainings"]] == [app.submissions[-1]]
    assert sum(a.acknowledged for a in apps) > 0

    entries = all_entries(client.http, node)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    kinds = [e["event_type"] for e in entries]
    pipeline = client.http.get("/v1/applications", headers=coordinator).json()
    assert len({row["application_id"] for row in pipeline}) == len(pipeline)
    assert {row["application_id"] for row in pipeline} == {a.application_id for a in apps}
    assert kinds.count("ApplicationStarted") == len(pipeline) == APPLICATIONS
    assert kinds.count("ApplicationEvidenceSubmitted") == sum(len(a.submissions) for a in apps)
    assert kinds.count("EndorsementGranted") == 1
    assert len(kinds) == 1 + APPLICATIONS + sum(len(a.submissions) for a in apps)
    ready = client.http.get("/readyz").json()
    assert ready == {"status": "ready", "ledger_seq": len(entries), "projected_seq": len(entries)}
