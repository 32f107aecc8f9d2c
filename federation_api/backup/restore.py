"""`alliance restore`: a data directory from a backup, marked so that it cannot fork.

Nothing is written before everything was checked: the archive byte for byte (`check_backup`),
the private keys (sealed ones opened with the passphrase; otherwise the key files the
operator supplies, each matched against the manifest's hash), the signing key against the
key that signed the manifest, and the target (a new or empty data directory and an empty
schema, unless `force`). Then the restore mark is written first (`node/restore_mark.py`), so
no node can ever run on the restored files unmarked, the files and stores are put in place,
and the node is opened once, held, to show that it starts.

`release_restore` is the operator's override for an association that has nobody to catch up
from: it clears the mark with the reason, in `restores.log` and the log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from federation_api.backup.archive import Archive
from federation_api.backup.errors import BackupError
from federation_api.backup.key_box import open_keys
from federation_api.backup.make import check_backup
from federation_api.backup.manifest import SEALED_KEYS, FileKind, Manifest, open_manifest
from federation_api.backup.stores import (
    POSTGRES_DUMP,
    SQLITE_STORES,
    postgres_tables,
    put_back_postgres,
    put_back_sqlite,
    sqlite_files_present,
)
from federation_api.documents.storage import private_directory
from federation_api.node.restore_mark import (
    HISTORY_FILE,
    MARK_FILE,
    RestoreCleared,
    RestoreMark,
    RestoreMarkFile,
)
from federation_api.node.root import Node
from federation_api.node.setup import NodePaths
from federation_api.settings import Settings
from ledger.signing import Signer
from ledger.storage.database import DatabaseUrl

# An archived signing key (after a rotation) is not needed to run the node: entries it
# signed verify with its public key. Every other private key file is.
_OPTIONAL_KEY_PREFIX = "keys/signing-"


def restore_backup(settings: Settings, source: Path, *, keys_from: Path | None,
                   passphrase: str | None, force: bool, now: dt.datetime) -> Manifest:
    """Restore `source` into `settings.data_dir` (and its database); returns the manifest."""
    manifest = check_backup(source)
    archive = Archive(source)
    keys = _private_keys(manifest, archive, keys_from, passphrase)
    paths = NodePaths(settings.data_dir)
    url = paths.database_url(settings)
    _check_target(manifest, paths, url, force=force)
    parent = paths.root.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=parent))  # 0700
    try:
        signer = _signing_key(manifest, archive, keys, staging, settings)
        stores = _extract_stores(manifest, archive, staging)
        paths.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The mark first: from here on, whatever happens, these files are a restored node.
        RestoreMarkFile(paths.root).save(RestoreMark(
            backup_id=manifest.backup_id, taken_at=manifest.taken_at, restored_at=now,
            own_head=manifest.own_head))
        if force:
            _clear_node_files(paths)
        _write_node_files(manifest, archive, paths, keys)
        if url.dialect == "sqlite":
            put_back_sqlite(url, stores, replace=force)
        else:
            put_back_postgres(url, stores[POSTGRES_DUMP], replace=force)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    node = Node(settings)  # held by the mark: it seals nothing, but it must start
    try:
        if node.signer.key_id != signer.key_id:
            raise BackupError("the restored node does not load the backup's signing key")
    finally:
        node.close()
    return manifest


def _private_keys(manifest: Manifest, archive: Archive, keys_from: Path | None,
                  passphrase: str | None) -> dict[str, bytes]:
    """The private key files, by relative path, each as the manifest's hash says."""
    if manifest.sealing is not None:
        if keys_from is not None:
            raise BackupError("this backup holds its private keys sealed: give its passphrase, "
                              "not --keys-from")
        if passphrase is None:
            raise BackupError("this backup holds its private keys sealed under a passphrase: "
                              "set ALLIANCE_BACKUP_PASSPHRASE or give --passphrase-file")
        keys = open_keys(archive.read(SEALED_KEYS), manifest.sealing, passphrase,
                         association=manifest.association, backup_id=manifest.backup_id)
    else:
        names = ", ".join(Path(k.path).name for k in manifest.private_keys
                          if not k.path.startswith(_OPTIONAL_KEY_PREFIX))
        if keys_from is None:
            raise BackupError(f"this backup holds no private keys (a backup never does unless "
                              f"made with --include-keys): supply the node's key files with "
                              f"--keys-from DIR, a directory holding {names}")
        keys = {}
        missing = []
        for key in manifest.private_keys:
            path = keys_from / Path(key.path).name
            if path.is_file():
                keys[key.path] = path.read_bytes()
            elif not key.path.startswith(_OPTIONAL_KEY_PREFIX):
                missing.append(Path(key.path).name)
        if missing:
            raise BackupError(f"--keys-from {keys_from} lacks {', '.join(missing)}: the node "
                              f"needs every one of {names}")
    for key in manifest.private_keys:
        data = keys.get(key.path)
        if data is not None and hashlib.sha256(data).hexdigest() != key.sha256:
            raise BackupError(f"{Path(key.path).name} is not the key file this backup was made "
                              f"with")
    return keys


