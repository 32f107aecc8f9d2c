"""Bring a node's stores to this release's revisions, or say how far behind they are.

`migrate` takes the migration lock, makes the PostgreSQL schema if it is missing, lets
eventsourcing create its event tables, then upgrades each store (ledger, projections, node)
in one transaction per store. A store with tables but no version table was made by the
release before migrations: it is stamped with the baseline when its tables match it, and
refused with the differences when they do not. `require_current` is what a node checks
before it opens a database it may not change (PostgreSQL, as the runtime role).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, inspect
from sqlalchemy.exc import DBAPIError

from federation_api.migrations.engines import connect_postgres, engine, migration_lock
from federation_api.migrations.errors import (
    MigrationError,
    SchemaAhead,
    SchemaBehind,
    SchemaMismatch,
)
from federation_api.migrations.shapes import TableShape, differences, shapes
from federation_api.migrations.stores import EVENT_TABLES, STORES, Store
from ledger.storage.database import DatabaseUrl
from ledger.storage.event_store import PrivateEventStore

# Revisions outside the package, by store name: only tests pass them (a test-only chain).
Extra = Mapping[str, Sequence[Path]]
EVENTS = "events"


@dataclass(frozen=True)
class StoreStatus:
    """Where one store stands: its revision (None: none recorded) and this release's head."""

    store: str
    current: str | None
    head: str
    unversioned_tables: bool = False  # tables made before migrations, not yet stamped

    @property
    def up_to_date(self) -> bool:
        """True when nothing is left to migrate."""
        return self.current == self.head


def scripts(store: Store, extra: Extra | None = None) -> ScriptDirectory:
    """The store's revisions (and a test's extra ones)."""
    return _scripts(store, tuple(str(p) for p in (extra or {}).get(store.name, ())))


@functools.cache
def _scripts(store: Store, extra: tuple[str, ...]) -> ScriptDirectory:
    # Read once per process: every node start asks, and loading the revision modules is
    # most of what a check of an up-to-date database would otherwise cost.
    return ScriptDirectory(str(store.revisions), version_locations=[str(store.revisions),
                                                                      *extra])


def status(base: DatabaseUrl, *, extra: Extra | None = None) -> list[StoreStatus]:
    """Each store's revision against this release's head, the event tables first."""
    try:
        return _status(base, extra)
    except (DBAPIError, psycopg.OperationalError) as e:
        raise MigrationError(f"cannot read the schema of {base.redacted()}: "
                             f"{_root(e)}") from e


def _status(base: DatabaseUrl, extra: Extra | None) -> list[StoreStatus]:
    with contextlib.ExitStack() as stack:
        opened: dict[DatabaseUrl, Connection] = {}

        def connection(url: DatabaseUrl) -> Connection:
            # One connection per database: on PostgreSQL the four stores share one.
            if url not in opened:
                opened[url] = stack.enter_context(engine(url).connect())
            return opened[url]

        events = inspect(connection(base)).has_table(EVENT_TABLES[base.dialect])
        found = [StoreStatus(EVENTS, "created" if events else None, "created")]
        for store in STORES:
            script = scripts(store, extra)
            conn = connection(store.url(base))
            current = _current(conn, store, script)
            legacy = current is None and bool(shapes(conn, set(_baseline(store))))
            found.append(StoreStatus(store.name, current, _head(script), legacy))
        return found


def require_current(base: DatabaseUrl, *, extra: Extra | None = None) -> None:
    """Raise SchemaBehind (naming `alliance migrate`) unless every store is at its head."""
    behind = {s.store: (s.current, s.head) for s in status(base, extra=extra)
              if not s.up_to_date}
    if behind:
        raise SchemaBehind(behind)


def migrate(base: DatabaseUrl, *, extra: Extra | None = None) -> list[tuple[str, str | None,
                                                                            str]]:
    """Upgrade every store to its head; returns (store, from, to) of the stores it moved."""
    try:
        return _migrate(base, extra)
    except Exception as e:
        if _insufficient_privilege(e):
            raise MigrationError(f"this role may not change the schema of "
                                 f"{base.redacted()} ({_root(e)}): run `alliance migrate` "
                                 f"with the database URL of the schema's owner") from e
        if isinstance(e, DBAPIError | psycopg.OperationalError):
            raise MigrationError(f"cannot migrate {base.redacted()}: {_root(e)}") from e
        raise


