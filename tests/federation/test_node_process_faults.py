"""A randomized fault schedule on the production topology where every node is a real
`alliance serve` process (tests/federation/node_processes.py): node processes SIGKILLed and
restarted or SIGSTOPped and continued, NATS servers (hub and leafs) killed or stopped, a leaf
cut off from the hub, all while each node takes commands over HTTP.

After the last heal: within 10 s every node holds every ledger at the origin's length and
has projected it, with one projection digest everywhere; each ledger is one gapless hash
chain, the same entries on every node; every acknowledged command's endorsement is in its
origin's ledger exactly once, and every entry is an acknowledged command; and once the nodes
stopped, `alliance ledger verify` passes for every ledger on every node (signatures, and for
the own ledger its checkpoints and stores).

The seed is printed (rerun with ALLIANCE_FAULT_SEED); ALLIANCE_FAULT_SECONDS sets the length
(default 60; `python -m bench.nats_fault_soak --nodes` runs it longer).
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
from pathlib import Path

import pytest

from tests.federation.node_processes import (
    ASSOCIATIONS,
    NodeProcesses,
    Writers,
    check_chain,
    run_schedule,
)

pytestmark = pytest.mark.timeout(420)
HEAL_BAR = 10.0  # seconds from the last heal until every node agrees


def test_a_randomized_fault_schedule_on_node_processes_loses_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("ALLIANCE_FAULT_SEED") or random.SystemRandom().randrange(2**32))
    seconds = float(os.environ.get("ALLIANCE_FAULT_SECONDS", "60"))
    print(f"fault schedule seed {seed} (rerun: ALLIANCE_FAULT_SEED={seed}), {seconds:.0f}s")
    asyncio.run(soak(tmp_path, seed, seconds))


async def soak(root: Path, seed: int, seconds: float) -> None:
    """Run the schedule, then every check."""
    async with NodeProcesses(root) as f:
        with Writers(f) as writers:
            log = await run_schedule(f, writers, random.Random(seed), seconds)
            writers.stop()  # each writer's last command acknowledged
        print("\n".join(log))
        assert writers.failures == []
        acked = {a: len(writers.acked[a]) for a in ASSOCIATIONS}
        print(f"acknowledged {acked}, retried {writers.retries}")
        assert all(acked.values()), "every association wrote through the schedule"

        origin_heads = {a: f.heads(a)["heads"][a] for a in ASSOCIATIONS}
        # Every command was retried with its key until answered, so every entry is one
        # acknowledged command: none lost, none recorded twice by a retry.
        assert origin_heads == acked
        elapsed = await f.converged(origin_heads, timeout=HEAL_BAR)
        print(f"every node holds and projected {origin_heads}, one digest, "
              f"{elapsed:.1f}s after the last heal")

        for origin in ASSOCIATIONS:
            chains = f.chains(origin)
            hashes = {a: [e["entry_hash"] for e in c] for a, c in chains.items()}
            assert all(h == hashes[origin] for h in hashes.values()), f"{origin} differs"
            aggregates = collections.Counter(check_chain(chains[origin]))
            for aggregate in writers.acked_aggregates(origin):
                assert aggregates[aggregate] == 1, f"{origin}: {aggregate} x{aggregates[aggregate]}"
    # Stopped (SIGTERM): every data directory verifies every ledger it holds.
    for association, node in f.dirs.items():
        for origin in ASSOCIATIONS:
            done = node.cli("ledger", "verify", "--association", origin)
            assert f"ledger {origin}: {origin_heads[origin]} entries verified" in done.stdout, (
                association, done.stdout)
