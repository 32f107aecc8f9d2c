"""The ledger store and writer on real databases: a SQLite file and a PostgreSQL schema.

DESIGN invariants 1 (single writer, gapless signed chain), 2 (nothing acknowledged before its
entries commit), 6 (entries and tracking position commit together), 7 (no private evidence on
the ledger) and 8 (a ledger never shrinks or forks itself: the high-water mark, the event
store's count across notification-id gaps, tracking repair, recovery of own entries). Every
test runs on both backends.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from eventsourcing.persistence import IntegrityError

from domain.application import Application
from domain.endorsement import Endorsement
from domain.evidence import ApplicationEvidence, Degree, Rating, Training, WorkExperience
from domain.levels import DegreeKind, Level, RaterRole, WorkKind
from domain.lookup import NoEndorsements
from domain.policy import AssociationPolicy
from ledger.chain.commitments import CommitmentKey
from ledger.chain.entries import LedgerEntry, open_entry, seal, verify_chain
from ledger.chain.own_length import LengthRecord, Source, shortfall
from ledger.chain.store import LedgerStore
from ledger.chain.writer import FOLLOWER, LedgerWriter
from ledger.codec import (
    GENESIS_HASH,
    EntryBody,
    decode_body,
    decode_payload,
    decode_signed,
    encode,
    public_and_private,
)
from ledger.errors import ChainBroken, CheckpointError, LedgerBehind, SeqAlreadySigned, StorageError
from ledger.ingest import Ingestor
from ledger.service import AssociationService
from ledger.signing import Signer
from ledger.storage.database import Database, DatabaseUrl
from ledger.storage.event_store import PrivateEventStore
from ledger.transparency.log import LedgerLog
from ledger.trust.keyring import KeyRecord, Keyring
from tests.backends import Backend, OnPostgreSQL, OnSQLite

AK, MI = "AK", "MI"
T0 = dt.datetime(2027, 2, 1, 9, 0, tzinfo=dt.UTC)
DAY = T0.date()
SIGNER = Signer.generate()
MI_SIGNER = Signer.generate()
KEYS = Keyring(keys=(
    KeyRecord(association=AK, public_key=SIGNER.public_key, valid_from=T0 - dt.timedelta(days=1)),
    KeyRecord(association=MI, public_key=MI_SIGNER.public_key,
              valid_from=T0 - dt.timedelta(days=1)),
))
SECRETS = ("Marine Biology of Cephalopods 8317", "Ottoline Quarrington-Vask",
           "Harbourview Family Clinic 5521", "Attachment Seminar 4471")


# -- backends ---------------------------------------------------------------------------------


@pytest.fixture
def db_url(backend: Backend, tmp_path: Path) -> Iterator[str]:
    """Where a node keeps its data: a SQLite file (ledger in a sibling file) or a PG schema."""
    (tmp_path / "node").mkdir()
    with backend.database_url(tmp_path / "node" / "events.sqlite") as url:
        assert url is not None
        yield url


class Node:
    """One association's stores and writer, opened afresh over `url` as a restart would."""

    def __init__(self, url: str, *, signer: Signer = SIGNER,
                 commitments: CommitmentKey | None = None, batch: int = 500) -> None:
        parsed = DatabaseUrl.parse(url)
        self.events = PrivateEventStore(env=parsed.eventsourcing_env())
        self.db = Database(parsed.with_file("ledger.sqlite"))
        self.store = LedgerStore(self.db)
        self.commitments = commitments or CommitmentKey(b"c" * 32)
        self.writer = LedgerWriter(association=AK, recorder=self.events.recorder,
                                   mapper=self.events.mapper, store=self.store, signer=signer,
                                   commitments=self.commitments, batch=batch)

    def stored_events(self) -> list[Any]:
        """Every domain event in the event store, in notification order."""
        notifications = self.events.recorder.select_notifications(start=None, limit=10_000)
        return [self.events.mapper.to_domain_event(n) for n in notifications]

    def entries(self) -> list[LedgerEntry]:
        """Every ledger entry of AK, verified."""
        return [open_entry(w, KEYS) for w in self.store.wires(AK)]

    def close(self) -> None:
        self.events.close()
        self.db.close()


