"""Backup and restore cost, as ratios to copying the same store files in the same run.

    .venv/bin/python -m bench.backup_bench [--entries N]

A node on SQLite files in a temporary directory imports N endorsements (one command, one
entry each). Then, each phase timed once:

- baseline: `shutil.copyfile` of the four store files (what a cold copy of a stopped node
  costs on this disk);
- backup: `make_backup` of the running node (snapshots under one lock order, hashes, a
  signed manifest, the archive written, synced and read back to check it);
- verify: `check_backup` (layout, signature, every file's hash);
- restore: `restore_backup` into a new data directory (checks, files, the node opened once).

Backup, verify and restore are printed as ratios to the baseline, beside the archive's size,
so the machine's disk largely cancels out of the comparison.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from domain.levels import Level
from domain.policy import AssociationPolicy
from federation_api.backup.make import check_backup, make_backup
from federation_api.backup.restore import restore_backup
from federation_api.backup.stores import SQLITE_STORES
from federation_api.node.root import Node
from federation_api.node.setup import init_node
from federation_api.settings import Settings

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _filled(root: Path, entries: int) -> tuple[Settings, Node]:
    settings = Settings(data_dir=root / "ak", association="AK")
    init_node(settings, association="AK", name="Alaska", policy=AssociationPolicy(), now=EPOCH)
    node = Node(settings)
    for i in range(entries):
        node.service.record_existing(
            endorsement_id=f"AK-E{i:06d}", person_id=f"AK-P-{i}", family_name=f"Family{i}",
            given_name="Given", level=Level.IMHS, designation=None,
            granted_on=dt.date(2020, 1, 1), valid_through=dt.date(2030, 12, 31),
            legacy_reference=f"ref-{i}", now=EPOCH + dt.timedelta(seconds=i))
    return settings, node


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    """Run the phases and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings, node = _filled(root, args.entries)
        copies = root / "copies"
        copies.mkdir()
        baseline = _timed(lambda: [shutil.copyfile(settings.data_dir / name, copies / name)
                                   for name in SQLITE_STORES])
        archive = root / "ak.tar"
        backup = _timed(lambda: make_backup(settings, archive, passphrase=None,
                                            now=EPOCH + dt.timedelta(days=1)))
        node.close()
        verify = _timed(lambda: check_backup(archive))
        target = Settings(data_dir=root / "restored", association="AK")
        restore = _timed(lambda: restore_backup(target, archive,
                                                keys_from=settings.data_dir / "keys",
                                                passphrase=None, force=False,
                                                now=EPOCH + dt.timedelta(days=2)))
        stores = sum((settings.data_dir / name).stat().st_size for name in SQLITE_STORES)
        print(f"entries {args.entries}; stores {stores / 1e6:.1f} MB; archive "
              f"{archive.stat().st_size / 1e6:.1f} MB")
        print(f"baseline copy of the store files  {baseline * 1000:8.1f} ms  1.00x")
        for name, seconds in (("backup (snapshot, hash, sign, write, check)", backup),
                              ("backup verify", verify), ("restore (checks, files, open)",
                                                          restore)):
            print(f"{name:<45} {seconds * 1000:8.1f} ms  {seconds / baseline:5.2f}x")


if __name__ == "__main__":
    main()
