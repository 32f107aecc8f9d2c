"""A small Alliance for tests: the project's LocalAlliance with the tests' short timings, and
helpers to fill ledgers and wait for replication.

Nodes run in-process (each with its own SQLite files and its own Replicator on the test's
event loop); the NATS servers are real processes on loopback ports with temp stores
(`federation_api.replication.loopback`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from domain.levels import Level
from federation_api.node.local_alliance import LocalAlliance
from federation_api.node.root import Node

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@dataclass
class Alliance(LocalAlliance):
    """Founded at EPOCH; replicators run anti-entropy and sign checkpoints every second."""

    created: dt.datetime = EPOCH
    name: str = "Test Alliance"
    anti_entropy_seconds: float | None = 1.0
    checkpoint_seconds: float | None = 1.0


def import_professionals(node: Node, count: int, *, prefix: str) -> list[str]:
    """Record `count` imported Level III endorsements on a node; returns their ids."""
    ids = []
    for i in range(count):
        endorsement_id = f"{node.association}-{prefix}{i:05d}"
        node.service.record_existing(
            endorsement_id=endorsement_id, person_id=f"{node.association}-P-{prefix}{i}",
            family_name=f"Family{i}", given_name="Given", level=Level.IMHS, designation=None,
            granted_on=dt.date(2020, 1, 1), valid_through=dt.date(2030, 12, 31),
            legacy_reference=f"ref-{prefix}{i}", now=EPOCH + dt.timedelta(seconds=i))
        ids.append(endorsement_id)
    return ids


async def wait_until(condition: Callable[[], bool], timeout: float = 30.0,
                     what: str = "condition") -> None:
    """Poll a condition with a bound."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(condition):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def heads(node: Node) -> dict[str, int]:
    """Ledger head seq of every association a node holds, once projected too.

    An association whose entries are stored but not yet projected reports its projected
    position, so waiting for `heads(n) == expected` also waits for the projections.
    """
    out = {}
    for association in node.ledger.associations():
        head = node.ledger.head(association)
        out[association] = min(head[0] if head else 0, node.projector.position(association))
    return out
