"""The signed status list credentials the node serves: one per recorded version of each list.

A version is served only once the ledger records it (StatusListPublished is sealed first,
then the signed document is stored here), and every version stays: an `--as-of` check needs
the document of the version that stood on that date, signed when it was recorded. Storing
the signed bytes (rather than signing on each request) keeps one version one document, so
its ETag is stable and every download of it is the same.
"""

from __future__ import annotations

import msgspec

from ledger.storage.database import Database

_DDL = """
CREATE TABLE IF NOT EXISTS served_status_lists (
    list_id TEXT NOT NULL,
    list_version BIGINT NOT NULL,
    signed_at TEXT NOT NULL,
    document {blob} NOT NULL,
    PRIMARY KEY (list_id, list_version)
)
"""


class ServedList(msgspec.Struct, frozen=True, kw_only=True):
    """One signed version of one list."""

    list_id: str  # the StatusList aggregate id
    list_version: int
    signed_at: str  # ISO 8601 with offset
    document: bytes


class ServedLists:
    """The node's signed status list documents."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ddl(_DDL)

    def put(self, served: ServedList) -> bool:
        """Store a signed version; False (and no change) if another document of that version
        is stored already: the first document of a version is the one served, ever."""
        with self.db.transaction() as cur:
            cur.execute("INSERT INTO served_status_lists (list_id, list_version, signed_at, "
                        "document) VALUES (?, ?, ?, ?) ON CONFLICT (list_id, list_version) "
                        "DO NOTHING", (served.list_id, served.list_version, served.signed_at,
                                       served.document))
            row = cur.execute("SELECT signed_at, document FROM served_status_lists WHERE "
                              "list_id = ? AND list_version = ?",
                              (served.list_id, served.list_version)).fetchone()
            return row is not None and (row[0], bytes(row[1])) == (served.signed_at,
                                                                   served.document)

    def get(self, list_id: str, version: int | None = None) -> ServedList | None:
        """Version `version` of a list, or its latest stored version."""
        if version is None:
            rows = self.db.query("SELECT list_id, list_version, signed_at, document FROM "
                                 "served_status_lists WHERE list_id = ? ORDER BY list_version "
                                 "DESC LIMIT 1", (list_id,))
        else:
            rows = self.db.query("SELECT list_id, list_version, signed_at, document FROM "
                                 "served_status_lists WHERE list_id = ? AND list_version = ?",
                                 (list_id, version))
        if not rows:
            return None
        list_id, list_version, signed_at, document = rows[0]
        return ServedList(list_id=str(list_id), list_version=int(list_version),
                          signed_at=str(signed_at), document=bytes(document))

    def has(self, list_id: str, version: int) -> bool:
        """Whether that version is stored."""
        return bool(self.db.query("SELECT 1 FROM served_status_lists WHERE list_id = ? AND "
                                  "list_version = ?", (list_id, version)))
