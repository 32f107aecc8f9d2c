"""Least privilege for the PostgreSQL role a node runs as, granted by the schema's owner.

The runtime role may read and write rows and nothing more: no CREATE on the schema, no table
of its own, so no DDL. The signed ledger is append-only for it (SELECT and INSERT on the
entries, the checkpoints, their cosignatures and the quarantine; the code never changes a row
of those). eventsourcing takes `LOCK TABLE ... IN EXCLUSIVE MODE` on its event table before
each insert, which PostgreSQL allows only to a role with UPDATE, DELETE or TRUNCATE on it, so
the role keeps UPDATE there and a trigger refuses every UPDATE and DELETE of a stored event.
The version tables are read-only for it (the node checks its schema's revision at start).
Granted again by every `alliance migrate --runtime-role`, so tables a later revision adds are
covered.
"""

from __future__ import annotations

import re

from psycopg import sql

from federation_api.migrations.engines import connect_postgres
from federation_api.migrations.errors import MigrationError
from federation_api.migrations.stores import EVENT_TABLES, STORES
from ledger.storage.database import DatabaseUrl

APPEND_ONLY = ("ledger_entries", "checkpoints", "checkpoint_cosignatures", "quarantine")
_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def grant_runtime(base: DatabaseUrl, role: str) -> None:
    """Grant `role` what the node needs in the schema, and not more (idempotent)."""
    if base.dialect != "postgres":
        raise MigrationError("--runtime-role is for PostgreSQL: a node owns its SQLite files")
    if not _ROLE.match(role):
        raise MigrationError("the runtime role must be a lower-case SQL identifier")
    schema, who = sql.Identifier(base.schema), sql.Identifier(role)
    events = sql.Identifier(base.schema, EVENT_TABLES["postgres"])
    with connect_postgres(base) as conn, conn.transaction():
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
            raise MigrationError(f"no role {role} on the server: create it first "
                                 f"(docs/storage.md)")
        statements = [
            sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(schema, who),
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, who),
            sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(schema, who),
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}"
                    ).format(schema, who),
            sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(schema,
                                                                                    who),
            sql.SQL("REVOKE UPDATE, DELETE ON {} FROM {}").format(
                sql.SQL(", ").join(sql.Identifier(base.schema, t) for t in APPEND_ONLY), who),
            sql.SQL("REVOKE INSERT, UPDATE, DELETE ON {} FROM {}").format(
                sql.SQL(", ").join(sql.Identifier(base.schema, s.version_table)
                                   for s in STORES), who),
            sql.SQL("REVOKE DELETE ON {} FROM {}").format(events, who),
            sql.SQL("CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$BEGIN RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME; END$$"
                    ).format(sql.Identifier(base.schema, "alliance_append_only")),
            sql.SQL("DROP TRIGGER IF EXISTS alliance_append_only ON {}").format(events),
            sql.SQL("CREATE TRIGGER alliance_append_only BEFORE UPDATE OR DELETE ON {} FOR "
                    "EACH ROW EXECUTE FUNCTION {}()").format(
                        events, sql.Identifier(base.schema, "alliance_append_only")),
        ]
        for statement in statements:
            conn.execute(statement)
