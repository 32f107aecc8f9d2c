"""Who the node is as an issuer: its `did:web`, its keys as the trust registry records them,
the URLs its credentials name, and the DID document it serves.

The DID is the host (and port) of `ALLIANCE_PUBLIC_URL`, or of the listen address when none is
set (local use). A node serves only its own association's DID document: a did:web resolves to
one host, so a document for another association's DID served here would be a forgery that
`ledger.credentials.did_document.check_served` refuses. Peers' documents are at their hosts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

import msgspec

from domain.credentials import StatusPurpose
from ledger.codec import decode_canonical
from ledger.credentials.did_document import KeyWindow, build_did_document, verification_method_id
from ledger.credentials.jsonld import JsonObject
from ledger.credentials.multikey import did_web
from ledger.credentials.open_badges import IssuerProfile
from ledger.trust.keyring import Keyring
from ledger.trust.registry import Action, RegistryEntry, decode_registry_body
from ledger.trust.registry_files import RegistryDir


class IssuerIdentity(msgspec.Struct, frozen=True, kw_only=True):
    """The node's association as an issuer, and the URLs it names."""

    association: str
    name: str
    base_url: str  # scheme://host[:port], no trailing slash
    did: str

    @classmethod
    def of(cls, *, association: str, name: str, public_url: str) -> IssuerIdentity:
        """The identity for a node reached at `public_url`. At a host's root the DID is
        `did:web:<host>[%3A<port>]` (document at /.well-known/did.json); under a path it is
        `did:web:<host>:<segment>...` (document at <path>/did.json), as did:web resolves."""
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the public URL {public_url!r} is not an http(s) URL")
        default = 443 if parts.scheme == "https" else 80
        port = parts.port if parts.port and parts.port != default else None
        segments = tuple(s for s in parts.path.split("/") if s)
        authority = parts.hostname if port is None else f"{parts.hostname}:{port}"
        base = f"{parts.scheme}://{authority}" + "".join(f"/{s}" for s in segments)
        return cls(association=association, name=name, base_url=base,
                   did=did_web(parts.hostname, port, segments))

    @property
    def profile(self) -> IssuerProfile:
        """The issuer as credentials name it."""
        return IssuerProfile(did=self.did, association=self.association, name=self.name,
                             url=f"{self.base_url}/")

    def list_url(self, purpose: StatusPurpose, list_number: int) -> str:
        """Where list `list_number` of `purpose` is served (the URL credentials name)."""
        return f"{self.base_url}/v1/status-lists/{self.association}/{purpose.value}/{list_number}"

    @property
    def achievement_base(self) -> str:
        """The base of the achievements' ids."""
        return f"{self.base_url}/v1/achievements"

    def method(self, key_id: str) -> str:
        """The verification method id of one of the association's keys."""
        return verification_method_id(self.did, key_id)


def key_windows(association: str, keyring: Keyring,
                registry: RegistryDir | None) -> list[KeyWindow]:
    """The association's keys with their windows, and the registry's revocations (a rotation
    only closes a window; a revocation says the key must not be trusted at all)."""
    entries = registry.entries() if registry is not None and registry.exists() else ()
    return key_windows_of(association, keyring, entries)


def key_windows_of(association: str, keyring: Keyring,
                   registry: Iterable[bytes]) -> list[KeyWindow]:
    """`key_windows` from registry entries' wire bytes (a verifier's copy of the registry)."""
    revoked: dict[str, dt.datetime] = {}
    for wire in registry:
        body = decode_registry_body(decode_canonical(wire, RegistryEntry).body)
        if body.action is Action.REVOKE_KEY and body.association == association:
            revoked[body.key_id] = body.effective_at or body.issued_at
    return [KeyWindow(key_id=k.key_id, public_key=k.public_key, valid_from=k.valid_from,
                      valid_until=k.valid_until, revoked_from=revoked.get(k.key_id))
            for k in keyring.keys if k.association == association]


def did_document(identity: IssuerIdentity, keys: Sequence[KeyWindow],
                 as_of: dt.datetime) -> JsonObject:
    """The DID document the node serves at /.well-known/did.json."""
    return build_did_document(identity.did, keys, as_of)
