"""Faults on the production topology with real processes: the 3-server hub, one leaf per
association, TLS and nkeys from the generated files (federation_api/replication/loopback.py).

Each scenario writes while NATS servers are SIGKILLed, SIGSTOPped, wiped or cut off, then
heals and proves that every acknowledged entry (a command that returned: its entry is
committed in the origin's database) is in every node's replica, once: each replica verifies
as one gapless chain of exactly the origin's length, nothing is quarantined, the
projections' digests are equal, and the hub's mirrors hold each seq once.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import threading
import time
from pathlib import Path

import nats
import pytest

from federation_api.node.root import Node
from federation_api.replication.loopback import HubAndLeafs
from federation_api.replication.nats_process import NatsServer
from federation_api.replication.replicator import stream_name
from tests.federation.alliance import Alliance, heads, import_professionals, wait_until
from tests.federation.relay import Relay

pytestmark = pytest.mark.timeout(300)
ASSOCIATIONS = ("AK", "MI", "TX")
HEAL_BAR = 10.0  # seconds from the last heal until every replica is complete


class Federation:
    """The servers, the nodes on them, and relays for the leafs that can be cut off."""

    def __init__(self, tmp_path: Path, *, relayed: tuple[str, ...] = ()) -> None:
        self.servers = HubAndLeafs(tmp_path / "nats", ASSOCIATIONS, relayed=relayed)
        self.alliance = Alliance(tmp_path / "alliance", ASSOCIATIONS)
        self.relays = {a: [Relay(listen, target) for listen, target in ports]
                       for a, ports in self.servers.relay_ports.items()}

    async def __aenter__(self) -> Federation:
        for relays in self.relays.values():
            for relay in relays:
                await relay.start()
        try:
            await self.servers.start()
            for association in ASSOCIATIONS:
                self.alliance.open(association)
                await self.start_node(association)
        except BaseException:
            await self.__aexit__()  # `async with` calls it only once the body runs
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.alliance.shutdown()
        self.servers.stop()
        for relays in self.relays.values():
            for relay in relays:
                await relay.close()

    async def start_node(self, association: str) -> None:
        """Start a node's replication on its own leaf (TLS, its nkey)."""
        await self.alliance.start_replication(association, self.servers.node(association),
                                              local_domain=association.lower(),
                                              hub_domain="hub")

    def node(self, association: str) -> Node:
        """One association's node."""
        return self.alliance.nodes[association]

    def origin_heads(self) -> dict[str, int]:
        """Every association's own ledger length (what it acknowledged), if it wrote."""
        return {a: n for a in ASSOCIATIONS if (n := heads(self.node(a)).get(a, 0))}

    def cut(self, association: str, cut: bool = True) -> None:
        """Cut (or heal) the link between an association's leaf and the whole hub."""
        for relay in self.relays[association]:
            relay.cut() if cut else relay.heal()

    async def converged(self, expected: dict[str, int], timeout: float) -> float:
        """Seconds until every node holds and has projected exactly `expected`."""
        start = time.monotonic()
        for association in ASSOCIATIONS:
            node = self.node(association)
            await wait_until(lambda n=node: heads(n) == expected,
                             timeout=max(0.5, timeout - (time.monotonic() - start)),
                             what=f"{association} to hold {expected}")
        return time.monotonic() - start

    def assert_complete(self, expected: dict[str, int]) -> None:
        """Every replica one verified gapless chain of exactly the origin's length."""
        digests = set()
        for association in ASSOCIATIONS:
            node = self.node(association)
            for origin, count in expected.items():
                assert node.verify_ledger(origin) == count, (association, origin)
            assert node.ingestor.quarantine_count() == 0, association
            digests.add(node.projector.digest())
        assert len(digests) == 1

    async def mirrors_hold(self, expected: dict[str, int], timeout: float = 120.0) -> None:
        """The hub's mirror of every stream holds seqs 1..n, each once (a mirror keeps the
        origin's seqs: n messages with last seq n means no gap and no duplicate)."""
        nc = await nats.connect(**self.servers.admin().options(), max_reconnect_attempts=-1)
        try:
            js = nc.jetstream(domain="hub", timeout=5)
            deadline = time.monotonic() + timeout
            for association, count in expected.items():
                while True:
                    try:
                        state = (await js.stream_info(stream_name(association))).state
                        if (state.messages, state.last_seq, state.first_seq) == (count, count, 1):
                            break
                    except (nats.errors.Error, TimeoutError):
                        state = None
                    assert time.monotonic() < deadline, f"hub mirror {association}: {state}"
                    await asyncio.sleep(0.5)
        finally:
            await nc.close()


