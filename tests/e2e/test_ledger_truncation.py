"""A ledger that lost its last entries, driven as an operator and an attacker would (issue 9).

DESIGN invariant 8: a ledger never shrinks or forks itself. Rows are deleted from the stopped
node's real database files (sqlite3) or PostgreSQL schema; then `alliance ledger verify` and
`alliance export` must fail naming the missing seqs, `alliance serve` must refuse every
command with 503 `ledger_behind` and write nothing, and `alliance ledger recover --from` an
export holding the entries must bring the ledger back so that the next command is sealed at
the next seq, not as a second entry for a seq that was signed already. A tampered store's
export must name the first bad entry (item 2). With NATS, `alliance serve` asks its peers for
its lost entries before it seals anything.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from federation_api.node.local_alliance import found_alliance
from federation_api.replication.loopback import start_single_server
from ledger.signing import Signer
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.e2e.harness import NodeDir, ServerProcess, all_entries, head_seq, init_node, today
from tests.pg import base_url

ROLES = ("coordinator", "auditor")
SIGNED = 12  # entries sealed, and the size of the checkpoint signed over them


def imported(index: int) -> dict[str, Any]:
    """An import of one Level III endorsement from the paper roster."""
    return {"person_id": f"AK-P-{index:04d}", "family_name": f"Family{index}",
            "given_name": "Given", "level": "IMHS", "granted_on": "2015-03-02",
            "valid_through": dt.date(today().year + 1, 12, 31).isoformat(),
            "legacy_reference": f"paper-{index:04d}"}


@pytest.fixture
def database(backend: Backend) -> Iterator[str | None]:
    """None for the default SQLite files in the data dir, else a fresh PostgreSQL schema."""
    with backend.database_url() as url:
        yield url


def signed_node(tmp_path: Path, database_url: str | None = None
                ) -> tuple[NodeDir, ServerProcess, list[dict[str, Any]]]:
    """A node with SIGNED imported endorsements and a checkpoint signed over all of them."""
    node = init_node(tmp_path / "ak", database_url=database_url, roles=ROLES)
    server = ServerProcess(node)
    with server, server.client() as c:
        for index in range(1, SIGNED + 1):
            r = c.post("/v1/endorsements/imports", headers=node.auth("coordinator"),
                       json=imported(index))
            assert r.status_code == 201, r.text
        r = c.get("/v1/ledger/AK/checkpoint", headers=node.auth("auditor"))
        assert r.status_code == 200, r.text
        assert f"\n{SIGNED}\n" in r.text
        entries = all_entries(c, node)
    assert [e["seq"] for e in entries] == list(range(1, SIGNED + 1))
    return node, server, entries


def delete(node: NodeDir, *statements: str) -> None:
    """Run DELETE statements on the stopped node's ledger database, as an attacker would."""
    if node.database_url is None:
        with sqlite3.connect(node.data_dir / "ledger.sqlite") as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            for statement in statements:
                if statement.split()[2] in tables:
                    conn.execute(statement)
        return
    schema = node.database_url.rsplit("schema=", 1)[1]
    with psycopg.connect(base_url(), autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,))}
        for statement in statements:
            if statement.split()[2] in tables:
                conn.execute(statement)


LAST_ENTRY = f"DELETE FROM ledger_entries WHERE association = 'AK' AND seq = {SIGNED}"
# Everything in the ledger database that remembers seq 12 (the high-water mark exists only
# with the fix; before it, deleting the entry and the checkpoints was enough to hide it).
EVERY_TRACE = (LAST_ENTRY, "DELETE FROM checkpoints WHERE association = 'AK'",
               "DELETE FROM ledger_high_water WHERE association = 'AK'")


