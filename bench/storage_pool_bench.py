"""PostgreSQL connection pool: concurrent reads with a pool of one against a pool of N.

    .venv/bin/python -m bench.storage_pool_bench [--threads 8] [--reads 2000] [--pool 4]
        [--rows 10000]

A pool of one is what every store had before the pool: one connection used under a lock, so
one statement at a time per store. Both runs use the same SQL adapter
(`ledger.storage.database.Database`) on the same table in a fresh schema of the server named
by ALLIANCE_TEST_POSTGRES_URL (default the test server), with `--threads` threads each doing
`--reads` point lookups by primary key (the shape of a public verification's first query) and
one short write transaction in ten. The figure to read is the ratio of the two throughputs,
measured in the same run on the same machine; absolute numbers depend on what else runs.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import threading
import time

import psycopg

from ledger.storage.database import Database, DatabaseUrl


def base_url() -> str:
    """The server to measure on (the test server unless ALLIANCE_TEST_POSTGRES_URL says)."""
    return os.environ.get("ALLIANCE_TEST_POSTGRES_URL",
                          "postgresql://postgres@127.0.0.1:5432/test").split("?")[0]


def _run(url: DatabaseUrl, *, threads: int, reads: int, rows: int) -> float:
    db = Database(url)
    barrier = threading.Barrier(threads + 1)

    def work(seed: int) -> None:
        rng = random.Random(seed)
        barrier.wait()
        for i in range(reads):
            key = f"E{rng.randrange(rows):06d}"
            db.query("SELECT payload FROM lookups WHERE key = ?", (key,))
            if i % 10 == 0:
                with db.transaction() as cur:
                    cur.execute("UPDATE lookups SET hits = hits + 1 WHERE key = ?", (key,))

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    started = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    db.close()
    return threads * reads / elapsed


def main() -> None:
    """Measure both pool sizes in one run and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--pool", type=int, default=4)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    schema = f"bench_{secrets.token_hex(4)}"
    url = DatabaseUrl.parse(f"{base_url()}?schema={schema}")
    setup = Database(url)
    setup.ddl("CREATE TABLE lookups (key TEXT PRIMARY KEY, payload TEXT NOT NULL, "
              "hits INTEGER NOT NULL)")
    with setup.transaction() as cur:
        cur.executemany("INSERT INTO lookups VALUES (?, ?, 0)",
                        [(f"E{i:06d}", "x" * 200) for i in range(args.rows)])
    setup.close()
    try:
        one = _run(url.with_pool_size(1), threads=args.threads, reads=args.reads,
                   rows=args.rows)
        pooled = _run(url.with_pool_size(args.pool), threads=args.threads, reads=args.reads,
                      rows=args.rows)
    finally:
        with psycopg.connect(base_url(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    print(f"{args.threads} threads, {args.reads} reads each (1 write in 10), "
          f"{args.rows} rows")
    print(f"pool of 1 (one connection, as before): {one:9.0f} lookups/s")
    print(f"pool of {args.pool}:                         {pooled:9.0f} lookups/s")
    print(f"ratio pool {args.pool} / pool 1:               {pooled / one:9.2f}")


if __name__ == "__main__":
    main()