class Writers:
    """One thread per association recording endorsements in batches until stopped; a
    batch counts as acknowledged once `import_professionals` returned."""

    def __init__(self, federation: Federation, associations: tuple[str, ...] = ASSOCIATIONS,
                 *, batch: int = 5, pause: float = 0.05) -> None:
        self.federation = federation
        self.associations = associations
        self.batch = batch
        self.pause = pause
        self.acked = dict.fromkeys(associations, 0)
        # Held while a batch is written: a node restart takes it, as a stopped process
        # would neither write nor replicate.
        self.locks = {a: threading.Lock() for a in associations}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _write(self, association: str) -> None:
        round_ = 0
        while not self._stop.is_set():
            with self.locks[association]:
                import_professionals(self.federation.node(association), self.batch,
                                     prefix=f"W{round_:04d}-")
                self.acked[association] += self.batch
            round_ += 1
            time.sleep(self.pause)

    def __enter__(self) -> Writers:
        self._threads = [threading.Thread(target=self._write, args=(a,), daemon=True)
                         for a in self.associations]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop after the current batches and wait for the threads."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


async def start_all(servers: list[NatsServer]) -> None:
    """Start servers in parallel (hub servers wait for each other's routes)."""
    await asyncio.gather(*(asyncio.to_thread(s.start, 30.0) for s in servers))


