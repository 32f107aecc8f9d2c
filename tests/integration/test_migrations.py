"""The migrations contract, on SQLite files and on a real PostgreSQL schema.

A fresh database migrates to this release's head and a second run changes nothing; what the
revisions build is exactly what the stores' own CREATE statements build (the statements
scratch databases and tests use); a test-only revision adding a column upgrades a database
that holds rows and keeps them; a revision that fails leaves nothing behind; a database
migrated by a newer release is refused; two processes migrating at once both succeed and
apply each revision once; a node refuses a PostgreSQL schema that is behind and migrates its
own SQLite files. The upgrade of a database the previous release wrote is
tests/e2e/test_upgrade.py.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from federation_api.accounts import tables as account_tables
from federation_api.accounts import tokens
from federation_api.accounts.tokens import Role, TokenStore
from federation_api.credentials import list_watch, served_lists
from federation_api.documents import store as documents_store
from federation_api.fees import store as fee_store
from federation_api.mail import outbox
from federation_api.migrations.engines import engine
from federation_api.migrations.errors import (
    MigrationError,
    SchemaAhead,
    SchemaBehind,
    SchemaMismatch,
)
from federation_api.migrations.runner import migrate, require_current, status
from federation_api.migrations.shapes import shapes
from federation_api.migrations.stores import EVENT_TABLES, STORES
from federation_api.node import idempotency
from federation_api.notifications import employer_tables
from federation_api.people import store as people_store
from federation_api.portal import drafts as portal_drafts
from federation_api.portal import hours_log as portal_hours
from federation_api.portal import renewal as portal_renewal
from federation_api.ratings import store as rating_store
from ledger import ingest
from ledger.chain import store as ledger_store
from ledger.storage.database import Database, DatabaseUrl
from ledger.transparency import log, witness
from projections import tables as projection_tables
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.pg import base_url, require_postgres

REVISIONS = Path(__file__).parents[1] / "fixtures" / "revisions"
ADD_COLUMN = {"node": [REVISIONS / "add_column"]}
FAILING = {"node": [REVISIONS / "failing"]}
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

# Each store's tables as the stores create them on a scratch database.
OWN_STATEMENTS = {
    "ledger": [ledger_store._DDL, ingest._DDL, log._DDL, witness._DDL],
    "projections": [projection_tables.DDL],
    "node": [tokens._DDL, idempotency._DDL, employer_tables.DDL, outbox._DDL,
             served_lists._DDL, list_watch._DDL, people_store._DDL, portal_drafts._DDL,
             portal_hours._DDL, portal_renewal._DDL, documents_store.DDL,
             rating_store._DDL, fee_store.DDL],
}


class MigrationsContract:
    """Runs on both backends; `url` is a fresh database (SQLite: files in a new folder)."""

    @pytest.fixture
    def url(self, backend: Backend, tmp_path: Path) -> Iterator[DatabaseUrl]:
        backend.require()
        with backend.database_url(tmp_path / "a" / "events.sqlite") as raw:
            assert raw is not None
            yield DatabaseUrl.parse(raw)

    @pytest.fixture
    def other(self, backend: Backend, tmp_path: Path) -> Iterator[DatabaseUrl]:
        with backend.database_url(tmp_path / "b" / "events.sqlite") as raw:
            assert raw is not None
            yield DatabaseUrl.parse(raw)

    def test_a_fresh_database_migrates_to_head_once(self, url: DatabaseUrl) -> None:
        with pytest.raises(SchemaBehind, match="alliance migrate"):
            require_current(url)
        moved = migrate(url)
        assert [m[0] for m in moved] == ["events", "ledger", "projections", "node"]
        assert all(s.up_to_date for s in status(url))
        require_current(url)
        assert migrate(url) == []
        with engine(url).connect() as conn:
            assert EVENT_TABLES[url.dialect] in shapes(conn)

    def test_the_revisions_build_what_the_stores_build(self, url: DatabaseUrl,
                                                       other: DatabaseUrl) -> None:
        migrate(url)
        for name, statements in OWN_STATEMENTS.items():
            db = Database(other.with_file(f"{name}.sqlite"))
            for statement in statements:
                db.ddl(statement)
            if name == "node":
                account_tables.create_tables(db)
            db.close()
        for store in STORES:
            with engine(store.url(url)).connect() as conn:
                migrated = shapes(conn)
            with engine(store.url(other)).connect() as conn:
                created = shapes(conn)
            ours = {t for t in migrated if not t.startswith("alembic_version")
                    and t not in EVENT_TABLES.values()}
            if url.dialect == "sqlite":
                assert ours == set(created), store.name
            assert {t: migrated[t] for t in ours} == {t: created[t] for t in ours}, store.name

    def test_a_revision_adding_a_column_keeps_the_rows(self, url: DatabaseUrl) -> None:
        migrate(url)
        db = Database(url.with_file("node.sqlite"), migrated=True)
        store = TokenStore(db)
        token_id, secret = store.issue(label="before the upgrade", role=Role.AUDITOR, now=T0)
        moved = migrate(url, extra=ADD_COLUMN)
        assert moved == [("node", "node_0008", "node_9001")]
        rows = db.query("SELECT token_id, note FROM api_tokens")
        assert rows == [(token_id, None)]
        principal = store.authenticate(secret, now=T0)
        assert principal is not None and principal.token_id == token_id
        db.close()
        require_current(url, extra=ADD_COLUMN)
        # This release's code does not know node_9001: a newer release migrated it.
        with pytest.raises(SchemaAhead, match="newer release"):
            require_current(url)

    def test_a_failing_revision_leaves_nothing_behind(self, url: DatabaseUrl) -> None:
        migrate(url)
        with pytest.raises(MigrationError, match=r"rolled back.*no_such_table"):
            migrate(url, extra=FAILING)
        with engine(url.with_file("node.sqlite")).connect() as conn:
            assert "half_made" not in shapes(conn)
            version = conn.execute(text("SELECT version_num FROM alembic_version_node")).all()
        assert version == [("node_0008",)]

    def test_a_node_table_that_differs_is_refused_and_left_alone(self, url: DatabaseUrl
                                                                ) -> None:
        db = Database(url.with_file("node.sqlite"))
        db.ddl("CREATE TABLE api_tokens (token_hash TEXT PRIMARY KEY, label TEXT)")
        db.close()
        with pytest.raises(SchemaMismatch) as refused:
            migrate(url)
        message = str(refused.value)
        assert "api_tokens: column token_id is missing" in message, message
        with engine(url.with_file("node.sqlite")).connect() as conn:
            assert "alembic_version_node" not in shapes(conn)
            assert "idempotency_keys" not in shapes(conn)
        with engine(url.with_file("ledger.sqlite")).connect() as conn:  # judged first
            assert "alembic_version_ledger" not in shapes(conn)
        with engine(url).connect() as conn:
            assert EVENT_TABLES[url.dialect] not in shapes(conn)

    def test_two_processes_migrating_at_once_both_succeed(self, url: DatabaseUrl,
                                                          tmp_path: Path) -> None:
        raw = _raw_url(url)
        env = {**os.environ, "ALLIANCE_DATABASE_URL": raw}
        runs = [subprocess.Popen([sys.executable, "-m", "federation_api.cli.main", "migrate",
                                  "--data-dir", str(tmp_path / "unused")], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
        outputs = [r.communicate(timeout=120) for r in runs]
        assert [r.returncode for r in runs] == [0, 0], outputs
        printed = "".join(out for out, _ in outputs)
        assert printed.count("ledger: none -> ledger_0001") == 1, printed
        assert "every store is at this release's revision" in printed, printed
        for store in STORES:
            with engine(store.url(url)).connect() as conn:
                rows = conn.execute(text(f"SELECT version_num FROM {store.version_table}")
                                    ).all()
            assert len(rows) == 1, store.name

    def test_migrate_status_tells_behind_from_current(self, url: DatabaseUrl,
                                                      tmp_path: Path) -> None:
        env = {**os.environ, "ALLIANCE_DATABASE_URL": _raw_url(url)}

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "federation_api.cli.main", "migrate",
                                   "--data-dir", str(tmp_path / "unused"), *args], env=env,
                                  capture_output=True, text=True, timeout=120)

        behind = run("--status")
        assert behind.returncode == 1, behind
        assert "ledger: none (this release: ledger_0001) behind" in behind.stdout
        assert "password" not in behind.stdout.lower()
        assert run().returncode == 0
        current = run("--status")
        assert current.returncode == 0, current
        assert "node: node_0008 (this release: node_0008) up to date" in current.stdout


def _raw_url(url: DatabaseUrl) -> str:
    if url.dialect == "sqlite":
        return f"sqlite:///{url.path}"
    return (f"postgresql://{url.user}@{url.host}:{url.port}/{url.dbname}"
            f"?schema={url.schema}")


class TestMigrationsOnSQLite(OnSQLite, MigrationsContract):
    """SQLite files, one per store."""


class TestMigrationsOnPostgreSQL(OnPostgreSQL, MigrationsContract):
    """One PostgreSQL schema holding every store."""


@pytest.mark.postgres
def test_an_unknown_role_is_a_clear_error_without_the_password() -> None:
    require_postgres()
    host = urlsplit(base_url())
    url = DatabaseUrl.parse(f"postgresql://t_nobody_{secrets.token_hex(4)}:hunter2@"
                            f"{host.hostname}:{host.port or 5432}/{host.path.lstrip('/')}"
                            f"?schema=t_nothing")
    for attempt in (status, migrate):
        with pytest.raises(MigrationError, match="does not exist") as refused:
            attempt(url)
        assert "hunter2" not in str(refused.value)
