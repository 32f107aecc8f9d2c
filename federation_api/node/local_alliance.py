"""A whole Alliance on one machine: registry, initialised and admitted nodes, replicators.

Used by `alliance demo`, the federation tests and the replication benchmark, so that the
steps an Alliance takes to admit associations (see ops/README.md) exist in code once. One
governance key with quorum 1 signs every admission; the registry is then copied into each
node's data directory, as a genesis file is distributed out of band. `LocalAlliance` also
opens the nodes in this process (each with its own SQLite files) and runs each one's
`Replicator` on the caller's event loop, against whatever NATS the caller started
(`federation_api.replication.loopback`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from domain.policy import AssociationPolicy
from federation_api.node.root import Node
from federation_api.node.setup import NodePaths, init_node
from federation_api.replication.nats_connection import NatsConnection
from federation_api.replication.replicator import Replicator
from federation_api.settings import Settings
from ledger.signing import Signer
from ledger.trust.registry import Action, Genesis, propose
from ledger.trust.registry_files import RegistryDir


def found_alliance(root: Path, names: Mapping[str, str], governance: Signer, *,
                   alliance: str, created: dt.datetime) -> dict[str, Settings]:
    """Create the registry in `root/registry` and one admitted node per association in
    `root/<id>`; returns each node's settings."""
    registry = RegistryDir(root / "registry")
    registry.create(Genesis(alliance=alliance, governance_keys=(governance.public_key,),
                            threshold=1, created_at=created))
    settings: dict[str, Settings] = {}
    for association, name in names.items():
        s = Settings(data_dir=root / association.lower(), association=association)
        init_node(s, association=association, name=name, policy=AssociationPolicy(),
                  now=created)
        public = Signer.load(NodePaths(s.data_dir).signing_key).public_key
        admit(registry, governance, Action.ADMIT, issued_at=created, association=association,
              name=name, public_key=public, effective_at=created)
        settings[association] = s
    distribute(registry, [s.data_dir for s in settings.values()])
    return settings


def admit(registry: RegistryDir, governance: Signer, action: Action, *,
          issued_at: dt.datetime, **fields: object) -> None:
    """Sign (quorum 1) and append one registry entry."""
    body = registry.state().next_body(action, issued_at=issued_at, **fields)
    registry.append(propose(body).with_signature(governance))


def distribute(registry: RegistryDir, data_dirs: list[Path]) -> None:
    """Copy the registry into each node's data directory."""
    for data_dir in data_dirs:
        target = NodePaths(data_dir).registry
        target.mkdir(parents=True, exist_ok=True)
        (target / "genesis.json").write_bytes(registry.genesis_path.read_bytes())
        (target / "entries.bin").write_bytes(registry.entries_path.read_bytes())


@dataclass
class LocalAlliance:
    """Governance key, registry, the nodes' data directories, open nodes and their
    replicators. Replicators run with `alliance serve`'s timings unless the fields say
    otherwise (tests shorten the anti-entropy, checkpoint and list watch intervals)."""

    root: Path
    associations: tuple[str, ...]
    created: dt.datetime
    name: str = "Local Alliance"
    governance: Signer = field(default_factory=Signer.generate)
    anti_entropy_seconds: float | None = None
    checkpoint_seconds: float | None = None
    list_watch_seconds: float | None = None
    nodes: dict[str, Node] = field(default_factory=dict)
    replicators: dict[str, Replicator] = field(default_factory=dict)

    def __post_init__(self) -> None:
        found_alliance(self.root, {a: f"{a} association" for a in self.associations},
                       self.governance, alliance=self.name, created=self.created)

    def settings(self, association: str) -> Settings:
        """Settings of one node (SQLite files in its data directory)."""
        return Settings(data_dir=self.root / association.lower(), association=association)

    def open(self, association: str) -> Node:
        """Open (or reopen) a node."""
        node = Node(self.settings(association))
        self.nodes[association] = node
        return node

    async def start_replication(self, association: str, url: str | NatsConnection, *,
                                local_domain: str | None = None,
                                hub_domain: str | None = None,
                                checkpoint_seconds: float | None = None) -> Replicator:
        """Start a node's replication (and checkpoint gossip) against a NATS URL."""
        node = self.nodes[association]
        make = functools.partial(
            Replicator, node, url, peers=node.peers, local_domain=local_domain,
            hub_domain=hub_domain, checkpoint_seconds=(
                self.checkpoint_seconds if checkpoint_seconds is None else checkpoint_seconds))
        if self.anti_entropy_seconds is not None:
            make = functools.partial(make, anti_entropy_seconds=self.anti_entropy_seconds)
        if self.list_watch_seconds is not None:
            node.list_watch_pass.interval = self.list_watch_seconds
        replicator = make()
        await replicator.start()
        node.commit_listeners.append(replicator.wake)
        self.replicators[association] = replicator
        return replicator

    async def start_all(self, url: str | NatsConnection, *,
                        checkpoint_seconds: float | None = None) -> None:
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
