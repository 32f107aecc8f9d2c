"""Crash safety: SIGKILL `alliance serve` in the middle of a burst of commands, restart, go on.

DESIGN invariant 2: a command is acknowledged only after its events and ledger entries are
committed, and a crash anywhere loses nothing and duplicates nothing. The client here behaves
like a careful integration: every command carries an Idempotency-Key, evidence submissions
carry If-Match, and a command whose answer was lost is retried with the same key. At the end
every acknowledged command must be in the ledger exactly once, the ledger must verify, and
the projections must equal a rebuild from the ledger.

The second test retries every command of several killed bursts (imports, grants, reviews,
evidence, corrections, attestations, suspensions, lapses): every retry must be 2xx with the
ids of the first attempt, also when the crash lost the answer of an attempt that committed
(before the fix such retries got 409 `version.conflict` forever).
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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
    level_two_evidence,
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


# -- every keyed command, retried after a SIGKILL that may have lost its answer ---------------

RETRY_ROUNDS = 6  # at least; more until a kill has landed after a commit (at most 20)
MAX_RETRY_ROUNDS = 20
IMPORTS_PER_ROUND = 9
APPLICATIONS_PER_ROUND = 4
SENDERS = 4


@dataclass
class Command:
    """One keyed command, as a careful client keeps it until it has its answer."""

    kind: str
    role: str
    method: str
    path: str
    key: str
    body: Any
    if_match: int | None = None
    first: httpx.Response | None = None  # the answer during the burst, if one arrived
    answer: httpx.Response | None = None  # the answer after the retries


def _headers(node: NodeDir, command: Command) -> dict[str, str]:
    headers = {**node.auth(command.role), "Idempotency-Key": command.key}
    if command.if_match is not None:
        headers["If-Match"] = str(command.if_match)
    return headers


def _import_body(person: str, *, lapsed: bool) -> dict[str, Any]:
    # A lapse-able import ended long ago (past any grace period); the others run for years.
    valid_through = dt.date(2019, 12, 31) if lapsed else dt.date(today().year + 3, 12, 31)
    return {"person_id": person, "family_name": f"Holder{person[-4:]}", "given_name": "Kim",
            "level": "IFS", "granted_on": "2015-01-05", "valid_through": valid_through.isoformat(),
            "legacy_reference": f"paper-{person}", "masters_prepared": person.endswith(("0", "5"))}


class Rounds:
    """The commands of each round; later rounds act on what earlier rounds created."""

    def __init__(self) -> None:
        self.imported: list[tuple[str, bool]] = []  # (endorsement id, lapsed), answered
        self.applications: list[list[str]] = []  # application ids per pipeline stage
        self.all: list[Command] = []
        self.people = 0

    def plan(self, round_: int) -> list[Command]:
        commands: list[Command] = []
        for _ in range(IMPORTS_PER_ROUND):
            self.people += 1
            person = f"AK-K-{self.people:04d}"
            lapsed = self.people % 3 == 0
            commands.append(Command("import", "coordinator", "POST", "/v1/endorsements/imports",
                                    f"r{round_}-import-{person}",
                                    _import_body(person, lapsed=lapsed)))
        # Commands on the endorsements imported in earlier rounds, each acted on once.
        ready, self.imported = self.imported, []
        for n, (eid, lapsed) in enumerate(ready):
            if lapsed:
                commands.append(Command("lapse", "coordinator", "POST",
                                        f"/v1/endorsements/{eid}/lapse", f"lapse-{eid}", {}))
            elif n % 3 == 0:
                commands.append(Command("correct", "coordinator", "POST",
                                        f"/v1/endorsements/{eid}/corrections", f"correct-{eid}",
                                        {"corrects_version": 1, "family_name": "Renamed",
                                         "reason": "spelling"}, if_match=1))
            elif n % 3 == 1:
                commands.append(Command("attest", "coordinator", "POST",
                                        f"/v1/endorsements/{eid}/degree-attestations",
                                        f"attest-{eid}", {"masters_prepared": True,
                                                          "effective_on": "2016-01-01"}))
            else:
                commands.append(Command("suspend", "committee", "POST",
                                        f"/v1/endorsements/{eid}/suspension", f"suspend-{eid}",
                                        {"reason": "complaint under review"}))
        # The application pipeline: start, complete, approve, grant, one stage per round.
        stages = self.applications
        if len(stages) >= 3:
            commands += [Command("grant", "coordinator", "POST", f"/v1/applications/{a}/grant",
                                 f"grant-{a}", {}) for a in stages[-3]]
        if len(stages) >= 2:
            commands += [Command("review", "reviewer", "POST", f"/v1/applications/{a}/reviews",
                                 f"review-{a}", {"decision": "approve"}, if_match=2)
                         for a in stages[-2]]
        if stages:
            commands += [Command("evidence", "coordinator", "PUT",
                                 f"/v1/applications/{a}/evidence", f"evidence-{a}",
                                 {"evidence": level_two_evidence(dt.date(today().year + 1, 12,
                                                                         31))}, if_match=1)
                         for a in stages[-1]]
        for i in range(APPLICATIONS_PER_ROUND):
            self.people += 1
            person = f"AK-K-{self.people:04d}"
            commands.append(Command("start", "coordinator", "POST", "/v1/applications",
                                    f"r{round_}-start-{person}",
                                    {**applicant(person), "family_name": f"Applicant{person[-4:]}",
                                     "given_name": f"Round{round_}x{i}"}))
        self.all += commands
        return commands

    def answered(self, command: Command) -> None:
        """Learn the ids a round's answers created, for the next rounds."""
        assert command.answer is not None
        if command.kind == "import":
            eid = command.answer.json()["endorsement_id"]
            self.imported.append((eid, command.body["valid_through"] < today().isoformat()))


