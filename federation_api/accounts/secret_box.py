"""Encryption at rest for account secrets (TOTP seeds), with a node key file.

A TOTP seed must be readable by the node to check codes, so it cannot be hashed like a
password; it is encrypted with AES-256-GCM under a 32-byte key kept in a file in the node's
data directory (mode 0600, created exclusively, like the signing and commitment keys). A copy
of the database alone (a backup, a replica, a stolen dump) then yields no second factors.

Each ciphertext is bound to what it protects (`context`, e.g. "totp:<account id>") as
associated data, so a seed copied onto another account's row does not decrypt. Stored form:
a version byte, the 12-byte random nonce, then ciphertext and tag.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from federation_api.accounts.errors import AccountError

_VERSION = b"\x01"
_NONCE = 12


class SecretKeyError(AccountError):
    """The node secret key file is missing, unreadable, readable by others, or not a key; or a
    ciphertext does not open under it."""

    code = "secret_key_error"


class SecretBox:
    """Seals and opens small secrets with the node's account key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise SecretKeyError("the account secret key is 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def generate(cls) -> tuple[SecretBox, bytes]:
        """A box with a fresh random key, and the key (to save)."""
        key = secrets.token_bytes(32)
        return cls(key), key

    @staticmethod
    def save_key(key: bytes, path: Path) -> None:
        """Write a key file with mode 0600; never overwrites an existing one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)

    @classmethod
    def load(cls, path: Path) -> SecretBox:
        """Open the key file, refusing one that group or others can read."""
        try:
            if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise SecretKeyError(f"{path.name} must not be readable by group or others "
                                     f"(chmod 600)")
            return cls(path.read_bytes())
        except OSError as e:
            raise SecretKeyError(f"cannot read {path.name}: {e.strerror}") from e

    @classmethod
    def load_or_create(cls, path: Path) -> SecretBox:
        """The key in `path`, made first if there is none (a node initialised before accounts
        existed has no such file yet). Two processes starting at once agree: the file is
        created exclusively, and the loser reads the winner's key."""
        if not path.exists():
            box, key = cls.generate()
            try:
                cls.save_key(key, path)
                return box
            except FileExistsError:
                pass
        return cls.load(path)

    def seal(self, plaintext: bytes, *, context: str) -> bytes:
        """Encrypt `plaintext` bound to `context`."""
        nonce = secrets.token_bytes(_NONCE)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, *, context: str) -> bytes:
        """Decrypt what `seal` made for the same context; SecretKeyError if it does not open."""
        if len(sealed) < 1 + _NONCE + 16 or sealed[:1] != _VERSION:
            raise SecretKeyError("not a sealed secret of this node")
        try:
            return self._aead.decrypt(sealed[1:1 + _NONCE], sealed[1 + _NONCE:],
                                      context.encode())
        except InvalidTag as e:
            raise SecretKeyError("a sealed secret does not open with this node's key (another "
                                 "node's key, or the row was altered)") from e
