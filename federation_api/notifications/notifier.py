"""The notifier: turns status changes in any association's ledger into change records and
webhook outbox rows for the employers subscribed to them.

It is a consumer of the ledger of its own, with its own tracking position per association,
kept in the node database: the change rows, the outbox rows they create and the new position
commit in one transaction, so a crash repeats a whole batch or nothing, and a change is
recorded once (a unique key on (association, seq, endorsement) backs that up). It runs after
the projections and never passes them: it reads the status-history rows that the projector
wrote for each entry, so "what changed" is decided by the projection rules alone (this module
does not re-implement them), and entries that a projection skipped as faults notify nobody.

Only endorsements that someone subscribes to produce change rows: the feed and the webhooks
serve subscribers, and a change before a subscription is not news to that subscriber.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import msgspec

from federation_api.clock import now
from federation_api.notifications import employer_tables
from federation_api.notifications.change_feed import (
    CHANGE_COLUMNS,
    KIND_OF_EVENT,
    Change,
    ChangeKind,
    delivery_id,
)
from federation_api.notifications.subscriptions import select_in
from federation_api.notifications.webhooks import LIVE_EMPLOYER
from ledger.chain.store import LedgerStore
from ledger.codec import decode_payload, decode_stored
from ledger.storage.database import Cursor, Database
from projections.queries import ProjectionReader
from projections.rows import HistoryRow, RosterRow
from projections.transitions import ENDORSEMENT_EVENTS, GRANTED, RECOGNIZED

BATCH = 1000  # entries per transaction


def _record(change: Change) -> tuple[Any, ...]:
    return tuple(msgspec.to_builtins(getattr(change, c)) for c in CHANGE_COLUMNS)


class _Entry(msgspec.Struct, frozen=True):
    seq: int
    event_type: str
    aggregate_id: str
    payload: dict[str, Any]
    recorded_at: dt.datetime


class Notifier:
    """Follows every projected ledger and records changes for subscribers, exactly once."""

    def __init__(self, db: Database, projections: ProjectionReader, ledger: LedgerStore,
                 *, batch: int = BATCH) -> None:
        self.db = db
        self.projections = projections
        self.ledger = ledger
        self.batch = batch
        self._lock = threading.RLock()  # one pass at a time in this process
        employer_tables.create(db)

    def positions(self) -> dict[str, int]:
        """Last seq of each association the notifier has processed."""
        return {str(a): int(s) for a, s in self.db.query(
            "SELECT association, seq FROM notifier_tracking")}

    @contextlib.contextmanager
    def subscribing(self) -> Iterator[None]:
        """Hold the notifier while subscriptions are added, after catching up first: what
        happened before a subscription is not news to it, and no pass runs in between."""
        with self._lock:
            self.catch_up()
            yield

    def catch_up(self) -> int:
        """Process every projected entry after the tracked positions; return changes recorded."""
        with self._lock:
            recorded = 0
            tracked = self.positions()
            projected_positions = self.projections.positions()
            if not self._anyone_subscribed():
                # Nothing can be recorded: move every position up without reading entries
                # (a node with a large replica and no employers pays nothing).
                self._advance(projected_positions)
                return 0
            for association, projected in sorted(projected_positions.items()):
                while tracked.get(association, 0) < projected:
                    first = tracked.get(association, 0) + 1
                    last = min(projected, first + self.batch - 1)
                    recorded += self._process(association, first, last, tracked)
                    tracked[association] = last
            return recorded

    def _anyone_subscribed(self) -> bool:
        return bool(self.db.query("SELECT 1 FROM employer_subscriptions LIMIT 1"))

    def _advance(self, positions: dict[str, int]) -> None:
        tracked = self.positions()
        behind = {a: s for a, s in positions.items() if s > tracked.get(a, 0)}
        if not behind:
            return
        with self.db.transaction() as cur:
            for association, seq in sorted(behind.items()):
                position = _lock_position(cur, self.db.dialect, association)
                if seq > position:
                    cur.execute("UPDATE notifier_tracking SET seq = ? WHERE association = ?",
                                (seq, association))

    def _process(self, association: str, first: int, last: int,
                 tracked: dict[str, int]) -> int:
        entries = self._entries(association, first, last)
        touched = self._touched(entries)
        ids = sorted({e for found in touched.values() for e in found})
        with self.db.transaction(read_only=True) as cur:
            subscribed = {r[0] for r in select_in(
                cur, "SELECT DISTINCT endorsement_id FROM employer_subscriptions "
                     "WHERE endorsement_id IN ({})", (), ids)}
        changes = self._changes(association, entries, touched, subscribed, tracked) \
            if subscribed else []
        with self.db.transaction() as cur:
            position = _lock_position(cur, self.db.dialect, association)
            if position >= last:
                return 0  # another pass got here first
            fresh = [c for c in changes if c.seq > position]
            recorded = _insert(cur, association, first, last, fresh)
            cur.execute("UPDATE notifier_tracking SET seq = ? WHERE association = ?",
                        (last, association))
        return recorded

    def _entries(self, association: str, first: int, last: int) -> list[_Entry]:
        """The endorsement entries in first..last that the projections applied (not faults)."""
        faults = self.projections.fault_seqs(association, first, last)
        entries = []
        for wire in self.ledger.wires(association, first, last):
            body = decode_stored(wire)
            if body.event_type in ENDORSEMENT_EVENTS and body.seq not in faults:
                entries.append(_Entry(seq=body.seq, event_type=body.event_type,
                                      aggregate_id=body.aggregate_id,
                                      payload=decode_payload(body),
                                      recorded_at=body.recorded_at))
        return entries

    def _touched(self, entries: list[_Entry]) -> dict[int, tuple[str, ...]]:
        """seq -> the endorsement ids each entry may change."""
        aggregates = sorted({e.aggregate_id for e in entries if e.event_type not in
                             (GRANTED, RECOGNIZED)})
        by_aggregate = self.projections.endorsement_ids_of(aggregates)
        touched: dict[int, tuple[str, ...]] = {}
        for e in entries:
            if e.event_type == GRANTED:
                touched[e.seq] = (str(e.payload.get("endorsement_id")),)
            elif e.event_type == RECOGNIZED:
                touched[e.seq] = (str(e.payload.get("endorsement_id")),
                                  str(e.payload.get("origin_endorsement_id")))
            elif e.aggregate_id in by_aggregate:
                touched[e.seq] = (by_aggregate[e.aggregate_id],)
        return touched

    def _changes(self, association: str, entries: list[_Entry],
                 touched: dict[int, tuple[str, ...]], subscribed: set[str],
                 tracked: dict[str, int]) -> list[Change]:
        """The changes of subscribed endorsements, in ledger order (change_id left 0)."""
        ids = sorted(subscribed)
        history, roster = self.projections.histories(ids)
        changes: list[Change] = []
        for entry in entries:
            for endorsement_id in touched.get(entry.seq, ()):
                if endorsement_id not in subscribed or endorsement_id not in roster:
                    continue
                rows = history.get(endorsement_id, [])
                before = _latest(r for r in rows if _seen(r, association, entry.seq, tracked))
                change = _change(association, entry, endorsement_id, rows, before,
                                 roster[endorsement_id])
                if change is not None:
                    changes.append(change)
        return changes


def _seen(row: HistoryRow, association: str, seq: int, tracked: dict[str, int]) -> bool:
    """Whether the notifier had processed this history row's entry before entry `seq`."""
    if row.association == association:
        return row.seq < seq
    return row.seq <= tracked.get(row.association, 0)


