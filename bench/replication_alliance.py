"""The federation under the replication benchmark: a registry, nodes, NATS topology, workload.

Mirrors the test harness (tests/federation/alliance.py) without importing from tests/: a
governance key signs a registry that admits every association, the registry is copied into
each node's data directory, nodes run in-process on SQLite files, and the NATS servers are
real `nats-server` processes (the pinned package) on free loopback ports with temp stores,
stopped by the PID we started.

The topology is one function per kind (`TOPOLOGIES`): the embedded single server, or the
production hub-and-leaf topology, chosen with `--topology` without touching the phases.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from domain.endorsement import Endorsement
from domain.levels import Designation, Level
from federation_api import nats_config
from federation_api.endorsement_ids import new_endorsement_id
from federation_api.local_alliance import found_alliance
from federation_api.nats_mirrors import ensure_mirrors
from federation_api.nats_process import NatsServer, free_port
from federation_api.node import Node
from federation_api.replication import Replicator
from federation_api.settings import Settings
from ledger.signing import Signer

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

_LEVELS: tuple[tuple[Level, Designation | None], ...] = (
    (Level.IFA, None), (Level.IFS, None), (Level.IMHS, None),
    (Level.IMHM, Designation.CLINICAL), (Level.IMHM, Designation.POLICY),
    (Level.IMHM, Designation.RESEARCH_FACULTY))
_FAMILY = ("Rivera", "Okafor", "Chen", "Morgan", "Doe", "Kim", "Nguyen", "Haddad", "Kowalski",
           "Begay")
_GIVEN = ("Maria", "Sam", "Lee", "Pat", "Jane", "Alex", "Linh", "Omar", "Ewa", "Tom")


# -- topology ----------------------------------------------------------------------------------


@dataclass
class Topology:
    """Running NATS servers and where each association's node connects."""

    name: str
    description: str
    servers: list[NatsServer]
    urls: dict[str, str]
    local_domains: dict[str, str | None] = field(default_factory=dict)
    hub_domain: str | None = None

    def url(self, association: str) -> str:
        """Client URL of the server this association's node uses."""
        return self.urls[association]

    def stop(self) -> None:
        """Stop every server we started (SIGTERM, then SIGKILL), by its PID."""
        for server in reversed(self.servers):
            server.stop()


def single_server(workdir: Path, associations: Sequence[str]) -> Topology:
    """One JetStream nats-server that every node connects to (the embedded default)."""
    port = free_port()
    config = (f"listen: 127.0.0.1:{port}\nserver_name: bench_{port}\n"
              f"jetstream {{ store_dir: \"{workdir / f'js-{port}'}\" }}\n")
    server = NatsServer(config, workdir, name=f"nats-{port}", port=port).start()
    return Topology(name="single",
                    description=f"one JetStream nats-server at {server.url} (not hub-and-leaf)",
                    servers=[server], urls={a: server.url for a in associations})


def hub_and_leaf(workdir: Path, associations: Sequence[str]) -> Topology:
    """The production topology on loopback, from exactly what `alliance nats-config` writes:
    an Alliance hub (JetStream domain `hub`) with a mirror of every association's stream,
    created by ops before any leaf starts, and one leaf server per association (its own
    domain) that its node reaches as the restricted `node` user."""
    topology = nats_config.Topology(
        associations=tuple(associations), hub_port=free_port(), hub_leaf_port=free_port(),
        leaf_ports={a: free_port() for a in associations}, store_root=workdir / "stores")
    creds = nats_config.new_credentials(tuple(associations))
    hub = NatsServer(nats_config.hub_config(topology, creds), workdir, name="hub",
                     port=topology.hub_port).start()
    servers = [hub]
    try:
        admin = f"nats://hub_admin:{creds.hub_admin}@127.0.0.1:{topology.hub_port}"
        # The phases run on an event loop already; the one-off ops step gets its own.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, ensure_mirrors(admin, list(associations))).result(30)
        for association in associations:
            servers.append(NatsServer(nats_config.leaf_config(topology, creds, association),
                                      workdir, name=f"leaf-{association.lower()}",
                                      port=topology.leaf_port(association)).start())
    except BaseException:
        for server in reversed(servers):
            server.stop()
        raise
    return Topology(
        name="hub-and-leaf",
        description=f"an Alliance hub with {len(associations)} mirrors and one leaf server "
                    f"per association (generated by nats-config)",
        servers=servers,
        urls={a: nats_config.node_url(topology, creds, a) for a in associations},
        local_domains={a: a.lower() for a in associations}, hub_domain="hub")


