"""Consistent snapshots of a running node's stores, and putting them back.

SQLite (one file per store): a read transaction is opened on every store file, in one fixed
order, before any page is copied; each file is then copied with SQLite's online backup API
through the connection holding that transaction, so each copy is the snapshot its transaction
saw, however long the copy takes and whatever the node writes meanwhile. The order runs
against the flow of data: the node's own tables (idempotency answers, notifications, accounts)
first, then the projections (which follow the ledger), the ledger (which follows the event
store), the event store last. Each store therefore refers only to what the stores after it
hold: the snapshot is one the node could have been left in by a crash between two commits,
which it recovers from by design (unsealed events are sealed, projections catch up). The heads
of the ledgers are read inside the ledger file's snapshot.

PostgreSQL (every store in one schema): one REPEATABLE READ, READ ONLY transaction exports
its snapshot, the ledger heads are read in it, and `pg_dump --snapshot` dumps the node's schema
from exactly that snapshot (custom format, without owners or privileges), so every table is
as of one instant. The restore uses `pg_restore` in one transaction. `pg_dump` and
`pg_restore` must be at least the server's major version (Debian: `postgresql-client`).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from federation_api.backup.errors import BackupError
from ledger.chain.store import HEADS_SQL
from ledger.storage.database import DatabaseUrl

# (name in the archive, file name beside the event store), in the order of the snapshots.
SQLITE_STORES = ("node.sqlite", "projections.sqlite", "ledger.sqlite", "events.sqlite")
POSTGRES_DUMP = "postgres.dump"
_LEDGER = "ledger.sqlite"
_EVENTS = "events.sqlite"


@dataclass(frozen=True)
class Snapshot:
    """The snapshot files written into a directory, and the ledger heads they hold."""

    files: tuple[tuple[str, Path], ...]  # (store name, file)
    heads: dict[str, int]


def sqlite_paths(url: DatabaseUrl) -> dict[str, Path]:
    """Where each SQLite store of a node lives (the event store is the URL's own file)."""
    assert url.path is not None
    paths = {}
    for name in SQLITE_STORES:
        target = url if name == _EVENTS else url.with_file(name)
        assert target.path is not None
        paths[name] = target.path
    return paths


def snapshot(url: DatabaseUrl, into: Path) -> Snapshot:
    """Snapshot every store of the node at `url` into the directory `into`."""
    if url.dialect == "sqlite":
        return _snapshot_sqlite(sqlite_paths(url), into)
    return _snapshot_postgres(url, into)


def _snapshot_sqlite(paths: dict[str, Path], into: Path) -> Snapshot:
    missing = [p.name for p in paths.values() if not p.exists()]
    if missing:
        raise BackupError(f"no store {', '.join(missing)} beside {paths[_EVENTS].parent}: is "
                          f"this a node's data directory (or its database URL)?")
    with ExitStack() as stack:
        sources: list[tuple[str, sqlite3.Connection]] = []
        for name in SQLITE_STORES:  # every snapshot is taken before any copy starts
            conn = sqlite3.connect(paths[name], isolation_level=None, timeout=30)
            stack.callback(conn.close)
            try:
                conn.execute("BEGIN")
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            except sqlite3.Error as e:
                raise BackupError(f"cannot read {paths[name].name}: {e}") from e
            sources.append((name, conn))
        heads: dict[str, int] = {}
        files = []
        for name, conn in sources:
            target = into / name
            dest = sqlite3.connect(target)
            try:
                conn.backup(dest)
            except sqlite3.Error as e:
                raise BackupError(f"cannot copy {name}: {e}") from e
            finally:
                dest.close()
            if name == _LEDGER:
                heads = {str(a): int(s) for a, s in conn.execute(HEADS_SQL).fetchall()}
            files.append((name, target))
        for _, conn in sources:
            conn.execute("COMMIT")
    return Snapshot(files=tuple(files), heads=heads)


def _pg_env(url: DatabaseUrl) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGHOST=url.host, PGPORT=str(url.port), PGUSER=url.user, PGDATABASE=url.dbname,
               PGCONNECT_TIMEOUT="10")
    if url.password:
        env["PGPASSWORD"] = url.password  # never on a command line, where `ps` shows it
    return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed; a PostgreSQL node's backup needs the "
                          f"PostgreSQL client tools (Debian: postgresql-client)")
    return found


