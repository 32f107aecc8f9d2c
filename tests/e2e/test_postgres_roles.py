"""The PostgreSQL production set-up of docs/storage.md, on the local server.

Two roles with names unique to the run: an owner that owns the node's schema and runs
`alliance migrate`, and the runtime role `alliance init` and the node connect as. Before the
schema is migrated the runtime role can neither initialise nor start a node (the message
names `alliance migrate`). After `alliance migrate --runtime-role`, the node runs as the
runtime role: it writes commands, tokens, checkpoints, rebuilds its projections, and
`alliance serve` answers a staff command and a public lookup. The same
role is refused DDL, changes to ledger entries, checkpoints and stored events, and writes to
the version tables; nothing it was refused changed a row. Both roles are dropped afterwards.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from domain.levels import Level
from federation_api.accounts.tokens import Role
from federation_api.clock import now
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.node.root import Node
from federation_api.settings import Settings
from tests.e2e.harness import NodeDir, ServerProcess, provider_import, run_alliance
from tests.pg import base_url, require_postgres

pytestmark = pytest.mark.postgres

REFUSED_TO_THE_NODE = [
    "UPDATE ledger_entries SET wire = wire",
    "DELETE FROM ledger_entries",
    "DELETE FROM checkpoints",
    "UPDATE checkpoints SET note = note",
    "DELETE FROM alliance_events",
    "TRUNCATE ledger_entries",
    "CREATE TABLE planted (x INTEGER)",
    "ALTER TABLE roster ADD COLUMN planted INTEGER",
    "DROP INDEX roster_person",
    "UPDATE alembic_version_ledger SET version_num = 'ledger_9999'",
]


def _as(role: str, schema: str) -> str:
    parts = urlsplit(base_url())
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}", query=f"schema={schema}"))


@pytest.fixture
def roles() -> Iterator[tuple[str, str, str]]:
    """(owner URL, runtime URL, schema): both roles and the schema exist for one test."""
    require_postgres()
    suffix = secrets.token_hex(4)
    owner, runtime, schema = f"t_owner_{suffix}", f"t_node_{suffix}", f"t_{suffix}"
    with psycopg.connect(base_url(), autocommit=True) as su:
        su.execute(f'CREATE ROLE "{owner}" LOGIN')
        su.execute(f'CREATE ROLE "{runtime}" LOGIN')
        su.execute(f'CREATE SCHEMA "{schema}" AUTHORIZATION "{owner}"')
    try:
        yield _as(owner, schema), _as(runtime, schema), schema
    finally:
        with psycopg.connect(base_url(), autocommit=True) as su:
            su.execute("SET lock_timeout = '10s'")
            su.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            for role in (runtime, owner):
                su.execute(f'DROP OWNED BY "{role}"')
                su.execute(f'DROP ROLE "{role}"')


def test_the_owner_migrates_and_the_node_runs_with_least_privilege(
        roles: tuple[str, str, str], tmp_path: Path) -> None:
    owner_url, runtime_url, schema = roles
    runtime = runtime_url.split("//", 1)[1].split("@", 1)[0]
    data_dir = tmp_path / "node"
    as_node = ["--data-dir", str(data_dir), "--database-url", runtime_url]

    refused = run_alliance("init", "--association", "AK", "--name", "Alaska", *as_node,
                           check=False)
    assert refused.returncode == 2, refused
    assert "may not change the schema" in refused.stderr, refused.stderr
    assert "`alliance migrate`" in refused.stderr and "Traceback" not in refused.stderr
    assert not (data_dir / "node.json").exists()

    migrated = run_alliance("migrate", "--data-dir", str(tmp_path / "unused"),
                            "--database-url", owner_url, "--runtime-role", runtime)
    assert f"granted {runtime}" in migrated.stdout, migrated.stdout
    run_alliance("init", "--association", "AK", "--name", "Alaska", *as_node)

    node = Node(Settings(data_dir=data_dir, database_url=runtime_url))
    try:
        at = now()
        eid = new_endorsement_id("AK", "roles-test")
        node.service.record_existing(endorsement_id=eid, person_id="AK-P-0100",
                                     family_name="Okafor", given_name="Sam",
                                     level=Level.IMHS, designation=None,
                                     granted_on=dt.date(2019, 5, 1),
                                     valid_through=dt.date(at.year, 12, 31),
                                     legacy_reference="paper-1", now=at)
        node.log.sign_checkpoint("AK", node.signer, at)
        _, token = node.tokens.issue(label="runtime role", role=Role.COORDINATOR, now=at)
        assert node.tokens.authenticate(token, now=at) is not None
        assert [r.endorsement_id for r in node.projector.roster("AK")] == [eid]
    finally:
        node.close()
    served = NodeDir(data_dir=data_dir, association="AK", database_url=runtime_url,
                     tokens={"coordinator": token})
    server = ServerProcess(served).start(timeout=120)  # a loaded CI machine starts slowly
    with server, server.client() as c:
        assert c.get("/readyz").json()["status"] == "ready"
        r = c.post("/v1/endorsements/imports", headers=served.auth("coordinator"),
                   json=provider_import(dt.date(now().year, 12, 31)))
        assert r.status_code == 201, r.text
        r = c.get("/v1/verify", params={"endorsement_id": eid, "last_name": "Okafor"})
        assert r.json()["status"] == "current", r.text
    assert "2 entries verified" in run_alliance("ledger", "verify", *as_node).stdout
    digest = run_alliance("projections", "digest", *as_node).stdout.strip()
    assert run_alliance("projections", "rebuild", *as_node).stdout.strip() == digest

    with psycopg.connect(runtime_url.split("?")[0], autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        before = conn.execute("SELECT seq, wire FROM ledger_entries").fetchall()
        for statement in REFUSED_TO_THE_NODE:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("UPDATE alliance_events SET topic = topic")
        assert conn.execute("SELECT seq, wire FROM ledger_entries").fetchall() == before
        assert conn.execute("SELECT count(*) FROM alliance_events").fetchone() == (2,)
        privileges = conn.execute(
            "SELECT has_schema_privilege(current_user, %s, 'CREATE'), "
            "has_database_privilege(current_user, current_database(), 'CREATE')",
            (schema,)).fetchone()
        assert privileges == (False, False)
