"""The revisions of the node store (node.sqlite on SQLite)."""
