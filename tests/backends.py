"""The storage backends every storage contract runs against: SQLite files and a real PostgreSQL.

A contract is an abstract test class per storage port, written once: the ledger store with the
writer and the event store (`tests/integration/test_ledger_store.py`), the projector's tables
(`test_projections.py`; the staff workflow into them, `test_review_workflow.py`), and the
node's own tables: subscriptions, webhooks and the change feed (`test_subscriptions.py`), the
delivery outbox (`test_webhook_dispatch.py`), the witness's state (`test_witness.py`), tokens
behind the pages (`test_pages.py`), the staff workspace (`test_staff_pages.py`), idempotency
keys and intents (`test_idempotent_retries.py`), staff accounts, sessions, links and the audit log
(`test_accounts.py`), the mail outbox (`test_mail.py`), and a whole node's files under
`alliance serve` (`tests/e2e/test_ledger_truncation.py`). Two concrete subclasses run each
contract, one mixing in `OnSQLite`, the other `OnPostgreSQL` (marked `postgres`; a fresh schema
per test, dropped afterwards, see `tests/pg.py`), as eventsourcing runs one recorder test case
against each of its recorders. A contract's fixtures take the `backend` fixture the mixin
provides and ask it where the port's tables live.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from tests.pg import postgres_schema_url, require_postgres


class Backend(ABC):
    """Where a contract's tables live for one test."""

    name: ClassVar[str]

    @abstractmethod
    def database_url(self, sqlite_file: Path | None = None
                     ) -> contextlib.AbstractContextManager[str | None]:
        """The database URL for one test, as a context that cleans it up.

        SQLite: the URL of `sqlite_file`, or None without one (a node then keeps its default
        SQLite files in its data directory). PostgreSQL: a fresh, empty schema, dropped when
        the context ends (close every connection into it first)."""

    @abstractmethod
    def require(self) -> None:
        """Skip the test (visibly; under CI, fail) when the backend cannot be used."""


class SQLite(Backend):
    """SQLite files in the test's temporary directory."""

    name = "sqlite"

    def database_url(self, sqlite_file: Path | None = None
                     ) -> contextlib.AbstractContextManager[str | None]:
        """The file's URL (None: the node's default files)."""
        return contextlib.nullcontext(None if sqlite_file is None else f"sqlite:///{sqlite_file}")

    def require(self) -> None:
        """SQLite is always there."""


class PostgreSQL(Backend):
    """A real PostgreSQL server (`ALLIANCE_TEST_POSTGRES_URL`, default 127.0.0.1:5432/test)."""

    name = "postgres"

    def database_url(self, sqlite_file: Path | None = None
                     ) -> contextlib.AbstractContextManager[str | None]:
        """A fresh schema's URL; the schema is dropped afterwards."""
        return _schema()

    def require(self) -> None:
        """Skip without a server (fail under CI)."""
        require_postgres()


@contextlib.contextmanager
def _schema() -> Iterator[str | None]:
    with postgres_schema_url() as url:
        yield url


class OnSQLite:
    """Mixed into a contract's concrete class: run it on SQLite files."""

    @pytest.fixture
    def backend(self) -> Backend:
        """The backend of this class's tests."""
        return SQLite()


class OnPostgreSQL:
    """Mixed into a contract's concrete class: run it on a real PostgreSQL."""

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.postgres]

    @pytest.fixture
    def backend(self) -> Backend:
        """The backend of this class's tests."""
        return PostgreSQL()
