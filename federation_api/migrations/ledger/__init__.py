"""The revisions of the ledger store (ledger.sqlite on SQLite)."""