def _signing_key(manifest: Manifest, archive: Archive, keys: dict[str, bytes],
                 staging: Path, settings: Settings) -> Signer:
    """The supplied signing key, which must be the key that signed the manifest."""
    pem = keys.get("keys/signing.key")
    if pem is None:
        raise BackupError("no keys/signing.key among the keys supplied")
    path = staging / "signing.key"
    _write_private(path, pem)
    signer = Signer.load(path, settings.passphrase())
    if signer.key_id != manifest.signer_key_id:
        raise BackupError(f"the signing key supplied ({signer.key_id[:16]}) did not sign this "
                          f"backup ({manifest.signer_key_id[:16]})")
    open_manifest(archive.manifest_bytes, archive.signature, {signer.key_id: signer.public_key})
    return signer


def _check_target(manifest: Manifest, paths: NodePaths, url: DatabaseUrl, *,
                  force: bool) -> None:
    root = paths.root
    if root.exists() and not root.is_dir():
        raise BackupError(f"{root} is not a directory")
    occupied = root.is_dir() and any(p.name != HISTORY_FILE for p in root.iterdir())
    if occupied and not force:
        raise BackupError(f"{root} is not empty: restore into a new or empty directory, or "
                          f"give --force to replace the node there (stop it first)")
    if occupied and not (paths.config.exists() or (root / MARK_FILE).exists()):
        raise BackupError(f"{root} does not hold a node; --force replaces only a node's data "
                          f"directory")
    if url.dialect != manifest.database:
        raise BackupError(f"the backup holds {manifest.database} stores, but the database URL "
                          f"names {url.dialect}: give the --database-url to restore into")
    if url.dialect == "sqlite":
        found = sqlite_files_present(url)
        if found and not force:
            raise BackupError(f"store files exist already ({', '.join(p.name for p in found)});"
                              f" give --force to replace them")
        return
    if url.schema != manifest.schema:
        raise BackupError(f"the backup holds the PostgreSQL schema {manifest.schema!r}; the "
                          f"database URL names {url.schema!r} (restore into "
                          f"?schema={manifest.schema})")
    tables = postgres_tables(url)
    if tables and not force:
        raise BackupError(f"schema {url.schema!r} holds {len(tables)} tables already; give "
                          f"--force to replace them")


def _extract_stores(manifest: Manifest, archive: Archive, staging: Path) -> dict[str, Path]:
    stores = {}
    for entry in manifest.files:
        if entry.kind is FileKind.STORE:
            name = entry.name.removeprefix("db/")
            target = staging / name
            if archive.copy(entry.name, target) != entry.sha256:
                raise BackupError(f"{entry.name} changed while it was read")
            stores[name] = target
    if manifest.database == "sqlite" and set(stores) != set(SQLITE_STORES):
        raise BackupError(f"the backup does not hold every store (it holds {sorted(stores)})")
    return stores


def _clear_node_files(paths: NodePaths) -> None:
    """Remove what the restore writes anew (never restores.log, nor other files)."""
    paths.config.unlink(missing_ok=True)
    for directory in (paths.keyring.parent, paths.registry):
        if directory.is_dir():
            shutil.rmtree(directory)


def _write_node_files(manifest: Manifest, archive: Archive, paths: NodePaths,
                      keys: dict[str, bytes]) -> None:
    for entry in manifest.files:
        if not entry.name.startswith("node/"):
            continue
        target = paths.root / entry.name.removeprefix("node/")
        if target.name == HISTORY_FILE and target.exists():
            continue  # the node's own history is newer than the backup's copy
        if entry.kind is FileKind.DOCUMENT:  # private: 0700 directories, 0600 files
            private_directory(target.parent.parent)
            private_directory(target.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        if archive.copy(entry.name, target) != entry.sha256:
            raise BackupError(f"{entry.name} changed while it was read")
        if entry.kind is FileKind.DOCUMENT:
            os.chmod(target, 0o600)
    for relative, data in keys.items():
        _write_private(paths.root / relative, data)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def release_restore(settings: Settings, *, reason: str, now: dt.datetime) -> RestoreCleared:
    """The operator's override: clear the restore mark of a node that has nobody to catch up
    from (stop the node first; it reads the mark when it starts)."""
    paths = NodePaths(settings.data_dir)
    marks = RestoreMarkFile(paths.root)
    mark = marks.load()
    if mark is None:
        raise BackupError(f"the node in {paths.root} is not marked as restored")
    if len(reason.strip()) < 10:
        raise BackupError("say why in --reason (at least 10 characters): it is kept in "
                          f"{HISTORY_FILE}")
    node = Node(settings)  # the same checks as a start; still held by the mark
    try:
        head = node.own_ledger.head()
        behind = node.own_ledger.behind(thorough=True)
        unbacked = node.writer.unbacked_range()
    finally:
        node.close()
    if behind is not None:
        raise BackupError(f"the ledger is behind its own records, so releasing the restore "
                          f"would not let it seal: {behind}")
    return marks.clear(mark, how="operator override", head=head, detail=reason.strip(),
                       unbacked=unbacked, now=now)

