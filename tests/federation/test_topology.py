"""Replication through the production topology: hub + one leaf per association.

The configs are the ones `alliance nats-config` generates; each node connects only to its
own leaf with its restricted user, publishes into its own JetStream domain and reads its
peers from the hub's mirrors.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest

from federation_api.replication.loopback import HubAndLeafs
from federation_api.replication.replicator import ledger_subject, stream_name
from tests.federation.alliance import Alliance, heads, import_professionals, wait_until

pytestmark = pytest.mark.timeout(240)
ASSOCIATIONS = ("AK", "MI", "TX")


async def _start(alliance: Alliance, servers: HubAndLeafs, association: str) -> None:
    alliance.open(association)
    await alliance.start_replication(association, servers.node(association),
                                     local_domain=association.lower(), hub_domain="hub")


def test_replication_through_hub_and_leafs(tmp_path: Path) -> None:
    async def scenario() -> None:
        servers = HubAndLeafs(tmp_path / "nats", ASSOCIATIONS)
        await servers.start()
        alliance = Alliance(tmp_path / "alliance", ASSOCIATIONS)
        try:
            for association in ASSOCIATIONS:
                await _start(alliance, servers, association)
            for association in ASSOCIATIONS:
                await asyncio.to_thread(import_professionals, alliance.nodes[association], 10,
                                        prefix="A")
            expected = dict.fromkeys(ASSOCIATIONS, 10)
            for node in alliance.nodes.values():
                await wait_until(lambda n=node: heads(n) == expected, timeout=90,
                                 what="convergence through the hub")
            assert len({n.projector.digest() for n in alliance.nodes.values()}) == 1

            # Least privilege: AK's node cannot publish into MI's subject.
            errors: list[str] = []

            async def on_error(e: Exception) -> None:
                errors.append(str(e))

            nc = await nats.connect(**servers.node("AK").options(), error_cb=on_error,
                                    inbox_prefix="_INBOX.ak")
            await nc.publish(ledger_subject("MI"), b"forged")
            await nc.flush()
            await asyncio.sleep(0.5)
            await nc.close()
            assert any("permissions violation" in e.lower() for e in errors), errors
            mi = await nats.connect(**servers.node("MI").options(), inbox_prefix="_INBOX.mi")
            info = await mi.jetstream().stream_info(stream_name("MI"))  # MI's own domain
            await mi.close()
            assert info.state.messages == 10  # MI's ten entries, nothing forged

            # TX's node and its leaf go offline; AK and MI keep writing; TX comes back.
            await alliance.stop_replication("TX")
            alliance.close("TX")
            servers.leafs["TX"].stop()
            for association in ("AK", "MI"):
                await asyncio.to_thread(import_professionals, alliance.nodes[association], 10,
                                        prefix="B")
            servers.leafs["TX"].start()
            await _start(alliance, servers, "TX")
            expected = {"AK": 20, "MI": 20, "TX": 10}
            for node in alliance.nodes.values():
                await wait_until(lambda n=node: heads(n) == expected, timeout=90,
                                 what="catch-up after an outage")

            # The whole hub is killed mid-stream and restarted: nothing lost or doubled.
            writing = asyncio.gather(*(asyncio.to_thread(
                import_professionals, alliance.nodes[a], 30, prefix="C") for a in ("AK", "MI")))
            await asyncio.sleep(0.2)
            for hub in servers.hubs:
                hub.kill()
            await asyncio.sleep(1.0)
            await asyncio.gather(*(asyncio.to_thread(hub.start) for hub in servers.hubs))
            await writing
            expected = {"AK": 50, "MI": 50, "TX": 10}
            for node in alliance.nodes.values():
                await wait_until(lambda n=node: heads(n) == expected, timeout=120,
                                 what="convergence after the hub restart")
                for association in ASSOCIATIONS:
                    node.verify_ledger(association)
            assert len({n.projector.digest() for n in alliance.nodes.values()}) == 1
            assert all(n.ingestor.quarantine_count() == 0 for n in alliance.nodes.values())
        finally:
            await alliance.shutdown()
            servers.stop()

    asyncio.run(scenario())
