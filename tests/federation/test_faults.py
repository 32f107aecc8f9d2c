"""Faults with real servers: a killed nats-server, and retention that lost entries."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest
from nats.js.api import StorageType, StreamConfig

from federation_api.replication.loopback import single_server_config
from federation_api.replication.nats_process import NatsServer, free_port
from federation_api.replication.replicator import ledger_subject, stream_name
from tests.federation.alliance import Alliance, heads, import_professionals, wait_until

pytestmark = pytest.mark.timeout(180)


def test_nats_server_killed_mid_stream_loses_and_doubles_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        port = free_port()
        server = NatsServer(single_server_config(port, tmp_path / "js"), tmp_path,
                            name="nats", port=port).start()
        alliance = Alliance(tmp_path / "alliance", ("AK", "MI", "TX"))
        try:
            await alliance.start_all(server.url)
            writers = [asyncio.to_thread(import_professionals, alliance.nodes[a], 150,
                                         prefix="K") for a in ("AK", "MI")]
            writing = asyncio.gather(*writers)
            await asyncio.sleep(0.3)
            server.kill()  # SIGKILL while entries are being published and consumed
            await asyncio.sleep(1.0)
            server.start()
            await writing
            expected = {"AK": 150, "MI": 150}
            for node in alliance.nodes.values():
                await wait_until(lambda n=node: heads(n) == expected, timeout=90,
                                 what="convergence after the server restart")
                assert node.verify_ledger("AK") == 150 and node.verify_ledger("MI") == 150
            assert len({n.projector.digest() for n in alliance.nodes.values()}) == 1
            assert all(len(n.projector.roster()) == 300 for n in alliance.nodes.values())
        finally:
            await alliance.shutdown()
            server.stop()

    asyncio.run(scenario())


def test_entries_lost_to_retention_are_backfilled_from_a_peer_while_the_origin_is_offline(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        port = free_port()
        server = NatsServer(single_server_config(port, tmp_path / "js"), tmp_path,
                            name="nats", port=port).start()
        # AK's stream keeps only its last 5 messages: JetStream is a cache, not the record.
        nc = await nats.connect(server.url)
        await nc.jetstream().add_stream(StreamConfig(
            name=stream_name("AK"), subjects=[ledger_subject("AK")], storage=StorageType.FILE,
            max_msgs=5, duplicate_window=120.0))
        await nc.close()
        alliance = Alliance(tmp_path / "alliance", ("AK", "MI", "TX"))
        try:
            for association in ("AK", "MI"):
                alliance.open(association)
                await alliance.start_replication(association, server.url)
            await asyncio.to_thread(import_professionals, alliance.nodes["AK"], 30, prefix="R")
            await wait_until(lambda: heads(alliance.nodes["MI"]).get("AK") == 30,
                             what="MI has all of AK")
            await wait_until(lambda: alliance.nodes["AK"].ledger.position("nats-publisher")
                             == 30, what="AK published everything")
            await alliance.stop_replication("AK")  # the origin goes offline
            alliance.close("AK")

            tx = alliance.open("TX")  # TX never saw AK's first 25 entries on JetStream
            await alliance.start_replication("TX", server.url)
            await wait_until(lambda: heads(tx).get("AK") == 30, timeout=60,
                             what="TX backfilled AK from MI")
            assert tx.verify_ledger("AK") == 30
            assert tx.ingestor.quarantine_count() == 0
            tx.project()
            assert tx.projector.digest() == alliance.nodes["MI"].projector.digest()
        finally:
            await alliance.shutdown()
            server.stop()

    asyncio.run(scenario())
