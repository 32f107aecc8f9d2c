"""Replication between three nodes through one real nats-server."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from federation_api.replication.loopback import start_single_server
from federation_api.replication.replicator import RETRY_SECONDS, Replicator
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


def test_an_idle_peer_delays_no_other_peers_entries(tmp_path: Path) -> None:
    """AK writes, TX and CA stay idle, MI reads: MI's consumers of TX and CA wait in their long
    fetches the whole time, and AK's entries still reach MI's projection at once. With one loop
    serving the peers in turn, no idle peer's fetch could be in flight while AK's entries were
    ingested, and an AK entry written during those fetches waited them out (0.5 s each then,
    FETCH_WAIT now): the median lag was 0.95 s here."""
    async def scenario() -> None:
        server = start_single_server(tmp_path / "nats")
        # No anti-entropy pass in the minute of the test: every entry comes by JetStream.
        alliance = Alliance(tmp_path / "alliance", ("AK", "MI", "TX", "CA"),
                            anti_entropy_seconds=60.0)
        try:
            await alliance.start_all(server.url)
            for association in ("AK", "TX", "CA"):
                await asyncio.to_thread(import_professionals, alliance.nodes[association], 2,
                                        prefix="W")
            mi, reader = alliance.nodes["MI"], alliance.replicators["MI"]
            await wait_until(lambda: heads(mi) == {"AK": 2, "TX": 2, "CA": 2}, what="first entries")

            fetching_during_ak_ingest: list[set[str]] = []
            ingest = reader.ingest

            async def noting_ingest(wires: Sequence[bytes], *, source: str) -> None:
                if source == "jetstream:AK":
                    fetching_during_ak_ingest.append(set(reader.fetching))
                await ingest(wires, source=source)

            reader.ingest = noting_ingest  # type: ignore[method-assign]
            lags = []
            for i in range(20):
                await asyncio.to_thread(import_professionals, alliance.nodes["AK"], 1,
                                        prefix=f"L{i}-")
                written = time.monotonic()
                while (await asyncio.to_thread(heads, mi)).get("AK") != 3 + i:
                    assert time.monotonic() - written < 10, f"entry {i} never arrived"
                    await asyncio.sleep(0.005)
                lags.append(time.monotonic() - written)
                await asyncio.sleep(0.05)

            assert len(fetching_during_ak_ingest) >= 1
            assert all({"TX", "CA"} <= peers for peers in fetching_during_ak_ingest), \
                fetching_during_ak_ingest
            # A behavioural bound, not a speed figure: only a wait on the idle peers' fetches
            # makes the median reach it.
            assert statistics.median(lags) < 0.4, lags
        finally:
            await alliance.shutdown()
            server.stop()

    asyncio.run(scenario())


def test_a_peer_without_a_stream_is_asked_again_at_a_pause(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MI never starts, so its stream never exists: AK's consumer of MI keeps asking for it,
    once per RETRY_SECONDS, not in a loop (and AK's other tasks run on)."""
    asked: list[str] = []
    subscribe = Replicator._subscribe

    async def counting_subscribe(self: Replicator, peer: str) -> Any:
        asked.append(peer)
        return await subscribe(self, peer)

    monkeypatch.setattr(Replicator, "_subscribe", counting_subscribe)

    async def scenario() -> None:
        server = start_single_server(tmp_path / "nats")
        alliance = Alliance(tmp_path / "alliance", ("AK", "MI"))
        try:
            alliance.open("AK")
            await alliance.start_replication("AK", server.url)
            await asyncio.sleep(2.0)
            assert set(asked) == {"MI"}
            assert 2 <= len(asked) <= 2.0 / RETRY_SECONDS + 2, len(asked)
        finally:
            await alliance.shutdown()
            server.stop()

    asyncio.run(scenario())
