"""Replication between three nodes through one real nats-server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from federation_api.replication.loopback import start_single_server
from tests.federation.alliance import Alliance, heads, import_professionals, wait_until

pytestmark = pytest.mark.timeout(120)


def test_three_nodes_converge_and_a_stopped_node_catches_up(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = start_single_server(tmp_path / "nats")
        alliance = Alliance(tmp_path / "alliance", ("AK", "MI", "TX"))
        try:
            await alliance.start_all(server.url)
            for association in alliance.associations:
                await asyncio.to_thread(import_professionals, alliance.nodes[association], 20,
                                        prefix="A")
            expected = {a: 20 for a in alliance.associations}
            for node in alliance.nodes.values():
                await wait_until(lambda n=node: heads(n) == expected, what="convergence")
            digests = {a: n.projector.digest() for a, n in alliance.nodes.items()}
            assert len(set(digests.values())) == 1, digests

            # TX stops; the others keep writing; TX restarts and catches up.
            await alliance.stop_replication("TX")
            alliance.close("TX")
            for association in ("AK", "MI"):
                await asyncio.to_thread(import_professionals, alliance.nodes[association], 15,
                                        prefix="B")
            tx = alliance.open("TX")
            await alliance.start_replication("TX", server.url)
            expected = {"AK": 35, "MI": 35, "TX": 20}
            await wait_until(lambda: heads(tx) == expected, what="TX catch-up")
            for node in alliance.nodes.values():
                await wait_until(lambda n=node: heads(n) == expected, what="convergence")
                assert node.verify_ledger("AK") == 35
            digests = {a: n.projector.digest() for a, n in alliance.nodes.items()}
            assert len(set(digests.values())) == 1, digests
            assert all(n.ingestor.quarantine_count() == 0 for n in alliance.nodes.values())
        finally:
            await alliance.shutdown()
            server.stop()

    asyncio.run(scenario())
