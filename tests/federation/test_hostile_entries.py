"""Hostile and broken peer entries: each is quarantined or flagged, none reaches a projection.

Entries are made by real signers; what arrives is handed to the real Ingestor, exactly as the
JetStream consumer and the backfill client do.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec
import pytest

from ledger.chain.entries import LedgerEntry
from ledger.chain.store import LedgerStore
from ledger.codec import encode
from ledger.ingest import Ingestor
from ledger.signing import Signer
from ledger.storage.database import Database, DatabaseUrl
from ledger.trust.keyring import KeyRecord, Keyring
from projections.projector import Projector
from tests.federation.peers import T0, Peer

World = tuple[Ingestor, Projector, LedgerStore, Peer, Peer, Signer]


@pytest.fixture
def world(tmp_path: Path) -> World:
    mi_key, tx_key = Signer.generate(), Signer.generate()
    keyring = (Keyring().with_key(KeyRecord(association="MI", public_key=mi_key.public_key,
                                             valid_from=T0))
               .with_key(KeyRecord(association="TX", public_key=tx_key.public_key,
                                   valid_from=T0)))
    db = Database(DatabaseUrl.parse(f"sqlite:///{tmp_path}/ledger.sqlite"))
    store = LedgerStore(db)
    ingestor = Ingestor(store, db, keyring, own_association="AK")
    projector = Projector(Database(DatabaseUrl.parse(f"sqlite:///{tmp_path}/proj.sqlite")))
    return ingestor, projector, store, Peer("MI", mi_key), Peer("TX", tx_key), tx_key


def _ingest(ingestor: Ingestor, projector: Projector, store: LedgerStore,
            *entries: LedgerEntry) -> tuple[int, int, int]:
    result = ingestor.ingest([e.wire for e in entries], source="test", now=T0)
    projector.catch_up(store)
    return result.stored, result.quarantined, result.forks


def test_valid_entries_are_stored_and_projected(world: World) -> None:
    ingestor, projector, store, mi, _, _ = world
    entries = [mi.append() for _ in range(3)]
    assert _ingest(ingestor, projector, store, *entries) == (3, 0, 0)
    assert len(projector.roster("MI")) == 3


def test_compromised_node_publishing_for_another_association(world: World) -> None:
    ingestor, projector, store, mi, _, tx_key = world
    forged = mi.entry(signer=tx_key)  # TX's key signing an entry that claims to be MI's
    assert _ingest(ingestor, projector, store, forged) == (0, 1, 0)
    assert projector.roster() == []
    assert "may not sign for MI" in ingestor.quarantined()[0].reason


def test_bad_signature(world: World) -> None:
    ingestor, projector, store, mi, _, _ = world
    good = mi.entry()
    signed = msgspec.msgpack.decode(good.wire)
    signed["signature"] = bytes(64)
    bad = LedgerEntry(body=good.body, wire=encode(signed), entry_hash=good.entry_hash)
    assert _ingest(ingestor, projector, store, bad) == (0, 1, 0)
    assert projector.roster() == []


def test_key_used_outside_its_validity_window(world: World) -> None:
    ingestor, projector, store, mi, _, _ = world
    early = mi.entry(at=T0 - dt.timedelta(days=1))  # before the key's valid_from
    assert _ingest(ingestor, projector, store, early) == (0, 1, 0)
    assert "not valid" in ingestor.quarantined()[0].reason


def test_revoked_key(tmp_path: Path) -> None:
    key = Signer.generate()
    revoked_at = T0 + dt.timedelta(days=10)
    keyring = Keyring(keys=(KeyRecord(association="MI", public_key=key.public_key,
                                      valid_from=T0, valid_until=revoked_at),))
    db = Database(DatabaseUrl.parse(f"sqlite:///{tmp_path}/l.sqlite"))
    store = LedgerStore(db)
    ingestor = Ingestor(store, db, keyring, own_association="AK")
    mi = Peer("MI", key)
    before = mi.append(at=T0 + dt.timedelta(days=1))
    after = mi.append(at=revoked_at + dt.timedelta(seconds=1))
    result = ingestor.ingest([before.wire, after.wire], source="test", now=T0)
    assert (result.stored, result.quarantined) == (1, 1)


def test_replayed_old_entry_is_a_harmless_duplicate(world: World) -> None:
    ingestor, projector, store, mi, _, _ = world
    entries = [mi.append() for _ in range(3)]
    _ingest(ingestor, projector, store, *entries)
    digest = projector.digest()
    result = ingestor.ingest([entries[0].wire, entries[1].wire], source="replay", now=T0)
    assert (result.stored, result.duplicates, result.forks) == (0, 2, 0)
    projector.catch_up(store)
    assert projector.digest() == digest


def test_skipped_seq_is_a_gap_not_a_store(world: World) -> None:
    ingestor, _, store, mi, _, _ = world
    first = mi.append()
    mi.append()
    third = mi.append()
    result = ingestor.ingest([first.wire, third.wire], source="test", now=T0)
    assert result.stored == 1
    assert [(g.association, g.first, g.last) for g in result.gaps] == [("MI", 2, 2)]
    assert result.waiting == [third.wire]
    assert store.head("MI") == (1, first.entry_hash)


def test_fork_keeps_both_and_flags_the_association(world: World) -> None:
    ingestor, projector, store, mi, _, _ = world
    entries = [mi.append() for _ in range(2)]
    _ingest(ingestor, projector, store, *entries)
    other = mi.entry(seq=2, name="Rewritten")  # same seq, validly signed, different content
    assert _ingest(ingestor, projector, store, other)[2] == 1
    assert ingestor.forked() == {"MI": 1}
    assert store.entry_hash("MI", 2) == entries[1].entry_hash  # the first stays the record
    assert all(r.family_name != "Rewritten" for r in projector.roster())


def test_entry_on_another_history_is_a_fork(world: World) -> None:
    ingestor, projector, store, mi, _, _ = world
    _ingest(ingestor, projector, store, mi.append())
    stray = mi.entry(seq=2, prev=b"\x01" * 32)
    stored, quarantined, forks = _ingest(ingestor, projector, store, stray)
    assert (stored, quarantined, forks) == (0, 1, 1)


def test_someone_else_signing_our_ledger_is_a_fork(world: World) -> None:
    ingestor, projector, store, _, _, _ = world
    ak_key = Signer.generate()
    ingestor.keys = Keyring(keys=(KeyRecord(association="AK", public_key=ak_key.public_key,
                                            valid_from=T0),))
    ak = Peer("AK", ak_key)
    assert _ingest(ingestor, projector, store, ak.append())[2] == 1
    assert store.head("AK") is None
