"""A node as a witness, on real SQLite and PostgreSQL stores: pending, forks, rollbacks,
collecting.

Entries reach the witness through its real Ingestor (no NATS here); checkpoints are signed by
the origin node's real LedgerLog.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from federation_api.migrations.runner import migrate
from federation_api.node.root import Node
from federation_api.replication.checkpoint_gossip import RepublishGate
from federation_api.settings import Settings
from ledger.errors import CheckpointError
from ledger.signing import Signer
from ledger.storage.database import DatabaseUrl
from ledger.transparency.checkpoints import Checkpoint, add_cosignature, parse_body
from ledger.transparency.cosigners import origin_of, verified_cosigners, witness_name
from ledger.transparency.log import LedgerLog
from ledger.transparency.merkle import leaf_hash
from ledger.transparency.merkle import root as merkle_root
from ledger.transparency.notes import parse_note, sign_note
from ledger.transparency.witness import (
    MAX_REFUSALS,
    UNKNOWN_ORIGIN,
    Cosigned,
    Ignored,
    Pending,
    Refused,
)
from ledger.trust.registry import Action, apply_entry, propose, wire_of
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.federation.alliance import Alliance, import_professionals

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@dataclass
class _PostgresAlliance(Alliance):
    """The same Alliance with each node's stores in a PostgreSQL schema of its own."""

    urls: dict[str, str] = field(default_factory=dict)

    def settings(self, association: str) -> Settings:
        return replace(super().settings(association), database_url=self.urls[association])

    def open(self, association: str) -> Node:
        # The data directories were initialised on SQLite; a PostgreSQL schema is migrated
        # by its owner before a node may open it.
        migrate(DatabaseUrl.parse(self.urls[association]))
        return super().open(association)


@pytest.fixture
def alliance(backend: Backend, tmp_path: Path) -> Iterator[Alliance]:
    ids = ("AK", "MI", "TX")
    with contextlib.ExitStack() as schemas:
        urls = {a: schemas.enter_context(backend.database_url()) for a in ids}
        alliance: Alliance = (Alliance(tmp_path, ids) if backend.name == "sqlite" else
                              _PostgresAlliance(tmp_path, ids, urls=urls))
        for association in ids:
            alliance.open(association)
        yield alliance
        for association in list(alliance.nodes):
            alliance.close(association)


def _replicate(origin: Node, to: Node, last: int) -> None:
    result = to.ingestor.ingest(list(origin.ledger.wires(origin.association, 1, last)),
                                source="test", now=NOW)
    assert result.quarantined == 0


def _forge(origin: Node, size: int, root: bytes) -> bytes:
    name = origin_of(origin.association)
    return sign_note(Checkpoint(name, size, root).body(), name, origin.signer)


# -- the contract, and the backends it runs on ---------------------------------------------


