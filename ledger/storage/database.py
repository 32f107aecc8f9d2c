"""A small SQL adapter over SQLite and PostgreSQL for the ledger and projection tables.

eventsourcing keeps its own connections for the event store; the ledger and the projections
use this adapter so that each of them commits its rows and its tracking position in one
transaction. SQL is written once with `?` placeholders and `{blob}` for the binary type.
Driver errors are translated at this edge into StorageError (chained).

A node's own databases are opened `migrated=True`: their tables belong to the migrations
(`alliance migrate`, Alembic), so the stores' CREATE statements are skipped and no schema is
made, and the node can run as a PostgreSQL role without DDL rights. Without it (tests,
scratch databases such as an audit's replay) the stores create their tables themselves, from
statements a test keeps equal to what the migrations build.

SQLite keeps one connection per file, used under a lock (SQLite has one writer anyway).
PostgreSQL uses a connection pool (psycopg_pool) of `DatabaseUrl.pool_size`; a thread inside
a transaction keeps its connection for every statement it runs until the transaction ends.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from ledger.errors import StorageError

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed database location: a SQLite file, or a PostgreSQL database and schema."""

    dialect: str  # "sqlite" or "postgres"
    path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    dbname: str = "postgres"
    schema: str = "public"
    pool_size: int = 4  # PostgreSQL connections per database (and eventsourcing's pool)

    @classmethod
    def parse(cls, url: str) -> DatabaseUrl:
        """`sqlite:///path/file.sqlite` or `postgresql://user:pw@host:port/db?schema=name`."""
        parsed = urlparse(url)
        if parsed.scheme == "sqlite":
            path = unquote(parsed.path)
            if not path or path == "/":
                raise StorageError("a sqlite URL needs a file path: sqlite:///path/file.sqlite")
            return cls(dialect="sqlite", path=Path(path))
        if parsed.scheme in ("postgresql", "postgres"):
            schema = parse_qs(parsed.query).get("schema", ["public"])[0]
            if not _SCHEMA_NAME.match(schema):
                raise StorageError("schema must be a lower-case SQL identifier")
            return cls(dialect="postgres", host=parsed.hostname or "127.0.0.1",
                       port=parsed.port or 5432, user=unquote(parsed.username or "postgres"),
                       password=unquote(parsed.password or ""),
                       dbname=(parsed.path or "/postgres").lstrip("/") or "postgres",
                       schema=schema)
        raise StorageError(f"unsupported database URL scheme {parsed.scheme!r} "
                           f"(use sqlite:/// or postgresql://)")

    def with_file(self, name: str) -> DatabaseUrl:
        """For SQLite, a sibling file (one file per store); PostgreSQL shares one schema."""
        if self.dialect == "sqlite" and self.path is not None:
            return replace(self, path=self.path.parent / name)
        return self

    def with_pool_size(self, size: int) -> DatabaseUrl:
        """The same database with another pool size (PostgreSQL)."""
        if size < 1:
            raise StorageError("the database pool size must be at least 1")
        return replace(self, pool_size=size)

    def eventsourcing_env(self, *, create_table: bool = True) -> dict[str, str]:
        """Environment for an eventsourcing Application storing events here. A node passes
        `create_table=False`: `alliance migrate` made the tables, as the schema's owner."""
        create = {"CREATE_TABLE": "yes" if create_table else "no"}
        if self.dialect == "sqlite":
            return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(self.path),
                    "SQLITE_LOCK_TIMEOUT": "10", **create}
        return {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": self.dbname,
                "POSTGRES_HOST": self.host, "POSTGRES_PORT": str(self.port),
                "POSTGRES_USER": self.user, "POSTGRES_PASSWORD": self.password,
                "POSTGRES_SCHEMA": self.schema, "POSTGRES_POOL_SIZE": str(self.pool_size),
                "POSTGRES_LOCK_TIMEOUT": "5", **create}

    def redacted(self) -> str:
        """A description safe to log (never the password)."""
        if self.dialect == "sqlite":
            return f"sqlite file {self.path}"
        return f"postgresql {self.user}@{self.host}:{self.port}/{self.dbname} schema {self.schema}"


