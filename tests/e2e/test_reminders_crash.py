"""Crash safety of the reminders: SIGKILL `alliance serve` (a real process) while its outbox
sender is handing the day's reminders to the SMTP server, twice, and restart it. Every due
reminder reaches the real SMTP server (aiosmtpd, in this process), each under one Message-ID;
re-running the day after the restart queues nothing twice.

As in the outbox's own SIGKILL test (tests/integration/test_mail.py), a kill that lands
between the server's "250 accepted" and the sender's commit of it makes that one message be
sent again under the same Message-ID (at most one per kill), which mail stores recognise as
one message: exactly once per reminder, the strongest SMTP allows (docs/reminders.md).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import httpx
import pytest

from domain.levels import Level
from federation_api.clock import now, today
from federation_api.mail.messages import Sender, message_id
from federation_api.mail.outbox import Outbox
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.node.root import Node
from federation_api.people.records import PersonDetails
from federation_api.settings import Settings
from ledger.storage.database import Database, DatabaseUrl
from tests.e2e.harness import ServerProcess, init_node
from tests.integration.smtp_sink import SmtpSink

TOTAL = 300
DAYS_LEFT = 7
FROM = "Alliance AK <noreply@ak.example.org>"


def seed(data_dir: Path) -> list[str]:
    """TOTAL endorsements ending in DAYS_LEFT days, each holder with an email address; the
    dedupe keys of their reminders."""
    node = Node(Settings(data_dir=data_dir))
    keys = []
    try:
        through = today() + dt.timedelta(days=DAYS_LEFT)
        with node.people.db.transaction() as cur:
            for i in range(TOTAL):
                node.people.create(cur, PersonDetails(
                    person_id=f"AK-P-{i:05d}", given_name="Robin", family_name="Holder",
                    email=f"holder{i}@example.org"), by="test", now=now())
        for i in range(TOTAL):
            endorsement_id = new_endorsement_id("AK", f"crash:{i}")
            node.service.record_existing(
                endorsement_id=endorsement_id, person_id=f"AK-P-{i:05d}",
                family_name="Holder", given_name="Robin", level=Level.IFA, designation=None,
                granted_on=today() - dt.timedelta(days=700), valid_through=through,
                legacy_reference=f"paper-{i}", now=now())
            keys.append(f"reminder:renewal-due:{endorsement_id}:{through.isoformat()}:7d")
    finally:
        node.close()
    return keys


def daily_run(server: ServerProcess, token: str, key: str) -> httpx.Response:
    answer = httpx.post(f"{server.url}/v1/lapses", json={"on": today().isoformat()},
                        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
                        timeout=120)
    assert answer.status_code == 200, answer.text
    return answer


@pytest.mark.slow
def test_sigkill_while_sending_reminders_sends_each_exactly_once(tmp_path: Path) -> None:
    node = init_node(tmp_path / "ak", roles=("coordinator",))
    keys = seed(node.data_dir)
    token = node.tokens["coordinator"]
    with SmtpSink() as sink:
        server = ServerProcess(node, env={"ALLIANCE_SMTP_URL": sink.url,
                                          "ALLIANCE_MAIL_FROM": FROM,
                                          "ALLIANCE_MAIL_LEASE_SECONDS": "2"})
        kills = 0
        try:
            server.start(timeout=120)
            assert daily_run(server, token, "day-1").headers["Reminders-Queued"] == str(TOTAL)
            for threshold in (40, 160):  # kill twice while the sender is at work
                sink.wait_for(threshold, timeout=60)
                server.kill()
                kills += 1
                assert len(sink.received) < TOTAL, "the sender finished before the kill"
                server.start(timeout=120)
                # The timer fires again after the restart: nothing is queued twice.
                assert daily_run(server, token, f"day-1-after-kill-{kills}"
                                 ).headers["Reminders-Queued"] == "0"
            sink.wait_for(TOTAL, timeout=90)
            outbox = Outbox(Database(DatabaseUrl.parse(
                f"sqlite:///{node.data_dir / 'node.sqlite'}")))
            deadline = time.monotonic() + 30
            while outbox.counts()["sent"] < TOTAL and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)  # a stray duplicate would arrive now
        finally:
            server.stop()
        assert outbox.counts() == {"pending": 0, "sent": TOTAL, "failed": 0}
        statuses = [outbox.status(key) for key in keys]
        assert all(s is not None for s in statuses)  # every due reminder was queued
        expected = {message_id(s.mail_id, Sender.parse(FROM)) for s in statuses if s}
        received = list(sink.received)
        ids = [r.message_id for r in received]
        assert set(ids) == expected  # every reminder arrived, and nothing else
        assert len(ids) - len(set(ids)) <= kills  # a copy only where a kill cut a commit
        for mid in {i for i in ids if ids.count(i) > 1}:
            copies = [r.message for r in received if r.message_id == mid]
            assert len({(str(m["Date"]), m.get_content()) for m in copies}) == 1
        per_recipient = {r.rcpt_tos[0]: set() for r in received}  # type: dict[str, set[str]]
        for r in received:
            per_recipient[r.rcpt_tos[0]].add(r.message_id)
        assert len(per_recipient) == TOTAL
        assert all(len(v) == 1 for v in per_recipient.values())
        outbox.db.close()
