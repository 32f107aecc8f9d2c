"""Connections for migrating (SQLAlchemy, which Alembic needs) and the lock two migrations take.

SQLite: pysqlite's own transaction handling would commit before each DDL statement, so the
connection is put in autocommit and every transaction is begun by hand (BEGIN IMMEDIATE): a
revision that fails half-way leaves nothing behind, as on PostgreSQL. Two `alliance migrate`
(or a migrating node and a `migrate`) serialise on a lock: a file lock beside the SQLite files,
a session advisory lock per schema on PostgreSQL.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from ledger.storage.database import DatabaseUrl

LOCK_FILE = "migrate.lock"


def engine(url: DatabaseUrl) -> Engine:
    """A SQLAlchemy engine on the store's database (the node's schema first in the path)."""
    if url.dialect == "sqlite":
        assert url.path is not None
        url.path.parent.mkdir(parents=True, exist_ok=True)
    return _engine(url)


@functools.lru_cache(maxsize=64)
def _engine(url: DatabaseUrl) -> Engine:
    # Kept per URL: an engine learns its server's dialect details on its first connection.
    if url.dialect == "sqlite":
        sqlite = create_engine(URL.create("sqlite", database=str(url.path)), poolclass=NullPool,
                               connect_args={"timeout": 30})

        @event.listens_for(sqlite, "connect")
        def _autocommit(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we say BEGIN, not pysqlite

        @event.listens_for(sqlite, "begin")
        def _begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return sqlite
    return create_engine(
        URL.create("postgresql+psycopg", username=url.user, password=url.password or None,
                   host=url.host, port=url.port, database=url.dbname),
        poolclass=NullPool,
        connect_args={"connect_timeout": 10, "options": f"-c search_path={url.schema}"})


def connect_postgres(url: DatabaseUrl) -> psycopg.Connection[Any]:
    """A plain autocommit connection (for the lock, the schema and the grants)."""
    return psycopg.connect(host=url.host, port=url.port, user=url.user,
                           password=url.password, dbname=url.dbname, autocommit=True,
                           connect_timeout=10)


@contextmanager
def migration_lock(url: DatabaseUrl) -> Iterator[None]:
    """Held while one process migrates this node's stores; a second one waits for it."""
    if url.dialect == "sqlite":
        assert url.path is not None
        url.path.parent.mkdir(parents=True, exist_ok=True)
        with open(url.path.parent / LOCK_FILE, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
            yield
        return
    key = int.from_bytes(hashlib.sha256(
        f"alliance-migrate:{url.dbname}:{url.schema}".encode()).digest()[:8], "big", signed=True)
    with connect_postgres(url) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))  # ends with the session at worst
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