TOPOLOGIES: dict[str, Callable[[Path, Sequence[str]], Topology]] = {
    "single": single_server, "hub-and-leaf": hub_and_leaf}


# -- the federation ----------------------------------------------------------------------------


@dataclass
class Federation:
    """Governance key, registry, node data directories, open nodes and their replicators."""

    root: Path
    associations: tuple[str, ...]
    governance: Signer = field(default_factory=Signer.generate)
    nodes: dict[str, Node] = field(default_factory=dict)
    replicators: dict[str, Replicator] = field(default_factory=dict)

    def __post_init__(self) -> None:
        found_alliance(self.root, {a: f"{a} association" for a in self.associations},
                       self.governance, alliance="Bench Alliance", created=EPOCH)

    def settings(self, association: str) -> Settings:
        """Settings of one node (SQLite files in its data directory)."""
        return Settings(data_dir=self.root / association.lower(), association=association)

    def open(self, association: str) -> Node:
        """Open a node."""
        node = Node(self.settings(association))
        self.nodes[association] = node
        return node

    async def start_replication(self, association: str, topology: Topology) -> Replicator:
        """Start a node's Replicator as `alliance serve` configures it (default timings)."""
        node = self.nodes[association]
        replicator = Replicator(node, topology.url(association), peers=node.peers,
                                local_domain=topology.local_domains.get(association),
                                hub_domain=topology.hub_domain)
        await replicator.start()
        node.commit_listeners.append(replicator.wake)
        self.replicators[association] = replicator
        return replicator

    async def stop_replication(self, association: str) -> None:
        """Stop a node's Replicator (as if its process stopped)."""
        replicator = self.replicators.pop(association)
        self.nodes[association].commit_listeners.remove(replicator.wake)
        await replicator.stop()

    async def stop_all(self) -> None:
        """Stop every Replicator, then close every node."""
        for association in list(self.replicators):
            await self.stop_replication(association)
        for association in list(self.nodes):
            self.nodes.pop(association).close()


# -- workload ----------------------------------------------------------------------------------


def imported(association: str, i: int, *, prefix: str) -> Endorsement:
    """The i-th imported endorsement (a Granted event), at an explicit timestamp."""
    level, designation = _LEVELS[i % len(_LEVELS)]
    return Endorsement.record_existing(
        endorsement_id=new_endorsement_id(association, f"{prefix}:{i}"), association=association,
        person_id=f"{association}-P-{prefix}{i:06d}", family_name=_FAMILY[i % 10],
        given_name=_GIVEN[(i // 10) % 10], level=level, designation=designation,
        granted_on=dt.date(2015 + i % 9, 1 + i % 12, 1 + i % 28),
        valid_through=dt.date(2030, 12, 31), legacy_reference=f"paper-{prefix}{i:06d}",
        now=EPOCH + dt.timedelta(days=1, milliseconds=i))


def record_one(node: Node, i: int, *, prefix: str) -> None:
    """One command through the node's service (commit, seal, project, wake the publisher)."""
    level, designation = _LEVELS[i % len(_LEVELS)]
    node.service.record_existing(
        endorsement_id=new_endorsement_id(node.association, f"{prefix}:{i}"),
        person_id=f"{node.association}-P-{prefix}{i:06d}", family_name=_FAMILY[i % 10],
        given_name=_GIVEN[(i // 10) % 10], level=level, designation=designation,
        granted_on=dt.date(2015 + i % 9, 1 + i % 12, 1 + i % 28),
        valid_through=dt.date(2030, 12, 31), legacy_reference=f"paper-{prefix}{i:06d}",
        now=EPOCH + dt.timedelta(days=1, milliseconds=i))


def seal_in_bulk(node: Node, count: int, *, prefix: str, batch: int = 500) -> int:
    """`count` imported endorsements saved `batch` per transaction and sealed as saved.

    The entries are the ones `record_one` makes, committed the way a bulk import would
    (eventsourcing save of many aggregates, then `seal_recorded`); far faster than one
    command per entry, and only used to prepare data that is not itself timed.
    """
    sealed = 0
    for start in range(0, count, batch):
        aggregates = [imported(node.association, i, prefix=prefix)
                      for i in range(start, min(count, start + batch))]
        sealed += node.writer.seal_recorded(node.events.save(*aggregates))
    if sealed != count:
        raise SystemExit(f"sealed {sealed} entries on {node.association}, expected {count}")
    return sealed
