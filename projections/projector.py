"""The projector: applies ledger entries to the read models, exactly once.

Entries apply in batches, one transaction per batch of one association: the view rows and the
association's tracking position commit together (DESIGN invariant 6), so a crash repeats a
whole batch or nothing, and an entry at or below the tracked seq is skipped (re-delivery is
harmless). Within a batch the touched rows are loaded with a few IN queries, changed in memory
by the pure rules of `projections.transitions`, and written back with executemany: one
statement per table per batch rather than a read and a write per entry. The board report's
counts (`projections.report_counts`) move in the same transaction, from the rows as loaded
and as written, so they can never disagree with the rows they count.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from domain.credentials import StatusPurpose
from ledger.chain.store import LedgerStore
from ledger.storage.database import Cursor, Database
from projections.credential_rules import (
    CREDENTIAL_EVENTS,
    CREDENTIAL_ISSUED,
    INDEX_ASSIGNED,
    CredentialBatch,
    StatusListRow,
)
from projections.decoded_entries import DecodedEntry, decode_entry
from projections.errors import ProjectionError, ProjectionGap
from projections.queries import ProjectionReader
from projections.report_counts import CountChanges
from projections.rows import HistoryRow, RosterRow
from projections.tables import (
    APPLICATION_COLUMNS,
    CREDENTIAL_COLUMNS,
    DDL,
    FAULT_COLUMNS,
    HISTORY_COLUMNS,
    KEPT_COUNT_TABLES,
    LIST_INDEX_COLUMNS,
    LIST_VERSION_COLUMNS,
    MASTERS_COLUMNS,
    REVIEWER_COLUMNS,
    ROSTER_COLUMNS,
    SECONDARY_INDEXES,
    SITTING_COLUMNS,
    STATUS_LIST_COLUMNS,
    TABLES,
    application_record,
    application_row,
    history_record,
    history_row,
    insert,
    reviewer_records,
    roster_record,
    roster_row,
    select,
    select_in,
    sitting_records,
    upsert,
    with_parts,
)
from projections.transitions import (
    APPLICATION_EVENTS,
    CORRECTED,
    CREATED,
    ENDORSEMENT_EVENTS,
    EndorsementView,
    ViewBatch,
)

REBUILD_BATCH = 20_000  # entries per transaction when replaying from scratch (tens of MB)
BULK_CACHE_KIB = 64 * 1024  # SQLite page cache while replaying in bulk (2 MiB by default)


class Projector(ProjectionReader):
    """The single writer of the projection tables of one node."""

    def __init__(self, db: Database, *, batch_size: int = 2000,
                 strict_associations: frozenset[str] = frozenset()) -> None:
        """`strict_associations` (the node's own) fail loudly on an entry that breaks a
        projection rule; any other association's such entry is recorded as a fault and
        skipped, identically on every node, so one peer's bad entry cannot stop projection."""
        super().__init__(db)
        self.strict = strict_associations
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size

    def catch_up(self, store: LedgerStore, *, batch_size: int | None = None) -> int:
        """Apply every stored entry after each association's tracked seq; return the count."""
        size = batch_size or self.batch_size
        applied = 0
        positions = self.positions()
        for association in store.associations():
            batch: list[bytes] = []
            for wire in store.wires(association, first=positions.get(association, 0) + 1,
                                    batch=size):
                batch.append(wire)
                if len(batch) >= size:
                    applied += self.apply_wires(batch, batch_size=size)
                    batch = []
            if batch:
                applied += self.apply_wires(batch, batch_size=size)
        return applied

    def rebuild(self, store: LedgerStore) -> int:
        """Drop every view row and tracking position, then replay all ledgers from seq 1.

        The clearing commits first; a crash during the replay leaves a consistent, partial
        projection that the next catch_up completes.
        """
        with self.db.transaction() as cur:
            for table in (*(t for t, _, _ in TABLES), *KEPT_COUNT_TABLES):
                cur.execute(f"DELETE FROM {table}")
        with self.bulk():
            # Larger transactions: rows that many entries touch are loaded and written once.
            return self.catch_up(store, batch_size=max(self.batch_size, REBUILD_BATCH))

    @contextmanager
    def bulk(self, *, indexes: bool = True) -> Iterator[None]:
        """Replaying many entries at once (a rebuild, an audit's replay): the secondary
        indexes are dropped and built once at the end instead of row by row (not at all with
        `indexes=False`: a throw-away projection that only gives a digest never queries)."""
        # A migrated database keeps its indexes: the migrations own them, and on PostgreSQL
        # the node's role may not drop or create one.
        reindex = indexes and not self.db.migrated
        with self.db.transaction() as cur:
            for index in SECONDARY_INDEXES if not self.db.migrated else ():
                cur.execute(f"DROP INDEX IF EXISTS {index}")
            if self.db.dialect == "sqlite":
                # Roster and history keys are random (hashed ids), so once the tables outgrow
                # SQLite's default 2 MiB page cache nearly every insert misses it; a larger
                # cache while replaying keeps the touched B-tree pages in memory.
                previous = cur.execute("PRAGMA cache_size").fetchall()[0][0]
                cur.execute(f"PRAGMA cache_size = {-BULK_CACHE_KIB}")
        try:
            yield
        finally:
            if reindex:
                self.db.ddl(DDL)
            if self.db.dialect == "sqlite":
                with self.db.transaction() as cur:
                    cur.execute(f"PRAGMA cache_size = {int(previous)}")

    def apply_wires(self, wires: Iterable[bytes], *, batch_size: int | None = None) -> int:
        """Apply entries of stored (already verified) ledgers; return how many were new.

        Entries may come in any order and more than once; those at or below the tracked seq
        are skipped. The rest must continue each association's tracked seq without a gap.
        """
        seen: dict[tuple[str, int], bytes] = {}
        by_association: dict[str, list[DecodedEntry]] = {}
        for wire in wires:
            entry = decode_entry(wire)
            key = (entry.association, entry.seq)
            if key in seen:
                if seen[key] != wire:
                    raise ProjectionGap("two different entries with one seq",
                                        association=entry.association, seq=entry.seq)
                continue
            seen[key] = wire
            by_association.setdefault(entry.association, []).append(entry)
        return self._apply_grouped(by_association, batch_size)

    def apply_ledger(self, entries: Sequence[DecodedEntry], *,
                     batch_size: int | None = None) -> int:
        """Apply the decoded entries of ONE ledger, in seq order without repeats (an audit
        that decoded them while checking the chain); return how many were new."""
        if not entries:
            return 0
        association = entries[0].association
        if any(e.association != association for e in entries):
            raise ValueError("apply_ledger takes the entries of one association")
        return self._apply_grouped({association: list(entries)}, batch_size)

    def _apply_grouped(self, by_association: dict[str, list[DecodedEntry]],
                       batch_size: int | None) -> int:
        applied = 0
        for association in sorted(by_association):
            entries = sorted(by_association[association], key=lambda e: e.seq)
            size = batch_size or self.batch_size
            for start in range(0, len(entries), size):
                applied += self._apply_batch(association, entries[start:start + size])
        return applied

    def _apply_batch(self, association: str, entries: Sequence[DecodedEntry]) -> int:
        with self.db.transaction() as cur:
            tracked = self._lock_position(cur, association)
            fresh = [e for e in entries if e.seq > tracked]
            for expected, entry in enumerate(fresh, start=tracked + 1):
                if entry.seq != expected:
                    raise ProjectionGap(f"expected seq {expected} after the tracked position",
                                        association=association, seq=entry.seq)
            if not fresh:
                return 0
            batch = _load(cur, fresh)
            loaded = {a: v.row for a, v in batch.endorsements.items()}
            faults: list[tuple[str, int, str]] = []
            for entry in fresh:
                try:
                    batch.apply(entry)
                except ProjectionError as e:
                    if entry.association in self.strict:
                        raise
                    faults.append((entry.association, entry.seq, str(e)))
            cur.executemany(insert("projection_faults", FAULT_COLUMNS), faults)
            roster = batch.roster_rows()
            # Before the history rows are written: the counts read the history without them.
            _count(cur, loaded, roster, batch.history, postgres=self.db.dialect == "postgres")
            cur.executemany(_UPSERT_ROSTER, [roster_record(r) for r in roster])
            cur.executemany(_INSERT_HISTORY, [history_record(h) for h in batch.history])
            masters, unmasters = batch.masters_rows()
            cur.executemany(_UPSERT_MASTERS, masters)
            cur.executemany("DELETE FROM masters_prepared WHERE endorsement_id = ?",
                            [(i,) for i in unmasters])
            applications = batch.application_rows()
            cur.executemany(_UPSERT_APPLICATION, [application_record(a) for a in applications])
            # Seats and sittings are only ever added or changed, never removed.
            cur.executemany(_UPSERT_REVIEWER,
                            [r for a in applications for r in reviewer_records(a)])
            cur.executemany(_UPSERT_SITTING,
                            [r for a in applications for r in sitting_records(a)])
            _write_credentials(cur, batch.credentials)
            cur.execute("UPDATE projection_tracking SET seq = ? WHERE association = ?",
                        (fresh[-1].seq, association))
        return len(fresh)

    def _lock_position(self, cur: Cursor, association: str) -> int:
        # The tracking row is created first so that PostgreSQL can lock it: a second
        # projector then waits here and sees the first one's position (SQLite's BEGIN
        # IMMEDIATE already serialises writers).
        cur.execute("INSERT INTO projection_tracking (association, seq) VALUES (?, 0) "
                    "ON CONFLICT (association) DO NOTHING", (association,))
        lock = " FOR UPDATE" if self.db.dialect == "postgres" else ""
        row = cur.execute(f"SELECT seq FROM projection_tracking WHERE association = ?{lock}",
                          (association,)).fetchone()
        assert row is not None
        return int(row[0])


_UPSERT_ROSTER = upsert("roster", ROSTER_COLUMNS, "endorsement_id")
_INSERT_HISTORY = insert("status_history", HISTORY_COLUMNS)
_UPSERT_MASTERS = upsert("masters_prepared", MASTERS_COLUMNS, "endorsement_id")
_UPSERT_APPLICATION = upsert("applications", APPLICATION_COLUMNS, "application_id")
_UPSERT_REVIEWER = upsert("application_reviewers", REVIEWER_COLUMNS,
                          ("application_id", "reviewer"))
_UPSERT_SITTING = upsert("exam_sittings", SITTING_COLUMNS, ("application_id", "attempt"))


def _count(cur: Cursor, loaded: dict[str, RosterRow], roster: Sequence[RosterRow],
           added: Sequence[HistoryRow], *, postgres: bool) -> None:
    """Move the board report's kept counts (projections.report_counts) with the batch's
    changed roster rows (`loaded`: as they were before it) and new history rows."""
    changes = CountChanges()
    for row in roster:
        changes.moved(loaded.get(row.aggregate_id), row)
    new: dict[str, list[HistoryRow]] = {}
    for h in added:
        new.setdefault(h.endorsement_id, []).append(h)
    if new and postgres:
        # One history may gain rows from two ledgers at once (a recognition's transferred
        # row on its origin), whose batches a second node process may project while this
        # one does: each would count against a history without the other's row. Counting
        # under one lock per schema until commit makes the second read the first's rows
        # (READ COMMITTED). SQLite's BEGIN IMMEDIATE already serialises every batch.
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('alliance:report_counts:' "
                    "|| current_schema()))")
    old: dict[str, list[HistoryRow]] = {}
    for record in select_in(cur, select("status_history", HISTORY_COLUMNS), "endorsement_id",
                            sorted(new)):
        h = history_row(record)
        old.setdefault(h.endorsement_id, []).append(h)
    for endorsement_id in sorted(new):
        changes.history(old.get(endorsement_id, []), new[endorsement_id])
    changes.write(cur)


def _load(cur: Cursor, entries: Sequence[DecodedEntry]) -> ViewBatch:
    """The rows that `entries` touch, read inside the batch's transaction."""
    endorsement_aggregates = sorted({e.aggregate_id for e in entries
                                     if e.event_type in ENDORSEMENT_EVENTS})
    application_ids = sorted({e.aggregate_id for e in entries
                              if e.event_type in APPLICATION_EVENTS})
    granted_ids = sorted({str(e.payload.get("endorsement_id")) for e in entries
                          if e.event_type in CREATED})
    corrected = {e.aggregate_id for e in entries if e.event_type == CORRECTED}
    rows = [roster_row(r) for r in select_in(
        cur, select("roster", ROSTER_COLUMNS), "aggregate_id", endorsement_aggregates)]
    latest: dict[str, HistoryRow] = {}
    for record in select_in(cur, select("status_history", HISTORY_COLUMNS), "endorsement_id",
                             sorted(r.endorsement_id for r in rows if r.aggregate_id in corrected)):
        h = history_row(record)
        if h.endorsement_id not in latest or h.order > latest[h.endorsement_id].order:
            latest[h.endorsement_id] = h
    endorsements = {r.aggregate_id: EndorsementView(row=r, latest=latest.get(r.endorsement_id))
                    for r in rows}
    taken = [r[0] for r in select_in(cur, "SELECT endorsement_id FROM roster",
                                      "endorsement_id", granted_ids)]
    applications = {a.application_id: a for a in with_parts(
        (application_row(r) for r in select_in(
            cur, select("applications", APPLICATION_COLUMNS), "application_id", application_ids)),
        select_in(cur, select("application_reviewers", REVIEWER_COLUMNS), "application_id",
                  application_ids),
        select_in(cur, select("exam_sittings", SITTING_COLUMNS), "application_id",
                  application_ids))}
    return ViewBatch(endorsements, applications, taken, _load_credentials(cur, entries))


def _load_credentials(cur: Cursor, entries: Sequence[DecodedEntry]) -> CredentialBatch:
    """The status lists, taken indexes, last versions and credential ids a batch touches."""
    list_ids = sorted({e.aggregate_id for e in entries if e.event_type in CREDENTIAL_EVENTS
                       and e.event_type != CREDENTIAL_ISSUED})
    if not list_ids and not any(e.event_type == CREDENTIAL_ISSUED for e in entries):
        return CredentialBatch((), (), {}, ())
    lists = [StatusListRow(aggregate_id=r[0], association=r[1], purpose=StatusPurpose(r[2]),
                           list_number=int(r[3]), size=int(r[4]))
             for r in select_in(cur, select("status_lists", STATUS_LIST_COLUMNS),
                                "aggregate_id", list_ids)]
    indexes = [(r[0], int(r[1])) for r in select_in(
        cur, "SELECT aggregate_id, list_index FROM status_list_indexes", "aggregate_id",
        sorted({e.aggregate_id for e in entries if e.event_type == INDEX_ASSIGNED}))]
    versions: dict[str, int] = {}
    for r in select_in(cur, "SELECT aggregate_id, list_version FROM status_list_versions",
                       "aggregate_id", list_ids):
        versions[r[0]] = max(versions.get(r[0], 0), int(r[1]))
    issued = [r[0] for r in select_in(
        cur, "SELECT credential_id FROM credentials", "credential_id",
        sorted({str(e.payload.get("credential_id")) for e in entries
                if e.event_type == CREDENTIAL_ISSUED}))]
    return CredentialBatch(lists, indexes, versions, issued)


def _write_credentials(cur: Cursor, batch: CredentialBatch) -> None:
    cur.executemany(insert("status_lists", STATUS_LIST_COLUMNS),
                    [(r.aggregate_id, r.association, str(r.purpose), r.list_number, r.size)
                     for r in batch.new_lists])
    cur.executemany(insert("status_list_indexes", LIST_INDEX_COLUMNS), batch.indexes)
    cur.executemany(insert("status_list_versions", LIST_VERSION_COLUMNS),
                    [(v.aggregate_id, v.list_version, v.association, v.list_hash,
                      v.set_bits_count, v.seq, v.recorded_at) for v in batch.versions])
    cur.executemany(insert("credentials", CREDENTIAL_COLUMNS), batch.credentials)
