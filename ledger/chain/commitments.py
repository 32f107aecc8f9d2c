"""Salted commitments to private evidence (DESIGN invariant 7).

The salt of each event is HMAC-SHA256(node commitment key, "<aggregate id>:<version>"): it is
unguessable without the node's secret, so nobody can test a guessed transcript against the
public ledger, yet the node can always re-derive it to open a commitment for an auditor.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from ledger.errors import KeyFileError


class CommitmentKey:
    """The node's secret for deriving commitment salts."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32:
            raise KeyFileError("a commitment key is 32 bytes")
        self._secret = secret

    @classmethod
    def generate(cls) -> CommitmentKey:
        """A fresh random key."""
        return cls(secrets.token_bytes(32))

    def save(self, path: Path) -> None:
        """Write the key with mode 0600 (created exclusively)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self._secret)

    @classmethod
    def load(cls, path: Path) -> CommitmentKey:
        """Read the key, refusing a file that others can read."""
        try:
            if path.stat().st_mode & 0o077:
                raise KeyFileError(f"{path.name} must not be readable by group or others")
            return cls(path.read_bytes())
        except OSError as e:
            raise KeyFileError(f"cannot read {path.name}: {e.strerror}") from e

    def salt(self, aggregate_id: str, version: int) -> bytes:
        """The salt of one event."""
        return hmac.new(self._secret, f"{aggregate_id}:{version}".encode(),
                        hashlib.sha256).digest()

    def commit(self, aggregate_id: str, version: int, private: bytes) -> bytes:
        """Commitment to the private bytes of one event."""
        return commitment(self.salt(aggregate_id, version), private)


def commitment(salt: bytes, private: bytes) -> bytes:
    """SHA-256(salt || private bytes): what an auditor recomputes from a revealed salt."""
    return hashlib.sha256(salt + private).digest()