def test_two_hub_servers_killed_one_after_the_other_mid_stream(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with Federation(tmp_path) as f:
            hubs = f.servers.hubs
            with Writers(f, ("AK", "MI")):
                await asyncio.sleep(1.0)
                hubs[0].kill()  # SIGKILL mid-stream
                await asyncio.sleep(2.0)
                await start_all([hubs[0]])
                await asyncio.sleep(2.0)
                hubs[1].kill()  # a second one, after the first returned
                await asyncio.sleep(2.0)
                await start_all([hubs[1]])
                await asyncio.sleep(0.5)
            expected = f.origin_heads()
            assert expected.keys() == {"AK", "MI"}
            elapsed = await f.converged(expected, timeout=120)
            print(f"replicas complete {elapsed:.1f}s after the second hub server returned")
            assert elapsed <= HEAL_BAR
            f.assert_complete(expected)
            await f.mirrors_hold(expected)

    asyncio.run(scenario())


def test_every_nats_server_killed_at_once_during_a_write_burst(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with Federation(tmp_path) as f:
            with Writers(f) as writers:
                await asyncio.sleep(1.0)
                for server in f.servers.servers:
                    server.kill()  # hub and leafs, all at once
                await asyncio.sleep(1.5)  # the nodes keep acknowledging commands
                await start_all(f.servers.hubs)
                await start_all(list(f.servers.leafs.values()))
                await asyncio.sleep(1.0)
            expected = f.origin_heads()
            assert expected == writers.acked  # every acknowledged command is in its ledger
            await f.converged(expected, timeout=90)
            f.assert_complete(expected)
            await f.mirrors_hold(expected)

    asyncio.run(scenario())


def test_a_hub_server_whose_store_was_wiped_rejoins_and_catches_up(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with Federation(tmp_path) as f:
            wiped = f.servers.hubs[2]
            with Writers(f, ("AK", "MI")):
                await asyncio.sleep(1.0)
                wiped.kill()
                shutil.rmtree(f.servers.hub_store(2))
                await asyncio.sleep(2.0)
                await start_all([wiped])
                await asyncio.sleep(1.0)
            expected = f.origin_heads()
            elapsed = await f.converged(expected, timeout=120)
            print(f"replicas complete {elapsed:.1f}s after the wiped server returned")
            assert elapsed <= HEAL_BAR  # no node noticed beyond a lag blip
            f.assert_complete(expected)
            await f.mirrors_hold(expected)
            # The wiped server holds a current replica of every mirror again.
            nc = await nats.connect(**f.servers.admin(2).options())
            try:
                js = nc.jetstream(domain="hub", timeout=5)

                async def current() -> bool:
                    for association in ASSOCIATIONS:
                        cluster = (await js.stream_info(stream_name(association))).cluster
                        assert cluster is not None
                        peers = {cluster.leader: True} | {
                            p.name: bool(p.current) for p in cluster.replicas or []}
                        if not peers.get(wiped.name):
                            return False
                    return True

                deadline = time.monotonic() + 60
                while not await current():
                    assert time.monotonic() < deadline, "the wiped server never caught up"
                    await asyncio.sleep(0.5)
            finally:
                await nc.close()

    asyncio.run(scenario())


def test_a_leaf_cut_off_from_the_hub_keeps_working_and_catches_up_both_ways(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        async with Federation(tmp_path, relayed=("TX",)) as f:
            f.cut("TX")
            await asyncio.gather(*(asyncio.to_thread(import_professionals, f.node(a), 30,
                                                     prefix="CUT") for a in ASSOCIATIONS))
            # TX keeps working on its own: its leaf's stream took all of TX's entries.
            await wait_until(lambda: f.node("TX").ledger.position("nats-publisher") == 30,
                             what="TX published to its own leaf while cut off")
            assert heads(f.node("TX")) == {"TX": 30}  # and saw nothing of the others
            f.cut("TX", cut=False)
            expected = dict.fromkeys(ASSOCIATIONS, 30)
            await f.converged(expected, timeout=90)
            f.assert_complete(expected)
            await f.mirrors_hold(expected)

    asyncio.run(scenario())


def test_a_randomized_fault_schedule_loses_nothing(tmp_path: Path) -> None:
    """Seeded (ALLIANCE_FAULT_SEED reruns a schedule) and bounded (ALLIANCE_FAULT_SECONDS,
    default 40; bench/ runs it longer)."""
    seed = int(os.environ.get("ALLIANCE_FAULT_SEED") or random.SystemRandom().randrange(2**32))
    seconds = float(os.environ.get("ALLIANCE_FAULT_SECONDS", "40"))
    print(f"fault schedule seed {seed} (rerun: ALLIANCE_FAULT_SEED={seed}), {seconds:.0f}s")

    async def scenario() -> None:
        async with Federation(tmp_path, relayed=("TX",)) as f:
            log = await run_schedule(f, random.Random(seed), seconds)
            print("\n".join(log))
            expected = f.origin_heads()
            elapsed = await f.converged(expected, timeout=HEAL_BAR)
            print(f"every replica complete {elapsed:.1f}s after the last heal: {expected}")
            f.assert_complete(expected)
            await f.mirrors_hold(expected)

    asyncio.run(scenario())


async def run_schedule(f: Federation, rng: random.Random, seconds: float) -> list[str]:
    """Faults one after another for `seconds` while every node writes; all healed at the
    end. Returns what was done, in order (with the seed, enough to replay it)."""
    servers = f.servers
    log: list[str] = []
    deadline = time.monotonic() + seconds
    with Writers(f) as writers:
        while time.monotonic() < deadline:
            kind = rng.choice(("kill", "kill", "pause", "cut", "node"))
            down = rng.uniform(0.5, 3.0)
            stamp = f"{seconds - (deadline - time.monotonic()):5.1f}s"
            if kind in ("kill", "pause"):
                target = rng.choice(servers.servers)
                log.append(f"{stamp} {kind} {target.name} for {down:.1f}s")
                target.kill() if kind == "kill" else target.pause()
                await asyncio.sleep(down)
                if kind == "kill":
                    await start_all([target])
                else:
                    target.resume()
            elif kind == "cut":
                log.append(f"{stamp} cut leaf-tx from the hub for {down:.1f}s")
                f.cut("TX")
                await asyncio.sleep(down)
                f.cut("TX", cut=False)
            else:
                association = rng.choice(ASSOCIATIONS)
                log.append(f"{stamp} stop node {association} for {down:.1f}s")
                lock = writers.locks[association]
                await asyncio.to_thread(lock.acquire)
                try:
                    await f.alliance.stop_replication(association)
                    await asyncio.sleep(down)
                    await f.start_node(association)
                finally:
                    lock.release()
            await asyncio.sleep(rng.uniform(0.2, 1.5))
        writers.stop()
    assert f.origin_heads() == writers.acked
    log.append(f"last heal; acknowledged {writers.acked}")
    return log
