"""Bulk replay (rebuilds and audits): faster paths that must give the incremental result.

`Projector.bulk` drops the secondary indexes and enlarges SQLite's page cache while many
entries are replayed. These tests replay real ledgers in small batches (so rows created in one
batch change in later ones), with a second projector writing in the middle, and compare
digests with plain incremental catch-up. The SQLite digest (sorted by the database) must
equal the one sorted in Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.storage.database import Database, DatabaseUrl
from projections import digests
from projections.decoded_entries import decode_entry
from projections.projector import Projector
from projections.tables import TABLES
from tests.integration.ledger_fixtures import (
    AssociationLedger,
    Databases,
    grant,
    level_one_evidence,
    open_ledger,
    renew,
    start_application,
    submit,
)

D = dt.date


@pytest.fixture
def dbs(tmp_path: Path) -> Iterator[Databases]:
    databases = Databases("sqlite", tmp_path)
    yield databases
    databases.close()


@pytest.fixture
def ak(dbs: Databases, tmp_path: Path) -> Iterator[AssociationLedger]:
    ledger = open_ledger(tmp_path / "events", dbs.new(), "AK")
    for i in range(6):
        e = grant(ledger, f"AK-2{i:03d}", f"Ñuñez{i}" if i % 2 else f"Zoë{i}", D(2024, 1, 1 + i))
        renew(ledger, e, D(2024, 12, 1))
    for i in range(3):
        app = start_application(ledger, f"applicant{i}", D(2024, 4, 1))
        submit(ledger, app, level_one_evidence(D(2024, 4, 1), complete=False), D(2024, 4, 2))
    yield ledger
    ledger.close()


def _wires(ledger: AssociationLedger) -> list[bytes]:
    return list(ledger.store.wires(ledger.association))


def _incremental(dbs: Databases, ak: AssociationLedger) -> str:
    reference = Projector(dbs.new(), batch_size=1)
    reference.catch_up(ak.store)
    return reference.digest()


@pytest.mark.parametrize("batch", [1, 2, 5, 1000])
def test_bulk_replay_in_batches_gives_the_incremental_digest(
        dbs: Databases, ak: AssociationLedger, batch: int) -> None:
    wires = _wires(ak)
    bulk = Projector(dbs.new())
    with bulk.bulk():
        assert bulk.apply_wires(wires, batch_size=batch) == len(wires)
    assert bulk.digest() == _incremental(dbs, ak)


def test_apply_ledger_takes_decoded_entries_of_one_ledger(
        dbs: Databases, ak: AssociationLedger) -> None:
    entries = [decode_entry(w) for w in _wires(ak)]
    projector = Projector(dbs.new())
    with projector.bulk():
        assert projector.apply_ledger(entries[:7], batch_size=3) == 7
        assert projector.apply_ledger(entries, batch_size=4) == len(entries) - 7
    assert projector.digest() == _incremental(dbs, ak)
    other = decode_entry(_wires(ak)[0]).__class__(
        association="MI", seq=1, event_type="X", aggregate_id="a", payload={})
    with pytest.raises(ValueError, match="one association"):
        projector.apply_ledger([entries[0], other])


def test_another_writer_during_a_bulk_replay_is_seen(
        dbs: Databases, ak: AssociationLedger) -> None:
    """A rebuild running while a second projector (a serving node) applies entries to the
    same file: each entry still applies once, and the renewals find the rows the other one
    wrote (nothing may be cached across batches)."""
    wires = _wires(ak)
    db = dbs.new()
    other = Projector(Database(db.url))
    rebuild = Projector(db)
    try:
        with rebuild.bulk():
            assert rebuild.apply_wires(wires[:2], batch_size=2) == 2
            assert other.apply_wires(wires[:9], batch_size=3) == 7  # grants and renewals
            assert rebuild.apply_wires(wires, batch_size=2) == len(wires) - 9
        assert rebuild.digest() == _incremental(dbs, ak)
        assert not rebuild.db.query("SELECT * FROM projection_faults")
    finally:
        other.db.close()


def test_the_sqlite_digest_sorts_as_python_does(dbs: Databases, ak: AssociationLedger) -> None:
    projector = Projector(dbs.new())
    projector.catch_up(ak.store)
    # Non-ASCII names and ids of different lengths: byte order of UTF-8 is code-point order.
    with projector.db.transaction() as cur:
        for eid in ("AK-ä", "AK-Z", "AK-a", "AK-ñ9", "AK-😀", "AK-\uffff", "AK-"):
            cur.execute("INSERT INTO status_history VALUES (?, '2024-01-01', 'AK', 1, "
                        "'active', 'IFS', NULL, '2025-01-01')", (eid,))
    with projector.db.transaction() as cur:
        for table, columns, key in TABLES:
            in_sql = [r for chunk in digests._sqlite_chunks(cur, table, columns, key)
                      for r in chunk]
            in_python = [r for chunk in digests._sorted_chunks(cur, table, columns, key)
                         for r in chunk]
            assert in_sql == in_python, table


def test_the_digest_pages_through_large_tables(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(DatabaseUrl.parse(f"sqlite:///{tmp_path / 'p.sqlite'}"))
    projector = Projector(db)
    with db.transaction() as cur:
        cur.executemany("INSERT INTO projection_faults VALUES (?, ?, ?)",
                        [(f"A{i % 7}", i, "r") for i in range(50)])
    whole = projector.table_digests()
    monkeypatch.setattr(digests, "_CHUNK", 3)
    assert projector.table_digests() == whole
    db.close()
