"""Which public key may sign which association's entries, and when.

On a single node the keyring holds the association's own key history (rotations close the old
key's window). Federation fills it from the Alliance trust registry instead; verification only
ever asks `verifier_for`, so the source of trust can change without touching the verifier.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec

from ledger.codec import AwareDatetime, decode_json, encode_json
from ledger.errors import UnknownKey
from ledger.signing import Verifier, key_id_of


class KeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A public key allowed to sign for `association` from `valid_from` until `valid_until`."""

    association: str
    public_key: bytes
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None

    @property
    def key_id(self) -> str:
        """Hex SHA-256 of the public key."""
        return key_id_of(self.public_key)

    def valid_at(self, at: dt.datetime) -> bool:
        """Whether this key could sign at time `at`."""
        return self.valid_from <= at and (self.valid_until is None or at < self.valid_until)


class Keyring(msgspec.Struct, frozen=True):
    """An immutable set of key records."""

    keys: tuple[KeyRecord, ...] = ()

    def verifier_for(self, association: str, key_id: str, at: dt.datetime) -> Verifier:
        """The verifier for `key_id` if it may sign for `association` at `at`, else UnknownKey."""
        for record in self.keys:
            if record.association == association and record.key_id == key_id:
                if not record.valid_at(at):
                    raise UnknownKey(f"key {key_id[:16]} was not valid for {association} at "
                                     f"{at.isoformat()}", association=association)
                return _verifier(record.public_key)
        raise UnknownKey(f"key {key_id[:16]} may not sign for {association}",
                         association=association)

    def with_key(self, record: KeyRecord) -> Keyring:
        """Add a key, closing the window of the association's currently open key."""
        closed = tuple(
            msgspec.structs.replace(k, valid_until=record.valid_from)
            if k.association == record.association and k.valid_until is None else k
            for k in self.keys)
        return Keyring(keys=(*closed, record))

    def current(self, association: str) -> KeyRecord | None:
        """The association's open key, if any."""
        for record in self.keys:
            if record.association == association and record.valid_until is None:
                return record
        return None

    def save(self, path: Path) -> None:
        """Write the keyring (public data only) atomically."""
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(encode_json(self))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Keyring:
        """Read a keyring file."""
        return decode_json(path.read_bytes(), cls)


_VERIFIERS: dict[bytes, Verifier] = {}


def _verifier(public_key: bytes) -> Verifier:
    # Parsing a public key costs more than a dict lookup; cache per key.
    found = _VERIFIERS.get(public_key)
    if found is None:
        found = _VERIFIERS[public_key] = Verifier(public_key)
    return found
