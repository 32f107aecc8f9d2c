"""Runs a revision's plain SQL on the connection Alembic migrates, on either backend.

Revisions write their SQL once with `{blob}` for the binary type and `{serial}` for an
auto-numbered primary key, as the stores' own statements do.
"""

from __future__ import annotations

from alembic import op

_TYPES = {
    "sqlite": {"blob": "BLOB", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT"},
    "postgresql": {"blob": "BYTEA", "serial": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"},
}


def run(script: str) -> None:
    """Execute each `;`-separated statement of `script` (comment-only pieces are skipped)."""
    bind = op.get_bind()
    types = _TYPES[bind.dialect.name]
    for statement in script.replace("{blob}", types["blob"]).replace(
            "{serial}", types["serial"]).split(";"):
        code = [line for line in statement.splitlines()
                if line.strip() and not line.strip().startswith("--")]
        if code:
            bind.exec_driver_sql(statement)
