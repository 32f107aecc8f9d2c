"""Versioned schema migrations of every table a node owns (Alembic), and `alliance migrate`.

A node has three stores of its own (the ledger, the projections, the node's tables), each
with its own chain of revisions and its own version table: on SQLite they are three files in
the data directory, on PostgreSQL three version tables in the node's schema. eventsourcing's
event tables are created by eventsourcing itself, run by the migration, never by the node at
run time (docs/storage.md says why). The runtime keeps its own SQL adapter
(`ledger.storage.database`); SQLAlchemy is used here only, because Alembic needs it.
"""
