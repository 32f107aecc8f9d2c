"""The manifest of a backup: what it holds, the head of every ledger in it, and a hash of
every file, signed with the node's signing key.

The manifest is the first member of the archive and its Ed25519 signature the second; the
signature covers the manifest's exact bytes, which are checked before they are decoded. The
signing key's id is named in the manifest so that a restore can ask for that key, and a key
of another node (or a manifest re-signed by someone who changed it) is refused.

Private key files appear in `private_keys` with their hashes whether or not the backup holds
them: a restore then knows which key files it needs and can tell a wrong one from the right
one. A hash of a 32-byte random key (or of an Ed25519 PEM) reveals nothing usable about it.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum

import msgspec

from federation_api.backup.errors import BackupError
from ledger.codec import decode_json, encode_json
from ledger.errors import BadSignature, KeyFileError, MalformedEntry
from ledger.signing import Signer, Verifier

FORMAT = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SEALED_KEYS = "keys.enc"
# Archive member names: data-directory files under node/, store snapshots under db/.
_MEMBER = re.compile(r"^(node|db)(/[A-Za-z0-9][A-Za-z0-9._-]{0,79}){1,3}$|^keys\.enc$")


class FileKind(StrEnum):
    """What a member of the archive is."""

    CONFIG = "config"  # node.json
    PUBLIC_KEY = "public-key"  # keys/keyring.json, keys/*.pub
    REGISTRY = "registry"  # registry/*
    STORE = "store"  # a SQLite store file, or the PostgreSQL dump
    SEALED_KEYS = "sealed-keys"  # the private keys, encrypted
    DOCUMENT = "document"  # documents/<xx>/<sha256>: an uploaded document's bytes


class BackupFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One member of the archive."""

    name: str
    kind: FileKind
    size: int
    sha256: str


class PrivateKeyFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A private key file of the data directory (relative path), held sealed or left out."""

    path: str
    size: int
    sha256: str


class KeySealing(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How `keys.enc` was sealed: AES-256-GCM under a key derived by scrypt."""

    kdf: str
    salt: str  # hex
    n: int
    r: int
    p: int
    cipher: str
    nonce: str  # hex


class Manifest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What one backup holds."""

    format: int = FORMAT
    backup_id: str
    association: str
    taken_at: dt.datetime
    database: str  # "sqlite" or "postgres"
    schema: str | None = None  # the PostgreSQL schema the dump holds
    heads: dict[str, int]  # every ledger in the snapshot: association -> head seq
    signer_key_id: str
    files: tuple[BackupFile, ...]
    private_keys: tuple[PrivateKeyFile, ...]
    sealing: KeySealing | None = None  # None: the private keys are not in the backup

    @property
    def own_head(self) -> int:
        """The head seq of the node's own ledger in the snapshot."""
        return self.heads.get(self.association, 0)

    def member(self, name: str) -> BackupFile:
        """The file entry of one member."""
        for entry in self.files:
            if entry.name == name:
                return entry
        raise BackupError(f"the backup holds no {name}")


def sign_manifest(manifest: Manifest, signer: Signer) -> tuple[bytes, bytes]:
    """The manifest's bytes and the signature over them."""
    data = encode_json(manifest)
    return data, signer.sign(data)


def open_manifest(data: bytes, signature: bytes, public_keys: dict[str, bytes]) -> Manifest:
    """Check the signature over `data` under the key the manifest names (looked up by key id
    in `public_keys`), then decode. Raises BackupError naming what is wrong."""
    try:
        named = msgspec.json.decode(data, type=_SignerOnly)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise BackupError(f"the backup's manifest is unreadable: {e}") from e
    key = public_keys.get(named.signer_key_id)
    if key is None:
        raise BackupError(f"the backup's manifest is signed by key {named.signer_key_id[:16]}, "
                          f"which is not the association's key")
    try:
        Verifier(key).verify(signature, data)
    except (BadSignature, KeyFileError) as e:
        raise BackupError("the backup's manifest signature does not verify: the manifest was "
                          "changed, or the backup is damaged") from e
    try:
        manifest = decode_json(data, Manifest)
    except MalformedEntry as e:
        raise BackupError(f"the backup's manifest is unreadable: {e}") from e
    if manifest.format != FORMAT:
        raise BackupError(f"backup format {manifest.format} is not supported (expected {FORMAT})")
    for entry in manifest.files:
        if not _MEMBER.match(entry.name) or ".." in entry.name.split("/"):
            raise BackupError(f"the backup names a file {entry.name!r} outside its layout")
    return manifest


class _SignerOnly(msgspec.Struct):
    signer_key_id: str
