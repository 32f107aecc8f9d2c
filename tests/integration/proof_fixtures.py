"""Real nodes of a small Alliance (AK, MI, TX on SQLite, no NATS) for proof and receipt tests.

Replication and witnessing are driven directly, as the NATS consumer and the checkpoint gossip
would drive them: a peer's entries go through the peer's `Ingestor`, a checkpoint through the
peer's `Witness`. Times are fixed, so the tests never read the clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from domain.levels import Level
from federation_api.node.local_alliance import admit, distribute, found_alliance
from federation_api.node.root import Node
from federation_api.node.setup import NodePaths, rotate_key
from federation_api.settings import Settings
from ledger.signing import Signer
from ledger.transparency.witness import Cosigned, Witness
from ledger.trust.registry import Action, Genesis
from ledger.trust.registry_files import RegistryDir

FOUNDED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


def at(day: dt.date) -> dt.datetime:
    """The command time of a business date."""
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


@dataclass
class ProofAlliance:
    """Registry, governance key and open nodes of a test Alliance."""

    root: Path
    associations: tuple[str, ...] = ("AK", "MI", "TX")
    governance: Signer = field(default_factory=Signer.generate)
    settings: dict[str, Settings] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.settings = found_alliance(self.root, {a: f"{a} association"
                                                   for a in self.associations},
                                       self.governance, alliance="Proof Alliance",
                                       created=FOUNDED)
        for association in self.associations:
            self.nodes[association] = Node(self.settings[association])

    @property
    def registry(self) -> RegistryDir:
        """The Alliance's master copy of the registry."""
        return RegistryDir(self.root / "registry")

    def genesis(self) -> Genesis:
        """The genesis every node was given."""
        return self.registry.genesis()

    def sync(self, source: str, target: str) -> None:
        """Replicate `source`'s ledger into `target` (verified by its Ingestor), and react."""
        node = self.nodes[target]
        node.ingestor.ingest(list(self.nodes[source].ledger.wires(source)), source=source,
                             now=NOW)
        node.after_ingest()

    def witness(self, association: str) -> Witness:
        """The node's witness (its own, once the node wires one)."""
        node = self.nodes[association]
        found = getattr(node, "witness", None)
        if isinstance(found, Witness):
            return found
        return Witness(node.log, node.ledger.db, own=association, signer=node.signer,
                       registry=lambda: node.registry)

    def checkpoint(self, origin: str, witnesses: tuple[str, ...] = ()) -> bytes:
        """Sign `origin`'s checkpoint; each witness replicates, cosigns, and the origin
        collects the cosignature (as the gossip over NATS does)."""
        node = self.nodes[origin]
        note = node.log.sign_checkpoint(origin, node.signer, NOW)
        for name in witnesses:
            self.sync(origin, name)
            outcome = self.witness(name).receive(note, NOW)
            assert isinstance(outcome, Cosigned), outcome
            self.witness(origin).collect(outcome.note, NOW)
        return note

    def rotate(self, association: str, when: dt.datetime) -> Signer:
        """Rotate the association's key at `when` (registry entry signed by governance, the
        node's key files replaced) and reopen the node; returns the rotated-out signer."""
        paths = NodePaths(self.settings[association].data_dir)
        old = self.nodes.pop(association)
        old_signer = old.signer
        old.close()
        record = rotate_key(self.settings[association], now=when)
        admit(self.registry, self.governance, Action.ADD_KEY, issued_at=when,
              association=association, public_key=record.public_key, effective_at=when)
        distribute(self.registry, [s.data_dir for s in self.settings.values()])
        for name in list(self.nodes):
            self.nodes.pop(name).close()
        for name in self.associations:
            self.nodes[name] = Node(self.settings[name])
        assert paths.signing_key.exists()
        return old_signer

    def close(self) -> None:
        """Close every node."""
        for node in self.nodes.values():
            node.close()


def import_endorsement(node: Node, endorsement_id: str, *, family_name: str = "Doe",
                       given_name: str = "Jane", when: dt.datetime = FOUNDED) -> str:
    """An imported Level III endorsement, valid through the end of 2026."""
    node.service.record_existing(
        endorsement_id=endorsement_id, person_id=f"P-{endorsement_id}", family_name=family_name,
        given_name=given_name, level=Level.IMHS, designation=None,
        granted_on=dt.date(2020, 1, 1), valid_through=dt.date(2026, 12, 31),
        legacy_reference=f"ref-{endorsement_id}", now=when)
    return endorsement_id
