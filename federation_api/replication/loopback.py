"""NATS on loopback for the demo, the tests and the benchmarks: real nats-server processes.

Two shapes: one JetStream server that every node connects to (the embedded default of `alliance
demo`), and the production topology, an Alliance hub of three clustered servers with one leaf
server per association, started from exactly the configs `alliance nats-config` writes, with
the hub's mirrors created as Alliance ops would before any leaf starts. Every server gets free
loopback ports and its own store, and is stopped by the PID we started.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from federation_api.replication import nats_config
from federation_api.replication.nats_connection import NatsConnection
from federation_api.replication.nats_keys import UserSeeds
from federation_api.replication.nats_mirrors import ensure_mirrors
from federation_api.replication.nats_process import NatsServer, free_port
from federation_api.replication.nats_tls import CertificateAuthority

HUB_DOMAIN = "hub"  # the JetStream domain nats_config gives the hub
LEAF_ATTACHED = "Leafnode connection created"  # what a leaf logs once attached to the hub


def single_server_config(port: int, store: Path, *, server_name: str = "") -> str:
    """A JetStream server on 127.0.0.1:`port` keeping its streams in `store`."""
    return (f"listen: 127.0.0.1:{port}\nserver_name: {server_name or f'alliance_{port}'}\n"
            f"jetstream {{ store_dir: \"{store}\" }}\n")


def start_single_server(workdir: Path, *, name: str = "", store: Path | None = None,
                        server_name: str = "") -> NatsServer:
    """One real nats-server with JetStream on a free loopback port; its config and log are
    `workdir/<name>.conf` and `.log` (default name `nats-<port>`, store `js-<port>`)."""
    port = free_port()
    config = single_server_config(port, store or workdir / f"js-{port}", server_name=server_name)
    return NatsServer(config, workdir, name=name or f"nats-{port}", port=port).start()


def loopback_hub() -> tuple[nats_config.HubServer, ...]:
    """Three hub servers on 127.0.0.1, each with its own free ports."""
    return tuple(nats_config.HubServer(f"hub-{i}", "127.0.0.1", free_port(), free_port(),
                                       free_port()) for i in range(1, nats_config.HUB_SIZE + 1))


class HubAndLeafs:
    """The production topology on loopback: a 3-server hub and one leaf per association, from
    exactly the files `alliance nats-config` writes (configs, nkey seeds, TLS certificates of
    a fresh CA), each node reaching its own leaf as its restricted nkey user over TLS."""

    def __init__(self, workdir: Path, associations: tuple[str, ...], *,
                 sync_always: bool = True, relayed: tuple[str, ...] = ()) -> None:
        """`relayed` associations' leafs reach each hub server through a loopback port of
        `relay_ports` (listen port, hub leaf port) where a test puts a relay it can cut."""
        self.associations = associations
        self.workdir = workdir
        self.topology = nats_config.Topology(
            associations=associations, hub=loopback_hub(),
            leaf_ports={a: free_port() for a in associations}, store_root=workdir / "stores",
            config_dir=workdir, listen_host="127.0.0.1", sync_always=sync_always)
        self.seeds = UserSeeds.new(associations)
        self.ca = CertificateAuthority.new()
        nats_config.write(workdir, self.topology, self.seeds, self.ca)
        self.hubs = [NatsServer(nats_config.hub_config(self.topology, self.seeds, s), workdir,
                                name=s.name, port=s.client_port) for s in self.topology.hub]
        self.relay_ports = {a: [(free_port(), s.leaf_port) for s in self.topology.hub]
                            for a in relayed}
        self.leafs = {a: NatsServer(nats_config.leaf_config(
            self.topology, self.seeds, a, hub_urls=tuple(
                f"nats-leaf://127.0.0.1:{port}" for port, _ in self.relay_ports[a])
            if a in self.relay_ports else None), workdir, name=f"leaf-{a.lower()}",
            port=self.topology.leaf_port(a)) for a in associations}

    def node(self, association: str) -> NatsConnection:
        """What a node connects to: its own leaf, as its restricted user."""
        return nats_config.node_connection(self.topology, association)

    def local_domain(self, association: str) -> str:
        """The JetStream domain of the association's leaf."""
        return association.lower()

    def admin(self, index: int = 0) -> NatsConnection:
        """Hub server `index` as the Alliance's `hub_admin` user (who creates the mirrors)."""
        return nats_config.admin_connection(self.topology, index)

    def hub_store(self, index: int) -> Path:
        """The JetStream store directory of one hub server."""
        return self.topology.store_root / self.topology.hub[index].name

    @property
    def servers(self) -> list[NatsServer]:
        """Every server, the hub's first."""
        return [*self.hubs, *self.leafs.values()]

    async def start(self) -> None:
        """Hub servers (all at once: each waits for its routes), leafs, then the mirrors once
        the cluster has a JetStream meta leader and every leaf is attached.

        Mirrors created before their leaf is attached work too (ops may admit an association
        before its server exists), but the hub then retries with a backoff of 10 s per failed
        attempt, so a mirror starts only seconds to a minute later (ops/nats/README.md); the
        tests want replication through the mirrors from the first entry.
        """
        try:
            await asyncio.gather(*(asyncio.to_thread(hub.start) for hub in self.hubs))
            for leaf in self.leafs.values():
                await asyncio.to_thread(self.start_leaf, leaf)
            await ensure_mirrors(self.admin(), list(self.associations))
        except BaseException:
            self.stop()  # a caller whose start failed has nothing to stop
            raise

    @staticmethod
    def start_leaf(leaf: NatsServer) -> None:
        """Start a leaf server and wait until its connection to the hub is up."""
        mark = leaf.log_size()
        leaf.start()
        leaf.wait_for_log(LEAF_ATTACHED, after=mark)

    def stop(self) -> None:
        """Stop every server we started."""
        for leaf in self.leafs.values():
            leaf.stop()
        for hub in self.hubs:
            hub.stop()
