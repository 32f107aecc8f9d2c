"""`alliance backup ...` and `alliance restore ...`: a running node's backup, its check, a
restore that cannot fork the ledger, and the operator's override for a lone association.

The passphrase that seals the private keys in a backup (`--include-keys`) never comes from
the command line, where other users' `ps` would show it: from `--passphrase-file` (its first
line) or the environment variable ALLIANCE_BACKUP_PASSPHRASE. The procedure is
docs/backup.md.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from federation_api.clock import now
from federation_api.settings import Settings

PASSPHRASE_ENV = "ALLIANCE_BACKUP_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret


def _passphrase(args: argparse.Namespace) -> str | None:
    if getattr(args, "passphrase_file", None):
        lines = Path(args.passphrase_file).read_text().splitlines()
        return lines[0] if lines else ""
    return os.environ.get(PASSPHRASE_ENV) or None


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    """Write a backup archive of the node (it may be running)."""
    from federation_api.backup.errors import BackupError
    from federation_api.backup.make import make_backup

    if not args.out:
        raise BackupError("give --out FILE (or `alliance backup verify FILE`)")
    passphrase = _passphrase(args) if args.include_keys else None
    if args.include_keys and passphrase is None:
        raise BackupError(f"--include-keys seals the private keys under a passphrase: set "
                          f"{PASSPHRASE_ENV} or give --passphrase-file")
    manifest = make_backup(settings, Path(args.out), passphrase=passphrase, now=now())
    heads = ", ".join(f"{a} {seq}" for a, seq in manifest.heads.items()) or "none"
    keys = ("sealed (scrypt, AES-256-GCM)" if manifest.sealing is not None
            else "not included (keep the key files apart; a restore needs them)")
    print(f"backup {manifest.backup_id} of {manifest.association} written to {args.out} (0600)")
    print(f"ledger heads: {heads}")
    print(f"{len(manifest.files)} files, private keys {keys}")
    return 0


def cmd_backup_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Check a backup archive: layout, manifest signature, every file's hash."""
    from federation_api.backup.make import check_backup

    manifest = check_backup(Path(args.file))
    heads = ", ".join(f"{a} {seq}" for a, seq in manifest.heads.items()) or "none"
    print(f"backup {manifest.backup_id} of {manifest.association} taken "
          f"{manifest.taken_at.isoformat()}: {len(manifest.files)} files verified")
    print(f"ledger heads: {heads}; stores: {manifest.database}; private keys "
          f"{'sealed' if manifest.sealing is not None else 'not included'}")
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    """Restore a backup into a data directory, marked "restored, not yet caught up"."""
    from federation_api.backup.errors import BackupError
    from federation_api.backup.restore import restore_backup
    from federation_api.node.restore_mark import RESTORE_RECOVERY

    if not args.source:
        raise BackupError("give --from FILE (or `alliance restore release --reason TEXT`)")
    manifest = restore_backup(settings, Path(args.source),
                              keys_from=Path(args.keys_from) if args.keys_from else None,
                              passphrase=_passphrase(args), force=args.force, now=now())
    print(f"restored backup {manifest.backup_id} of {manifest.association} (taken "
          f"{manifest.taken_at.isoformat()}) into {settings.data_dir}; own ledger at seq "
          f"{manifest.own_head}")
    print(f"marked as restored, not yet caught up. {RESTORE_RECOVERY}")
    return 0


def cmd_restore_release(args: argparse.Namespace, settings: Settings) -> int:
    """Clear the restore mark by hand, with a reason kept in restores.log."""
    from federation_api.backup.restore import release_restore

    cleared = release_restore(settings, reason=args.reason, now=now())
    print(f"restore mark of backup {cleared.backup_id} cleared by operator override at seq "
          f"{cleared.head}; recorded in restores.log")
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser, add: Any) -> None:
    """Register `backup` and `restore` under the main parser."""
    passphrase = ("read the backup passphrase from the first line of FILE (default: env "
                  f"{PASSPHRASE_ENV})")
    p = add(sub, "backup", cmd_backup, "write a consistent backup of the node, even while it "
            "runs (private keys left out unless --include-keys)")
    p.add_argument("--out", help="the archive to write (a new file; written 0600)")
    p.add_argument("--include-keys", action="store_true",
                   help="seal the private keys into the backup under a passphrase")
    p.add_argument("--passphrase-file", metavar="FILE", help=passphrase)
    verbs = p.add_subparsers(dest="backup_command", required=False)
    v = add(verbs, "verify", cmd_backup_verify, "check a backup archive byte for byte")
    v.add_argument("file", help="the backup archive")

    p = add(sub, "restore", cmd_restore, "restore a backup into a new or empty data directory; "
            "the node seals again only once it has caught up with its peers and the hub")
    p.add_argument("--from", dest="source", metavar="FILE", help="the backup archive")
    p.add_argument("--keys-from", metavar="DIR", help="directory holding the node's private "
                   "key files (signing.key, commitment.key ...) for a backup without them")
    p.add_argument("--passphrase-file", metavar="FILE", help=passphrase)
    p.add_argument("--force", action="store_true",
                   help="replace the node in a non-empty data directory or schema")
    verbs = p.add_subparsers(dest="restore_command", required=False)
    r = add(verbs, "release", cmd_restore_release, "operator override: let a restored node "
            "that has nobody to catch up from (no peers, no hub) seal again")
    r.add_argument("--reason", required=True, help="why (kept in restores.log)")
