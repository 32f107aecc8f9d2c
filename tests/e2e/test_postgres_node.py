"""The same node on PostgreSQL: init, serve and a short flow from import to lapse.

`alliance init` still takes a --data-dir (keys and node.json live there); every store lives
in a fresh schema `t_<hex>` that is dropped afterwards. Without a reachable server the test is
skipped with the reason shown, unless CI is set (see tests/pg.py).
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg

from tests.e2e.harness import (
    ServerProcess,
    all_entries,
    applicant,
    head_seq,
    init_node,
    level_two_evidence,
    provider_import,
    run_alliance,
    today,
)
from tests.pg import base_url, postgres_schema_url, require_postgres

D = dt.date


def test_a_node_on_postgresql_runs_the_workflow(tmp_path: Path) -> None:
    with postgres_schema_url() as url:
        schema = url.rsplit("schema=", 1)[1]
        run_short_flow(tmp_path, url)
        with psycopg.connect(base_url()) as conn:
            tables = {row[0] for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,))}
        assert {"ledger_entries", "idempotency_keys", "api_tokens"} <= tables, tables
        assert not (tmp_path / "node" / "events.sqlite").exists()  # nothing went to SQLite
    with psycopg.connect(base_url()) as conn:
        left = conn.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
                            (schema,)).fetchall()
    assert left == []


def run_short_flow(tmp_path: Path, url: str) -> None:
    node = init_node(tmp_path / "node", database_url=url,
                     roles=("coordinator", "reviewer", "auditor"))
    year = today().year - 2  # granted 1 June, valid through 31 Dec: lapsed by March next year
    server = ServerProcess(node)
    with server, server.client() as c:
        coordinator = node.auth("coordinator")
        r = c.post("/v1/endorsements/imports", headers=coordinator,
                   json=provider_import(D(today().year, 12, 31)))
        assert r.status_code == 201, r.text
        r = c.post("/v1/applications", headers={**coordinator, "Idempotency-Key": "pg-1"},
                   json=applicant(started_on=D(year, 3, 1).isoformat()))
        assert r.status_code == 201, r.text
        app_id = r.json()["application_id"]
        again = c.post("/v1/applications", headers={**coordinator, "Idempotency-Key": "pg-1"},
                       json=applicant(started_on=D(year, 3, 1).isoformat()))
        assert again.headers.get("idempotent-replayed") == "true"
        r = c.put(f"/v1/applications/{app_id}/evidence", headers={**coordinator, "If-Match": "1"},
                  json={"evidence": level_two_evidence(D(year, 12, 31)),
                        "submitted_on": D(year, 4, 1).isoformat()})
        assert r.status_code == 200 and r.json()["unmet"] == [], r.text
        r = c.post(f"/v1/applications/{app_id}/reviews", headers=node.auth("reviewer"),
                   json={"decision": "approve", "decided_on": D(year, 5, 1).isoformat()})
        assert r.status_code == 200, r.text
        r = c.post(f"/v1/applications/{app_id}/grant", headers=coordinator,
                   json={"granted_on": D(year, 6, 1).isoformat()})
        assert r.status_code == 201, r.text
        eid = r.json()["endorsement_id"]

        r = c.get("/v1/status", params={"endorsement_id": eid, "last_name": "Doe",
                                        "on": D(year, 7, 1).isoformat()})
        assert r.status_code == 200 and r.json()["status"] == "current", r.text
        r = c.get("/v1/verify", params={"endorsement_id": eid, "last_name": "Doe"})
        assert r.json()["status"] == "expired", r.text
        before = head_seq(c, node)
        r = c.post("/v1/applications", headers=coordinator, json=applicant(level="IMHM"))
        assert r.status_code == 422 and r.json()["rule"] == "designation.required", r.text
        assert head_seq(c, node) == before

        r = c.post("/v1/lapses", headers=coordinator, json={})
        assert [e["endorsement_id"] for e in r.json()] == [eid], r.text
        r = c.get("/v1/verify", params={"endorsement_id": eid, "last_name": "Doe"})
        assert r.json()["status"] == "lapsed", r.text
        entries = all_entries(c, node)
        assert [e["seq"] for e in entries] == list(range(1, 8))
        assert entries[-1]["event_type"] == "EndorsementLapsed"
        assert c.get("/readyz").json()["status"] == "ready"
    assert "Application shutdown complete" in server.log()

    assert "7 entries verified" in node.cli("ledger", "verify").stdout
    digest = node.cli("projections", "digest").stdout.strip()
    assert node.cli("projections", "rebuild").stdout.strip() == digest


def test_init_into_a_new_schema(tmp_path: Path) -> None:
    require_postgres()
    schema = f"t_{secrets.token_hex(8)}"
    parts = urlsplit(base_url())
    url = urlunsplit(parts._replace(query=urlencode([*parse_qsl(parts.query),
                                                      ("schema", schema)])))
    try:
        done = run_alliance("init", "--association", "AK", "--name", "Alaska", "--data-dir",
                            str(tmp_path / "node"), "--database-url", url, check=False)
        assert "Traceback" not in done.stderr, done.stderr
        assert done.returncode == 0, done.stderr
    finally:
        with psycopg.connect(base_url(), autocommit=True) as conn:
            conn.execute("SET lock_timeout = '10s'")
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
