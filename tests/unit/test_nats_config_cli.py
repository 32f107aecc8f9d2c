"""`alliance nats-config`: what it writes, and bad input refused with nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from federation_api.cli.main import main
from federation_api.replication.nats_keys import public_key
from federation_api.replication.nats_tls import (
    CertificateAuthority,
    write_ca_certificate,
    write_ca_key,
)


def test_it_writes_three_hub_servers_and_a_leaf_per_association(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    assert main(["nats-config", "--associations", "AK,MI", "--out", str(out),
                 "--hub-hosts", "h1.example,h2.example,h3.example"]) == 0
    names = sorted(p.name for p in out.glob("*.conf"))
    assert names == ["hub-1.conf", "hub-2.conf", "hub-3.conf", "leaf-ak.conf", "leaf-mi.conf"]
    seed = (out / "secrets" / "node-ak.nk").read_text()
    assert public_key(seed) in (out / "leaf-ak.conf").read_text()
    assert seed not in (out / "leaf-ak.conf").read_text()
    assert '"nats-route://h2.example:6222", "nats-route://h3.example:6222"' in (
        out / "hub-1.conf").read_text()
    assert (out / "secrets").stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize(("args", "message"), [
    (["--hub-hosts", "h1,h2"], "exactly 3 servers"),
    (["--associations", "AK,M1"], "2-8 letters"),
    (["--ca-cert", "ca.pem"], "go together"),
])
def test_bad_input_is_refused_and_nothing_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
        message: str) -> None:
    out = tmp_path / "generated"
    base = ["nats-config", "--associations", "AK", "--out", str(out)]
    assert main([*base, *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_certificates_can_come_from_the_operators_ca(tmp_path: Path) -> None:
    ca = CertificateAuthority.new("Operators CA")
    ca_cert, ca_key = write_ca_certificate(ca, tmp_path / "ca"), write_ca_key(ca, tmp_path / "ca")
    out = tmp_path / "generated"
    assert main(["nats-config", "--associations", "AK", "--out", str(out),
                 "--ca-cert", str(ca_cert), "--ca-key", str(ca_key)]) == 0
    assert (out / "tls" / "ca.pem").read_bytes() == ca_cert.read_bytes()
    assert not (out / "tls" / "ca.key").exists()  # the operator keeps it
    leaf = x509.load_pem_x509_certificate((out / "tls" / "leaf-ak.pem").read_bytes())
    leaf.verify_directly_issued_by(ca.certificate)  # raises if another CA signed it
