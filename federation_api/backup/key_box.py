"""The private keys of a backup, sealed under a passphrase: scrypt, then AES-256-GCM.

By default a backup holds no private key (they are kept apart, e.g. on an offline medium, and
supplied to the restore). `alliance backup --include-keys` seals them instead: a 256-bit key
is derived from the operator's passphrase with scrypt (n=2^17, r=8, p=1: 128 MiB and about a
second per guess on a server, the file-encryption setting its author recommends), and the key
files are encrypted together with AES-256-GCM under a fresh salt and nonce. The association
and the backup id are the associated data, so a sealed blob moved into another backup does
not open. A wrong passphrase and a changed byte look alike to GCM and are refused alike.
"""

from __future__ import annotations

import secrets

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from federation_api.backup.errors import BackupError
from federation_api.backup.manifest import KeySealing
from ledger.codec import decode_json, encode_json
from ledger.errors import MalformedEntry

KDF = "scrypt"
CIPHER = "AES-256-GCM"
SCRYPT_N = 2**17
SCRYPT_R = 8
SCRYPT_P = 1
MIN_PASSPHRASE = 12  # characters


class _KeyFiles(msgspec.Struct, frozen=True):
    files: dict[str, bytes]  # relative path in the data directory -> file bytes


def seal_keys(files: dict[str, bytes], passphrase: str, *, association: str,
              backup_id: str, n: int = SCRYPT_N) -> tuple[bytes, KeySealing]:
    """Encrypt the key files; returns the blob and how it was sealed (for the manifest).
    `n` is scrypt's cost (tests lower it to the floor `open_keys` accepts)."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"the backup passphrase must have at least {MIN_PASSPHRASE} "
                          f"characters")
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    sealing = KeySealing(kdf=KDF, salt=salt.hex(), n=n, r=SCRYPT_R, p=SCRYPT_P,
                         cipher=CIPHER, nonce=nonce.hex())
    plain = encode_json(_KeyFiles(files))
    blob = AESGCM(_derive(passphrase, sealing)).encrypt(
        nonce, plain, _context(association, backup_id))
    return blob, sealing


def open_keys(blob: bytes, sealing: KeySealing, passphrase: str, *, association: str,
              backup_id: str) -> dict[str, bytes]:
    """The key files, or BackupError for a wrong passphrase or a damaged blob."""
    if sealing.kdf != KDF or sealing.cipher != CIPHER:
        raise BackupError(f"the backup's keys are sealed with {sealing.kdf}/{sealing.cipher}, "
                          f"which this version does not open")
    # Bounds on what a (so far unauthenticated) manifest may make us spend.
    if not (2**14 <= sealing.n <= 2**20 and sealing.n & (sealing.n - 1) == 0
            and 1 <= sealing.r <= 16 and 1 <= sealing.p <= 4):
        raise BackupError("the backup's key sealing parameters are out of bounds")
    try:
        plain = AESGCM(_derive(passphrase, sealing)).decrypt(
            bytes.fromhex(sealing.nonce), blob, _context(association, backup_id))
    except (InvalidTag, ValueError) as e:
        raise BackupError("the backup's keys do not open with this passphrase (a wrong "
                          "passphrase, or a damaged backup)") from e
    try:
        return decode_json(plain, _KeyFiles).files
    except MalformedEntry as e:
        raise BackupError(f"the backup's sealed keys are unreadable: {e}") from e


def _derive(passphrase: str, sealing: KeySealing) -> bytes:
    kdf = Scrypt(salt=bytes.fromhex(sealing.salt), length=32, n=sealing.n, r=sealing.r,
                 p=sealing.p)
    return kdf.derive(passphrase.encode())


def _context(association: str, backup_id: str) -> bytes:
    return f"alliance-backup-keys:v1:{association}:{backup_id}".encode()