def refuses_commands(node: NodeDir, server: ServerProcess) -> None:
    """`alliance serve` starts, answers reads, and refuses every command, writing nothing."""
    with server, server.client() as c:
        r = c.post("/v1/endorsements/imports", headers=node.auth("coordinator"),
                   json=imported(SIGNED + 1))
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["code"] == "ledger_behind" and body["rule"] == "ledger.behind", body
        assert f"missing seqs {SIGNED}..{SIGNED}" in body["message"], body
        assert "alliance ledger recover" in body["message"], body
        assert head_seq(c, node) == SIGNED - 1  # no entry written, none re-signed
        assert c.get("/v1/ledger/AK/checkpoint",
                     headers=node.auth("auditor")).status_code == 503
    assert "seals nothing until it has them back" in server.log()


def test_deleting_the_last_entry_is_named_refused_and_recovered_from_an_export(
        tmp_path: Path) -> None:
    node, server, entries = signed_node(tmp_path)
    # What a peer's export would hold of AK's ledger (here the node's own, made before).
    node.cli("export", "--out", str(tmp_path / "peer-export"))
    delete(node, LAST_ENTRY)

    verify = node.cli("ledger", "verify", check=False)
    assert verify.returncode == 1, verify
    assert (f"ledger AK ends at seq {SIGNED - 1} but a checkpoint of size {SIGNED} was signed"
            in verify.stderr), verify.stderr
    assert f"missing seqs {SIGNED}..{SIGNED}" in verify.stderr
    assert "alliance ledger recover --from" in verify.stderr
    export = node.cli("export", "--out", str(tmp_path / "export"), check=False)
    assert export.returncode == 1, export
    assert f"missing seqs {SIGNED}..{SIGNED}" in export.stderr, export.stderr
    assert not (tmp_path / "export" / "ledgers").exists()

    with sqlite3.connect(node.data_dir / "events.sqlite") as conn:
        events = conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]
    refuses_commands(node, server)
    with sqlite3.connect(node.data_dir / "events.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0] == events

    recovered = node.cli("ledger", "recover", "--from", str(tmp_path / "peer-export"))
    assert "1 stored" in recovered.stdout, recovered.stdout
    assert f"seq {SIGNED - 1} -> {SIGNED}" in recovered.stdout
    assert f"{SIGNED} entries verified" in node.cli("ledger", "verify").stdout
    with server, server.client() as c:
        r = c.post("/v1/endorsements/imports", headers=node.auth("coordinator"),
                   json=imported(SIGNED + 1))
        assert r.status_code == 201, r.text
        after = all_entries(c, node)
    # Entry 12 is the one signed first (no second entry for seq 12); the command is 13.
    assert [e["wire"] for e in after[:SIGNED]] == [e["wire"] for e in entries]
    assert [e["seq"] for e in after] == list(range(1, SIGNED + 2))
    assert f"{SIGNED + 1} entries verified" in node.cli("ledger", "verify").stdout


def test_export_of_a_tampered_store_names_the_first_bad_entry(tmp_path: Path) -> None:
    node, _, _ = signed_node(tmp_path)
    with sqlite3.connect(node.data_dir / "ledger.sqlite") as conn:
        (wire,) = conn.execute("SELECT wire FROM ledger_entries WHERE seq = 5").fetchone()
        forged = wire[:-1] + bytes([wire[-1] ^ 1])  # one bit of the signature
        conn.execute("UPDATE ledger_entries SET wire = ? WHERE seq = 5", (forged,))
    export = node.cli("export", "--out", str(tmp_path / "export"), check=False)
    assert export.returncode == 1, export
    assert "FAILED: AK#5: " in export.stderr, export.stderr
    assert "signature" in export.stderr
    verify = node.cli("ledger", "verify", check=False)
    assert verify.returncode == 1 and "FAILED: AK#5: " in verify.stderr, verify.stderr


def test_serve_with_nats_gets_lost_entries_back_from_a_peer_before_it_seals(
        tmp_path: Path) -> None:
    found_alliance(tmp_path, {"AK": "Alaska AIMH", "MI": "Michigan AIMH"}, Signer.generate(),
                   alliance="Test Alliance", created=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    ak, mi = (NodeDir(data_dir=tmp_path / a.lower(), association=a) for a in ("AK", "MI"))
    for node in (ak, mi):
        for role in ROLES:
            node.tokens[role] = node.cli("tokens", "create", "--role", role, "--label",
                                         f"e2e {role}").stdout.strip()
    nats = start_single_server(tmp_path / "nats")
    fresh = None
    try:
        ak_server = ServerProcess(ak, env={"ALLIANCE_NATS_URL": nats.url})
        mi_server = ServerProcess(mi, env={"ALLIANCE_NATS_URL": nats.url})
        with ak_server, mi_server, ak_server.client() as c, mi_server.client() as m:
            for index in range(1, SIGNED + 1):
                r = c.post("/v1/endorsements/imports", headers=ak.auth("coordinator"),
                           json=imported(index))
                assert r.status_code == 201, r.text
            original = all_entries(c, ak)
            wait_for(lambda: entries_of(m, mi, "AK") == original, "MI's replica of AK")
        # AK's JetStream store goes too: only MI's verified replica holds seq 12.
        nats.stop()
        fresh = start_single_server(tmp_path / "nats-fresh")
        delete(ak, LAST_ENTRY)
        ak_server = ServerProcess(ak, env={"ALLIANCE_NATS_URL": fresh.url})
        mi_server = ServerProcess(mi, env={"ALLIANCE_NATS_URL": fresh.url})
        with mi_server, mi_server.client() as m:
            with ak_server, ak_server.client() as c:
                # Healthy means started: the peers were asked before the first request.
                assert all_entries(c, ak) == original
                r = c.post("/v1/endorsements/imports", headers=ak.auth("coordinator"),
                           json=imported(SIGNED + 1))
                assert r.status_code == 201, r.text
                assert head_seq(c, ak) == SIGNED + 1
            wait_for(lambda: len(entries_of(m, mi, "AK")) == SIGNED + 1, "MI gets seq 13")
        assert f"{SIGNED + 1} entries verified" in ak.cli("ledger", "verify").stdout
        assert f"{SIGNED + 1} entries verified" in mi.cli("ledger", "verify", "--association",
                                                          "AK").stdout
    finally:
        nats.stop()
        if fresh is not None:
            fresh.stop()


def entries_of(client: httpx.Client, node: NodeDir, association: str) -> list[dict[str, Any]]:
    """The entries of `association` that `node` holds (its replica, for a peer)."""
    r = client.get(f"/v1/ledger/{association}/entries", params={"from": 1},
                   headers=node.auth("auditor"))
    assert r.status_code == 200, r.text
    entries: list[dict[str, Any]] = r.json()["entries"]
    return entries


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll with a bound."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# -- the contract, and the backends it runs on ---------------------------------------------


class NodeFilesContract:
    """A served node whose own database lost entries: one contract, on every backend."""

    def test_deleting_every_trace_of_the_last_entry_is_still_caught(self,
            tmp_path: Path, database: str | None) -> None:
        node, server, _ = signed_node(tmp_path, database)
        delete(node, *EVERY_TRACE)
        node.cli("projections", "rebuild")  # the projections now agree with the short ledger

        verify = node.cli("ledger", "verify", check=False)
        assert verify.returncode == 1, verify
        assert (f"ledger AK ends at seq {SIGNED - 1} but the event store holds {SIGNED} events "
                f"the writer sealed" in verify.stderr), verify.stderr
        assert f"missing seqs {SIGNED}..{SIGNED}" in verify.stderr
        export = node.cli("export", "--out", str(tmp_path / "export"), check=False)
        assert export.returncode == 1, export
        assert f"missing seqs {SIGNED}..{SIGNED}" in export.stderr, export.stderr
        refuses_commands(node, server)
        verify = node.cli("ledger", "verify", check=False)
        assert verify.returncode == 1 and f"ends at seq {SIGNED - 1}" in verify.stderr


class TestNodeFilesOnSQLite(NodeFilesContract, OnSQLite):
    """The contract on SQLite files."""


class TestNodeFilesOnPostgreSQL(NodeFilesContract, OnPostgreSQL):
    """The contract on a real PostgreSQL (a fresh schema per test)."""
