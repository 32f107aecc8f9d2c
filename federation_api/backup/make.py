"""`alliance backup`: one archive holding a consistent snapshot of a running node.

What goes in: a snapshot of every store (`stores.snapshot`), `node.json`, the registry files,
the keyring and the public key files, and the uploaded documents' files (`documents/`: private
data, as the stores' snapshot is). The private key files (`keys/*.key`: the signing key,
archived signing keys, the commitment key, the accounts key) are left out, only named with
their hashes, unless `passphrase` is given, when they go in sealed (`key_box`). The manifest
names the head seq of every ledger in the snapshot and the SHA-256 of every file, and is
signed with the node's signing key. The archive is read back and checked before the command
reports success, so a backup that was announced is one that verifies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import shutil
import tempfile
from pathlib import Path

from federation_api.backup.archive import Archive, sha256_file, write_archive
from federation_api.backup.errors import BackupError
from federation_api.backup.key_box import seal_keys
from federation_api.backup.manifest import (
    SEALED_KEYS,
    BackupFile,
    FileKind,
    Manifest,
    PrivateKeyFile,
    open_manifest,
    sign_manifest,
)
from federation_api.backup.stores import snapshot
from federation_api.documents.storage import stored_files
from federation_api.node.restore_mark import HISTORY_FILE
from federation_api.node.setup import NodeConfig, NodePaths
from federation_api.settings import Settings
from ledger.codec import decode_json
from ledger.errors import MalformedEntry
from ledger.signing import Signer
from ledger.trust.keyring import Keyring
from ledger.trust.registry_files import RegistryDir

KEYRING_MEMBER = "node/keys/keyring.json"


def data_dir_files(paths: NodePaths) -> tuple[list[tuple[str, FileKind]], list[str]]:
    """The data directory's files a backup holds, as (relative path, kind), and its private
    key files (relative paths)."""
    public: list[tuple[str, FileKind]] = [("node.json", FileKind.CONFIG)]
    if (paths.root / HISTORY_FILE).is_file():  # which entries no event backs, after a restore
        public.append((HISTORY_FILE, FileKind.CONFIG))
    keys = paths.keyring.parent
    public += [(f"keys/{p.name}", FileKind.PUBLIC_KEY) for p in sorted(keys.iterdir())
               if p.is_file() and (p.suffix == ".pub" or p == paths.keyring)]
    if paths.registry.is_dir():
        public += [(f"registry/{p.name}", FileKind.REGISTRY)
                   for p in sorted(paths.registry.iterdir()) if p.is_file()]
    # Listed after the stores' snapshot was taken, and a document's record is written only
    # after its bytes are stored, so every document the snapshot records is among these.
    public += [(f"documents/{p.parent.name}/{p.name}", FileKind.DOCUMENT)
               for p in stored_files(paths.root / "documents")]
    private = [f"keys/{p.name}" for p in sorted(keys.iterdir())
               if p.is_file() and p.suffix == ".key"]
    return public, private


def make_backup(settings: Settings, out: Path, *, passphrase: str | None,
                now: dt.datetime) -> Manifest:
    """Write a backup of the node in `settings.data_dir` to `out`; returns its manifest."""
    paths = NodePaths(settings.data_dir)
    if not paths.config.exists():
        raise BackupError(f"no node in {settings.data_dir}: nothing to back up")
    try:
        config = decode_json(paths.config.read_bytes(), NodeConfig)
    except MalformedEntry as e:
        raise BackupError(f"node.json is unreadable: {e}") from e
    signer = Signer.load(paths.signing_key, settings.passphrase())
    keyring = (RegistryDir(paths.registry).state().keyring
               if RegistryDir(paths.registry).exists() else Keyring.load(paths.keyring))
    current = keyring.current(config.association)
    if current is None or current.key_id != signer.key_id:
        raise BackupError("the signing key is not the association's current key; a backup "
                          "signed with it could not be restored")
    out = out.absolute()
    if out.exists():
        raise BackupError(f"{out} exists already; choose a new file name")
    staging = Path(tempfile.mkdtemp(prefix=".backup-", dir=out.parent))  # 0700
    try:
        return _write(settings, paths, config.association, signer, out, staging,
                      passphrase=passphrase, now=now)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write(settings: Settings, paths: NodePaths, association: str, signer: Signer, out: Path,
           staging: Path, *, passphrase: str | None, now: dt.datetime) -> Manifest:
    backup_id = secrets.token_hex(16)
    (staging / "db").mkdir()
    url = paths.database_url(settings)
    taken = snapshot(url, staging / "db")
    public, private = data_dir_files(paths)
    members: list[tuple[str, Path, FileKind]] = []
    for relative, kind in public:
        copy = staging / "node" / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(paths.root / relative, copy)
        members.append((f"node/{relative}", copy, kind))
    members += [(f"db/{name}", path, FileKind.STORE) for name, path in taken.files]
    key_files = {relative: (paths.root / relative).read_bytes() for relative in private}
    private_keys = tuple(PrivateKeyFile(path=relative, size=len(data),
                                        sha256=hashlib.sha256(data).hexdigest())
                         for relative, data in key_files.items())
    sealing = None
    if passphrase is not None:
        blob, sealing = seal_keys(key_files, passphrase, association=association,
                                  backup_id=backup_id)
        sealed = staging / SEALED_KEYS
        sealed.write_bytes(blob)
        members.append((SEALED_KEYS, sealed, FileKind.SEALED_KEYS))
    files = tuple(BackupFile(name=name, kind=kind, size=path.stat().st_size,
                             sha256=sha256_file(path)) for name, path, kind in members)
    manifest = Manifest(backup_id=backup_id, association=association, taken_at=now,
                        database=url.dialect,
                        schema=url.schema if url.dialect == "postgres" else None,
                        heads=dict(sorted(taken.heads.items())), signer_key_id=signer.key_id,
                        files=files, private_keys=private_keys, sealing=sealing)
    data, signature = sign_manifest(manifest, signer)
    write_archive(out, data, signature, [(name, path) for name, path, _ in members])
    check_backup(out)
    return manifest


def check_backup(path: Path) -> Manifest:
    """`alliance backup verify`: the archive's layout, the manifest's signature under the
    key the archive's keyring gives the association, and every file's size and hash.

    This shows the archive is whole and as its maker signed it; that the maker was the
    association is shown at restore, by the signing key the operator supplies."""
    archive = Archive(path)
    try:
        keyring = decode_json(archive.read(KEYRING_MEMBER), Keyring)
    except MalformedEntry as e:
        raise BackupError(f"the backup's keyring is unreadable: {e}") from e
    keys = {record.key_id: record.public_key for record in keyring.keys}
    manifest = open_manifest(archive.manifest_bytes, archive.signature, keys)
    if not any(r.key_id == manifest.signer_key_id and r.association == manifest.association
               for r in keyring.keys):
        raise BackupError("the backup's manifest is not signed by a key of its association")
    archive.check_files(manifest)
    return manifest
