"""The node's own HTTPS: the certificate and key files `alliance serve` hands to uvicorn.

They are checked before the server starts, with the same `ssl` module uvicorn will use, so a
missing file, a key that does not match the certificate, or a key others can read is a clear
error at start instead of a server that fails every handshake. The certificate's expiry is
read here too, for the `alliance_tls_certificate_not_after_seconds` metric (an alert fires
weeks before it; see ops/prometheus/alerts.yml).
"""

from __future__ import annotations

import ssl
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from federation_api.errors import EdgeError


class TlsFilesError(EdgeError, ValueError):
    """The certificate or key file cannot serve HTTPS (says which and why)."""


@dataclass(frozen=True)
class TlsFiles:
    """A PEM certificate chain and its private key, checked to belong together."""

    cert: Path
    key: Path

    @classmethod
    def checked(cls, cert: Path | None, key: Path | None) -> TlsFiles | None:
        """Both files checked, or None when neither is given; one without the other, a key
        readable by others, or a pair the TLS library refuses is a `TlsFilesError`."""
        if cert is None and key is None:
            return None
        if cert is None or key is None:
            raise TlsFilesError("--tls-cert and --tls-key (ALLIANCE_TLS_CERT, ALLIANCE_TLS_KEY) "
                                "go together: give both files or neither")
        for label, path in (("certificate", cert), ("key", key)):
            if not path.is_file():
                raise TlsFilesError(f"TLS {label} file {path} does not exist")
        # Group read stays allowed: Debian shares keys with services through the ssl-cert
        # group (mode 0640). World-readable is never right for a private key.
        if key.stat().st_mode & stat.S_IRWXO:
            raise TlsFilesError(f"TLS key file {key.name} must not be readable by others "
                                f"(chmod 600, or 640 with a group only the node is in)")
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
        except (ssl.SSLError, OSError) as e:
            raise TlsFilesError(f"TLS certificate {cert.name} and key {key.name} cannot serve "
                                f"HTTPS (not PEM, encrypted, or not a matching pair): "
                                f"{getattr(e, 'reason', None) or e.__class__.__name__}") from e
        return cls(cert=cert, key=key)

    def not_after(self) -> float:
        """When the (first, the server's own) certificate expires, as a Unix time."""
        certificate = x509.load_pem_x509_certificate(self.cert.read_bytes())
        return certificate.not_valid_after_utc.timestamp()