class WitnessStateContract:
    """The witness's state, pending and refused checkpoints: one contract, on every backend."""

    def test_pending_until_the_replica_holds_the_entries(self, alliance: Alliance) -> None:
        ak, mi = alliance.nodes["AK"], alliance.nodes["MI"]
        import_professionals(ak, 5, prefix="A")
        note = ak.log.sign_checkpoint("AK", ak.signer, NOW)
        _replicate(ak, mi, 3)
        assert mi.witness.receive(note, NOW) == Pending("AK", 5)
        assert mi.witness.pending("AK") == [5]
        assert mi.witness.retry_pending(NOW) == []  # still short
        _replicate(ak, mi, 5)
        [outcome] = mi.witness.retry_pending(NOW)
        assert isinstance(outcome, Cosigned) and outcome.new
        assert mi.witness.pending("AK") == []
        state = mi.witness.last_cosigned("AK")
        assert state is not None and state.size == 5
        assert mi.registry is not None
        assert verified_cosigners(outcome.note, mi.registry) == {"MI": int(NOW.timestamp())}
        assert mi.log.latest_checkpoint("AK") == outcome.note

        # An older checkpoint arriving late is no offence and is not cosigned.
        import_professionals(ak, 2, prefix="B")
        newer = ak.log.sign_checkpoint("AK", ak.signer, NOW)
        _replicate(ak, mi, 7)
        assert isinstance(mi.witness.receive(newer, NOW), Cosigned)
        assert isinstance(mi.witness.receive(note, NOW), Ignored)
        assert mi.witness.refusals() == [] and mi.forked_associations() == {}

    def test_two_signed_roots_for_one_size_are_a_fork(self, alliance: Alliance) -> None:
        ak, mi = alliance.nodes["AK"], alliance.nodes["MI"]
        import_professionals(ak, 4, prefix="A")
        real = ak.log.sign_checkpoint("AK", ak.signer, NOW)
        forged = _forge(ak, 4, bytes(32))
        # Both ahead of MI's replica: the second contradicts the first before any entry arrives.
        assert mi.witness.receive(real, NOW) == Pending("AK", 4)
        refused = mi.witness.receive(forged, NOW)
        assert isinstance(refused, Refused) and refused.fork and refused.reason == "fork"
        assert mi.forked_associations() == {"AK": 1}
        [record] = mi.witness.refusals("AK")
        assert (record.note, record.other_note) == (forged, real)
        # The entries arrive: the real checkpoint matches the replica and is cosigned.
        _replicate(ak, mi, 4)
        [outcome] = mi.witness.retry_pending(NOW)
        assert isinstance(outcome, Cosigned)

        # TX already holds the entries: the forged root differs from its replica's.
        tx = alliance.nodes["TX"]
        _replicate(ak, tx, 4)
        refused = tx.witness.receive(forged, NOW)
        assert isinstance(refused, Refused) and refused.fork
        assert tx.witness.refusals("AK")[0].other_root == tx.log.root("AK", 4)[1]
        assert tx.witness.resolve_forks("AK", "key compromise handled", NOW) == 1
        assert tx.forked_associations() == {}

        # AK itself sees its key sign what its ledger does not give: it flags itself.
        assert isinstance(ak.witness.receive(real, NOW), Ignored)
        refused = ak.witness.receive(forged, NOW)
        assert isinstance(refused, Refused) and refused.fork
        assert ak.forked_associations() == {"AK": 1}
        ahead = _forge(ak, 99, bytes(32))
        assert isinstance(ak.witness.receive(ahead, NOW), Refused)
        stranger = sign_note(Checkpoint(origin_of("AK"), 99, bytes(32)).body(), origin_of("AK"),
                             Signer.generate())
        assert isinstance(ak.witness.receive(stranger, NOW), Ignored)  # not our key: noise

    def test_refusals_that_are_not_forks(self, alliance: Alliance) -> None:
        ak, mi = alliance.nodes["AK"], alliance.nodes["MI"]
        import_professionals(ak, 2, prefix="A")
        _replicate(ak, mi, 2)
        body = Checkpoint(origin_of("AK"), 2, ak.log.root("AK")[1]).body()
        wrong_key = sign_note(body, origin_of("AK"), Signer.generate())
        outsider = sign_note(Checkpoint("alliance-ledger/ZZ", 2, bytes(32)).body(),
                             "alliance-ledger/ZZ", Signer.generate())
        for note, reason in ((wrong_key, "bad-signature"), (outsider, "wrong-origin"),
                             (b"garbage", "malformed")):
            outcome = mi.witness.receive(note, NOW)
            assert isinstance(outcome, Refused)
            assert (outcome.reason, outcome.fork) == (reason, False)
        assert mi.forked_associations() == {}
        assert isinstance(mi.witness.receive(ak.log.sign_checkpoint("AK", ak.signer, NOW), NOW),
                          Cosigned)
        assert isinstance(ak.witness.receive(ak.log.sign_checkpoint("AK", ak.signer, NOW), NOW),
                          Ignored)  # a node does not witness itself

    def test_collected_cosignatures_follow_the_registry(self, alliance: Alliance) -> None:
        ak, mi, tx = (alliance.nodes[a] for a in ("AK", "MI", "TX"))
        import_professionals(ak, 3, prefix="A")
        note = ak.log.sign_checkpoint("AK", ak.signer, NOW)
        for witness in (mi, tx):
            _replicate(ak, witness, 3)
        by_mi = mi.witness.receive(note, NOW)
        by_tx = tx.witness.receive(note, NOW)
        assert isinstance(by_mi, Cosigned) and isinstance(by_tx, Cosigned)
        assert ak.log.latest_witnessed_checkpoint("AK") is None  # quorum 2, none collected yet
        assert ak.witness.collect(by_mi.note, NOW) == 1
        assert ak.witness.collect(by_mi.note, NOW) == 0  # idempotent
        assert ak.log.latest_witnessed_checkpoint("AK") is None
        assert ak.witness.collect(by_tx.note, NOW) == 1
        witnessed = ak.log.latest_witnessed_checkpoint("AK")
        assert witnessed is not None and witnessed == ak.log.latest_checkpoint("AK")
        assert parse_body(parse_note(witnessed).text).size == 3
        assert ak.registry is not None
        assert set(verified_cosigners(witnessed, ak.registry)) == {"MI", "TX"}

        # A line with TX's name under another key is ignored, as is the origin cosigning itself.
        bad = add_cosignature(note, witness_name("TX"), Signer.generate(), int(NOW.timestamp()) + 1)
        own = add_cosignature(note, witness_name("AK"), ak.signer, int(NOW.timestamp()))
        assert ak.witness.collect(bad, NOW) == 0 and ak.witness.collect(own, NOW) == 0
        assert ak.witness.ignored_cosignatures == 2

        # The registry later says TX's key was never to be trusted from before the cosignature:
        # its stored cosignature stops counting, and the checkpoint is no longer witnessed.
        registry = ak.registry
        tx_key = registry.keyring.current("TX")
        assert tx_key is not None
        body = registry.next_body(Action.REVOKE_KEY, issued_at=NOW, association="TX",
                                  key_id=tx_key.key_id, effective_at=NOW - dt.timedelta(days=1))
        ak.registry = apply_entry(registry, wire_of(propose(body).with_signature(
            alliance.governance)))
        latest = ak.log.latest_checkpoint("AK")
        assert latest is not None and b"alliance-witness/TX" not in latest
        assert ak.log.latest_witnessed_checkpoint("AK") is None

    def test_witness_state_and_cosignature_are_kept_in_the_database(
            self, alliance: Alliance) -> None:
        ak, mi = alliance.nodes["AK"], alliance.nodes["MI"]
        import_professionals(ak, 2, prefix="A")
        _replicate(ak, mi, 2)
        note = ak.log.sign_checkpoint("AK", ak.signer, NOW)
        first = mi.witness.receive(note, NOW)
        assert isinstance(first, Cosigned) and first.new
        alliance.close("MI")
        mi = alliance.open("MI")
        again = mi.witness.receive(note, NOW + dt.timedelta(hours=1))
        assert again == Cosigned("AK", first.note, new=False)  # not signed a second time

    def test_the_log_never_signs_over_a_rewritten_prefix(self, alliance: Alliance) -> None:
        ak = alliance.nodes["AK"]
        import_professionals(ak, 3, prefix="A")
        signed = parse_body(parse_note(ak.log.sign_checkpoint("AK", ak.signer, NOW)).text)
        import_professionals(ak, 1, prefix="B")
        grown = parse_body(parse_note(ak.log.sign_checkpoint("AK", ak.signer, NOW)).text)
        assert (signed.size, grown.size) == (3, 4)
        # Someone edits entry 2 in the database; after a restart the log must notice.
        with ak.ledger.db.transaction() as cur:
            cur.execute("UPDATE ledger_entries SET wire = ? WHERE association = 'AK' AND seq = 2",
                        (b"rewritten",))
        import_professionals(ak, 1, prefix="C")
        restarted = LedgerLog(ak.ledger, ak.ledger.db)
        with pytest.raises(CheckpointError, match="not consistent"):
            restarted.sign_checkpoint("AK", ak.signer, NOW)

    def test_roots_at_any_size_match_a_fresh_computation(self, alliance: Alliance) -> None:
        ak, mi = alliance.nodes["AK"], alliance.nodes["MI"]
        import_professionals(ak, 9, prefix="A")
        expected = {size: merkle_root([leaf_hash(w) for w in ak.ledger.wires("AK", 1, size)])
                    for size in range(10)}
        log = LedgerLog(mi.ledger, mi.ledger.db)
        log.want_root("AK", 4)
        log.want_root("AK", 7)
        _replicate(ak, mi, 6)
        assert log.root("AK") == (6, expected[6])  # passes 4 on the way, remembers it
        assert log.root_at("AK", 4) == expected[4]
        assert log.root_at("AK", 2) == expected[2]  # passed unannounced: recomputed
        _replicate(ak, mi, 9)
        assert log.root_at("AK", 8) == expected[8]  # stops at the wanted 7 on the way
        assert [log.root_at("AK", n) for n in range(10)] == [expected[n] for n in range(10)]
        assert log.root("AK") == (9, expected[9])
        with pytest.raises(ValueError, match="entries"):
            log.root_at("AK", 10)

    def test_refusals_other_than_forks_are_bounded(self, alliance: Alliance,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr("ledger.transparency.witness.MAX_REFUSALS", 3)
        ak, mi = alliance.nodes["AK"], alliance.nodes["MI"]
        import_professionals(ak, 2, prefix="A")
        _replicate(ak, mi, 2)
        assert isinstance(mi.witness.receive(_forge(ak, 2, bytes(32)), NOW), Refused)  # a fork
        for i in range(6):
            stranger = sign_note(Checkpoint(origin_of("AK"), i, bytes(32)).body(), origin_of("AK"),
                                 Signer.generate())
            mi.witness.receive(stranger, NOW + dt.timedelta(seconds=i))
        kept = mi.witness.refusals("AK")
        assert [r.reason for r in kept if not r.fork] == ["bad-signature"] * 3
        assert [r.size for r in kept if not r.fork] == [5, 4, 3]  # the latest
        assert len([r for r in kept if r.fork]) == 1

    def test_refusals_of_invented_origins_share_one_bound(self, alliance: Alliance) -> None:
        """A peer can invent origin names without end; their refusals are filed in one bucket,
        so MAX_REFUSALS caps them all, and fork evidence of a member is untouched."""
        ak, mi = alliance.nodes["AK"], alliance.nodes["MI"]
        import_professionals(ak, 2, prefix="A")
        _replicate(ak, mi, 2)
        assert isinstance(mi.witness.receive(_forge(ak, 2, bytes(32)), NOW), Refused)  # a fork
        stranger = Signer.generate()
        for i in range(3000):
            name = (f"alliance-ledger/Q{i:05d}" if i % 3 else f"example.org/log-{i}")
            note = sign_note(Checkpoint(name, 1, bytes(32)).body(), name, stranger)
            outcome = mi.witness.receive(note, NOW)
            assert isinstance(outcome, Refused) and outcome.reason == "wrong-origin"
        kept = mi.witness.refusals(limit=1_000_000)
        assert len(kept) <= MAX_REFUSALS + 1
        assert {r.association for r in kept if not r.fork} == {UNKNOWN_ORIGIN}
        assert [(r.association, r.fork) for r in kept if r.fork] == [("AK", True)]
        assert mi.forked_associations() == {"AK": 1}

    def test_a_replayed_note_republishes_the_cosignature_once_per_interval(self,
            alliance: Alliance) -> None:
        """Every copy of a checkpoint already cosigned gives the stored cosignature back; the
        gossip's gate lets it out again at most once per checkpoint interval and origin."""
        ak, mi = alliance.nodes["AK"], alliance.nodes["MI"]
        import_professionals(ak, 2, prefix="A")
        _replicate(ak, mi, 2)
        note = ak.log.sign_checkpoint("AK", ak.signer, NOW)
        gate = RepublishGate(interval=30.0)
        published: list[Cosigned] = []
        for i in range(500):  # a peer replaying one note, a millisecond apart
            outcome = mi.witness.receive(note, NOW)
            assert isinstance(outcome, Cosigned) and outcome.new == (i == 0)
            if gate.admit(outcome, 1000.0 + i * 0.001):
                published.append(outcome)
        assert [p.new for p in published] == [True]  # the fresh cosignature, no re-publication
        again = mi.witness.receive(note, NOW)
        assert isinstance(again, Cosigned) and not again.new
        assert gate.admit(again, 1030.0)  # one interval later, once more (for a lost message)
        assert not gate.admit(again, 1030.5)
        import_professionals(ak, 1, prefix="B")
        _replicate(ak, mi, 3)
        newer = mi.witness.receive(ak.log.sign_checkpoint("AK", ak.signer, NOW), NOW)
        assert isinstance(newer, Cosigned) and newer.new
        assert gate.admit(newer, 1030.6)  # a new cosignature always goes out


class TestWitnessStateOnSQLite(WitnessStateContract, OnSQLite):
    """The contract on SQLite files."""


class TestWitnessStateOnPostgreSQL(WitnessStateContract, OnPostgreSQL):
    """The contract on a real PostgreSQL (a fresh schema per test)."""
