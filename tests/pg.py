"""A fresh PostgreSQL schema per test, dropped afterwards.

The server is `postgresql://postgres@127.0.0.1:5432/test` unless ALLIANCE_TEST_POSTGRES_URL
names another (a base URL; any `schema=` in it is replaced). Without a reachable server the
test is skipped with the reason shown, except when CI is set: there a missing server is a
failure, so PostgreSQL coverage cannot silently vanish from the pipeline.

Use the context manager from any test or fixture, or import the `pg_url` fixture
(`from tests.pg import pg_url  # noqa: F401`).
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import pytest

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def base_url() -> str:
    """The server's URL without a schema parameter."""
    parts = urlsplit(os.environ.get("ALLIANCE_TEST_POSTGRES_URL", DEFAULT_URL))
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "schema"]
    return urlunsplit(parts._replace(query=urlencode(query)))


@functools.cache
def unreachable_reason() -> str | None:
    """Why the test server cannot be used, or None when it answers (asked once per run)."""
    try:
        with psycopg.connect(base_url(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as e:
        where = urlsplit(base_url())
        return f"PostgreSQL at {where.hostname}:{where.port or 5432} is unreachable: {e}"
    return None


def require_postgres() -> None:
    """Skip without a server (visibly), or fail when CI is set."""
    reason = unreachable_reason()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, so PostgreSQL is required: {reason}")
    pytest.skip(reason)


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A URL naming a new, empty schema `t_<hex>`; the schema is dropped on exit.

    Close every connection into the schema before leaving the block.
    """
    require_postgres()
    schema = f"t_{secrets.token_hex(8)}"
    with psycopg.connect(base_url(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    parts = urlsplit(base_url())
    query = [*parse_qsl(parts.query), ("schema", schema)]
    try:
        yield urlunsplit(parts._replace(query=urlencode(query)))
    finally:
        with psycopg.connect(base_url(), autocommit=True) as conn:
            # A connection left open in the schema must not hang the suite.
            conn.execute("SET lock_timeout = '10s'")
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_url() -> Iterator[str]:
    """Fixture form of `postgres_schema_url`."""
    with postgres_schema_url() as url:
        yield url