def _migrate(base: DatabaseUrl, extra: Extra | None) -> list[tuple[str, str | None, str]]:
    moved: list[tuple[str, str | None, str]] = []
    with migration_lock(base):
        if base.dialect == "postgres":
            _ensure_schema(base)
        # Every store is judged before any is changed: a refused database stays as it was.
        plan: list[tuple[Store, ScriptDirectory, str | None, str]] = []
        for store in STORES:
            script = scripts(store, extra)
            with engine(store.url(base)).connect() as conn:
                before = _current(conn, store, script)
                if before is None:
                    _refuse_unless_baseline(conn, store)
            if before != _head(script):
                plan.append((store, script, before, _head(script)))
        if not _has_event_tables(base):
            # eventsourcing's own CREATE_TABLE, run here, by the role that owns the schema.
            PrivateEventStore(env=base.eventsourcing_env(create_table=True)).close()
            moved.append((EVENTS, None, "created"))
        for store, script, before, head in plan:
            with engine(store.url(base)).connect() as conn:
                try:
                    _upgrade(conn, script, store.version_table, head)
                except DBAPIError as e:
                    raise MigrationError(f"{store.name}: a revision failed and was rolled "
                                         f"back, the store stays at {before or 'none'}: "
                                         f"{e.orig}") from e
            moved.append((store.name, before, head))
    return moved


def _root(e: BaseException) -> BaseException:
    """The driver's own error under the wrappers (SQLAlchemy's .orig, eventsourcing's cause)."""
    while True:
        inner = getattr(e, "orig", None) or e.__cause__
        if not isinstance(inner, BaseException):
            return e
        e = inner


def _insufficient_privilege(e: BaseException) -> bool:
    return isinstance(_root(e), psycopg.errors.InsufficientPrivilege)


def _upgrade(conn: Connection, script: ScriptDirectory, version_table: str,
             destination: str) -> None:
    def upgrade(revision: str, _context: object) -> object:
        return script._upgrade_revs(destination, revision)  # what `alembic upgrade` calls

    with EnvironmentContext(Config(), script, fn=upgrade, destination_rev=destination) as env:
        env.configure(connection=conn, version_table=version_table, transactional_ddl=True)
        with env.begin_transaction():
            env.run_migrations()
    if conn.in_transaction():
        conn.commit()


def _current(conn: Connection, store: Store, script: ScriptDirectory) -> str | None:
    current = MigrationContext.configure(
        conn, opts={"version_table": store.version_table}).get_current_revision()
    if current is not None:
        try:
            script.get_revision(current)
        except CommandError as e:
            raise SchemaAhead(store.name, current) from e
    return current


def _head(script: ScriptDirectory) -> str:
    head = script.get_current_head()
    assert head is not None, "every store has a baseline revision"
    return head


def _refuse_unless_baseline(conn: Connection, store: Store) -> None:
    expected = _baseline(store)
    present = shapes(conn, set(expected))
    if present:
        found = differences(expected, present)
        if found:
            raise SchemaMismatch(store.name, found)


@functools.cache
def _baseline(store: Store) -> dict[str, TableShape]:
    """The shape of the store's baseline revision, run on an in-memory SQLite database."""
    script = scripts(store)
    base = script.get_base()
    assert base is not None
    with engine(DatabaseUrl(dialect="sqlite", path=Path(":memory:"))).connect() as conn:
        _upgrade(conn, script, store.version_table, base)
        return {name: shape for name, shape in shapes(conn).items()
                if name != store.version_table}


def _has_event_tables(base: DatabaseUrl) -> bool:
    with engine(base).connect() as conn:
        return inspect(conn).has_table(EVENT_TABLES[base.dialect])


def _ensure_schema(base: DatabaseUrl) -> None:
    # Only when missing: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when
    # the schema exists, which an owner given its schema by the DBA does not have.
    with connect_postgres(base) as conn:
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                        (base.schema,)).fetchone() is None:
            conn.execute(f'CREATE SCHEMA "{base.schema}"')


def prepare_for_node(base: DatabaseUrl) -> None:
    """What a node does before it opens its stores. The embedded default (SQLite files the node
    owns) migrates itself; on PostgreSQL the node runs as a role that may not change the
    schema, so a schema behind this release stops it (SchemaBehind names `alliance migrate`)."""
    if base.dialect == "sqlite":
        migrate(base)
    else:
        require_current(base)
