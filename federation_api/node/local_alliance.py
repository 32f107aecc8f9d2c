"""A whole Alliance on one machine: registry, initialised and admitted nodes.

Used by `alliance demo`, the federation tests and the replication benchmark, so that the
steps an Alliance takes to admit associations (see ops/README.md) exist in code once. One
governance key with quorum 1 signs every admission; the registry is then copied into each
node's data directory, as a genesis file is distributed out of band.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from domain.policy import AssociationPolicy
from federation_api.node.root import NodePaths, init_node
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
