"""A backup taken while the node writes is a state the node recovers from (issue 13).

The SQLite stores are snapshotted one after another, against the flow of data (node tables,
projections, ledger, event store), each inside a read transaction opened before any copy
starts. So each backup taken during a burst of commands must be what a crash between two
commits could leave: the ledger no longer than the events it seals, the projections no
further than the ledger. Restored and released, every such node starts without a finding,
seals what was stored but not yet sealed into exactly the bytes the live node signed, and its
projections catch up.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from domain.policy import AssociationPolicy
from federation_api.backup.make import make_backup
from federation_api.backup.restore import release_restore, restore_backup
from federation_api.node.root import Node
from federation_api.node.setup import init_node
from federation_api.settings import Settings
from ledger.chain.writer import FOLLOWER
from tests.federation.alliance import EPOCH, import_professionals

BURST = 300
BACKUPS = 3


def test_backups_during_a_write_burst_each_restore_to_a_state_the_node_recovers_from(
        tmp_path: Path) -> None:
    live_settings = Settings(data_dir=tmp_path / "ak", association="AK")
    init_node(live_settings, association="AK", name="Alaska", policy=AssociationPolicy(),
              now=EPOCH)
    live = Node(live_settings)
    done = threading.Event()
    failures: list[BaseException] = []

    def burst() -> None:
        try:
            for index in range(BURST):
                import_professionals(live, 1, prefix=f"B{index:04d}-")
        except BaseException as e:  # reported below, not lost in the thread
            failures.append(e)
        finally:
            done.set()

    writer = threading.Thread(target=burst)
    writer.start()
    archives = []
    try:
        while len(archives) < BACKUPS and not done.is_set():
            archive = tmp_path / f"ak-{len(archives)}.tar"
            archives.append((archive, make_backup(live_settings, archive, passphrase=None,
                                                  now=EPOCH + dt.timedelta(days=1))))
    finally:
        writer.join(timeout=120)
    assert not failures, failures
    signed = list(live.ledger.wires("AK"))
    live.close()
    assert len(signed) == BURST
    assert archives, "the burst ended before a backup was taken"
    assert any(0 < manifest.own_head < BURST for _, manifest in archives), \
        [m.own_head for _, m in archives]  # at least one was taken mid-burst

    for index, (archive, manifest) in enumerate(archives):
        settings = Settings(data_dir=tmp_path / f"restored-{index}", association="AK")
        restore_backup(settings, archive, keys_from=live_settings.data_dir / "keys",
                       passphrase=None, force=False, now=EPOCH + dt.timedelta(days=2))
        release_restore(settings, reason="test: a lone node, nobody holds more",
                        now=EPOCH + dt.timedelta(days=2))
        node = Node(settings)  # seals what was stored but not sealed, projects
        try:
            assert node.own_ledger.behind(thorough=True) is None
            head = node.own_ledger.head()
            assert head >= manifest.own_head
            assert list(node.ledger.wires("AK")) == signed[:head]  # the bytes signed live
            assert node.ledger.position(FOLLOWER) == (
                node.events.recorder.max_notification_id() or 0)
            assert node.writer.catch_up() == 0
            assert node.projector.position("AK") == head
            assert node.verify_ledger() == head
        finally:
            node.close()
