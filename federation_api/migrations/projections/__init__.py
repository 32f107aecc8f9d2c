"""The revisions of the projections store (projections.sqlite on SQLite)."""
