"""A node's data directory: where its files live, how it is initialised, how its key rotates.

`alliance init` writes the node's config (association id, name, policy), its signing key and
commitment key (0600) and its keyring; `alliance keys rotate` archives the signing key and
opens a new validity window in the keyring, so every entry signed before still verifies.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import msgspec

from domain.policy import AssociationPolicy
from federation_api.errors import EdgeError
from federation_api.migrations.errors import SchemaBehind
from federation_api.migrations.runner import migrate, require_current
from federation_api.settings import Settings
from ledger.chain.commitments import CommitmentKey
from ledger.codec import decode_json, encode_json
from ledger.errors import LedgerError
from ledger.signing import Signer
from ledger.storage.database import DatabaseUrl
from ledger.trust.keyring import KeyRecord, Keyring

ASSOCIATION_ID = re.compile(r"^[A-Z]{2,8}$")


class NodeConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What `alliance init` decided for this node."""

    association: str
    name: str
    policy: AssociationPolicy = AssociationPolicy()
    created_at: dt.datetime


class NodeError(EdgeError, LedgerError):
    """The node cannot start or be initialised as asked."""


@dataclass(frozen=True)
class NodePaths:
    """Where a node keeps its files inside the data directory."""

    root: Path

    @property
    def config(self) -> Path:
        """node.json: association id, name and policy."""
        return self.root / "node.json"

    @property
    def signing_key(self) -> Path:
        """The current Ed25519 private key (0600)."""
        return self.root / "keys" / "signing.key"

    @property
    def commitment_key(self) -> Path:
        """The secret for commitment salts (0600)."""
        return self.root / "keys" / "commitment.key"

    @property
    def keyring(self) -> Path:
        """Public key history with validity windows."""
        return self.root / "keys" / "keyring.json"

    @property
    def registry(self) -> Path:
        """This node's copy of the Alliance trust registry."""
        return self.root / "registry"

    def database_url(self, settings: Settings) -> DatabaseUrl:
        """The configured database, or SQLite files in the data directory."""
        if settings.database_url:
            url = DatabaseUrl.parse(settings.database_url)
        else:
            url = DatabaseUrl(dialect="sqlite", path=self.root / "events.sqlite")
        return url.with_pool_size(settings.database_pool_size)


def init_node(settings: Settings, *, association: str, name: str, policy: AssociationPolicy,
              now: dt.datetime) -> NodeConfig:
    """Create a node's data directory: config, signing key, commitment key, keyring."""
    if not ASSOCIATION_ID.match(association):
        raise NodeError("association id must be 2-8 upper-case letters (e.g. AK, MI, TX)")
    paths = NodePaths(settings.data_dir)
    if paths.config.exists():
        raise NodeError(f"{paths.config} exists already; this node is initialised")
    # Reach and migrate the database before writing anything, so a wrong URL leaves no
    # half-made node. Init is the operator's set-up, like `alliance migrate`: on PostgreSQL
    # it needs a role that may create tables, unless the schema was migrated already.
    url = paths.database_url(settings)
    if url.dialect == "sqlite" or not _is_current(url):
        migrate(url)
    signer = Signer.generate()
    signer.save(paths.signing_key, settings.passphrase())
    CommitmentKey.generate().save(paths.commitment_key)
    Keyring().with_key(KeyRecord(association=association, public_key=signer.public_key,
                                 valid_from=now)).save(paths.keyring)
    config = NodeConfig(association=association, name=name, policy=policy, created_at=now)
    paths.config.write_bytes(encode_json(config))
    return config


def rotate_key(settings: Settings, *, now: dt.datetime) -> KeyRecord:
    """Replace the signing key; the old key stays valid for entries recorded before `now`."""
    paths = NodePaths(settings.data_dir)
    config = decode_json(paths.config.read_bytes(), NodeConfig)
    old = Signer.load(paths.signing_key, settings.passphrase())
    archived = paths.signing_key.with_name(f"signing-{old.key_id[:16]}.key")
    new = Signer.generate()
    paths.signing_key.rename(archived)
    archived.with_suffix(".pub").write_text(old.public_key.hex() + "\n")
    new.save(paths.signing_key, settings.passphrase())
    record = KeyRecord(association=config.association, public_key=new.public_key,
                       valid_from=now)
    Keyring.load(paths.keyring).with_key(record).save(paths.keyring)
    return record


def _is_current(url: DatabaseUrl) -> bool:
    try:
        require_current(url)
    except SchemaBehind:
        return False
    return True