@pytest.fixture
def open_node(db_url: str) -> Iterator[Any]:
    """Opens Nodes over the test's database and closes them all before it is dropped."""
    opened: list[Node] = []

    def open_(**kwargs: Any) -> Node:
        node = Node(db_url, **kwargs)
        opened.append(node)
        return node

    yield open_
    for node in opened:
        node.close()


@pytest.fixture
def ledger_db(db_url: str) -> Iterator[DatabaseUrl]:
    """The URL of the ledger database alone (for the store tests)."""
    yield DatabaseUrl.parse(db_url).with_file("ledger.sqlite")


@pytest.fixture
def store(ledger_db: DatabaseUrl) -> Iterator[LedgerStore]:
    db = Database(ledger_db)
    yield LedgerStore(db)
    db.close()


# -- entries built by hand ---------------------------------------------------------------------


def make_chain(n: int, association: str = AK, signer: Signer = SIGNER) -> list[LedgerEntry]:
    entries: list[LedgerEntry] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        entries.append(seal(_body(association, seq, prev, signer), signer))
        prev = entries[-1].entry_hash
    return entries


def _body(association: str, seq: int, prev: bytes, signer: Signer,
          reason: str = "moved") -> EntryBody:
    return EntryBody(association=association, seq=seq, prev_hash=prev,
                     recorded_at=T0 + dt.timedelta(minutes=seq),
                     event_type="ApplicationWithdrawn", schema_version=1,
                     aggregate_id=f"agg-{seq}", aggregate_version=1,
                     payload=encode({"reason": reason, "withdrawn_on": DAY}), commitment=b"",
                     key_id=signer.key_id)


CHAIN = make_chain(6)
MI_CHAIN = make_chain(3, MI, MI_SIGNER)


def contents(store: LedgerStore, follower: str = "f") -> tuple[list[bytes], Any, int]:
    return list(store.wires(AK)), store.head(AK), store.position(follower)


# -- the store ---------------------------------------------------------------------------------


FORK_3 = seal(_body(AK, 3, CHAIN[1].entry_hash, SIGNER, reason="other history"), SIGNER)
NOT_EXTENDING = {
    "gap_after_head": [CHAIN[3]],
    "repeat_of_head": [CHAIN[1]],
    "repeat_of_first": [CHAIN[0]],
    "good_entry_then_gap": [CHAIN[2], CHAIN[4]],
    "good_entry_then_repeat": [CHAIN[2], CHAIN[2]],
    "right_seq_wrong_prev_hash": [seal(_body(AK, 3, GENESIS_HASH, SIGNER), SIGNER)],
    "fork_then_successor_of_the_original": [FORK_3, CHAIN[3]],
    "good_batch_then_other_association_gap": [CHAIN[2], MI_CHAIN[1]],
}


# -- the writer over a real event store --------------------------------------------------------


def evidence() -> ApplicationEvidence:
    """Application evidence carrying distinctive private strings (SECRETS)."""
    field_of_study, rater_name, employer, training = SECRETS
    return ApplicationEvidence(
        degrees=(Degree(kind=DegreeKind.BACHELOR, field_of_study=field_of_study,
                        awarded_on=dt.date(2015, 6, 1)),),
        trainings=(Training(title=training, hours=3.5, completed_on=DAY),),
        work=(WorkExperience(kind=WorkKind.INFANT_FAMILY, employer=employer,
                             started_on=dt.date(2020, 1, 1), ended_on=dt.date(2021, 1, 1)),),
        ratings=(Rating(rater_id="rater-9", rater_name=rater_name, role=RaterRole.COLLEAGUE,
                        rated_on=DAY),))


def record_history(node: Node, step: int) -> int:
    """Save one application (started, two submissions) and one endorsement (granted,
    suspended); return how many events that stored."""
    now = T0 + dt.timedelta(hours=step)
    application = Application.start(
        application_id=uuid.uuid4(), association=AK, person_id=f"p-{step}", family_name="Doe",
        given_name="Jane", level=Level.IFS, designation=None, started_on=DAY, now=now)
    node.events.save(application)
    for minutes in (1, 2):
        application.submit_evidence(evidence(), NoEndorsements(), submitted_on=DAY,
                                    now=now + dt.timedelta(minutes=minutes))
    node.events.save(application)
    endorsement = Endorsement.grant(
        endorsement_id=f"AK-{step:08d}", association=AK, person_id=f"q-{step}",
        family_name="Roe", given_name="Rita", level=Level.IFA, designation=None,
        granted_on=DAY, application_id="legacy:x", policy=AssociationPolicy(),
        now=now + dt.timedelta(minutes=3))
    endorsement.suspend(effective_on=DAY, reason="committee decision",
                        now=now + dt.timedelta(minutes=4))
    node.events.save(endorsement)
    return 5


