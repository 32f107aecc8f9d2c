"""The federation under the replication benchmark: a registry, nodes, NATS topology, workload.

The same local Alliance as the tests (`federation_api.node.local_alliance`, NATS from
`federation_api.replication.loopback`): a governance key signs a registry that admits every
association, the registry is copied into each node's data directory, nodes run in-process on
SQLite files, and the NATS servers are real `nats-server` processes (the pinned package) on
free loopback ports with temp stores, stopped by the PID we started.

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

from bench.workload import FAMILY, GIVEN, LEVELS
from domain.endorsement import Endorsement
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.node.local_alliance import LocalAlliance
from federation_api.node.root import Node
from federation_api.replication.loopback import HUB_DOMAIN, HubAndLeafs, start_single_server
from federation_api.replication.nats_connection import NatsConnection
from federation_api.replication.nats_process import NatsServer
from federation_api.replication.replicator import Replicator

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


# -- topology ----------------------------------------------------------------------------------


@dataclass
class Topology:
    """Running NATS servers and where each association's node connects."""

    name: str
    description: str
    servers: list[NatsServer]
    urls: dict[str, str | NatsConnection]
    local_domains: dict[str, str | None] = field(default_factory=dict)
    hub_domain: str | None = None

    def url(self, association: str) -> str | NatsConnection:
        """Client URL of the server this association's node uses."""
        return self.urls[association]

    def stop(self) -> None:
        """Stop every server we started (SIGTERM, then SIGKILL), by its PID."""
        for server in reversed(self.servers):
            server.stop()


def single_server(workdir: Path, associations: Sequence[str]) -> Topology:
    """One JetStream nats-server that every node connects to (the embedded default)."""
    server = start_single_server(workdir)
    return Topology(name="single",
                    description=f"one JetStream nats-server at {server.url} (not hub-and-leaf)",
                    servers=[server], urls={a: server.url for a in associations})


def hub_and_leaf(workdir: Path, associations: Sequence[str], *,
                 sync_always: bool = True) -> Topology:
    """The production topology on loopback, from exactly what `alliance nats-config` writes:
    an Alliance hub of three clustered servers (JetStream domain `hub`) with a 3-replica
    mirror of every association's stream, one leaf server per association (its own domain)
    that its node reaches as its restricted nkey user over TLS; `sync_always=False` is the
    same with JetStream's default lazy fsync (the benchmark's baseline only)."""
    servers = HubAndLeafs(workdir, tuple(associations), sync_always=sync_always)
    try:
        # The phases run on an event loop already; the one-off ops step gets its own.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, servers.start()).result(60)
    except BaseException:
        servers.stop()
        raise
    sync = "sync_interval always" if sync_always else "default sync"
    return Topology(
        name="hub-and-leaf" if sync_always else "hub-and-leaf-default-sync",
        description=f"a 3-server Alliance hub with {len(associations)} mirrors (R3) and one "
                    f"leaf server per association, TLS and nkeys, {sync} (nats-config)",
        servers=servers.servers,
        urls={a: servers.node(a) for a in associations},
        local_domains={a: servers.local_domain(a) for a in associations},
        hub_domain=HUB_DOMAIN)


def hub_and_leaf_default_sync(workdir: Path, associations: Sequence[str]) -> Topology:
    """`hub_and_leaf` with JetStream's default fsync: what `sync_interval: always` costs."""
    return hub_and_leaf(workdir, associations, sync_always=False)


TOPOLOGIES: dict[str, Callable[[Path, Sequence[str]], Topology]] = {
    "single": single_server, "hub-and-leaf": hub_and_leaf,
    "hub-and-leaf-default-sync": hub_and_leaf_default_sync}


# -- the federation ----------------------------------------------------------------------------


@dataclass
class Federation(LocalAlliance):
    """The benchmark's Alliance: nodes on SQLite files, replicators with `alliance serve`'s
    default timings, each started on the benchmark's topology."""

    created: dt.datetime = EPOCH
    name: str = "Bench Alliance"

    async def start_on(self, association: str, topology: Topology) -> Replicator:
        """Start a node's Replicator against its server in `topology`."""
        return await self.start_replication(
            association, topology.url(association),
            local_domain=topology.local_domains.get(association),
            hub_domain=topology.hub_domain)


# -- workload ----------------------------------------------------------------------------------


def imported(association: str, i: int, *, prefix: str) -> Endorsement:
    """The i-th imported endorsement (a Granted event), at an explicit timestamp."""
    level, designation = LEVELS[i % len(LEVELS)]
    return Endorsement.record_existing(
        endorsement_id=new_endorsement_id(association, f"{prefix}:{i}"), association=association,
        person_id=f"{association}-P-{prefix}{i:06d}", family_name=FAMILY[i % 10],
        given_name=GIVEN[(i // 10) % 10], level=level, designation=designation,
        granted_on=dt.date(2015 + i % 9, 1 + i % 12, 1 + i % 28),
        valid_through=dt.date(2030, 12, 31), legacy_reference=f"paper-{prefix}{i:06d}",
        now=EPOCH + dt.timedelta(days=1, milliseconds=i))


def record_one(node: Node, i: int, *, prefix: str) -> None:
    """One command through the node's service (commit, seal, project, wake the publisher)."""
    level, designation = LEVELS[i % len(LEVELS)]
    node.service.record_existing(
        endorsement_id=new_endorsement_id(node.association, f"{prefix}:{i}"),
        person_id=f"{node.association}-P-{prefix}{i:06d}", family_name=FAMILY[i % 10],
        given_name=GIVEN[(i // 10) % 10], level=level, designation=designation,
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
