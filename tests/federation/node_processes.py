"""The production topology with every node a real `alliance serve` process: the 3-server hub
and one leaf per association (federation_api/replication/loopback.py), each node on its own
leaf over TLS as its own nkey user, writers issuing commands over HTTP, and a seeded schedule
of faults on nodes and NATS servers alike.

The in-process fault tests (test_hub_cluster_faults.py) can only pause a node's writes and
replication; here a node fault is a real SIGKILL (the process dies mid-command, its stores
as the kernel left them) or SIGSTOP (it hangs with its sockets open), and what counts as
acknowledged is exactly what a client saw answered 201. Used by test_node_process_faults.py
and, for longer runs, by bench/nats_fault_soak.py.
"""

from __future__ import annotations

import asyncio
import base64
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from domain.endorsement import endorsement_uuid
from federation_api.node.local_alliance import found_alliance
from federation_api.replication.loopback import HUB_DOMAIN, HubAndLeafs
from ledger.codec import decode_body, decode_signed
from ledger.signing import Signer
from tests.e2e.harness import NodeDir, ServerProcess, all_entries, create_tokens
from tests.federation.alliance import EPOCH
from tests.federation.relay import Relay

ASSOCIATIONS = ("AK", "MI", "TX")
CUT_LEAF = "TX"  # the association whose leaf reaches the hub through relays we can cut
WRITE_TIMEOUT = 5.0  # a command unanswered this long is retried (same Idempotency-Key)
RETRY_BOUND = 120.0  # a command never acknowledged within this is a failure of the test
NODE_START_TIMEOUT = 60.0  # two cores shared with other test runs: start-up can be slow


class NodeProcesses:
    """NATS servers, relays for the cut-off leaf, and one `alliance serve` per association
    (SQLite stores in its data directory, tokens made with `alliance tokens create`)."""

    def __init__(self, root: Path) -> None:
        self.servers = HubAndLeafs(root / "nats", ASSOCIATIONS, relayed=(CUT_LEAF,))
        self.relays = [Relay(listen, target)
                       for listen, target in self.servers.relay_ports[CUT_LEAF]]
        founded = found_alliance(root / "alliance", {a: f"{a} association" for a in ASSOCIATIONS},
                                 Signer.generate(), alliance="Test Alliance", created=EPOCH)
        self.dirs = {a: create_tokens(NodeDir(s.data_dir, a), ("coordinator", "auditor"))
                     for a, s in founded.items()}
        self.nodes = {a: ServerProcess(self.dirs[a], env=self._nats_env(a))
                      for a in ASSOCIATIONS}

    def _nats_env(self, association: str) -> dict[str, str]:
        """What `alliance serve` needs to replicate through its own leaf (as HubAndLeafs.node)."""
        connection = self.servers.node(association)
        assert connection.nkey_seed is not None and connection.ca_file is not None
        return {"ALLIANCE_NATS_URL": connection.url,
                "ALLIANCE_NATS_NKEY_SEED": str(connection.nkey_seed),
                "ALLIANCE_NATS_CA": str(connection.ca_file),
                "ALLIANCE_NATS_DOMAIN": self.servers.local_domain(association),
                "ALLIANCE_HUB_DOMAIN": HUB_DOMAIN}

    async def __aenter__(self) -> NodeProcesses:
        try:
            for relay in self.relays:
                await relay.start()
            await self.servers.start()
            await asyncio.gather(*(self.start_node(a) for a in ASSOCIATIONS))
        except BaseException:
            await self.__aexit__()  # `async with` calls it only once the body runs
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        self.stop_nodes()
        self.servers.stop()
        for relay in self.relays:
            await relay.close()

    async def start_node(self, association: str) -> None:
        """Start (or restart) a node's `alliance serve` and wait until it is healthy."""
        await asyncio.to_thread(self.nodes[association].start, NODE_START_TIMEOUT)

    def stop_nodes(self) -> None:
        """SIGTERM every node (SIGCONT first if stopped) and wait for it."""
        for node in self.nodes.values():
            node.stop()

    def cut(self, cut: bool = True) -> None:
        """Cut (or heal) the link between the cut-off leaf and every hub server."""
        for relay in self.relays:
            relay.cut() if cut else relay.heal()

    def heads(self, association: str) -> dict[str, Any]:
        """A node's /v1/ledger/heads: every ledger's head, the projected seqs, the digest."""
        node = self.nodes[association]
        with node.client() as client:
            r = client.get("/v1/ledger/heads", headers=self.dirs[association].auth("auditor"))
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def converged(self, expected: dict[str, int], timeout: float) -> float:
        """Seconds until every node holds and has projected exactly `expected` and every
        projection digest is the same; fails with the last answers after `timeout`."""
        start = time.monotonic()
        answers: dict[str, dict[str, Any]] = {}
        while True:
            answers = {a: await asyncio.to_thread(self.heads, a) for a in ASSOCIATIONS}
            if all(h["heads"] == expected and h["projected"] == expected
                   for h in answers.values()) and len({h["digest"]
                                                       for h in answers.values()}) == 1:
                return time.monotonic() - start
            assert time.monotonic() - start < timeout, f"not converged to {expected}: {answers}"
            await asyncio.sleep(0.2)

    def chains(self, origin: str) -> dict[str, list[dict[str, Any]]]:
        """Every node's copy of `origin`'s ledger, over the auditor API."""
        out = {}
        for association, node in self.nodes.items():
            with node.client(timeout=30) as client:
                out[association] = all_entries(client, self.dirs[association], origin)
        return out