def assert_sealed_exactly_once(node: Node) -> None:
    """Entry k seals stored event k: every event once, in order, no gaps, chain verified."""
    events = node.stored_events()
    entries = node.entries()
    assert [e.seq for e in entries] == list(range(1, len(events) + 1))
    assert [(e.body.aggregate_id, e.body.aggregate_version) for e in entries] == [
        (str(ev.originator_id), ev.originator_version) for ev in events]
    assert verify_chain(node.store.wires(AK), KEYS) == len(events)
    assert node.store.position(FOLLOWER) == node.events.recorder.max_notification_id()


# -- a ledger never shrinks or forks itself (DESIGN invariant 8, issue 9) -----------------------


def execute(node: Node, *statements: str) -> None:
    """Run statements on the ledger database behind the node's back (an attacker's edit)."""
    with node.db.transaction() as cur:
        for statement in statements:
            cur.execute(statement)


def conflicting_save(node: Node) -> None:
    """A save that loses a version race: rolled back (on PostgreSQL it uses up a
    notification id, leaving a gap in the ids)."""
    application = Application.start(
        application_id=uuid.uuid4(), association=AK, person_id="p-race", family_name="Doe",
        given_name="Jane", level=Level.IFS, designation=None, started_on=DAY, now=T0)
    node.events.save(application)
    stale = node.events.repository.get(application.id)
    application.withdraw(withdrawn_on=DAY, reason="first", now=T0)
    node.events.save(application)
    stale.withdraw(withdrawn_on=DAY, reason="second", now=T0)
    with pytest.raises(IntegrityError):
        node.events.save(stale)


# -- getting own entries back: each must show it is the one this node signed ------------------


@pytest.fixture
def own(store: LedgerStore) -> tuple[LedgerStore, Ingestor, LedgerLog]:
    """AK's store holding CHAIN sealed (high-water mark 6) with checkpoints at 3 and 6."""
    log = LedgerLog(store, store.db)
    store.append_sealed(CHAIN[:3], follower=FOLLOWER, position=3)
    log.sign_checkpoint(AK, SIGNER, T0)
    store.append_sealed(CHAIN[3:], follower=FOLLOWER, position=6)
    log.sign_checkpoint(AK, SIGNER, T0)
    return store, Ingestor(store, store.db, KEYS, own_association=AK, log=log), log


def lose(store: LedgerStore, first: int) -> None:
    with store.db.transaction() as cur:
        cur.execute("DELETE FROM ledger_entries WHERE association = ? AND seq >= ?",
                    (AK, first))


def other_history(first: int, last: int) -> list[LedgerEntry]:
    """AK entries validly signed with AK's key, from seq `first` on, but not the ones sealed."""
    entries = []
    prev = CHAIN[first - 2].entry_hash
    for seq in range(first, last + 1):
        entries.append(seal(_body(AK, seq, prev, SIGNER, reason="rewritten"), SIGNER))
        prev = entries[-1].entry_hash
    return entries


HOSTILE = {
    # name: (lost from, what arrives, stored, why refused)
    "signed_by_another_key": (5, [seal(_body(AK, 5, CHAIN[3].entry_hash, MI_SIGNER),
                                       MI_SIGNER)], 0, "may not sign for AK"),
    "another_entry_at_the_high_water_seq": (6, other_history(6, 6), 0,
                                            "not the entry this node stored"),
    "a_history_a_checkpoint_contradicts": (2, other_history(2, 6), 0,
                                           "entries 2..3 do not give the root this node signed "
                                           "at size 3"),
    "entries_below_the_mark_without_the_entry_at_it": (4, CHAIN[3:5], 0,
                                                       "kept back until the entries up to seq 6"),
    "a_gap": (3, [CHAIN[3], CHAIN[4], CHAIN[5]], 0, "AK#3..3: not received"),
}


# -- the contract, and the backends it runs on ---------------------------------------------