def _latest(rows: Any) -> HistoryRow | None:
    found: HistoryRow | None = None
    for row in rows:
        if found is None or row.order > found.order:
            found = row
    return found


def _change(association: str, entry: _Entry, endorsement_id: str, rows: list[HistoryRow],
            before: HistoryRow | None, roster: RosterRow) -> Change | None:
    kind = KIND_OF_EVENT[entry.event_type]
    if entry.event_type == RECOGNIZED and endorsement_id != entry.payload.get("endorsement_id"):
        kind = ChangeKind.TRANSFERRED  # the origin endorsement moved to a new home
    mine = [r for r in rows if r.association == association and r.seq == entry.seq]
    if mine:
        after = mine[0]
        effective_on = after.effective_on
    elif kind is ChangeKind.CORRECTED and before is not None:
        after = before  # a name-only correction: the status and dates stay as they were
        effective_on = entry.recorded_at.date()
    else:
        return None
    old = str(before.status) if before is not None else None
    if kind is ChangeKind.TRANSFERRED and old == "transferred":
        return None  # the origin recording a move that its recognition already announced
    return Change(change_id=0, association=association, seq=entry.seq,
                  endorsement_id=endorsement_id, kind=kind, old_status=old,
                  new_status=str(after.status), effective_on=effective_on,
                  valid_through=after.valid_through, family_name=roster.family_name,
                  given_name=roster.given_name, level=str(after.level),
                  designation=None if after.designation is None else str(after.designation),
                  endorsing_association=roster.association, recorded_at=entry.recorded_at)