def _run(argv: Sequence[str], url: DatabaseUrl, what: str) -> None:
    done = subprocess.run(argv, env=_pg_env(url), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise BackupError(f"{what} failed on {url.redacted()}: "
                          f"{detail[-1] if detail else done.returncode}")


def _connect(url: DatabaseUrl) -> psycopg.Connection[tuple[Any, ...]]:
    try:
        return psycopg.connect(host=url.host, port=url.port, user=url.user,
                               password=url.password, dbname=url.dbname, connect_timeout=10)
    except psycopg.Error as e:
        raise BackupError(f"cannot open {url.redacted()}: {e}") from e


def _snapshot_postgres(url: DatabaseUrl, into: Path) -> Snapshot:
    pg_dump = _tool("pg_dump")
    target = into / POSTGRES_DUMP
    conn = _connect(url)
    try:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        if not schema_tables(conn, url.schema):
            raise BackupError(f"{url.redacted()} holds no tables: is this the node's schema?")
        exported = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert exported is not None
        snapshot_id = str(exported[0])
        heads = {str(a): int(s) for a, s in conn.execute(
            HEADS_SQL.replace("FROM ledger_entries", f'FROM "{url.schema}".ledger_entries'))}
        _run([pg_dump, "--format=custom", f"--schema={url.schema}", f"--snapshot={snapshot_id}",
              "--no-owner", "--no-privileges", f"--file={target}"], url, "pg_dump")
        conn.rollback()
    except psycopg.Error as e:
        raise BackupError(f"cannot snapshot {url.redacted()}: {e}") from e
    finally:
        conn.close()
    return Snapshot(files=((POSTGRES_DUMP, target),), heads=heads)


def schema_tables(conn: psycopg.Connection[tuple[Any, ...]], schema: str) -> list[str]:
    """The tables in a PostgreSQL schema (on an open psycopg connection)."""
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename",
        (schema,)).fetchall()
    return [str(r[0]) for r in rows]


def sqlite_files_present(url: DatabaseUrl) -> list[Path]:
    """The SQLite store files (and their journals) that exist at `url` already."""
    found = []
    for path in sqlite_paths(url).values():
        for suffix in ("", "-wal", "-shm", "-journal"):
            candidate = path.with_name(path.name + suffix)
            if candidate.exists():
                found.append(candidate)
    return found


def postgres_tables(url: DatabaseUrl) -> list[str]:
    """The tables already in the target schema."""
    conn = _connect(url)
    try:
        return schema_tables(conn, url.schema)
    finally:
        conn.close()


def put_back_sqlite(url: DatabaseUrl, files: dict[str, Path], *, replace: bool) -> None:
    """Move verified snapshot files into place (old files and journals removed first when
    `replace`; a stale -wal beside a new file would corrupt it)."""
    if replace:
        for stale in sqlite_files_present(url):
            stale.unlink()
    for name, path in sqlite_paths(url).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(files[name], path)


def put_back_postgres(url: DatabaseUrl, dump: Path, *, replace: bool) -> None:
    """Restore the dump into the schema, in one transaction. The caller checked that the
    schema holds no table, or was told to `replace` them: a named schema is dropped (the dump
    creates it), the public schema's tables are dropped."""
    pg_restore = _tool("pg_restore")
    conn = _connect(url)
    try:
        with conn.transaction():
            if url.schema != "public":
                conn.execute(f'DROP SCHEMA IF EXISTS "{url.schema}" CASCADE')
            elif replace:
                for table in schema_tables(conn, "public"):
                    conn.execute(f'DROP TABLE IF EXISTS public."{table}" CASCADE')
    except psycopg.Error as e:
        raise BackupError(f"cannot empty {url.redacted()}: {e}") from e
    finally:
        conn.close()
    _run([pg_restore, "--single-transaction", "--exit-on-error", "--no-owner",
          "--no-privileges", f"--dbname={url.dbname}", str(dump)], url, "pg_restore")
