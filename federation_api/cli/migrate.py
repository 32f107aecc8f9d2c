"""`alliance migrate`: bring a node's database to this release's schema, or show where it is.

Run it with the database URL of the role that owns the schema (PostgreSQL), before the first
`alliance serve` of a new release; `--runtime-role` then grants the role the node runs as
what it needs. On the embedded default (SQLite files in the data directory) the node also
migrates itself at start, so the command is optional there. It needs no node.json: on
PostgreSQL the schema can be migrated before `alliance init`.
"""

from __future__ import annotations

import argparse
from typing import Any

from federation_api.migrations.grants import grant_runtime
from federation_api.migrations.runner import migrate, status
from federation_api.node.setup import NodePaths
from federation_api.settings import Settings


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Migrate (or with --status, report and exit 1 when behind)."""
    url = NodePaths(settings.data_dir).database_url(settings)
    if args.status:
        behind = False
        print(url.redacted())
        for s in status(url):
            state = "up to date" if s.up_to_date else (
                "tables made before migrations, not yet stamped" if s.unversioned_tables
                else "behind")
            behind = behind or not s.up_to_date
            print(f"  {s.store}: {s.current or 'none'} (this release: {s.head}) {state}")
        return 1 if behind else 0
    moved = migrate(url)
    for store, before, after in moved:
        print(f"{store}: {before or 'none'} -> {after}")
    if not moved:
        print(f"{url.redacted()}: every store is at this release's revision")
    if args.runtime_role:
        grant_runtime(url, args.runtime_role)
        print(f"granted {args.runtime_role} the runtime privileges on schema {url.schema}")
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser, add: Any) -> None:
    """Register `migrate` under the main parser."""
    p = add(sub, "migrate", cmd_migrate, "bring the database schema to this release "
            "(run as the schema's owner on PostgreSQL)")
    p.add_argument("--status", action="store_true",
                   help="only show each store's revision; exit 1 if any is behind")
    p.add_argument("--runtime-role", metavar="ROLE",
                   help="PostgreSQL: grant ROLE (the role `alliance serve` connects as) "
                        "SELECT/INSERT/UPDATE/DELETE where the node needs them, the ledger "
                        "append-only, no DDL; repeat on every migrate")
