"""The Alliance trust registry: which association may sign with which key, and when.

The registry is a ledger of its own. Its genesis fixes the Alliance governance keys and the
quorum k; every entry must carry valid signatures from k distinct current governance keys
(the same key twice counts once). Entries admit an association with its first key, add
(rotate to) a key, revoke a key from a time on, suspend or withdraw an association, resume a
suspended one with a new key, and replace the governance keys (signed by a quorum of the old
set). Verifying it from genesis yields a Keyring: the windows in which each key may sign.

Like python-tuf's trusted metadata set, this module takes bytes and does no I/O.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import NoReturn

import msgspec

from ledger.codec import AwareDatetime, decode_canonical, encode
from ledger.errors import BadSignature, ChainBroken, MalformedEntry, VerificationError
from ledger.signing import Signer, Verifier, key_id_of
from ledger.trust.keyring import KeyRecord, Keyring


class RegistryError(VerificationError):
    """A registry entry is not acceptable (quorum, chain, or a rule of the action)."""


class Action(StrEnum):
    """What a registry entry does."""

    ADMIT = "admit"  # association joins with its first key
    ADD_KEY = "add_key"  # rotation: new key from effective_at; the open key closes then
    REVOKE_KEY = "revoke_key"  # a key stops being valid from effective_at (may be retroactive)
    SUSPEND = "suspend"  # every key of the association closes at effective_at
    RESUME = "resume"  # a suspended association returns with a new key
    WITHDRAW = "withdraw"  # the association leaves; its history stays verifiable
    GOVERNANCE = "governance"  # new governance key set and quorum
    WITNESS_QUORUM = "witness_quorum"  # cosignatures a checkpoint needs (`threshold`; 0: default)


class AssociationState(StrEnum):
    """Membership state of an association in the Alliance."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"


