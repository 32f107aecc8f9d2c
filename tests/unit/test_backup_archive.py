"""Every byte of a backup archive is accounted for, and sealed keys open only as sealed.

A small archive is written by the real writer; then byte after byte of it is changed (every
third one, so every field of every header, and a sample of the end), and the reader must
refuse every one of the altered archives (in the manifest by the
signature, in a file by its hash, anywhere else by the layout). A change that went unnoticed
would be a byte a restore trusts without checking.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tarfile
from pathlib import Path

import pytest

from federation_api.backup.archive import Archive, write_archive
from federation_api.backup.errors import BackupError
from federation_api.backup.key_box import open_keys, seal_keys
from federation_api.backup.manifest import (
    BackupFile,
    FileKind,
    Manifest,
    open_manifest,
    sign_manifest,
)
from ledger.signing import Signer

TAKEN = dt.datetime(2027, 5, 1, tzinfo=dt.UTC)


def small_archive(tmp_path: Path, signer: Signer) -> Path:
    """An archive of two small files, signed by `signer`."""
    files = {"node/node.json": b'{"association": "AK"}\n', "db/ledger.sqlite": bytes(range(256))}
    members = []
    for name, data in files.items():
        path = tmp_path / name.replace("/", "_")
        path.write_bytes(data)
        members.append((name, path))
    manifest = Manifest(backup_id="b" * 32, association="AK", taken_at=TAKEN,
                        database="sqlite", heads={"AK": 3}, signer_key_id=signer.key_id,
                        files=tuple(BackupFile(name=n, kind=FileKind.STORE, size=len(d),
                                               sha256=hashlib.sha256(d).hexdigest())
                                    for n, d in files.items()),
                        private_keys=())
    data, signature = sign_manifest(manifest, signer)
    out = tmp_path / "backup.tar"
    write_archive(out, data, signature, members)
    return out


def check(path: Path, signer: Signer) -> Manifest:
    """What a restore checks of an archive before it trusts anything in it."""
    archive = Archive(path)
    manifest = open_manifest(archive.manifest_bytes, archive.signature,
                             {signer.key_id: signer.public_key})
    archive.check_files(manifest)
    return manifest


def test_the_archive_as_written_checks_and_is_private(tmp_path: Path) -> None:
    signer = Signer.generate()
    path = small_archive(tmp_path, signer)
    assert path.stat().st_mode & 0o777 == 0o600
    assert check(path, signer).heads == {"AK": 3}
    with pytest.raises(BackupError, match="exists already"):
        small_archive(tmp_path, signer)


def offsets_to_change(path: Path) -> list[int]:
    """Every third byte of the headers, members and padding (every field of a header is
    longer than three bytes), and a sample of the zeros that end the archive."""
    with tarfile.open(path) as tar:
        last = tar.getmembers()[-1]
    end = last.offset_data + last.size
    end += -end % tarfile.BLOCKSIZE
    return [*range(0, end, 3), *range(end, path.stat().st_size, 97), path.stat().st_size - 1]


def test_a_changed_byte_in_every_place_is_refused(tmp_path: Path) -> None:
    signer = Signer.generate()
    path = small_archive(tmp_path, signer)
    original = path.read_bytes()
    altered = tmp_path / "altered.tar"
    missed = []
    for at in offsets_to_change(path):
        changed = bytearray(original)
        changed[at] ^= 0x01
        altered.write_bytes(bytes(changed))
        try:
            check(altered, signer)
        except BackupError:
            continue
        missed.append(at)
    assert missed == [], f"changes at offsets {missed[:20]} were not noticed"


def test_a_manifest_signed_by_another_key_is_refused(tmp_path: Path) -> None:
    path = small_archive(tmp_path, Signer.generate())
    other = Signer.generate()
    with pytest.raises(BackupError, match="not the association's key"):
        check(path, other)


def test_sealed_keys_open_with_their_passphrase_only_and_only_in_their_backup() -> None:
    files = {"keys/signing.key": b"-----PEM-----", "keys/commitment.key": bytes(32)}
    # The floor of scrypt's cost that a restore accepts, to keep the test short; backups use
    # 2^17 (tests/e2e/test_backup_cli.py seals and opens at that cost).
    blob, sealing = seal_keys(files, "a long enough passphrase", association="AK",
                              backup_id="one", n=2**14)
    assert b"PEM" not in blob
    assert open_keys(blob, sealing, "a long enough passphrase", association="AK",
                     backup_id="one") == files
    for passphrase, backup_id in (("a long enough passphrasE", "one"),
                                  ("a long enough passphrase", "two")):
        with pytest.raises(BackupError, match="do not open"):
            open_keys(blob, sealing, passphrase, association="AK", backup_id=backup_id)
    damaged = bytes([blob[0] ^ 1]) + blob[1:]
    with pytest.raises(BackupError, match="do not open"):
        open_keys(damaged, sealing, "a long enough passphrase", association="AK",
                  backup_id="one")
    with pytest.raises(BackupError, match="at least 12"):
        seal_keys(files, "too short", association="AK", backup_id="one")
