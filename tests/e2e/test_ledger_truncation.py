"""A ledger that lost its last entries, driven as an operator and an attacker would (issue 9).

DESIGN invariant 8: a ledger never shrinks or forks itself. Rows are deleted from the stopped
node's real database files (sqlite3) or PostgreSQL schema; then `alliance ledger verify` and
`alliance export` must fail naming the missing seqs, `alliance serve` must refuse every
command with 503 `ledger_behind` and write nothing, and `alliance ledger recover --from` an
export holding the entries must bring the ledger back so that the next command is sealed at
the next seq, not as a second entry for a seq that was signed already. A tampered store's
export must name the first bad entry (item 2).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.e2e.harness import NodeDir, ServerProcess, all_entries, head_seq, init_node, today
from tests.pg import base_url, postgres_schema_url

ROLES = ("coordinator", "auditor")
SIGNED = 12  # entries sealed, and the size of the checkpoint signed over them


def imported(index: int) -> dict[str, Any]:
    """An import of one Level III endorsement from the paper roster."""
    return {"person_id": f"AK-P-{index:04d}", "family_name": f"Family{index}",
            "given_name": "Given", "level": "IMHS", "granted_on": "2015-03-02",
            "valid_through": dt.date(today().year + 1, 12, 31).isoformat(),
            "legacy_reference": f"paper-{index:04d}"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the default SQLite files in the data dir, else a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield None
    else:
        with postgres_schema_url() as url:
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


def test_deleting_every_trace_of_the_last_entry_is_still_caught(
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
