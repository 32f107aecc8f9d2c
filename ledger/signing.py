"""The one signer: Ed25519 keys, key files, signing and verification (the only `cryptography` user).

A key id is the hex SHA-256 of the raw 32-byte public key, so anyone holding the public key
can recompute it. Private key files are PKCS#8 PEM, optionally passphrase-encrypted, and are
written with mode 0600 and refused when group- or world-readable.

The private key is either in memory (from a key file, the embedded default) or in a PKCS#11
token (`ledger.hsm_keys`, which plugs a `KeyBackend` into this same `Signer`): every signature
the node makes goes through `Signer.sign` / `sign_many`, whichever holds the key.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.errors import BadSignature, KeyFileError

# Below this many messages a batch is signed on the calling thread: handing work to the pool
# costs more than it saves.
_PARALLEL_MIN = 64
_WORKERS = max(2, os.cpu_count() or 1)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _signing_pool() -> ThreadPoolExecutor:
    # One pool for the process, one thread per core: `cryptography` releases the GIL while it
    # signs (measured 1.87x for two threads on two cores), so threads suffice and the key never
    # leaves the process.
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="signer")
        return _pool


def key_id_of(public_key: bytes) -> str:
    """Stable id of a raw Ed25519 public key."""
    if len(public_key) != 32:
        raise KeyFileError("an Ed25519 public key is 32 bytes")
    return hashlib.sha256(public_key).hexdigest()


class KeyBackend(Protocol):
    """A private Ed25519 key held outside this process's memory (a PKCS#11 token)."""

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte public key."""
        ...

    @property
    def concurrent(self) -> bool:
        """Whether several threads may sign at once (a token session may not)."""
        ...

    def sign(self, message: bytes) -> bytes:
        """A 64-byte Ed25519 signature over `message`."""
        ...


# Signed and verified when a backend is plugged in: a token that answers with another key's
# public key, or signs with a mechanism other than pure Ed25519, is refused at start.
_PROBE = b"alliance-ledger signer probe: Ed25519 over these exact bytes"


class Signer:
    """Holds one private key (in memory, or in a token through a `KeyBackend`) and signs bytes
    with it."""

    def __init__(self, private_key: Ed25519PrivateKey | KeyBackend) -> None:
        if isinstance(private_key, Ed25519PrivateKey):
            self._key: Ed25519PrivateKey | None = private_key
            self._backend: KeyBackend | None = None
            self.public_key = private_key.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        else:
            self._key, self._backend = None, private_key
            self.public_key = private_key.public_key
        self.key_id = key_id_of(self.public_key)
        self._sign = private_key.sign
        if self._backend is not None:
            try:
                Verifier(self.public_key).verify(self._sign(_PROBE), _PROBE)
            except BadSignature as e:
                raise KeyFileError("the token's signature does not verify under the public "
                                   "key it reports: not this key, or not Ed25519") from e

    @property
    def in_token(self) -> bool:
        """Whether the private key is held by a token (never in this process's memory)."""
        return self._backend is not None

    @classmethod
    def generate(cls) -> Signer:
        """A fresh random key."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Signer:
        """The key whose 32-byte RFC 8032 private seed is `seed` (a published test vector's key,
        or a Multikey `secretKeyMultibase` after its prefix): keeps key parsing in this module."""
        if len(seed) != 32:
            raise KeyFileError("an Ed25519 private seed is 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def sign(self, message: bytes) -> bytes:
        """64-byte Ed25519 signature over `message`."""
        return self._sign(message)

    def sign_many(self, messages: Sequence[bytes]) -> list[bytes]:
        """Signatures over each message, in order; a large batch is signed on every core.

        Ledger entries chain by the hash of their body bytes, not of their signatures, so the
        entries of one batch can be signed independently once their bodies are built. A token
        that serialises its calls gains nothing from threads, so it signs on this one."""
        if len(messages) < _PARALLEL_MIN or (self._backend is not None
                                             and not self._backend.concurrent):
            return [self._sign(m) for m in messages]
        pool = _signing_pool()
        step = -(-len(messages) // _WORKERS)
        chunks = [messages[i:i + step] for i in range(0, len(messages), step)]
        futures = [pool.submit(self._sign_chunk, chunk) for chunk in chunks]
        return [signature for future in futures for signature in future.result()]

    def _sign_chunk(self, messages: Sequence[bytes]) -> list[bytes]:
        return [self._sign(m) for m in messages]

    def _memory_key(self) -> Ed25519PrivateKey:
        if self._key is None:
            raise KeyFileError("this key is held by a token and never leaves it")
        return self._key

    def private_seed(self) -> bytes:
        """The 32-byte RFC 8032 private seed of an in-memory key: what importing a key file
        into a token hands over (`ledger.hsm_keys`). A token key has none to give."""
        return self._memory_key().private_bytes(serialization.Encoding.Raw,
                                                serialization.PrivateFormat.Raw,
                                                serialization.NoEncryption())

    def save(self, path: Path, passphrase: bytes | None = None) -> None:
        """Write the private key (0600, created exclusively) and the public key beside it."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase) if passphrase
            else serialization.NoEncryption())
        pem = self._memory_key().private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8, encryption)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        public_path(path).write_text(self.public_key.hex() + "\n")

    @classmethod
    def load(cls, path: Path, passphrase: bytes | None = None) -> Signer:
        """Read a private key file, refusing one that others can read."""
        try:
            mode = path.stat().st_mode
            data = path.read_bytes()
        except OSError as e:
            raise KeyFileError(f"cannot read key file {path.name}: {e.strerror}") from e
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(f"key file {path.name} must not be readable by group or others "
                               f"(chmod 600)")
        try:
            key = serialization.load_pem_private_key(data, password=passphrase or None)
        except (ValueError, TypeError) as e:
            raise KeyFileError(f"cannot load key file {path.name}: wrong or missing passphrase, "
                               f"or not a PEM private key") from e
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"key file {path.name} is not an Ed25519 key")
        return cls(key)


def public_path(private_path: Path) -> Path:
    """Where the public key of a private key file is kept."""
    return private_path.with_suffix(".pub")


class Verifier:
    """Verifies signatures under one raw Ed25519 public key (key parsed once)."""

    def __init__(self, public_key: bytes) -> None:
        self.key_id = key_id_of(public_key)
        self.public_key = public_key
        self._key = Ed25519PublicKey.from_public_bytes(public_key)

    def verify(self, signature: bytes, message: bytes) -> None:
        """Raise BadSignature unless `signature` is valid over `message`."""
        try:
            self._key.verify(signature, message)
        except InvalidSignature as e:
            raise BadSignature("signature does not verify") from e