class LedgerStoreContract:
    """The ledger store, the writer and the event store: one contract, on every backend."""

    def test_append_stores_entries_head_and_position(self, store: LedgerStore) -> None:
        assert store.head(AK) is None
        assert store.position("f") == 0
        store.append(CHAIN[:2], follower="f", position=10)
        assert store.head(AK) == (2, CHAIN[1].entry_hash)
        assert store.position("f") == 10
        store.append(CHAIN[2:4], follower="f", position=12)
        assert store.head(AK) == (4, CHAIN[3].entry_hash)
        assert store.position("f") == 12
        assert list(store.wires(AK)) == [e.wire for e in CHAIN[:4]]
        assert store.position("another follower") == 0

    @pytest.mark.parametrize("batch", NOT_EXTENDING.values(), ids=list(NOT_EXTENDING))
    def test_append_of_a_batch_not_extending_the_head_writes_nothing(self,
            store: LedgerStore, batch: list[LedgerEntry]) -> None:
        store.append(CHAIN[:2], follower="f", position=10)
        before = contents(store)
        with pytest.raises(ChainBroken):
            store.append(batch, follower="f", position=99)
        assert contents(store) == before
        assert store.head(MI) is None
        # The store is still usable and the chain continues where it was.
        store.append(CHAIN[2:], follower="f", position=11)
        assert verify_chain(store.wires(AK), KEYS) == len(CHAIN)

    def test_second_store_racing_on_the_same_ledger_cannot_fork_it(self,
            ledger_db: DatabaseUrl) -> None:
        first, second = Database(ledger_db), Database(ledger_db)
        try:
            a, b = LedgerStore(first), LedgerStore(second)
            a.append(CHAIN[:2], follower="f", position=2)
            assert b.head(AK) == (2, CHAIN[1].entry_hash)
            a.append(CHAIN[2:3], follower="f", position=3)
            # b still believes the head is 2 and seals its own entry 3 on top of it.
            with pytest.raises(ChainBroken):
                b.append([FORK_3], follower="f", position=3)
            assert list(b.wires(AK)) == [e.wire for e in CHAIN[:3]]
        finally:
            first.close()
            second.close()

    def test_entries_and_position_commit_together(self, store: LedgerStore) -> None:
        store.append(CHAIN[:1], follower="f", position=5)
        before = contents(store)
        # A NULL position fails in the tracking write, after the entries' INSERT in the same
        # transaction: the entries must roll back with it.
        with pytest.raises(StorageError):
            store.append(CHAIN[1:3], follower="f", position=None)  # type: ignore[arg-type]
        assert contents(store) == before
        with pytest.raises(StorageError):
            store.append(CHAIN[1:3], follower="new follower", position=None)  # type: ignore[arg-type]
        assert contents(store) == before
        assert store.position("new follower") == 0

    def test_entries_of_several_associations_keep_separate_chains(self, store: LedgerStore) -> None:
        store.append([CHAIN[0], MI_CHAIN[0], CHAIN[1], MI_CHAIN[1]], follower="f", position=4)
        assert store.head(AK) == (2, CHAIN[1].entry_hash)
        assert store.head(MI) == (2, MI_CHAIN[1].entry_hash)
        assert store.associations() == [AK, MI]
        assert list(store.wires(MI)) == [e.wire for e in MI_CHAIN[:2]]

    def test_wires_pages_across_batch_boundaries(self, store: LedgerStore) -> None:
        store.append(CHAIN, follower="f", position=6)
        store.append(MI_CHAIN, follower="g", position=3)
        wires = [e.wire for e in CHAIN]
        n = len(wires)
        for batch in range(1, n + 3):
            for first in range(1, n + 3):
                for last in (None, *range(0, n + 3)):
                    expected = wires[first - 1:n if last is None else max(last, 0)]
                    # Bounded, so that a paging bug that repeats a batch fails instead of hanging.
                    got = list(itertools.islice(store.wires(AK, first, last, batch=batch), n + 2))
                    assert got == expected, (batch, first, last)

    def test_writer_seals_each_stored_event_exactly_once(self, open_node: Any) -> None:
        node = open_node(batch=2)  # several writer batches per catch-up
        stored = record_history(node, 1) + record_history(node, 2)
        assert node.events.recorder.max_notification_id() == stored
        assert node.writer.catch_up() == stored
        assert node.writer.catch_up() == 0
        assert_sealed_exactly_once(node)
        added = record_history(node, 3)
        assert node.writer.catch_up() == added
        assert node.writer.catch_up() == 0
        assert_sealed_exactly_once(node)

    def test_new_writer_resumes_where_the_last_commit_left_off(self, open_node: Any,
                                                                tmp_path: Path) -> None:
        key_path = tmp_path / "keys" / "AK.pem"
        Signer.generate().save(key_path)  # the node's one key, kept in a file across restarts
        keys = KEYS.with_key(KeyRecord(association=AK, public_key=Signer.load(key_path).public_key,
                                       valid_from=T0 - dt.timedelta(hours=1)))
        first = open_node(signer=Signer.load(key_path), batch=3)
        record_history(first, 1)
        assert first.writer.catch_up() == 5
        # Events committed, then the process dies before sealing them.
        record_history(first, 2)
        first.close()

        second = open_node(signer=Signer.load(key_path), batch=3)
        assert second.store.head(AK) is not None
        assert second.store.head(AK)[0] == 5  # type: ignore[index]
        assert second.writer.catch_up() == 5
        assert second.writer.catch_up() == 0
        record_history(second, 3)
        assert second.writer.catch_up() == 5

        third = open_node(signer=Signer.load(key_path))
        assert third.writer.catch_up() == 0
        events = third.stored_events()
        wires = list(third.store.wires(AK))
        assert verify_chain(wires, keys) == len(events) == 15
        assert [(e.body.aggregate_id, e.body.aggregate_version)
                for e in (open_entry(w, keys) for w in wires)] == [
            (str(ev.originator_id), ev.originator_version) for ev in events]

    def test_private_evidence_never_reaches_the_ledger(self, open_node: Any) -> None:
        node = open_node()
        record_history(node, 1)
        node.writer.catch_up()
        events = node.stored_events()
        wires = list(node.store.wires(AK))
        assert len(wires) == len(events) == 5
        # The private store keeps the evidence ...
        submitted = [ev for ev in events if isinstance(ev, Application.EvidenceSubmitted)]
        assert len(submitted) == 2
        assert submitted[0].evidence.degrees[0].field_of_study == SECRETS[0]
        # ... and no byte of the ledger carries it, in the wire or inside any nested field.
        everything = b"".join(wires)
        for secret in SECRETS:
            for encoded in (secret.encode(), secret.encode("utf-16-le"), secret.lower().encode()):
                assert encoded not in everything, secret
        for wire, event in zip(wires, events, strict=True):
            body = decode_body(decode_signed(wire).body)
            fields = decode_payload(body)
            assert not set(fields) & type(event).PRIVATE_FIELDS
            if type(event).PRIVATE_FIELDS:
                # A salted commitment the node can open for an auditor: the salt is re-derived.
                _, private = public_and_private(event)
                assert private is not None
                assert len(body.commitment) == 32
                assert body.commitment == node.commitments.commit(
                    body.aggregate_id, body.aggregate_version, private)
            else:
                assert body.commitment == b""
        evidence_commitments = [decode_body(decode_signed(w).body).commitment
                                for w, event in zip(wires, events, strict=True)
                                if isinstance(event, Application.EvidenceSubmitted)]
        # The same evidence submitted twice commits differently (salted per event).
        assert len(evidence_commitments) == len(set(evidence_commitments)) == 2

    def test_service_acknowledges_a_command_only_after_its_entries_commit(self,
            open_node: Any) -> None:
        node = open_node()
        service = AssociationService(association=AK, events=node.events, writer=node.writer,
                                     lookup=NoEndorsements(), policy=AssociationPolicy())
        application_id = uuid.uuid4()
        service.start_application(application_id=application_id, person_id="p-1",
                                  family_name="Doe", given_name="Jane", level=Level.IFS,
                                  designation=None, started_on=DAY, now=T0)
        assert node.store.head(AK) is not None
        assert node.store.head(AK)[0] == 1  # type: ignore[index]
        service.submit_evidence(application_id, evidence(), submitted_on=DAY,
                                now=T0 + dt.timedelta(minutes=1))
        entries = node.entries()
        assert [e.body.event_type for e in entries] == ["ApplicationStarted",
                                                        "ApplicationEvidenceSubmitted"]
        assert msgspec.msgpack.decode(entries[0].body.payload)["family_name"] == "Doe"
        assert_sealed_exactly_once(node)

    def test_a_seq_signed_once_is_never_signed_again_even_after_its_row_is_deleted(self,
            open_node: Any) -> None:
        node = open_node()
        record_history(node, 1)
        assert node.writer.catch_up() == 5
        original = list(node.store.wires(AK))
        execute(node, f"DELETE FROM ledger_entries WHERE association = '{AK}' AND seq = 5",
                f"DELETE FROM ledger_tracking WHERE follower = '{FOLLOWER}'")
        # A writer that knows nothing else (its gate open, its tracking gone) still cannot sign
        # a second seq 5: the store refuses it in the sealing transaction.
        node = open_node()
        record_history(node, 2)
        with pytest.raises(SeqAlreadySigned, match="seq 5 was signed already"):
            node.writer.catch_up()
        assert list(node.store.wires(AK)) == original[:4]
        assert node.store.high_water(AK).seq == 5  # type: ignore[union-attr]

    def test_the_event_store_counts_sealed_events_across_notification_id_gaps(self,
            open_node: Any, db_url: str) -> None:
        node = open_node()
        conflicting_save(node)  # 2 events stored, a third rolled back
        record_history(node, 1)
        assert node.writer.catch_up() == 7
        ids = [n.id for n in node.events.recorder.select_notifications(start=None, limit=100)]
        if db_url.startswith("postgresql"):
            assert ids != list(range(1, 8)), ids  # the rolled-back save left a gap
        records, problem = node.writer.inspect(thorough=True)
        assert problem is None
        assert LengthRecord(Source.EVENT_STORE, 7) in records
        # Deleting the last entry and the high-water mark: the event store still says 7.
        execute(node, f"DELETE FROM ledger_entries WHERE association = '{AK}' AND seq = 7",
                f"DELETE FROM ledger_high_water WHERE association = '{AK}'")
        node = open_node()
        records, _ = node.writer.inspect()
        behind = shortfall(AK, 6, records)
        assert behind is not None
        assert str(behind) == (f"ledger {AK} ends at seq 6 but the event store holds 7 events "
                               f"the writer sealed; missing seqs 7..7")
        assert (behind.first, behind.last) == (7, 7)

    def test_a_lost_tracking_row_is_moved_over_sealed_events_not_resealed(self,
                                                                          open_node: Any) -> None:
        node = open_node(batch=2)
        record_history(node, 1)
        record_history(node, 2)
        node.writer.catch_up()
        original = list(node.store.wires(AK))
        execute(node, "DELETE FROM ledger_tracking", "DELETE FROM ledger_high_water")
        node = open_node(batch=2)
        assert node.writer.reconcile() is True
        assert node.store.position(FOLLOWER) == node.events.recorder.max_notification_id()
        assert node.writer.catch_up() == 0
        assert list(node.store.wires(AK)) == original
        assert node.writer.inspect(thorough=True) == (
            [LengthRecord(Source.HIGH_WATER, 10), LengthRecord(Source.WRITER, 10),
             LengthRecord(Source.EVENT_STORE, 10)], None)
        record_history(node, 3)
        assert node.writer.catch_up() == 5
        assert_sealed_exactly_once(node)

    def test_a_tracking_repair_never_sets_back_a_writer_that_moved_on(self, open_node: Any) -> None:
        node = open_node()
        record_history(node, 1)
        node.writer.catch_up()
        seen = (node.store.position(FOLLOWER), node.store.high_water(AK))
        other = open_node()  # e.g. `alliance serve`, while a CLI command repairs the tracking
        record_history(other, 2)
        other.writer.catch_up()
        assert node.store.set_writer_mark(AK, follower=FOLLOWER, position=seen[0], sealed_seq=5,
                                          unless_moved_from=seen) is False
        assert node.store.position(FOLLOWER) == other.events.recorder.max_notification_id()
        assert node.store.high_water(AK).sealed_seq == 10  # type: ignore[union-attr]

    def test_a_closed_gate_stops_sealing_before_anything_is_signed(self, open_node: Any) -> None:
        node = open_node()
        record_history(node, 1)
        node.writer.gate.judge(shortfall(AK, 0, [LengthRecord(Source.PEER, 9, MI)]))
        with pytest.raises(LedgerBehind, match=r"peer MI holds seq 9; missing seqs 1\.\.9"):
            node.writer.catch_up()
        assert node.store.head(AK) is None
        node.writer.gate.judge(None)
        assert node.writer.catch_up() == 5

    def test_recovered_own_entries_are_stored_when_they_are_the_ones_signed(self,
            own: tuple[LedgerStore, Ingestor, LedgerLog]) -> None:
        store, ingestor, log = own
        lose(store, 2)
        # In any order, with duplicates and another ledger's entries mixed in (a peer's export).
        wires = [e.wire for e in (CHAIN[5], MI_CHAIN[0], *CHAIN[:5], CHAIN[3])]
        result = ingestor.recover_own(wires, source="export:x", now=T0)
        assert (result.stored, result.duplicates, result.highest, result.refused) == (5, 1, 6, [])
        assert list(store.wires(AK)) == [e.wire for e in CHAIN]
        assert log.signed_root_mismatch(AK) is None
        assert store.head(MI) is None

    @pytest.mark.parametrize("case", HOSTILE.values(), ids=list(HOSTILE))
    def test_recovered_own_entries_that_are_not_the_ones_signed_are_refused(self,
            own: tuple[LedgerStore, Ingestor, LedgerLog], case: tuple[Any, ...]) -> None:
        store, ingestor, _ = own
        first, arriving, stored, why = case
        lose(store, first)
        before = list(store.wires(AK))
        result = ingestor.recover_own([e.wire for e in arriving], source="peer:XX", now=T0)
        assert result.stored == stored
        assert any(why in reason for reason in result.refused), result.refused
        assert list(store.wires(AK)) == before
        # The honest entries still come back afterwards.
        assert ingestor.recover_own([e.wire for e in CHAIN], source="peer:MI",
                                    now=T0).stored == len(CHAIN) - first + 1
        assert list(store.wires(AK)) == [e.wire for e in CHAIN]

    def test_a_hole_below_the_head_is_named_not_taken_for_a_fork(self,
            own: tuple[LedgerStore, Ingestor, LedgerLog]) -> None:
        store, ingestor, _ = own
        with store.db.transaction() as cur:
            cur.execute("DELETE FROM ledger_entries WHERE association = ? AND seq = 3", (AK,))
        result = ingestor.recover_own([e.wire for e in CHAIN], source="peer:MI", now=T0)
        assert result.stored == 0
        assert "AK#3: missing below the head" in result.refused[0], result.refused
        assert ingestor.forked() == {}

    def test_entries_beyond_everything_signed_here_are_taken_on_their_signature(self,
            own: tuple[LedgerStore, Ingestor, LedgerLog]) -> None:
        # A node restored from a backup (issue 13): peers hold entries it signed after it.
        store, ingestor, _ = own
        longer = [*CHAIN, *other_history(7, 8)]
        result = ingestor.recover_own([e.wire for e in longer[6:]], source="peer:MI", now=T0)
        assert (result.stored, result.refused) == (2, [])
        assert store.high_water(AK).seq == 8  # type: ignore[union-attr]
        assert store.high_water(AK).sealed_seq == 6  # type: ignore[union-attr]

    def test_a_rewritten_ledger_is_named_against_its_checkpoints(self,
            own: tuple[LedgerStore, Ingestor, LedgerLog]) -> None:
        store, _, _ = own
        lose(store, 5)
        store.append(other_history(5, 6), follower="attacker", position=0)
        log = LedgerLog(store, store.db)  # as after a restart (a running log caches its roots)
        assert log.signed_root_mismatch(AK) == (
            "entries 1..6 no longer give the root of the checkpoint signed at size 6 (the one at "
            "size 3 still holds): an entry in 4..6 was changed or replaced")
        with pytest.raises(CheckpointError, match="already signed with another root"):
            log.sign_checkpoint(AK, SIGNER, T0)


class TestLedgerStoreOnSQLite(LedgerStoreContract, OnSQLite):
    """The contract on SQLite files."""


class TestLedgerStoreOnPostgreSQL(LedgerStoreContract, OnPostgreSQL):
    """The contract on a real PostgreSQL (a fresh schema per test)."""
