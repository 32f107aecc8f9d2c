"""A small Alliance for tests: a registry, N initialised nodes, real nats-servers.

Nodes run in-process (each with its own SQLite files and its own Replicator on the test's
event loop); the NATS servers are real processes on loopback ports with temp stores.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from domain.levels import Level
from federation_api.node.local_alliance import found_alliance
from federation_api.node.root import Node
from federation_api.replication.nats_process import NatsServer, free_port
from federation_api.replication.replicator import Replicator
from federation_api.settings import Settings
from ledger.signing import Signer

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def single_server_config(port: int, store: Path) -> str:
    """A JetStream server for tests that do not need the hub-and-leaf topology."""
    return (f"listen: 127.0.0.1:{port}\nserver_name: test_{port}\n"
            f"jetstream {{ store_dir: \"{store}\" }}\n")


def start_single_server(workdir: Path) -> NatsServer:
    """One real nats-server with JetStream on a free loopback port."""
    port = free_port()
    return NatsServer(single_server_config(port, workdir / f"js-{port}"), workdir,
                      name=f"nats-{port}", port=port).start()


@dataclass
class Alliance:
    """Governance key, registry and the nodes' data directories."""

    root: Path
    associations: tuple[str, ...]
    governance: Signer = field(default_factory=Signer.generate)
    nodes: dict[str, Node] = field(default_factory=dict)
    replicators: dict[str, Replicator] = field(default_factory=dict)

    def __post_init__(self) -> None:
        found_alliance(self.root, {a: f"{a} association" for a in self.associations},
                       self.governance, alliance="Test Alliance", created=EPOCH)

    def settings(self, association: str) -> Settings:
        """Settings of one node."""
        return Settings(data_dir=self.root / association.lower(), association=association)

    def open(self, association: str) -> Node:
        """Open (or reopen) a node."""
        node = Node(self.settings(association))
        self.nodes[association] = node
        return node

    async def start_replication(self, association: str, url: str, *,
                                local_domain: str | None = None,
                                hub_domain: str | None = None,
                                checkpoint_seconds: float = 1.0) -> Replicator:
        """Start a node's replication (and checkpoint gossip) against a NATS URL."""
        node = self.nodes[association]
        replicator = Replicator(node, url, peers=node.peers, local_domain=local_domain,
                                hub_domain=hub_domain, anti_entropy_seconds=1.0,
                                checkpoint_seconds=checkpoint_seconds)
        await replicator.start()
        node.commit_listeners.append(replicator.wake)
        self.replicators[association] = replicator
        return replicator

    async def start_all(self, url: str, *, checkpoint_seconds: float = 1.0) -> None:
        """Open every node and start its replication against one NATS URL."""
        for association in self.associations:
            self.open(association)
            await self.start_replication(association, url,
                                         checkpoint_seconds=checkpoint_seconds)

    async def stop_replication(self, association: str) -> None:
        """Stop a node's replication (as if its process stopped)."""
        replicator = self.replicators.pop(association)
        self.nodes[association].commit_listeners.remove(replicator.wake)
        await replicator.stop()

    def close(self, association: str) -> None:
        """Close a node's stores."""
        self.nodes.pop(association).close()

    async def shutdown(self) -> None:
        """Stop every replicator and close every node."""
        for association in list(self.replicators):
            await self.stop_replication(association)
        for association in list(self.nodes):
            self.close(association)


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


class HubAndLeafs:
    """The production topology on loopback: a hub and one leaf per association, started
    from exactly the configs `alliance nats-config` generates, and the hub mirrors created
    as Alliance ops would."""

    def __init__(self, workdir: Path, associations: tuple[str, ...]) -> None:
        from federation_api.replication import nats_config

        self.associations = associations
        self.topology = nats_config.Topology(
            associations=associations, hub_port=free_port(), hub_leaf_port=free_port(),
            leaf_ports={a: free_port() for a in associations}, store_root=workdir / "stores")
        self.creds = nats_config.new_credentials(associations)
        self.workdir = workdir
        self.hub = NatsServer(nats_config.hub_config(self.topology, self.creds), workdir,
                              name="hub", port=self.topology.hub_port)
        self.leafs = {a: NatsServer(nats_config.leaf_config(self.topology, self.creds, a),
                                    workdir, name=f"leaf-{a.lower()}",
                                    port=self.topology.leaf_port(a)) for a in associations}

    def node_url(self, association: str) -> str:
        """What a node connects to: its own leaf, as its restricted user."""
        from federation_api.replication import nats_config

        return nats_config.node_url(self.topology, self.creds, association)

    async def start(self) -> None:
        """Hub, mirrors (before any leaf is up, as ops does at admission), then leafs."""
        from federation_api.replication.nats_mirrors import ensure_mirrors

        self.hub.start()
        await ensure_mirrors(f"nats://hub_admin:{self.creds.hub_admin}@127.0.0.1:"
                             f"{self.topology.hub_port}", list(self.associations))
        for leaf in self.leafs.values():
            leaf.start()

    def stop(self) -> None:
        """Stop every server we started."""
        for leaf in self.leafs.values():
            leaf.stop()
        self.hub.stop()
