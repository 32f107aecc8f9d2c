"""NATS on loopback for the demo, the tests and the benchmarks: real nats-server processes.

Two shapes: one JetStream server that every node connects to (the embedded default of `alliance
demo`), and the production topology, an Alliance hub with one leaf server per association,
started from exactly the configs `alliance nats-config` writes, with the hub's mirrors created
as Alliance ops would before any leaf starts. Every server gets a free loopback port and its
own store, and is stopped by the PID we started.
"""

from __future__ import annotations

from pathlib import Path

from federation_api.replication import nats_config
from federation_api.replication.nats_mirrors import ensure_mirrors
from federation_api.replication.nats_process import NatsServer, free_port

HUB_DOMAIN = "hub"  # the JetStream domain nats_config gives the hub


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


class HubAndLeafs:
    """The production topology on loopback: a hub and one leaf per association, from the
    generated configs, each node reaching its own leaf as the restricted `node` user."""

    def __init__(self, workdir: Path, associations: tuple[str, ...]) -> None:
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
        return nats_config.node_url(self.topology, self.creds, association)

    def local_domain(self, association: str) -> str:
        """The JetStream domain of the association's leaf."""
        return association.lower()

    @property
    def admin_url(self) -> str:
        """The hub as the Alliance's `hub_admin` user (who creates the mirrors)."""
        return f"nats://hub_admin:{self.creds.hub_admin}@127.0.0.1:{self.topology.hub_port}"

    @property
    def servers(self) -> list[NatsServer]:
        """Every server, the hub first."""
        return [self.hub, *self.leafs.values()]

    async def start(self) -> None:
        """Hub, mirrors (before any leaf is up, as ops does at admission), then leafs."""
        self.hub.start()
        await ensure_mirrors(self.admin_url, list(self.associations))
        for leaf in self.leafs.values():
            leaf.start()

    def stop(self) -> None:
        """Stop every server we started."""
        for leaf in self.leafs.values():
            leaf.stop()
        self.hub.stop()