def _send_once(client: httpx.Client, node: NodeDir, command: Command) -> httpx.Response | None:
    try:
        return client.request(command.method, command.path, json=command.body,
                              headers=_headers(node, command))
    except httpx.TransportError:
        return None  # the server died with the request in flight, or was down


def burst_and_kill(server: ServerProcess, node: NodeDir, commands: list[Command], *,
                   kill_at: int, fraction: float) -> None:
    """Send every command once from SENDERS connections; SIGKILL the server after the
    `kill_at`-th answer, `fraction` of a command's time later (keyed commands run one at a
    time, so the time between answers is one command's), so that the kill lands at a random
    point inside the command being executed: before its events are stored, while they are
    sealed or projected, or after they are committed but before the answer is stored."""
    answered: list[float] = []
    enough = threading.Event()
    lock = threading.Lock()

    def send(command: Command) -> None:
        with server.client() as own:
            command.first = _send_once(own, node, command)
        with lock:
            answered.append(time.monotonic())
            if len(answered) >= kill_at:
                enough.set()

    def kill() -> None:
        enough.wait(timeout=60)
        with lock:
            first, last = answered[0], answered[kill_at - 1]
        time.sleep(fraction * (last - first) / (kill_at - 1))
        server.kill()

    killer = threading.Thread(target=kill, daemon=True)
    killer.start()
    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        list(pool.map(send, commands))
    killer.join(timeout=60)
    assert not killer.is_alive() and not server.running()


