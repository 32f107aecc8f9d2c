"""A node's NATS connection settings: a seed others can read, or a missing file, is refused
before anything connects; the loggable form is the URL alone."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from federation_api.cli.main import main
from federation_api.replication.nats_connection import NatsConnection
from federation_api.replication.nats_keys import new_user_seed, write_secret


def test_a_seed_readable_by_others_or_a_missing_file_is_refused(tmp_path: Path) -> None:
    seed = write_secret(tmp_path / "node.nk", new_user_seed())
    assert NatsConnection("tls://127.0.0.1:4222", nkey_seed=seed).check().nkey_seed == seed
    seed.chmod(0o644)
    with pytest.raises(ValueError, match="must be mode 0600"):
        NatsConnection("tls://127.0.0.1:4222", nkey_seed=seed).check()
    with pytest.raises(ValueError, match=r"CA file .* does not exist"):
        NatsConnection("tls://127.0.0.1:4222", ca_file=tmp_path / "missing.pem").check()


def test_options_carry_the_seed_file_and_a_context_trusting_only_the_ca(tmp_path: Path) -> None:
    from federation_api.replication.nats_tls import CertificateAuthority, write_ca_certificate

    ca = write_ca_certificate(CertificateAuthority.new(), tmp_path)
    seed = write_secret(tmp_path / "node.nk", new_user_seed())
    connection = NatsConnection("tls://127.0.0.1:4222", nkey_seed=seed, ca_file=ca)
    options = connection.options()
    assert options["servers"] == ["tls://127.0.0.1:4222"]
    assert options["nkeys_seed"] == str(seed)
    context = options["tls"]
    assert isinstance(context, ssl.SSLContext) and context.check_hostname
    assert len(context.get_ca_certs()) == 1  # ours only, not the system store
    assert str(connection) == "tls://127.0.0.1:4222"
    assert seed.read_text() not in repr(connection)  # the path, never the seed


def test_mirrors_refuse_a_seed_others_can_read(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    seed = write_secret(tmp_path / "hub_admin.nk", new_user_seed())
    seed.chmod(0o640)
    assert main(["nats-mirrors", "--hub-url", "tls://127.0.0.1:1", "--nkey-seed", str(seed),
                 "--associations", "AK"]) == 2
    assert "must be mode 0600" in capsys.readouterr().err
