"""Restoring an old backup of a node cannot fork its ledger (issue 13, backup and restore).

The node is backed up while it runs, writes 100 more commands, which its peer and its stream
hold, and is then restored from the old backup. DESIGN invariant 8: the restored node seals
nothing until every source it asks (its own stream and every peer) has answered and it holds
what they hold; the 100 come back from them byte for byte (no seq is ever signed twice with
different content, in the node, the peer's replica or the stream), the node then seals the
next seq normally, and replicas and projections converge. Started without NATS, or with a
peer that does not answer, it refuses to seal and says why. Real nats-server processes; the
node's stores on SQLite files and on a real PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import nats
import pytest

from federation_api.backup.make import make_backup
from federation_api.backup.restore import restore_backup
from federation_api.migrations.runner import migrate
from federation_api.node.restore_mark import HISTORY_FILE, MARK_FILE
from federation_api.node.root import Node
from federation_api.replication.loopback import HubAndLeafs, start_single_server
from federation_api.replication.replicator import PUBLISHER, stream_name
from federation_api.settings import Settings
from federation_api.web.errors import answer_for
from ledger.chain.own_length import LengthRecord, Source
from ledger.codec import decode_stored
from ledger.errors import LedgerBehind, LostToRestore
from ledger.storage.database import DatabaseUrl
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.federation.alliance import EPOCH, Alliance, heads, import_professionals, wait_until

pytestmark = pytest.mark.timeout(240)

BEFORE = 12  # entries in the backup
AFTER = 100  # commands written after it: 99 imports and one suspension of a backed-up record
SUSPENDED = "AK-A00003"  # in the backup as imported, suspended after it


@dataclass
class StoredAlliance(Alliance):
    """The test Alliance, with AK's stores where the backend puts them."""

    database_urls: dict[str, str] = field(default_factory=dict)

    def settings(self, association: str) -> Settings:
        """SQLite files in the data directory, or the backend's database."""
        settings = super().settings(association)
        url = self.database_urls.get(association)
        return settings if url is None else replace(settings, database_url=url)


@pytest.fixture
def database(backend: Backend) -> Iterator[str | None]:
    """None for SQLite files in AK's data dir, else a fresh PostgreSQL schema, migrated by its
    owner (a node refuses a PostgreSQL schema that is behind)."""
    with backend.database_url() as url:
        if url is not None:
            migrate(DatabaseUrl.parse(url))
        yield url