@pytest.mark.slow
def test_every_keyed_command_retried_after_sigkill_gets_its_answer(tmp_path: Path) -> None:
    """SIGKILL mid-burst, then retry every command: each retry is 2xx with the first
    attempt's ids (the stored answer, or one rebuilt from the events that attempt stored),
    whatever point the process died at; the ledger holds each command once.

    Rounds go on past RETRY_ROUNDS until some kill has landed after a command committed and
    before its answer reached the client (the case that used to get 409 forever), so the
    test cannot pass without having met it."""
    rng = random.Random(SEED + 1)
    node = init_node(tmp_path / "node")
    server = ServerProcess(node)
    rounds = Rounds()
    recovered = 0  # retries answered from an attempt whose answer the crash had lost
    with server, server.client() as client:
        provider = httpx.post(f"{server.url}/v1/endorsements/imports", timeout=10,
                              headers={**node.auth("coordinator"), "Idempotency-Key": "provider"},
                              json=provider_import(dt.date(today().year + 3, 12, 31)))
        assert provider.status_code == 201, provider.text
        round_ = 0
        while round_ < RETRY_ROUNDS or (recovered == 0 and round_ < MAX_RETRY_ROUNDS):
            round_ += 1
            commands = rounds.plan(round_)
            rng.shuffle(commands)
            # Kill once the server is busy: after a random number of answers, a moment later.
            burst_and_kill(server, node, commands, kill_at=rng.randrange(3, len(commands) // 2),
                           fraction=rng.uniform(0.2, 1.0))
            server.start()

            lost = [c for c in commands if c.first is None]
            assert lost, "a kill during the burst cuts off at least one command"
            for command in sorted(commands, key=lambda c: c.kind == "grant"):
                retry = _send_once(client, node, command)
                assert retry is not None and retry.status_code < 300, (
                    command.kind, command.path, retry and retry.text)
                if command.first is not None:
                    assert command.first.status_code < 300, (command.kind, command.first.text)
                    assert retry.content == command.first.content, command.kind
                if command.first is None and retry.headers.get("idempotent-replayed") == "true":
                    recovered += 1
                command.answer = retry
                rounds.answered(command)
                again = _send_once(client, node, command)  # and every retry after that
                assert again is not None and again.content == retry.content
                assert again.headers["idempotent-replayed"] == "true"
            started = [c.answer.json()["application_id"] for c in commands
                       if c.kind == "start" and c.answer is not None]
            rounds.applications.append(started)
        check_each_command_landed_once(client, node, rounds.all)
        head = head_seq(client, node)
    assert recovered > 0, "no kill landed between a commit and its stored answer"
    assert server.starts == round_ + 1
    assert f"{head} entries verified" in node.cli("ledger", "verify").stdout
    digest = node.cli("projections", "digest").stdout.strip()
    assert node.cli("projections", "rebuild").stdout.strip() == digest


def check_each_command_landed_once(client: httpx.Client, node: NodeDir,
                                   commands: list[Command]) -> None:
    """One ledger entry (or two: a grant's) per command, each id once, nothing else."""
    entries = all_entries(client, node)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    kinds = [e["event_type"] for e in entries]
    count = {k: sum(c.kind == k for c in commands) for k in {c.kind for c in commands}}
    expected = {
        "EndorsementGranted": 1 + count["import"] + count.get("grant", 0),
        "EndorsementLapsed": count.get("lapse", 0),
        "EndorsementCorrected": count.get("correct", 0),
        "EndorsementDegreeAttested": count.get("attest", 0),
        "EndorsementSuspended": count.get("suspend", 0),
        "ApplicationStarted": count["start"],
        "ApplicationEvidenceSubmitted": count.get("evidence", 0),
        "ApplicationReviewed": count.get("review", 0),
        "ApplicationGranted": count.get("grant", 0),
    }
    assert {k: kinds.count(k) for k in expected} == expected
    assert len(kinds) == sum(expected.values())
    created = [c.answer.json()["endorsement_id"] for c in commands
               if c.kind in ("import", "grant") and c.answer is not None]
    assert len(created) == len(set(created)) == count["import"] + count.get("grant", 0)
    roster = client.get("/v1/roster", headers=node.auth("coordinator")).json()
    assert set(created) <= {row["endorsement_id"] for row in roster}
    assert count.get("grant", 0) > 0 and count.get("suspend", 0) > 0
