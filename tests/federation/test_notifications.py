"""An employer on Michigan's node hears of an Alaska suspension, through replication.

Real nats-server, two in-process nodes replicating, MI's webhook dispatcher running on the
test's loop, and a real HTTP receiver on a loopback port. The change reaches MI only as a
verified replica entry; MI's notifier records it once and the receiver gets it once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from federation_api.accounts.tokens import Role
from federation_api.notifications.dispatcher import WebhookDispatcher
from federation_api.replication.loopback import start_single_server
from federation_api.web.app import create_app
from tests.e2e.webhook_receiver import Receiver
from tests.federation.alliance import EPOCH, Alliance, heads, import_professionals, wait_until

pytestmark = pytest.mark.timeout(120)


def test_an_employer_on_mi_receives_an_ak_suspension(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = start_single_server(tmp_path / "nats")
        alliance = Alliance(tmp_path / "alliance", ("AK", "MI"))
        receiver = Receiver().start()
        dispatcher: WebhookDispatcher | None = None
        try:
            ak, mi = alliance.open("AK"), alliance.open("MI")
            mi.settings = replace(mi.settings, webhook_allow_private=True,
                                  webhook_backoff_seconds=0.2, webhook_backoff_cap_seconds=1.0)
            for association in ("AK", "MI"):
                await alliance.start_replication(association, server.url)
            (professional, other) = await asyncio.to_thread(import_professionals, ak, 2,
                                                            prefix="N")
            await wait_until(lambda: heads(mi).get("AK") == 2, what="MI has AK's grants")

            # The employer works with MI's node only.
            _, token = mi.tokens.issue(label="Detroit Early Head Start", role=Role.EMPLOYER,
                                       now=EPOCH)
            employer = {"Authorization": f"Bearer {token}"}
            client = TestClient(create_app(mi))  # no lifespan: the dispatcher runs below
            hook = await asyncio.to_thread(client.put, "/v1/webhook", headers=employer,
                                           json={"url": receiver.url})
            assert hook.status_code == 201, hook.text
            receiver.secret = hook.json()["secret"]
            subscribed = await asyncio.to_thread(
                client.post, "/v1/subscriptions", headers=employer,
                json={"endorsement_id": professional, "last_name": "Family0"})
            assert subscribed.status_code == 201, subscribed.text
            assert subscribed.json()["association"] == "AK"
            # A long poll: the delivery must come from the wake after ingestion, as in serve.
            dispatcher = WebhookDispatcher(mi.notifier, mi.webhooks, mi.changes, mi.settings,
                                           poll_seconds=120.0)
            await dispatcher.start()
            mi.ingest_listeners.append(dispatcher.wake)

            # Alaska's committee suspends both; MI's employer follows only one of them.
            for endorsement_id in (professional, other):
                await asyncio.to_thread(ak.service.suspend, endorsement_id,
                                        effective_on=dt.date(2026, 2, 1), reason="complaint",
                                        now=EPOCH + dt.timedelta(days=31))
            await wait_until(lambda: heads(mi).get("AK") == 4, what="MI has the suspensions")
            await wait_until(lambda: len(receiver.processed) == 1, what="the webhook")
            await asyncio.sleep(1.0)  # a second delivery would have arrived by now

            (change,) = receiver.changes()
            assert (change["endorsement_id"], change["kind"], change["old_status"],
                    change["new_status"], change["association"], change["recorded_by"],
                    change["effective_on"], change["name"]) == (
                professional, "suspended", "active", "suspended", "AK", "AK", "2026-02-01",
                "Given Family0")
            assert receiver.bad_signatures == 0 and receiver.duplicates == 0
            assert mi.changes.count("AK") == 1  # one change row, for the one subscribed
            feed = await asyncio.to_thread(client.get, "/v1/changes", headers=employer)
            assert [c["change_id"] for c in feed.json()["changes"]] == [change["change_id"]]
            assert ak.changes.count() == 0  # nobody subscribed on AK's own node
        finally:
            if dispatcher is not None:
                await dispatcher.stop()
            receiver.stop()
            await alliance.shutdown()
            server.stop()

    asyncio.run(scenario())


def test_a_transfer_is_announced_once_whichever_ledger_records_it(tmp_path: Path) -> None:
    """MI recognises an AK endorsement (MI's entry) and AK then records the transfer out (AK's
    entry): the employer following the AK id hears of the transfer once."""

    async def scenario() -> None:
        server = start_single_server(tmp_path / "nats")
        alliance = Alliance(tmp_path / "alliance", ("AK", "MI"))
        receiver = Receiver().start()
        dispatcher: WebhookDispatcher | None = None
        try:
            ak, mi = alliance.open("AK"), alliance.open("MI")
            mi.settings = replace(mi.settings, webhook_allow_private=True)
            for association in ("AK", "MI"):
                await alliance.start_replication(association, server.url)
            (origin,) = await asyncio.to_thread(import_professionals, ak, 1, prefix="T")
            await wait_until(lambda: heads(mi).get("AK") == 1, what="MI has AK's grant")
            secret = mi.webhooks.register("employer-1", receiver.url, EPOCH)[1]
            assert secret is not None
            receiver.secret = secret
            await asyncio.to_thread(mi.notifier.catch_up)
            mi.subscriptions.subscribe("employer-1", [origin], EPOCH)
            dispatcher = WebhookDispatcher(mi.notifier, mi.webhooks, mi.changes, mi.settings,
                                           poll_seconds=0.2)
            await dispatcher.start()

            today = dt.datetime.now(dt.UTC).date()
            await asyncio.to_thread(mi.service.recognize, origin, endorsement_id="MI-MOVED001",
                                    recognized_on=today, now=dt.datetime.now(dt.UTC),
                                    replica=mi.replica)
            # AK records the transfer out by itself; MI replicates that entry too.
            await wait_until(lambda: heads(mi).get("AK") == 2, what="AK's transfer-out at MI")
            await wait_until(lambda: mi.notifier.positions().get("AK") == 2,
                             what="MI's notifier past AK's transfer-out")
            await wait_until(lambda: len(receiver.processed) >= 1, what="the webhook")
            await asyncio.sleep(1.0)

            (change,) = receiver.changes()
            assert (change["endorsement_id"], change["kind"], change["old_status"],
                    change["new_status"], change["association"]) == (
                origin, "transferred", "active", "transferred", "AK")
            assert mi.changes.count() == 1
        finally:
            if dispatcher is not None:
                await dispatcher.stop()
            receiver.stop()
            await alliance.shutdown()
            server.stop()

    asyncio.run(scenario())
