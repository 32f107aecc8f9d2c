"""Digests of the projection tables: how two nodes (or an auditor) compare their views.

Each table's rows are sorted by primary key in Python (code-point order, the same on every
backend, where a database collation might not be) and each row is encoded with the ledger's
canonical MessagePack; the table digest is the SHA-256 of that stream, and the overall digest
covers every table's digest, tracking included. Rebuilding from the ledgers and catching up
incrementally must give the same digest (DESIGN invariant 5).
"""

from __future__ import annotations

import hashlib

from ledger.codec import encode
from ledger.database import Database
from projections.schema import TABLES, select


def table_digests(db: Database) -> dict[str, str]:
    """Hex SHA-256 of each projection table's canonical content, by table name."""
    digests: dict[str, str] = {}
    with db.transaction() as cur:  # one snapshot for all tables
        for table, columns, key in TABLES:
            rows = cur.execute(select(table, columns)).fetchall()
            positions = [columns.index(k) for k in key]
            rows.sort(key=lambda r: tuple(r[i] for i in positions))
            h = hashlib.sha256(encode([table, list(columns)]))
            for row in rows:
                h.update(encode(row))
            digests[table] = h.hexdigest()
    return digests


def digest(db: Database) -> str:
    """Hex SHA-256 over every projection table's digest (the whole projection state)."""
    return hashlib.sha256(encode(table_digests(db))).hexdigest()
