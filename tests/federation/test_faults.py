"""Faults with real servers: a killed nats-server, and retention that lost entries."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest
from nats.js.api import StorageType, StreamConfig

from federation_api.replication import replicator
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


def test_a_reconnect_ends_the_lingering_fetches_the_server_forgot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A restarted server has forgotten every pull request of the old connections, so a fetch
    in flight would wait out its whole timeout before asking again. Here the timeout is 60 s
    and there is no anti-entropy pass: MI gets AK's entry after the restart only because its
    reconnect ended the fetches and they asked again."""
    monkeypatch.setattr(replicator, "FETCH_WAIT", 60.0)

    async def scenario() -> None:
        port = free_port()
        server = NatsServer(single_server_config(port, tmp_path / "js"), tmp_path,
                            name="nats", port=port).start()
        alliance = Alliance(tmp_path / "alliance", ("AK", "MI"), anti_entropy_seconds=60.0)
        try:
            await alliance.start_all(server.url)
            await asyncio.to_thread(import_professionals, alliance.nodes["AK"], 1, prefix="R")
            mi, reader = alliance.nodes["MI"], alliance.replicators["MI"]
            await wait_until(lambda: heads(mi) == {"AK": 1}, what="the first entry")
            await wait_until(lambda: "AK" in reader.fetching, what="MI waiting in a fetch")

            server.kill()
            await asyncio.sleep(1.0)
            server.start()
            for r in alliance.replicators.values():
                await wait_until(lambda r=r: r.nc is not None and r.nc.is_connected
                                 and r.nc.stats["reconnects"] >= 1, what="reconnect")
            await asyncio.to_thread(import_professionals, alliance.nodes["AK"], 1, prefix="S")
            await wait_until(lambda: heads(mi) == {"AK": 2}, timeout=20,
                             what="the entry written after the restart")
        finally:
            await alliance.shutdown()
            server.stop()

    asyncio.run(scenario())
