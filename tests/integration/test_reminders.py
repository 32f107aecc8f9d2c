"""Renewal reminders and lapse notices over a served node (SQLite and PostgreSQL): queued by
the daily run (`POST /v1/lapses`), sent to a real SMTP server, each exactly once however often
the run repeats, on later days, and after a restart of the node."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from domain.levels import Level
from federation_api.accounts.tokens import Role
from federation_api.clock import now, today
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.node.root import Node
from federation_api.people.records import PersonDetails
from federation_api.web.daily_reminders import queue_due_reminders
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.fees_world import FeesWorld, fees_world

# (person id, days from today to valid-through, has an email address)
HOLDERS = (("AK-P-0801", 60, True), ("AK-P-0802", 45, True), ("AK-P-0803", 30, True),
           ("AK-P-0804", 25, True), ("AK-P-0805", 7, True), ("AK-P-0806", 0, True),
           ("AK-P-0807", 100, True), ("AK-P-0808", -5, True), ("AK-P-0809", -61, True),
           ("AK-P-0810", 20, False))
EXPECTED = {"AK-P-0801": "60d", "AK-P-0802": "60d", "AK-P-0803": "30d", "AK-P-0804": "30d",
            "AK-P-0805": "7d", "AK-P-0806": "7d", "AK-P-0809": "lapsed"}


def email_of(person_id: str) -> str:
    return f"{person_id.lower()}@example.org"


def endorsement_of(person_id: str) -> str:
    return new_endorsement_id("AK", f"reminder:{person_id}")


@pytest.fixture
def world(backend: Backend, tmp_path: Path) -> Iterator[FeesWorld]:
    with backend.database_url() as url, fees_world(tmp_path, url) as made:
        on = today()
        with made.node.people.db.transaction() as cur:
            for person_id, _, has_email in HOLDERS:
                made.node.people.create(cur, PersonDetails(
                    person_id=person_id, given_name="Robin", family_name="Holder",
                    email=email_of(person_id) if has_email else ""), by="test", now=now())
        for person_id, days, _ in HOLDERS:
            made.node.service.record_existing(
                endorsement_id=endorsement_of(person_id), person_id=person_id,
                family_name="Holder", given_name="Robin", level=Level.IFS, designation=None,
                granted_on=on - dt.timedelta(days=900), valid_through=on + dt.timedelta(days=days),
                legacy_reference=person_id, now=now())
        yield made


def daily_run(world: FeesWorld, key: str) -> httpx.Response:
    _, secret = world.node.tokens.issue(label="timer", role=Role.COORDINATOR, now=now())
    answer = httpx.post(f"{world.url}/v1/lapses", json={"on": today().isoformat()},
                        headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": key},
                        timeout=60)
    assert answer.status_code == 200, answer.text
    return answer


def settled(world: FeesWorld, count: int, timeout: float = 30) -> list[tuple[str, str]]:
    """(recipient, subject) of every message the server took, once `count` have arrived and
    the outbox has nothing left to send (then a moment more, for a stray duplicate)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(world.sink.received) >= count and world.node.outbox.counts()["pending"] == 0:
            break
        time.sleep(0.05)
    time.sleep(0.5)
    return [(m.rcpt_tos[0], str(m.message["Subject"])) for m in world.sink.received]


class RemindersContract:
    """Reminders on every backend."""

    def test_the_daily_run_queues_each_due_reminder_once_and_the_server_gets_each_once(
            self, world: FeesWorld) -> None:
        first = daily_run(world, "daily-1")
        assert first.headers["Reminders-Queued"] == str(len(EXPECTED))
        got = settled(world, len(EXPECTED))
        assert sorted(to for to, _ in got) == sorted(email_of(p) for p in EXPECTED)
        subjects = dict(got)
        assert subjects[email_of("AK-P-0809")] == "Your endorsement has lapsed"
        assert subjects[email_of("AK-P-0806")] == "Your endorsement renewal is due today"
        assert subjects[email_of("AK-P-0805")] == "Your endorsement renewal is due in 7 days"
        lapse = world.node.service.endorsement(endorsement_of("AK-P-0809"))
        assert lapse.status.value == "lapsed"  # recorded by the same run, noticed by it
        for person_id, threshold in EXPECTED.items():
            kind = "lapsed" if threshold == "lapsed" else "renewal-due"
            cycle = (today() + dt.timedelta(days=dict(
                (p, d) for p, d, _ in HOLDERS)[person_id])).isoformat()
            key = f"reminder:{kind}:{endorsement_of(person_id)}:{cycle}" + (
                "" if kind == "lapsed" else f":{threshold}")
            status = world.node.outbox.status(key)
            assert status is not None and status.sent_at is not None, key
        body = next(m for m in world.sink.received
                    if m.rcpt_tos[0] == email_of("AK-P-0803")).text()
        assert endorsement_of("AK-P-0803") in body and "cannot be unsubscribed" in body
        # The timer fires again (a new key: the lapses are run afresh), and a retry of the
        # first request (the same key: replayed): nothing more is queued or sent.
        assert daily_run(world, "daily-2").headers["Reminders-Queued"] == "0"
        assert daily_run(world, "daily-1").headers["Reminders-Queued"] == "0"
        assert len(settled(world, len(EXPECTED))) == len(EXPECTED)

    def test_later_days_queue_only_the_thresholds_newly_crossed(self, world: FeesWorld) -> None:
        node = world.node
        assert queue_due_reminders(node, on=today(), now=now()).queued == len(EXPECTED) - 1
        # 5 days on, no threshold is newly crossed; the holder without an address (15 days
        # left) is counted, never guessed.
        later = queue_due_reminders(node, on=today() + dt.timedelta(days=5), now=now())
        assert (later.queued, later.no_email) == (0, 1) and later.already > 0
        # 24 days on: AK-P-0802 crosses 30 days, AK-P-0803 and AK-P-0804 cross 7.
        crossed = queue_due_reminders(node, on=today() + dt.timedelta(days=24), now=now())
        assert (crossed.queued, crossed.already) == (3, 1)

    def test_a_restarted_node_queues_nothing_twice(self, world: FeesWorld,
                                                   tmp_path: Path) -> None:
        first = queue_due_reminders(world.node, on=today(), now=now())
        assert first.queued == len(EXPECTED) - 1  # the lapse is recorded by the run only
        again = Node(world.node.settings)
        try:
            rerun = queue_due_reminders(again, on=today(), now=now())
        finally:
            again.close()
        assert (rerun.queued, rerun.already) == (0, first.queued)


class TestRemindersOnSQLite(RemindersContract, OnSQLite):
    """On SQLite files."""


class TestRemindersOnPostgreSQL(RemindersContract, OnPostgreSQL):
    """On a real PostgreSQL, in a fresh schema."""
