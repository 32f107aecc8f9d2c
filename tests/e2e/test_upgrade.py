"""Upgrading a node the previous release wrote: migrate, then find everything again.

The databases are tests/fixtures/previous_schema/, written by the last release without
migrations (tests/fixtures/make_previous_schema.py says how): SQLite files as they were, and
for PostgreSQL a plain-SQL dump loaded into a fresh schema. On PostgreSQL the node refuses
to start until `alliance migrate` has run; on SQLite `alliance migrate --status` shows the
tables as not yet stamped. After `alliance migrate` (the real command) the ledger verifies,
the projection digest is the one the old release computed (before and after a rebuild), the
board report's kept counts were counted from the old rows, the staff token still
authenticates, the staff account still signs in with its password, and the node writes its
next entry on the same chain.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from federation_api.accounts.bootstrap import Accounts
from federation_api.accounts.passwords import Argon2Parameters, PasswordHasher
from federation_api.accounts.secret_box import SecretBox
from federation_api.accounts.signin import SignInRefused
from federation_api.clock import now
from federation_api.mail.outbox import Outbox
from federation_api.migrations.errors import SchemaBehind
from federation_api.node.root import Node
from federation_api.settings import Settings
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.e2e.harness import run_alliance
from tests.integration.report_oracle import from_scratch, kept_tables
from tests.pg import base_url

FIXTURE = Path(__file__).parents[1] / "fixtures" / "previous_schema"
EXPECTED: dict[str, Any] = json.loads((FIXTURE / "expected.json").read_text())


class UpgradeContract:
    """One backend's copy of the previous release's node."""

    expected: dict[str, Any]

    @pytest.fixture
    def node_dir(self, backend: Backend, tmp_path: Path) -> Iterator[tuple[Path, str | None]]:
        backend.require()
        data_dir = tmp_path / "node"
        shutil.copytree(FIXTURE / backend.name, data_dir)
        for key in (data_dir / "keys").glob("*.key"):
            key.chmod(0o600)  # git keeps no file modes but the executable bit
        dump = data_dir / "schema.sql"
        with backend.database_url() as url:
            if url is not None:
                schema = url.rsplit("schema=", 1)[1]
                with psycopg.connect(base_url(), autocommit=True) as conn:
                    conn.execute(dump.read_text().replace("__SCHEMA__", f'"{schema}"'))
                dump.unlink()
            yield data_dir, url

    def test_migrate_then_everything_is_found(self, node_dir: tuple[Path, str | None],
                                              backend: Backend) -> None:
        data_dir, url = node_dir
        expected = EXPECTED[backend.name]
        settings = Settings(data_dir=data_dir, database_url=url)
        where = ["--data-dir", str(data_dir), *(["--database-url", url] if url else [])]
        if url is not None:
            with pytest.raises(SchemaBehind, match="alliance migrate"):
                Node(settings)
            refused = run_alliance("ledger", "verify", *where, check=False)
            assert refused.returncode == 2 and "`alliance migrate`" in refused.stderr, refused
        before = run_alliance("migrate", "--status", *where, check=False)
        assert before.returncode == 1, before
        assert "ledger: none (this release: ledger_0001) tables made before migrations" \
            in before.stdout, before.stdout
        migrated = run_alliance("migrate", *where)
        assert "node: none -> node_0008" in migrated.stdout, migrated.stdout
        assert "projections: none -> projections_0004" in migrated.stdout, migrated.stdout
        assert run_alliance("migrate", "--status", *where).returncode == 0
        # The board report's kept counts (projections_0004) were counted from the old rows.
        counted = Node(settings)
        try:
            kept = kept_tables(counted.projector.db)
            assert kept["report_counts"] and kept == from_scratch(counted.projector.db)
        finally:
            counted.close()

        verified = run_alliance("ledger", "verify", *where).stdout
        assert f"{expected['head_seq']} entries verified" in verified, verified
        assert run_alliance("projections", "digest", *where).stdout.strip() == expected["digest"]
        rebuilt = run_alliance("projections", "rebuild", *where).stdout.strip()
        assert rebuilt == expected["digest"]

        node = Node(settings)
        at = now()  # the fixture's key is valid from when the fixture was made
        try:
            head = node.ledger.head("AK")
            assert head is not None
            assert (head[0], head[1].hex()) == (expected["head_seq"], expected["head_hash"])
            roster = {row.endorsement_id for row in node.projector.roster("AK")}
            assert set(expected["endorsements"].values()) <= roster
            principal = node.tokens.authenticate(expected["token"], now=at)
            assert principal is not None and principal.token_id == expected["token_id"]
            accounts = Accounts.open(
                node.tokens.db, association="AK", association_name="Alaska Association",
                public_url="https://ak.example.org/", outbox=Outbox(node.tokens.db),
                box=SecretBox(EXPECTED["secret_box_key"].encode()), tokens=node.tokens,
                hasher=PasswordHasher(Argon2Parameters(time_cost=1, memory_kib=1024)))
            signed = accounts.sign_in.sign_in(EXPECTED["account_email"],
                                              EXPECTED["account_password"], now=at)
            assert signed.account.account_id == expected["account_id"]
            with pytest.raises(SignInRefused):
                accounts.sign_in.sign_in(EXPECTED["account_email"], "not the password",
                                         now=at)
            node.service.suspend(expected["endorsements"]["okafor"], effective_on=at.date(),
                                 reason="complaint under review", now=at)
            new_head = node.ledger.head("AK")
            assert new_head is not None and new_head[0] == expected["head_seq"] + 1
        finally:
            node.close()
        verified = run_alliance("ledger", "verify", *where).stdout
        assert f"{expected['head_seq'] + 1} entries verified" in verified, verified


class TestUpgradeOnSQLite(OnSQLite, UpgradeContract):
    """The data directory's SQLite files as the previous release left them."""

    def test_the_node_migrates_its_own_files_when_it_starts(
            self, node_dir: tuple[Path, str | None]) -> None:
        data_dir, _ = node_dir
        node = Node(Settings(data_dir=data_dir))  # no `alliance migrate` first
        try:
            assert node.projector.digest() == EXPECTED["sqlite"]["digest"]
        finally:
            node.close()
        current = run_alliance("migrate", "--status", "--data-dir", str(data_dir))
        assert "ledger: ledger_0001 (this release: ledger_0001) up to date" in current.stdout


class TestUpgradeOnPostgreSQL(OnPostgreSQL, UpgradeContract):
    """The previous release's schema, restored from its dump into a fresh schema."""
