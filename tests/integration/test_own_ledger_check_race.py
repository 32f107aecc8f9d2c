"""The own-ledger length check while the node commits (issue 13's fault schedule).

`OwnLedger.check` runs while commands are sealing: when replication (re)starts, after its
peers were asked, and the gate is already open then. It once read the ledger's head first and
the records of its length (high-water mark, projections, ...) after, so a command committed
in between made a record reach one seq beyond the head it had read: a false LedgerBehind
("ledger MI ends at seq N but the projections applied seq N+1") that closed the gate and
refused every command. Each record is written only after the entry it counts is stored, and
the ledger only grows, so reading the records first and the head last can only see a head
at least as long as every record, unless entries really are missing.

The commit is made to land exactly between the two reads: the first read of the ledger's
head while the check compares the head with the records commits one more command (a real one,
on the real stores) right after it read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.policy import AssociationPolicy
from federation_api.node.root import Node
from federation_api.node.setup import init_node
from federation_api.settings import Settings
from ledger.chain.own_length import Source
from tests.federation.alliance import EPOCH, import_professionals

pytestmark = pytest.mark.timeout(60)


def test_a_command_committed_during_the_check_is_not_taken_for_lost_entries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(data_dir=tmp_path / "mi", association="MI")
    init_node(settings, association="MI", name="Michigan", policy=AssociationPolicy(),
              now=EPOCH)
    node = Node(settings)
    try:
        import_professionals(node, 3, prefix="BEFORE-")
        store = node.own_ledger.store
        real_head = store.head
        committed: list[int] = []

        def head_then_commit(association: str) -> tuple[int, bytes] | None:
            head = real_head(association)
            if not committed:  # once: the commit lands after this read, before the next
                committed.append(head[0] if head else 0)
                monkeypatch.setattr(store, "head", real_head)
                import_professionals(node, 1, prefix="DURING-")
            return head

        node.own_ledger.writer.reconcile()  # what `check` does first, outside the race
        monkeypatch.setattr(store, "head", head_then_commit)
        behind = node.own_ledger.behind()
        assert behind is None, behind
        node.gate.judge(behind)  # as `check` does with it
        assert committed == [3]  # the interleaving happened
        assert node.gate.reason is None
        records, _ = node.own_ledger.records()
        assert {r.source: r.seq for r in records}[Source.PROJECTIONS] == 4
        import_professionals(node, 1, prefix="AFTER-")  # the gate stayed open
        assert node.own_ledger.head() == 5 and node.verify_ledger() == 5
    finally:
        node.close()
