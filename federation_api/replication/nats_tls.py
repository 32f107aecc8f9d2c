"""TLS for every NATS link: an Alliance CA and the certificates of the hub and leaf servers.

Client, route and leafnode ports all require TLS; routes and leafnode connections also
require a client certificate from the Alliance CA (`verify: true`), so a server that does
not hold one cannot join the hub cluster or attach as a leaf even with a valid nkey.
`alliance nats-config` makes a fresh CA, or issues the certificates from the operator's CA
files; the CA key is needed only while issuing and is written beside the others 0600 for
the Alliance's operators to keep offline.

ECDSA P-256 keys: what both Go's TLS (nats-server) and OpenSSL (nats-py) support everywhere.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from federation_api import clock
from federation_api.replication.nats_keys import write_secret

CA_DAYS = 3650
SERVER_DAYS = 825  # the longest validity browsers ever accepted; renew with the command


@dataclass(frozen=True)
class CertificateAuthority:
    """The CA certificate and key that sign every NATS server certificate."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def new(cls, name: str = "Alliance NATS CA", *, now: dt.datetime | None = None
            ) -> CertificateAuthority:
        """A fresh self-signed CA."""
        start = _start(now)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
        return cls(certificate, key)

    @classmethod
    def load(cls, cert_file: Path, key_file: Path) -> CertificateAuthority:
        """An operator's CA from PEM files (the key unencrypted, readable only by its owner)."""
        certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"CA key {key_file.name}: only EC keys are supported")
        basic = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        if not basic.ca:
            raise ValueError(f"{cert_file.name} is not a CA certificate")
        if certificate.public_key() != key.public_key():
            raise ValueError(f"CA key {key_file.name} does not belong to {cert_file.name}")
        return cls(certificate, key)

    def issue(self, name: str, hosts: tuple[str, ...], *, now: dt.datetime | None = None
              ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A certificate for a server that also connects out (routes, leaf remotes), so it is
        valid for both TLS server and TLS client authentication."""
        start = _start(now)
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.certificate.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + dt.timedelta(days=SERVER_DAYS))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256()))
        return certificate, key


@dataclass(frozen=True)
class ServerTls:
    """Where one server's certificate, key and the CA certificate are on disk."""

    cert_file: Path
    key_file: Path
    ca_file: Path

    def block(self, *, verify: bool) -> str:
        """The nats-server `tls {}` block (`verify`: require a client certificate)."""
        return (f'tls {{ cert_file: "{self.cert_file}", key_file: "{self.key_file}", '
                f'ca_file: "{self.ca_file}", verify: {str(verify).lower()}, timeout: 5 }}')


def write_ca_certificate(ca: CertificateAuthority, directory: Path) -> Path:
    """The CA certificate every server and client trusts (public)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "ca.pem"
    path.write_bytes(ca.certificate.public_bytes(serialization.Encoding.PEM))
    return path


def write_ca_key(ca: CertificateAuthority, directory: Path) -> Path:
    """The CA key, 0600 (keep it offline once the certificates are issued)."""
    return write_secret(directory / "ca.key", _key_pem(ca.key))


def write_server(ca: CertificateAuthority, directory: Path, name: str,
                 hosts: tuple[str, ...]) -> ServerTls:
    """Issue and write `<name>.pem` and `<name>.key` (0600) for one server."""
    certificate, key = ca.issue(name, hosts)
    directory.mkdir(parents=True, exist_ok=True)
    cert_file = directory / f"{name}.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file = write_secret(directory / f"{name}.key", _key_pem(key))
    return ServerTls(cert_file, key_file, directory / "ca.pem")


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _start(now: dt.datetime | None) -> dt.datetime:
    # An hour back, so a server whose clock is slightly behind accepts a fresh certificate.
    return (now or clock.now()).replace(microsecond=0) - dt.timedelta(hours=1)
