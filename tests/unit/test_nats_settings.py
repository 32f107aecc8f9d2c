"""The node's NATS trust and identity settings: ALLIANCE_NATS_CA / _SEED / _CERT / _KEY, and
the checks `NatsClientAuth` makes before a connection is tried."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from federation_api.replication.nats_client import NatsClientAuth
from federation_api.replication.nats_keys import new_seed

from federation_api.settings import Settings


def test_the_nats_files_come_from_the_environment() -> None:
    settings = Settings.from_env({"ALLIANCE_NATS_CA": "ca.crt", "ALLIANCE_NATS_SEED": "n.nk"})
    assert settings.nats_ca == Path("ca.crt") and settings.nats_seed == Path("n.nk")
    assert settings.nats_cert is None and settings.nats_key is None
    assert Settings.from_env({}).nats_ca is None


def test_no_files_means_a_plain_connection() -> None:
    assert NatsClientAuth().connect_options() == {}


def test_a_ca_gives_a_context_that_verifies_the_server(tmp_path: Path) -> None:
    import datetime as dt

    from federation_api.replication import nats_pki

    nats_pki.generate(tmp_path, [], now=dt.datetime.now(dt.UTC))
    context = NatsClientAuth(ca_file=tmp_path / "ca.crt").connect_options()["tls"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_bad_files_are_refused_with_the_file_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="NATS TLS files"):
        NatsClientAuth(ca_file=tmp_path / "missing.crt").connect_options()
    with pytest.raises(ValueError, match="needs the CA"):
        NatsClientAuth(cert_file=tmp_path / "client.crt").connect_options()
    seed = tmp_path / "node.nk"
    seed.write_text(new_seed().replace("SU", "SA", 1))  # an account seed, not a user's
    seed.chmod(0o600)
    with pytest.raises(ValueError, match=str(seed)):
        NatsClientAuth(seed_file=seed).connect_options()
    with pytest.raises(ValueError, match="cannot read"):
        NatsClientAuth(seed_file=tmp_path / "none.nk").connect_options()