class Cursor:
    """Executes `?`-placeholder SQL on either backend."""

    def __init__(self, raw: Any, dialect: str) -> None:
        self._raw = raw
        self._dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement."""
        self._raw.execute(self._sql(sql), tuple(params))
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""
        if rows:
            self._raw.executemany(self._sql(sql), [tuple(r) for r in rows])

    def fetchall(self) -> list[tuple[Any, ...]]:
        """All remaining rows, bytes as bytes on both backends."""
        rows: list[tuple[Any, ...]] = self._raw.fetchall()
        if self._dialect == "sqlite":
            return rows  # sqlite3 already returns tuples with bytes
        return [tuple(_plain(v) for v in row) for row in rows]

    def fetchone(self) -> tuple[Any, ...] | None:
        """One row or None."""
        row = self._raw.fetchone()
        return None if row is None else tuple(_plain(v) for v in row)

    def _sql(self, sql: str) -> str:
        if self._dialect == "postgres":
            return sql.replace("%", "%%").replace("?", "%s")
        return sql


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


_MMAP_BYTES = 1 << 30  # address space only; the OS pages in what is read


class Database:
    """SQL on one store's database, with explicit transactions."""

    def __init__(self, url: DatabaseUrl, *, migrated: bool = False) -> None:
        self.url = url
        self.dialect = url.dialect
        self.migrated = migrated
        self._lock = threading.RLock()
        self._held = threading.local()  # a PostgreSQL connection this thread is inside
        self._conn: Any = None
        self._pool: Any = None
        self._connect()

    def _connect(self) -> None:
        try:
            if self.dialect == "sqlite":
                assert self.url.path is not None
                self.url.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.url.path, isolation_level=None,
                                       check_same_thread=False, timeout=30)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                # Reads map the file instead of copying pages through read() calls: a public
                # lookup in a 100,000-endorsement roster otherwise pays a system call for
                # each page outside SQLite's 2 MiB cache (public_api_bench).
                conn.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
                self._conn = conn
                return
            import psycopg
            from psycopg_pool import ConnectionPool

            # One plain connection first: a wrong host, role or password fails here with the
            # server's own words, not as a pool that timed out.
            with psycopg.connect(**self._pg_args(), autocommit=True) as pg:
                if not self.migrated:
                    pg.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.url.schema}"')
            schema = self.url.schema

            def configure(conn: Any) -> None:
                conn.execute(f'SET search_path TO "{schema}"')

            self._pool = ConnectionPool(kwargs={**self._pg_args(), "autocommit": True},
                                        min_size=1, max_size=self.url.pool_size,
                                        configure=configure, open=False, timeout=30,
                                        name=f"alliance-{schema}")
            self._pool.open(wait=True, timeout=10)
        except Exception as e:
            if self._pool is not None:
                self._pool.close()
            raise StorageError(f"cannot open {self.url.redacted()}: {e}") from e

    def _pg_args(self) -> dict[str, Any]:
        return {"host": self.url.host, "port": self.url.port, "user": self.url.user,
                "password": self.url.password, "dbname": self.url.dbname,
                "connect_timeout": 10,
                # pg_stat_activity then says which node's schema a connection serves.
                "application_name": f"alliance:{self.url.schema}"[:63]}

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self._pool is None:
            with self._lock:
                yield self._conn
            return
        held = getattr(self._held, "conn", None)
        if held is not None:  # a statement inside this thread's open transaction
            yield held
            return
        with self._pool.connection() as conn:
            self._held.conn = conn
            try:
                yield conn
            finally:
                self._held.conn = None

    def ddl(self, statements: str) -> None:
        """Create tables; `{blob}` becomes the backend's binary type. Nothing on a migrated
        database: there the migrations made the tables, and the node may lack the right."""
        if self.migrated:
            return
        blob = "BLOB" if self.dialect == "sqlite" else "BYTEA"
        with self.transaction() as cur:
            for statement in statements.format(blob=blob).split(";"):
                if statement.strip():
                    cur.execute(statement)

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Cursor]:
        """BEGIN ... COMMIT, rolled back on any error; errors surface as StorageError.

        SQLite write transactions take the write lock at BEGIN (IMMEDIATE), so two writers
        never deadlock upgrading; read-only ones do not take it at all."""
        try:
            with self._connection() as conn:
                raw = conn.cursor()
                begin = ("BEGIN IMMEDIATE" if self.dialect == "sqlite" and not read_only
                         else "BEGIN")
                try:
                    raw.execute(begin)
                    yield Cursor(raw, self.dialect)
                    raw.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(Exception):  # the original error is what matters
                        raw.execute("ROLLBACK")
                    raise
                finally:
                    raw.close()
        except BaseException as e:
            if _is_driver_error(e):
                raise StorageError(f"{self.url.redacted()}: {e}") from e
            raise

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Read rows with one statement. Both connections are in autocommit mode, where a
        single statement already reads one consistent snapshot, so BEGIN and COMMIT would only
        add two round trips (a third of a public verification's database time)."""
        try:
            with self._connection() as conn:
                raw = conn.cursor()
                try:
                    return Cursor(raw, self.dialect).execute(sql, params).fetchall()
                finally:
                    raw.close()
        except BaseException as e:
            if _is_driver_error(e):
                raise StorageError(f"{self.url.redacted()}: {e}") from e
            raise

    def close(self) -> None:
        """Close the connection (or the pool)."""
        if self._pool is not None:
            self._pool.close()
            return
        with self._lock:
            self._conn.close()


def _is_driver_error(e: BaseException) -> bool:
    if isinstance(e, sqlite3.Error):
        return True
    module = type(e).__module__
    return module.startswith("psycopg")