# omit_defaults: a genesis that leaves `witness_quorum` at its default encodes exactly as one
# written before the field existed, so its digest (registry entry 1's prev_hash) is unchanged.
class Genesis(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The registry's root of trust, distributed out of band to every node."""

    alliance: str
    governance_keys: tuple[bytes, ...]
    threshold: int
    created_at: AwareDatetime
    witness_quorum: int = 0  # 0: the default rule of `RegistryState.witness_quorum`

    def __post_init__(self) -> None:
        _check_governance(self.governance_keys, self.threshold)
        _check_witness_quorum(self.witness_quorum)

    def digest(self) -> bytes:
        """SHA-256 of the canonical genesis: the prev_hash of registry entry 1."""
        return hashlib.sha256(encode(self)).digest()


class RegistryBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The signed part of a registry entry."""

    seq: int
    prev_hash: bytes
    issued_at: AwareDatetime
    action: Action
    association: str = ""
    name: str = ""
    public_key: bytes = b""  # ADMIT, ADD_KEY, RESUME: the new key
    key_id: str = ""  # REVOKE_KEY: which key
    effective_at: AwareDatetime | None = None
    governance_keys: tuple[bytes, ...] = ()  # GOVERNANCE
    # GOVERNANCE: the governance quorum; WITNESS_QUORUM: the witness quorum (0: default rule).
    # Reused rather than a new field: a new field would change the canonical encoding of
    # every entry already signed.
    threshold: int = 0
    note: str = ""


class RegistrySignature(msgspec.Struct, frozen=True):
    """One governance key's signature over the body bytes."""

    key_id: str
    signature: bytes


class RegistryEntry(msgspec.Struct, frozen=True):
    """Wire form: body bytes kept exactly as signed, and the signatures collected so far."""

    body: bytes
    signatures: tuple[RegistrySignature, ...] = ()

    def with_signature(self, signer: Signer) -> RegistryEntry:
        """Add (or replace) this governance key's signature: key holders sign one by one."""
        others = tuple(s for s in self.signatures if s.key_id != signer.key_id)
        mine = RegistrySignature(key_id=signer.key_id, signature=signer.sign(self.body))
        return RegistryEntry(body=self.body, signatures=(*others, mine))

    def decoded(self) -> RegistryBody:
        """The body (no trust implied until verified)."""
        return decode_registry_body(self.body)


def decode_registry_body(body: bytes) -> RegistryBody:
    """Parse body bytes, accepting only the canonical encoding."""
    return decode_canonical(body, RegistryBody)


def propose(body: RegistryBody) -> RegistryEntry:
    """An unsigned entry for key holders to sign."""
    return RegistryEntry(body=encode(body))


class AssociationRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What the registry says about one association."""

    association: str
    name: str
    state: AssociationState
    since: dt.datetime


class RegistryState(msgspec.Struct, frozen=True, kw_only=True):
    """The result of verifying the registry from genesis."""

    genesis: Genesis
    seq: int
    head_hash: bytes
    governance_keys: tuple[bytes, ...]
    threshold: int
    associations: tuple[AssociationRecord, ...]
    keyring: Keyring
    configured_witness_quorum: int = 0  # genesis or the last WITNESS_QUORUM entry; 0: default

    @property
    def witness_quorum(self) -> int:
        """How many distinct witnesses (never the origin) must cosign a checkpoint.

        Set by the genesis field `witness_quorum` or a WITNESS_QUORUM registry entry. The
        default (0 configured) is a majority of the possible witnesses: with n active
        associations, each origin has n - 1 peers and needs (n - 1) // 2 + 1 of them, at
        least 1 (n = 3: 2; n = 30: 15). A split view then has to fool a majority of peers.
        """
        if self.configured_witness_quorum > 0:
            return self.configured_witness_quorum
        active = sum(1 for a in self.associations if a.state is AssociationState.ACTIVE)
        return max(1, (active - 1) // 2 + 1)

    def association(self, association: str) -> AssociationRecord | None:
        """The record of one association, if admitted."""
        return next((a for a in self.associations if a.association == association), None)

    def next_body(self, action: Action, *, issued_at: dt.datetime, **fields: object
                  ) -> RegistryBody:
        """A body that extends this registry (seq and prev_hash filled in)."""
        return RegistryBody(seq=self.seq + 1, prev_hash=self.head_hash, issued_at=issued_at,
                            action=action, **fields)  # type: ignore[arg-type]


def initial_state(genesis: Genesis) -> RegistryState:
    """The state before any entry."""
    return RegistryState(genesis=genesis, seq=0, head_hash=genesis.digest(),
                         governance_keys=genesis.governance_keys, threshold=genesis.threshold,
                         associations=(), keyring=Keyring(),
                         configured_witness_quorum=genesis.witness_quorum)


def verify_registry(genesis: Genesis, entries: Iterable[bytes]) -> RegistryState:
    """Verify every entry from genesis and return the resulting state.

    Raises a RegistryError (or another VerificationError) naming the first bad entry.
    """
    state = initial_state(genesis)
    for wire in entries:
        state = apply_entry(state, wire)
    return state


def apply_entry(state: RegistryState, wire: bytes) -> RegistryState:
    """Verify one entry against the state so far and return the new state."""
    entry = decode_canonical(wire, RegistryEntry)
    body = entry.decoded()
    if body.seq != state.seq + 1:
        raise ChainBroken(f"expected registry seq {state.seq + 1}", association="registry",
                          seq=body.seq)
    if body.prev_hash != state.head_hash:
        raise ChainBroken("prev_hash does not match", association="registry", seq=body.seq)
    _check_quorum(state, entry, body.seq)
    new = _transition(state, body)
    return msgspec.structs.replace(new, seq=body.seq,
                                   head_hash=hashlib.sha256(entry.body).digest())


def _check_quorum(state: RegistryState, entry: RegistryEntry, seq: int) -> None:
    allowed = {key_id_of(k): k for k in state.governance_keys}
    valid: set[str] = set()
    for sig in entry.signatures:
        public = allowed.get(sig.key_id)
        if public is None or sig.key_id in valid:
            continue  # a non-member's signature, or the same key twice, adds nothing
        try:
            Verifier(public).verify(sig.signature, entry.body)
        except BadSignature:
            continue
        valid.add(sig.key_id)
    if len(valid) < state.threshold:
        raise RegistryError(f"{len(valid)} valid governance signatures, {state.threshold} "
                            f"needed", association="registry", seq=seq)


def _transition(state: RegistryState, body: RegistryBody) -> RegistryState:
    at = body.effective_at or body.issued_at
    record = state.association(body.association)
    fail = _failer(body.seq)
    keyring = state.keyring
    associations = {a.association: a for a in state.associations}
    if body.action is Action.GOVERNANCE:
        _check_governance(body.governance_keys, body.threshold)
        return msgspec.structs.replace(state, governance_keys=body.governance_keys,
                                       threshold=body.threshold)
    if body.action is Action.WITNESS_QUORUM:
        try:
            _check_witness_quorum(body.threshold)
        except MalformedEntry as e:
            fail(e.reason)
        return msgspec.structs.replace(state, configured_witness_quorum=body.threshold)
    if body.action is Action.ADMIT:
        if record is not None:
            fail(f"{body.association} is already admitted")
        if not body.name.strip() or not body.association:
            fail("admission needs an association id and a name")
        keyring = keyring.with_key(_key(body, at))
        associations[body.association] = AssociationRecord(
            association=body.association, name=body.name, state=AssociationState.ACTIVE,
            since=at)
    elif record is None:
        fail(f"{body.association} is not admitted")
    elif record.state is AssociationState.WITHDRAWN:
        fail(f"{body.association} has withdrawn")
    elif body.action is Action.ADD_KEY:
        if record.state is not AssociationState.ACTIVE:
            fail(f"{body.association} is {record.state}; resume it with a new key")
        keyring = keyring.with_key(_key(body, at))
    elif body.action is Action.REVOKE_KEY:
        keyring = _revoke(keyring, body.association, body.key_id, at, fail)
    elif body.action in (Action.SUSPEND, Action.WITHDRAW):
        keyring = _close_all(keyring, body.association, at)
        associations[body.association] = msgspec.structs.replace(
            record, state=AssociationState.SUSPENDED if body.action is Action.SUSPEND
            else AssociationState.WITHDRAWN, since=at)
    elif body.action is Action.RESUME:
        if record.state is not AssociationState.SUSPENDED:
            fail(f"{body.association} is not suspended")
        keyring = keyring.with_key(_key(body, at))
        associations[body.association] = msgspec.structs.replace(
            record, state=AssociationState.ACTIVE, since=at)
    return msgspec.structs.replace(state, keyring=keyring, associations=tuple(
        associations[k] for k in sorted(associations)))


_Fail = Callable[[str], NoReturn]


def _failer(seq: int) -> _Fail:
    def fail(message: str) -> NoReturn:
        raise RegistryError(message, association="registry", seq=seq)
    return fail


def _key(body: RegistryBody, at: dt.datetime) -> KeyRecord:
    if len(body.public_key) != 32:
        raise RegistryError("public_key must be a 32-byte Ed25519 key", association="registry",
                            seq=body.seq)
    return KeyRecord(association=body.association, public_key=body.public_key, valid_from=at)


def _revoke(keyring: Keyring, association: str, key_id: str, at: dt.datetime,
            fail: _Fail) -> Keyring:
    found = False
    keys: list[KeyRecord] = []
    for k in keyring.keys:
        if k.association == association and k.key_id == key_id:
            found = True
            until = at if k.valid_until is None else min(k.valid_until, at)
            k = msgspec.structs.replace(k, valid_until=max(until, k.valid_from))
        keys.append(k)
    if not found:
        fail(f"{association} has no key {key_id[:16]}")
    return Keyring(keys=tuple(keys))


def _close_all(keyring: Keyring, association: str, at: dt.datetime) -> Keyring:
    return Keyring(keys=tuple(
        msgspec.structs.replace(k, valid_until=max(at, k.valid_from))
        if k.association == association and (k.valid_until is None or k.valid_until > at)
        else k for k in keyring.keys))


def _check_governance(keys: tuple[bytes, ...], threshold: int) -> None:
    if any(len(k) != 32 for k in keys):
        raise MalformedEntry("governance keys must be 32-byte Ed25519 keys")
    if len({bytes(k) for k in keys}) != len(keys):
        raise MalformedEntry("governance keys must be distinct")
    if not 1 <= threshold <= len(keys):
        raise MalformedEntry("threshold must be between 1 and the number of governance keys")


def _check_witness_quorum(quorum: int) -> None:
    if isinstance(quorum, bool) or not isinstance(quorum, int) or not 0 <= quorum <= 1000:
        raise MalformedEntry("witness quorum must be 0 (default rule) or a positive count")


def wire_of(entry: RegistryEntry) -> bytes:
    """Wire bytes of a registry entry."""
    return encode(entry)