def _lock_position(cur: Cursor, dialect: str, association: str) -> int:
    cur.execute("INSERT INTO notifier_tracking (association, seq) VALUES (?, 0) "
                "ON CONFLICT (association) DO NOTHING", (association,))
    lock = " FOR UPDATE" if dialect == "postgres" else ""
    row = cur.execute(f"SELECT seq FROM notifier_tracking WHERE association = ?{lock}",
                      (association,)).fetchone()
    assert row is not None
    return int(row[0])


def _insert(cur: Cursor, association: str, first: int, last: int,
            changes: list[Change]) -> int:
    """Insert change rows (skipping any already recorded) and their outbox rows."""
    if not changes:
        return 0
    existing = {(int(s), str(e)) for s, e in cur.execute(
        "SELECT seq, endorsement_id FROM status_changes WHERE association = ? AND seq "
        "BETWEEN ? AND ?", (association, first, last)).fetchall()}
    row = cur.execute("SELECT COALESCE(MAX(change_id), 0) FROM status_changes").fetchone()
    next_id = (int(row[0]) if row else 0) + 1
    ids = sorted({c.endorsement_id for c in changes})
    subscribers: dict[str, list[str]] = {}
    for employer, endorsement_id in select_in(
            cur, "SELECT s.employer, s.endorsement_id FROM employer_subscriptions s "
                 "JOIN employer_webhooks w ON w.employer = s.employer "
                 f"WHERE {LIVE_EMPLOYER.format(employer='s.employer')} "
                 "AND s.endorsement_id IN ({})", (), ids):
        subscribers.setdefault(str(endorsement_id), []).append(str(employer))
    rows: list[tuple[Any, ...]] = []
    outbox: list[tuple[Any, ...]] = []
    created = now()
    due = int(created.timestamp() * 1000)
    for change in changes:
        if (change.seq, change.endorsement_id) in existing:
            continue
        stored = msgspec.structs.replace(change, change_id=next_id)
        next_id += 1
        rows.append(_record(stored))
        for employer in sorted(subscribers.get(change.endorsement_id, ())):
            outbox.append((delivery_id(stored.change_id, employer), employer, stored.change_id,
                           "pending", 0, due, created.isoformat()))
    cur.executemany(f"INSERT INTO status_changes ({', '.join(CHANGE_COLUMNS)}) VALUES "
                    f"({', '.join('?' for _ in CHANGE_COLUMNS)})", rows)
    cur.executemany("INSERT INTO webhook_deliveries (delivery_id, employer, change_id, state, "
                    "attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)", outbox)
    return len(rows)
