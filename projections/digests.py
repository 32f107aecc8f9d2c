"""Digests of the projection tables: how two nodes (or an auditor) compare their views.

Each table's rows are sorted by primary key in code-point order, the same on every backend
(in Python on PostgreSQL, whose collation might differ; by SQLite's binary collation), and
each row is encoded with the ledger's canonical MessagePack; the table digest is the SHA-256
of that stream, and the overall digest covers every table's digest, tracking included.
Rebuilding from the ledgers and catching up incrementally must give the same digest (DESIGN
invariant 5). A table added after digests were first published counts only once it holds a
row (`JOINS_DIGEST_WHEN_USED`), so ledgers that never used it keep their earlier digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from ledger.codec import encode
from ledger.storage.database import Cursor, Database
from projections.tables import JOINS_DIGEST_WHEN_USED, TABLES, select


def table_digests(db: Database) -> dict[str, str]:
    """Hex SHA-256 of each projection table's canonical content, by table name."""
    digests: dict[str, str] = {}
    with db.transaction() as cur:  # one snapshot for all tables
        for table, columns, key in TABLES:
            if table in JOINS_DIGEST_WHEN_USED and not cur.execute(
                    f"SELECT 1 FROM {table} LIMIT 1").fetchall():
                continue
            h = hashlib.sha256(encode([table, list(columns)]))
            chunks = (_sqlite_chunks(cur, table, columns, key) if db.dialect == "sqlite"
                      else _sorted_chunks(cur, table, columns, key))
            for rows in chunks:
                h.update(_concatenated(rows))
            digests[table] = h.hexdigest()
    return digests


def _sorted_chunks(cur: Cursor, table: str, columns: tuple[str, ...],
                   key: tuple[str, ...]) -> Iterator[list[Any]]:
    rows = cur.execute(select(table, columns)).fetchall()
    rows.sort(key=itemgetter(*(columns.index(k) for k in key)))
    for start in range(0, len(rows), _CHUNK):
        yield rows[start:start + _CHUNK]


def _sqlite_chunks(cur: Cursor, table: str, columns: tuple[str, ...],
                   key: tuple[str, ...]) -> Iterator[list[Any]]:
    """SQLite's default BINARY collation compares UTF-8 bytes, which orders text by code
    point as Python does, so it can sort by the primary key itself: page through its index
    (keyset pagination), holding one chunk of rows at a time instead of the whole table."""
    order = ", ".join(key)
    positions = [columns.index(k) for k in key]
    after = f"WHERE ({order}) > ({', '.join('?' for _ in key)}) "
    last: list[Any] | None = None
    while True:
        rows = cur.execute(f"{select(table, columns)} {after if last else ''}"
                           f"ORDER BY {order} LIMIT {_CHUNK}", last or ()).fetchall()
        if not rows:
            return
        yield rows
        last = [rows[-1][i] for i in positions]


_CHUNK = 10_000


def _concatenated(rows: list[Any]) -> bytes:
    """The rows' encodings one after another (what the digest hashes), from one encoder call:
    a MessagePack array is its header followed by its items' encodings."""
    count = len(rows)
    header = 1 if count < 16 else 3 if count < 1 << 16 else 5
    return encode(rows)[header:]


def digest(db: Database) -> str:
    """Hex SHA-256 over every projection table's digest (the whole projection state)."""
    return hashlib.sha256(encode(table_digests(db))).hexdigest()