def check_chain(entries: list[dict[str, Any]]) -> list[str]:
    """The aggregate ids of a ledger's entries, after checking it is one gapless chain:
    seqs 1..n in order, each entry's prev_hash the previous entry's hash (signatures are
    checked by `alliance ledger verify` once the nodes stopped)."""
    aggregates = []
    previous: bytes | None = None
    for seq, entry in enumerate(entries, start=1):
        body = decode_body(decode_signed(base64.b64decode(entry["wire"])).body)
        assert (body.seq, entry["seq"]) == (seq, seq), f"gap or disorder at seq {seq}"
        if previous is not None:
            assert body.prev_hash == previous, f"seq {seq} does not link to seq {seq - 1}"
        previous = bytes.fromhex(entry["entry_hash"])
        aggregates.append(body.aggregate_id)
    return aggregates


@dataclass
class Writers:
    """One thread per association importing endorsements over HTTP, one command at a time,
    each with its own Idempotency-Key. A command that times out, meets a dead or stopped
    process, or a 503 (a node still comparing its head with its peers after a restart) is
    retried with the same key until answered: a retry of a command that committed returns
    the first answer, so a key is acknowledged once, with one endorsement. Anything else
    (a 4xx, an unexpected body) is recorded in `failures`."""

    federation: NodeProcesses
    pause: float = 0.05
    acked: dict[str, list[str]] = field(default_factory=lambda: {a: [] for a in ASSOCIATIONS})
    retries: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ASSOCIATIONS, 0))
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _command(self, client: httpx.Client, association: str, i: int) -> None:
        node = self.federation.dirs[association]
        body = {"person_id": f"{association}-P-W{i:05d}", "family_name": f"Family{i}",
                "given_name": "Given", "level": "IMHS", "granted_on": "2020-01-01",
                "valid_through": "2030-12-31", "legacy_reference": f"soak-{i}"}
        headers = {**node.auth("coordinator"), "Idempotency-Key": f"soak-{association}-{i}"}
        deadline = time.monotonic() + RETRY_BOUND
        while time.monotonic() < deadline:
            try:
                r = client.post("/v1/endorsements/imports", json=body, headers=headers)
            except httpx.TransportError:
                r = None
            if r is not None and r.status_code == 201:
                self.acked[association].append(r.json()["endorsement_id"])
                return
            if r is not None and r.status_code != 503:
                self.failures.append(f"{association} #{i}: {r.status_code} {r.text}")
                return
            self.retries[association] += 1
            time.sleep(0.2)
        self.failures.append(f"{association} #{i}: not acknowledged within {RETRY_BOUND}s")

    def _write(self, association: str) -> None:
        url = self.federation.nodes[association].url
        with httpx.Client(base_url=url, timeout=WRITE_TIMEOUT) as client:
            i = 0
            while not self._stop.is_set():
                self._command(client, association, i)  # finishes even once stopping
                i += 1
                time.sleep(self.pause)

    def __enter__(self) -> Writers:
        self._threads = [threading.Thread(target=self._write, args=(a,), daemon=True)
                         for a in ASSOCIATIONS]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop after each thread's current command is acknowledged; wait for them."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=RETRY_BOUND + 10)

    def acked_aggregates(self, association: str) -> list[str]:
        """The ledger aggregate ids of the endorsements acknowledged to `association`."""
        return [str(endorsement_uuid(e)) for e in self.acked[association]]


FAULTS = ("kill nats", "kill nats", "pause nats", "cut leaf", "kill node", "kill node",
          "pause node")


async def run_schedule(f: NodeProcesses, writers: Writers, rng: random.Random,
                       seconds: float) -> list[str]:
    """Faults one after another for `seconds` while the writers write, each healed before
    the next; returns what was done, in order (the seed is enough to replay the choices)."""
    log: list[str] = []
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        kind = rng.choice(FAULTS)
        down = rng.uniform(0.5, 3.0)
        stamp = f"{time.monotonic() - start:5.1f}s"
        if kind.endswith("nats"):
            server = rng.choice(f.servers.servers)
            log.append(f"{stamp} {kind} {server.name} for {down:.1f}s")
            server.kill() if kind == "kill nats" else server.pause()
            await asyncio.sleep(down)
            if kind == "kill nats":
                await asyncio.to_thread(server.start, 30.0)
            else:
                server.resume()
        elif kind == "cut leaf":
            log.append(f"{stamp} cut leaf-{CUT_LEAF.lower()} from the hub for {down:.1f}s")
            f.cut()
            await asyncio.sleep(down)
            f.cut(cut=False)
        else:
            association = rng.choice(ASSOCIATIONS)
            node = f.nodes[association]
            log.append(f"{stamp} {kind} {association} (pid {node.pid}) for {down:.1f}s")
            if kind == "kill node":
                await asyncio.to_thread(node.kill)
                await asyncio.sleep(down)
                await f.start_node(association)
            else:
                node.pause()
                await asyncio.sleep(down)
                node.resume()
        await asyncio.sleep(rng.uniform(0.2, 1.5))
    log.append(f"{time.monotonic() - start:5.1f}s last heal")
    return log
