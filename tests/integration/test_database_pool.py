"""The PostgreSQL connection pool of the SQL adapter, on a real server.

Transactions of several threads run at once, on at most `pool_size` connections; a thread's
statements inside its open transaction use that transaction's connection (they see its
uncommitted rows, as with the single connection before the pool); closing the database
closes every connection; ALLIANCE_DATABASE_POOL_SIZE reaches the node's database URL.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from federation_api.node.setup import NodePaths
from federation_api.settings import Settings
from ledger.storage.database import Database, DatabaseUrl
from tests.pg import base_url, pg_url  # noqa: F401 - the fixture

pytestmark = pytest.mark.postgres

POOL = 3


def _connections(schema: str) -> int:
    with psycopg.connect(base_url()) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                           (f"alliance:{schema}",)).fetchone()
    assert row is not None
    return int(row[0])


def test_threads_share_a_bounded_pool(pg_url: str) -> None:  # noqa: F811
    url = DatabaseUrl.parse(pg_url).with_pool_size(POOL)
    db = Database(url)
    db.ddl("CREATE TABLE hits (n INTEGER NOT NULL, schema_name TEXT NOT NULL)")
    together = threading.Barrier(POOL, timeout=30)
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with db.transaction() as cur:
                cur.execute("INSERT INTO hits VALUES (?, ?)", (n, url.schema))
                if n < POOL:
                    together.wait()  # POOL transactions open at the same moment
                seen = db.query("SELECT count(*) FROM hits WHERE n = ?", (n,))
                assert seen == [(1,)], "a statement inside the transaction sees its row"
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []
    assert db.query("SELECT count(*) FROM hits") == [(12,)]
    assert 1 <= _connections(url.schema) <= POOL
    db.close()
    assert _connections_after_close(url.schema) == 0


def _connections_after_close(schema: str) -> int:
    """The count once the server has seen the closed connections go.

    A client's close sends Terminate and returns; the backend process leaves pg_stat_activity
    a moment later, so a count taken at once can still see it on a loaded machine.
    """
    deadline = time.monotonic() + 10
    while (count := _connections(schema)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return count


def test_the_pool_size_setting_reaches_the_node(tmp_path: Path) -> None:
    settings = Settings.from_env({"ALLIANCE_DATABASE_POOL_SIZE": "7",
                                  "ALLIANCE_DATABASE_URL": "postgresql://n@h/db?schema=ak"})
    url = NodePaths(tmp_path).database_url(settings)
    assert url.pool_size == 7
    assert url.eventsourcing_env(create_table=False)["POSTGRES_POOL_SIZE"] == "7"
    with pytest.raises(ValueError, match="ALLIANCE_DATABASE_POOL_SIZE"):
        Settings.from_env({"ALLIANCE_DATABASE_POOL_SIZE": "0"})