async def stream_entries(url: str, association: str) -> dict[int, set[bytes]]:
    """Every message of an association's stream, by the entry seq it carries."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream_name(association))
        found: dict[int, set[bytes]] = {}
        for stream_seq in range(1, int(info.state.last_seq) + 1):
            msg = await js.get_msg(stream_name(association), stream_seq)
            found.setdefault(decode_stored(msg.data).seq, set()).add(msg.data)
        return found
    finally:
        await nc.close()


async def written_and_backed_up(alliance: StoredAlliance, tmp_path: Path,
                                url: str | None = None) -> tuple[Path, Path, list[bytes]]:
    """AK seals BEFORE entries, is backed up while it runs, then seals AFTER more, which MI's
    replica and AK's stream hold. Returns the backup, AK's key files (kept apart) and AK's
    ledger as it was signed. (Without `url` the caller has started the nodes.)"""
    if url is not None:
        await alliance.start_all(url)
    ak, mi = alliance.nodes["AK"], alliance.nodes["MI"]
    await asyncio.to_thread(import_professionals, ak, BEFORE, prefix="A")
    archive = tmp_path / "backups" / "ak.tar"
    archive.parent.mkdir()
    manifest = await asyncio.to_thread(make_backup, alliance.settings("AK"), archive,
                                       passphrase=None, now=EPOCH + dt.timedelta(days=1))
    assert manifest.own_head == BEFORE and manifest.heads["AK"] == BEFORE
    assert archive.stat().st_mode & 0o777 == 0o600
    await asyncio.to_thread(import_professionals, ak, AFTER - 1, prefix="B")
    await asyncio.to_thread(suspend, ak, SUSPENDED)
    await wait_until(lambda: heads(mi).get("AK") == BEFORE + AFTER, what="MI's replica")
    await wait_until(lambda: ak.ledger.position(PUBLISHER) == BEFORE + AFTER,
                     what="AK's stream confirms every entry")
    original = list(ak.ledger.wires("AK"))
    await alliance.stop_replication("AK")
    alliance.close("AK")
    keys = tmp_path / "offline-keys"
    shutil.copytree(alliance.settings("AK").data_dir / "keys", keys)
    return archive, keys, original


def suspend(node: Node, endorsement_id: str) -> None:
    """The committee suspends an endorsement."""
    node.service.suspend(endorsement_id, effective_on=dt.date(2026, 3, 1),
                         reason="committee finding", now=EPOCH + dt.timedelta(days=1))


def restored(alliance: StoredAlliance, archive: Path, keys: Path, **node: bool) -> Node:
    """Restore AK's old backup over its data directory and open it (as `alliance serve`
    would, with `await_peers` when it has NATS)."""
    restore_backup(alliance.settings("AK"), archive, keys_from=keys, passphrase=None,
                   force=True, now=EPOCH + dt.timedelta(days=2))
    ak = Node(alliance.settings("AK"), **node)
    alliance.nodes["AK"] = ak
    assert ak.own_ledger.head() == BEFORE
    assert (ak.paths.root / MARK_FILE).exists()
    return ak


def refuses_to_seal(ak: Node, why: str) -> None:
    """A command is refused with the reason and how to proceed, and writes nothing."""
    events = ak.events.recorder.max_notification_id()
    with pytest.raises(LedgerBehind) as refused:
        import_professionals(ak, 1, prefix="X")
    assert "restored from a backup" in str(refused.value), refused.value
    assert why in str(refused.value), refused.value
    assert "alliance restore release" in refused.value.recovery
    assert "ALLIANCE_NATS_URL" in refused.value.recovery
    assert ak.own_ledger.head() == BEFORE
    assert ak.events.recorder.max_notification_id() == events


async def caught_up_and_sealing(alliance: StoredAlliance, original: list[bytes],
                                url: str | None, *, whole_stream: bool = True) -> None:
    """AK holds its ledger exactly as first signed, seals the next seq, and every copy of
    its ledger agrees: no fork anywhere, projections equal. (`whole_stream`: the stream
    holds the ledger from seq 1; a fresh one only what was published since the restore.)"""
    ak, mi = alliance.nodes["AK"], alliance.nodes["MI"]
    await wait_until(lambda: ak.gate.reason is None, what="AK caught up")
    assert list(ak.ledger.wires("AK")) == original  # the 100 came back, byte for byte
    assert not (ak.paths.root / MARK_FILE).exists()
    history = (ak.paths.root / HISTORY_FILE).read_text()
    assert '"how":"caught up"' in history
    # Seqs 13..112 came back without their private events: the record they changed is not
    # changed again from the older version this node's event store holds (no second v2).
    assert f'"unbacked":[{BEFORE + 1},{BEFORE + AFTER}]' in history, history
    events = ak.events.recorder.max_notification_id()
    with pytest.raises(LostToRestore, match=f"sealed as AK#{BEFORE + AFTER} before") as lost:
        await asyncio.to_thread(suspend, ak, SUSPENDED)
    answer = answer_for(lost.value)  # what a staff client is told
    assert (answer.status, answer.body["rule"]) == (409, "restore.events_lost")
    assert ak.events.recorder.max_notification_id() == events
    assert ak.own_ledger.head() == BEFORE + AFTER
    await asyncio.to_thread(import_professionals, ak, 1, prefix="C")
    total = BEFORE + AFTER + 1
    assert ak.own_ledger.head() == total
    await wait_until(lambda: heads(mi).get("AK") == total, what="MI gets the next seq")
    assert list(mi.ledger.wires("AK")) == list(ak.ledger.wires("AK"))
    assert ak.verify_ledger() == total and mi.verify_ledger("AK") == total
    assert ak.forked_associations() == {} and mi.forked_associations() == {}
    assert ak.ingestor.quarantine_count() == 0 and mi.ingestor.quarantine_count() == 0
    await wait_until(lambda: ak.ledger.position(PUBLISHER) == total, what="stream has seq 113")
    await wait_until(lambda: ak.projector.digest() == mi.projector.digest(),
                     what="projections converge")
    if url is None:
        return
    in_stream = await stream_entries(url, "AK")
    wires = list(ak.ledger.wires("AK"))
    assert max(in_stream) == total
    assert sorted(in_stream) == list(range(1 if whole_stream else min(in_stream), total + 1))
    for seq, copies in in_stream.items():  # never a second entry for a seq
        assert copies == {wires[seq - 1]}, f"seq {seq} in the stream differs"


class BackupRestoreContract:
    """A node restored from an old backup, on every backend."""

    def test_an_old_backup_restored_forks_nothing_and_gets_the_100_back_from_peers(
            self, tmp_path: Path, database: str | None) -> None:
        async def scenario() -> None:
            server = start_single_server(tmp_path / "nats")
            alliance = StoredAlliance(tmp_path / "alliance", ("AK", "MI"),
                                      database_urls={"AK": database} if database else {})
            try:
                archive, keys, original = await written_and_backed_up(alliance, tmp_path,
                                                                      server.url)
                ak = restored(alliance, archive, keys, await_peers=True)
                assert "restored from a backup" in str(ak.gate.reason)
                await alliance.start_replication("AK", server.url)
                await caught_up_and_sealing(alliance, original, server.url)
            finally:
                await alliance.shutdown()
                server.stop()

        asyncio.run(scenario())

    def test_restored_without_nats_or_with_a_silent_peer_it_refuses_to_seal_and_says_why(
            self, tmp_path: Path, database: str | None) -> None:
        async def scenario() -> None:
            server = start_single_server(tmp_path / "nats")
            alliance = StoredAlliance(tmp_path / "alliance", ("AK", "MI"),
                                      database_urls={"AK": database} if database else {})
            try:
                archive, keys, original = await written_and_backed_up(alliance, tmp_path,
                                                                      server.url)
                # NATS down (the node started without it): nothing is sealed.
                ak = restored(alliance, archive, keys)
                refuses_to_seal(ak, "not yet compared with the hub and its peers")
                alliance.close("AK")
                ak = Node(alliance.settings("AK"))  # the mark outlives a restart
                alliance.nodes["AK"] = ak
                refuses_to_seal(ak, "started without NATS")
                alliance.close("AK")
                # With NATS but MI offline: the stream gives every entry back, yet MI might
                # hold more, so AK waits for it.
                await alliance.stop_replication("MI")
                alliance.close("MI")
                ak = Node(alliance.settings("AK"), await_peers=True)
                alliance.nodes["AK"] = ak
                await alliance.start_replication("AK", server.url)
                await wait_until(lambda: ak.own_ledger.head() == BEFORE + AFTER,
                                 what="AK's entries back from its stream")
                assert list(ak.ledger.wires("AK")) == original
                refuses_to_seal_beyond(ak, "no answer yet from MI")
                # MI comes back: the next pass asks it, and AK seals again.
                alliance.open("MI")
                await alliance.start_replication("MI", server.url)
                await caught_up_and_sealing(alliance, original, server.url)
            finally:
                await alliance.shutdown()
                server.stop()

        asyncio.run(scenario())


    def test_with_the_stream_lost_too_the_100_come_back_from_the_peer_alone(
            self, tmp_path: Path, database: str | None) -> None:
        async def scenario() -> None:
            server = start_single_server(tmp_path / "nats")
            fresh = None
            alliance = StoredAlliance(tmp_path / "alliance", ("AK", "MI"),
                                      database_urls={"AK": database} if database else {})
            try:
                archive, keys, original = await written_and_backed_up(alliance, tmp_path,
                                                                      server.url)
                # The JetStream store goes as well: only MI's verified replica holds 13..112.
                await alliance.stop_replication("MI")
                server.stop()
                fresh = start_single_server(tmp_path / "nats-fresh")
                await alliance.start_replication("MI", fresh.url)
                ak = restored(alliance, archive, keys, await_peers=True)
                await alliance.start_replication("AK", fresh.url)
                await wait_until(lambda: ak.gate.reason is None, what="AK caught up")
                assert LengthRecord(Source.PEER, BEFORE + AFTER, "MI") in \
                    ak.own_ledger.remote_records(), ak.own_ledger.remote_records()
                await caught_up_and_sealing(alliance, original, fresh.url, whole_stream=False)
            finally:
                await alliance.shutdown()
                server.stop()
                if fresh is not None:
                    fresh.stop()

        asyncio.run(scenario())


def test_on_the_hub_topology_the_leaf_the_hub_mirror_and_the_peer_all_answer_first(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        servers = HubAndLeafs(tmp_path / "nats", ("AK", "MI"))
        await servers.start()
        alliance = StoredAlliance(tmp_path / "alliance", ("AK", "MI"))

        async def start(association: str) -> None:
            await alliance.start_replication(association, servers.node(association),
                                             local_domain=association.lower(),
                                             hub_domain="hub")

        try:
            for association in ("AK", "MI"):
                alliance.open(association)
                await start(association)
            archive, keys, original = await written_and_backed_up(alliance, tmp_path)
            ak = restored(alliance, archive, keys, await_peers=True)
            await start("AK")
            await wait_until(lambda: ak.gate.reason is None, what="AK caught up")
            history = (ak.paths.root / HISTORY_FILE).read_text()
            for source in ("ALLIANCE_AK@ak", "ALLIANCE_AK@hub", "MI"):
                assert source in history, history  # each one answered before AK sealed
            await caught_up_and_sealing(alliance, original, None)
        finally:
            await alliance.shutdown()
            servers.stop()

    asyncio.run(scenario())


def refuses_to_seal_beyond(ak: Node, why: str) -> None:
    """Like `refuses_to_seal`, for a node that has its entries back but is still held."""
    head = ak.own_ledger.head()
    with pytest.raises(LedgerBehind) as refused:
        import_professionals(ak, 1, prefix="Y")
    assert "restored from a backup" in str(refused.value) and why in str(refused.value)
    assert ak.own_ledger.head() == head


class TestBackupRestoreOnSQLite(BackupRestoreContract, OnSQLite):
    """AK's stores in SQLite files."""


class TestBackupRestoreOnPostgreSQL(BackupRestoreContract, OnPostgreSQL):
    """AK's stores in a real PostgreSQL schema."""
