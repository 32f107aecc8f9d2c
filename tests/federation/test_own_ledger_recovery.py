"""A node that lost entries of its own ledger gets them back over real NATS (issue 9, item 1).

DESIGN invariant 8: the node refuses to seal until it has its own entries back, asks its peers
(backfill) and its own stream for them at start, stores those that verify under its own key
windows, and then seals the next command at the next seq: no second entry for a seq that
peers hold, no event sealed twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import sqlite3
from pathlib import Path

import nats
import pytest

from domain.endorsement import Endorsement
from domain.levels import Level
from federation_api.node.root import Node
from federation_api.replication.loopback import HubAndLeafs, start_single_server
from federation_api.replication.replicator import stream_name
from ledger.chain.own_length import LengthRecord, Source
from ledger.chain.store import LedgerStore
from ledger.chain.writer import FOLLOWER
from ledger.codec import decode_body, decode_signed
from ledger.storage.database import Database, DatabaseUrl
from ledger.storage.event_store import PrivateEventStore
from projections.projector import Projector
from tests.federation.alliance import EPOCH, Alliance, heads, import_professionals, wait_until

pytestmark = pytest.mark.timeout(120)

SIGNED = 12


def erase_tail(alliance: Alliance, association: str, first: int) -> None:
    """On a stopped node: delete its own entries from `first` on and every other trace of them
    in the ledger database (checkpoints, high-water mark, all tracking), then rebuild its
    projections, so nothing local remembers them; only the event store still holds the
    events."""
    root = alliance.settings(association).data_dir
    with sqlite3.connect(root / "ledger.sqlite") as conn:
        conn.execute("DELETE FROM ledger_entries WHERE association = ? AND seq >= ?",
                     (association, first))
        for table in ("checkpoints", "ledger_high_water", "ledger_tracking"):
            conn.execute(f"DELETE FROM {table}")
    ledger = Database(DatabaseUrl(dialect="sqlite", path=root / "ledger.sqlite"))
    projections = Database(DatabaseUrl(dialect="sqlite", path=root / "projections.sqlite"))
    try:
        Projector(projections).rebuild(LedgerStore(ledger))
    finally:
        ledger.close()
        projections.close()


async def seal_one_more(alliance: Alliance, original: list[bytes], source: LengthRecord
                        ) -> None:
    """The recovered node holds exactly its original entries, got them from `source` (a
    re-seal of the same events would give the same bytes, so the source is checked), and
    seals the next seq."""
    ak = alliance.nodes["AK"]
    assert list(ak.ledger.wires("AK")) == original
    assert source in ak.own_ledger.remote_records(), ak.own_ledger.remote_records()
    assert ak.gate.reason is None
    # The events of the recovered entries count as sealed: none is sealed a second time.
    assert await asyncio.to_thread(ak.writer.catch_up) == 0
    assert ak.ledger.position(FOLLOWER) == ak.events.recorder.max_notification_id()
    await asyncio.to_thread(import_professionals, ak, 1, prefix="B")
    assert ak.ledger.head("AK")[0] == SIGNED + 1  # type: ignore[index]
    assert ak.verify_ledger() == SIGNED + 1


def test_a_node_gets_its_lost_entries_back_from_a_peer_and_seals_the_next_seq(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        server = start_single_server(tmp_path / "nats")
        alliance = Alliance(tmp_path / "alliance", ("AK", "MI"))
        fresh = None
        try:
            await alliance.start_all(server.url)
            await asyncio.to_thread(import_professionals, alliance.nodes["AK"], SIGNED,
                                    prefix="A")
            mi = alliance.nodes["MI"]
            await wait_until(lambda: heads(mi).get("AK") == SIGNED, what="MI's replica")
            original = list(alliance.nodes["AK"].ledger.wires("AK"))
            for association in ("AK", "MI"):
                await alliance.stop_replication(association)
            alliance.close("AK")
            # The JetStream store is gone as well: only MI's verified replica holds AK's
            # entries 11 and 12.
            server.stop()
            fresh = start_single_server(tmp_path / "nats-fresh")
            erase_tail(alliance, "AK", SIGNED - 1)
            await alliance.start_replication("MI", fresh.url)

            ak = Node(alliance.settings("AK"), await_peers=True)  # as `alliance serve` does
            alliance.nodes["AK"] = ak
            assert ak.ledger.head("AK")[0] == SIGNED - 2  # type: ignore[index]
            assert ak.gate.reason is not None  # nothing is sealed before the peers answered
            await alliance.start_replication("AK", fresh.url)
            await seal_one_more(alliance, original, LengthRecord(Source.PEER, SIGNED, "MI"))
            await wait_until(lambda: heads(mi).get("AK") == SIGNED + 1, what="MI gets seq 13")
            assert mi.verify_ledger("AK") == SIGNED + 1
            assert mi.forked_associations() == {} and ak.forked_associations() == {}
        finally:
            await alliance.shutdown()
            server.stop()
            if fresh is not None:
                fresh.stop()

    asyncio.run(scenario())


def test_a_node_gets_its_lost_entries_back_from_its_stream_with_every_peer_offline(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        server = start_single_server(tmp_path / "nats")
        alliance = Alliance(tmp_path / "alliance", ("AK", "MI"))
        try:
            await alliance.start_all(server.url)
            ak = alliance.nodes["AK"]
            await asyncio.to_thread(import_professionals, ak, SIGNED, prefix="A")
            replicator = alliance.replicators["AK"]
            await wait_until(lambda: ak.ledger.position("nats-publisher") == SIGNED,
                             what="AK's entries confirmed by its stream")
            original = list(ak.ledger.wires("AK"))
            assert replicator.errors == 0
            for association in ("AK", "MI"):
                await alliance.stop_replication(association)
                alliance.close(association)  # MI is offline from here on
            erase_tail(alliance, "AK", SIGNED)

            ak = Node(alliance.settings("AK"), await_peers=True)
            alliance.nodes["AK"] = ak
            assert ak.gate.reason is not None
            await alliance.start_replication("AK", server.url)
            await seal_one_more(alliance, original,
                                LengthRecord(Source.STREAM, SIGNED, "ALLIANCE_AK@local"))
            await wait_until(lambda: ak.ledger.position("nats-publisher") == SIGNED + 1,
                             what="seq 13 confirmed by the stream")
        finally:
            await alliance.shutdown()
            server.stop()

    asyncio.run(scenario())


async def mirrored(servers: HubAndLeafs, association: str, count: int) -> None:
    """Wait until the hub's mirror of an association's stream holds `count` messages."""
    nc = await nats.connect(**servers.admin().options())
    try:
        js = nc.jetstream(domain="hub")
        for _ in range(300):
            info = await js.stream_info(stream_name(association))
            if info.state.messages >= count:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"the hub mirror of {association} holds {info.state.messages}")
    finally:
        await nc.close()


def test_a_node_whose_leaf_lost_its_store_gets_its_entries_back_from_the_hub_mirror(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        servers = HubAndLeafs(tmp_path / "nats", ("AK", "MI"))
        await servers.start()
        alliance = Alliance(tmp_path / "alliance", ("AK", "MI"))

        async def start(association: str) -> None:
            await alliance.start_replication(association, servers.node(association),
                                             local_domain=association.lower(),
                                             hub_domain="hub")

        try:
            for association in ("AK", "MI"):
                alliance.open(association)
                await start(association)
            await asyncio.to_thread(import_professionals, alliance.nodes["AK"], SIGNED,
                                    prefix="A")
            await mirrored(servers, "AK", SIGNED)
            original = list(alliance.nodes["AK"].ledger.wires("AK"))
            for association in ("AK", "MI"):
                await alliance.stop_replication(association)
                alliance.close(association)  # MI stays offline
            servers.leafs["AK"].stop()
            shutil.rmtree(servers.topology.store_root / "ak")  # AK's own stream is gone
            servers.leafs["AK"].start()
            erase_tail(alliance, "AK", SIGNED - 1)

            ak = Node(alliance.settings("AK"), await_peers=True)
            alliance.nodes["AK"] = ak
            await start("AK")
            await seal_one_more(alliance, original,
                                LengthRecord(Source.STREAM, SIGNED, "ALLIANCE_AK@hub"))
        finally:
            await alliance.shutdown()
            servers.stop()

    asyncio.run(scenario())


def test_an_unsealed_event_waits_for_the_peers_and_is_sealed_after_the_lost_entry(
        tmp_path: Path) -> None:
    """The shape of a restored backup: seq 12 and its event are gone from the node, and a new
    event was stored but not sealed (a crash). Sealing it at start would sign a second seq 12,
    different from the one MI holds; the node first gets 12 back, then seals it as 13."""
    async def scenario() -> None:
        server = start_single_server(tmp_path / "nats")
        alliance = Alliance(tmp_path / "alliance", ("AK", "MI"))
        try:
            await alliance.start_all(server.url)
            await asyncio.to_thread(import_professionals, alliance.nodes["AK"], SIGNED,
                                    prefix="A")
            mi = alliance.nodes["MI"]
            await wait_until(lambda: heads(mi).get("AK") == SIGNED, what="MI's replica")
            original = list(alliance.nodes["AK"].ledger.wires("AK"))
            await alliance.stop_replication("AK")
            alliance.close("AK")
            erase_tail(alliance, "AK", SIGNED)
            events = alliance.settings("AK").data_dir / "events.sqlite"
            with sqlite3.connect(events) as conn:
                conn.execute("DELETE FROM stored_events WHERE rowid = (SELECT MAX(rowid) FROM "
                             "stored_events)")
            store = PrivateEventStore(env=DatabaseUrl(dialect="sqlite", path=events
                                               ).eventsourcing_env())
            import_unsealed(store)
            store.close()

            ak = Node(alliance.settings("AK"), await_peers=True)
            alliance.nodes["AK"] = ak
            assert ak.ledger.head("AK")[0] == SIGNED - 1  # type: ignore[index]
            await alliance.start_replication("AK", server.url)
            wires = list(ak.ledger.wires("AK"))
            assert wires[:SIGNED] == original and len(wires) == SIGNED + 1
            assert decode_body(decode_signed(wires[-1]).body).event_type == "EndorsementGranted"
            assert LengthRecord(Source.PEER, SIGNED, "MI") in ak.own_ledger.remote_records() \
                or LengthRecord(Source.STREAM, SIGNED, "ALLIANCE_AK@local") in \
                ak.own_ledger.remote_records()
            await wait_until(lambda: heads(mi).get("AK") == SIGNED + 1, what="MI gets seq 13")
            assert mi.forked_associations() == {}
            assert ak.verify_ledger() == SIGNED + 1
        finally:
            await alliance.shutdown()
            server.stop()

    asyncio.run(scenario())


def import_unsealed(store: PrivateEventStore) -> None:
    """Store an imported endorsement's event without sealing it (the process died between)."""
    endorsement = Endorsement.record_existing(
        endorsement_id="AK-U00001", association="AK", person_id="AK-P-U1",
        family_name="Unsealed", given_name="Una", level=Level.IMHS, designation=None,
        granted_on=dt.date(2020, 1, 1), valid_through=dt.date(2030, 12, 31),
        legacy_reference="ref-U1", now=EPOCH + dt.timedelta(hours=1))
    store.save(endorsement)
