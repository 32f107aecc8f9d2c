"""A receipt right after a peer's change: the node asks the peer for a checkpoint at once.

Real nats-servers in the production topology (a hub and one leaf per association, from the
generated configs, so the `checkpoint-wanted` subject is proven to pass the permissions);
periodic checkpoints an hour apart, so only the on-demand one can make the receipt. Before,
a node holding a peer's fresh entry answered 409 until the peer's next periodic checkpoint.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from federation_api.proofs.status import covered, replay_status
from federation_api.replication.loopback import HubAndLeafs
from federation_api.web.app import create_app
from ledger.proofs.receipts import decode_receipt, verify_receipt
from ledger.trust.registry_files import RegistryDir
from tests.federation.alliance import Alliance, heads, import_professionals, wait_until

pytestmark = pytest.mark.timeout(240)
ASSOCIATIONS = ("AK", "MI", "TX")


def test_a_receipt_of_a_peers_fresh_entry_asks_the_peer_for_a_checkpoint(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        servers = HubAndLeafs(tmp_path / "nats", ASSOCIATIONS)
        await servers.start()
        alliance = Alliance(tmp_path / "alliance", ASSOCIATIONS)
        try:
            for association in ASSOCIATIONS:
                alliance.open(association)
                await alliance.start_replication(
                    association, servers.node(association),
                    local_domain=association.lower(), hub_domain="hub",
                    checkpoint_seconds=3600)
            ak, mi = alliance.nodes["AK"], alliance.nodes["MI"]
            await asyncio.sleep(1)  # the start-up checkpoints (of empty ledgers) are out
            ids = await asyncio.to_thread(import_professionals, ak, 2, prefix="R")
            await wait_until(lambda: heads(mi).get("AK") == 2, timeout=90, what="replication")
            assert not covered(mi, "AK", 2)  # no periodic checkpoint will come for an hour
            client = TestClient(create_app(mi))
            client.app.state.replicator = alliance.replicators["MI"]  # type: ignore[attr-defined]
            query = {"endorsement_id": ids[1], "last_name": "Family1"}
            started = time.monotonic()
            r = await asyncio.to_thread(client.get, "/v1/receipts", params=query)
            assert r.status_code == 200, r.text
            assert time.monotonic() - started < 5  # asked for, not waited an interval for
            receipt = decode_receipt(r.content)
            genesis = RegistryDir(tmp_path / "alliance" / "registry").genesis()
            report = verify_receipt(receipt, replay_status, pinned_genesis=genesis)
            assert report.ok, report.all_findings
            assert report.heads is not None and report.heads.checkpoints["AK"].size == 2

            # The origin offline (its entry reached MI some other way, e.g. from a peer):
            # the wait is bounded, then the API says 409 with the time a periodic checkpoint
            # would take, and the page's link says it in words.
            await alliance.stop_replication("AK")
            more = await asyncio.to_thread(import_professionals, ak, 1, prefix="S")
            await asyncio.to_thread(mi.ingestor.ingest, list(ak.ledger.wires("AK", 3, 3)),
                                    source="test", now=dt.datetime.now(dt.UTC))
            await asyncio.to_thread(mi.after_ingest)
            assert heads(mi).get("AK") == 3
            query = {"endorsement_id": more[0], "last_name": "Family0"}
            started = time.monotonic()
            refused = await asyncio.to_thread(client.get, "/v1/receipts", params=query)
            assert refused.status_code == 409 and refused.headers["retry-after"] == "3600"
            assert 4.5 < time.monotonic() - started < 15  # it did wait, for a bounded time
            # A peer that let a request wait in vain is not waited for again for an interval:
            # requests hold worker threads, an offline peer must not tie them all up.
            started = time.monotonic()
            page = await asyncio.to_thread(client.get, "/receipts/download", params=query)
            assert page.status_code == 409 and "Receipt not ready yet" in page.text
            assert time.monotonic() - started < 2
        finally:
            await alliance.shutdown()
            servers.stop()

    asyncio.run(scenario())
