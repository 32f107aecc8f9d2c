"""Who may witness whose checkpoints, under which keys: the registry's view of cosigning.

Every admitted association witnesses every other one. A witness cosigns (C2SP
tlog-cosignature v1) under the key name `alliance-witness/<ID>` with its association's ledger
key, so the trust registry that says which key may sign an association's entries also says
which key may cosign for it, and when. The origin's own signature never counts as a witness.

Pure: a RegistryState and times in, values out; cosignature lines are checked one by one, so
a bad or unknown line is skipped rather than spoiling the others.
"""

from __future__ import annotations

import datetime as dt

from ledger.errors import CheckpointError
from ledger.transparency.checkpoints import (
    Checkpoint,
    open_checkpoint,
    parse_body,
    verify_cosignature,
)
from ledger.transparency.notes import NoteSignature, parse_note
from ledger.trust.keyring import KeyRecord
from ledger.trust.registry import RegistryState

WITNESS_PREFIX = "alliance-witness/"
ORIGIN_PREFIX = "alliance-ledger/"


def origin_of(association: str) -> str:
    """The checkpoint origin line (and note key name) of an association's ledger."""
    return f"{ORIGIN_PREFIX}{association.upper()}"


def witness_name(association: str) -> str:
    """The cosignature key name of an association acting as a witness."""
    return f"{WITNESS_PREFIX}{association.upper()}"


def association_of_witness(name: str) -> str | None:
    """The association behind a witness key name, or None for any other name."""
    if not name.startswith(WITNESS_PREFIX):
        return None
    association = name[len(WITNESS_PREFIX):]
    return association if association.isalpha() and association.isupper() else None


def association_of_origin(origin: str) -> str | None:
    """The association whose ledger a checkpoint origin line names, or None."""
    if not origin.startswith(ORIGIN_PREFIX):
        return None
    association = origin[len(ORIGIN_PREFIX):]
    return association if association.isalpha() and association.isupper() else None


def key_at(state: RegistryState, association: str, at: dt.datetime) -> KeyRecord | None:
    """The association's key that the registry allows at `at`, if any."""
    return next((k for k in state.keyring.keys
                 if k.association == association and k.valid_at(at)), None)


def witness_keys(state: RegistryState, at: dt.datetime, *,
                 origin: str | None = None) -> dict[str, bytes]:
    """`{"alliance-witness/<ID>": public key}` of every association with a key valid at `at`,
    leaving out `origin` (a log never witnesses itself). For `checkpoints.cosignatures` and
    `checkpoints.is_witnessed`; `verified_cosigners` also handles keys rotated between
    cosignatures."""
    keys: dict[str, bytes] = {}
    for record in state.associations:
        if record.association == origin:
            continue
        key = key_at(state, record.association, at)
        if key is not None:
            keys[witness_name(record.association)] = key.public_key
    return keys


def origin_keys(state: RegistryState, association: str, at: dt.datetime) -> dict[str, bytes]:
    """`{"alliance-ledger/<ID>": public key}` for opening the association's checkpoint note
    signed at `at` (empty when no key is valid then: suspended, withdrawn, unknown)."""
    key = key_at(state, association, at)
    return {} if key is None else {f"{ORIGIN_PREFIX}{association}": key.public_key}


def open_origin_checkpoint(note: bytes, state: RegistryState, at: dt.datetime
                           ) -> tuple[str, Checkpoint]:
    """(association, checkpoint) of a note that the origin's key valid at `at` signed."""
    body = parse_body(parse_note(note).text)
    association = association_of_origin(body.origin)
    if association is None or state.association(association) is None:
        raise CheckpointError(f"origin {body.origin!r} is not an Alliance ledger")
    keys = origin_keys(state, association, at)
    if not keys:
        raise CheckpointError(f"{association} has no key valid at {at.isoformat()}")
    return association, open_checkpoint(note, keys)


def verified_cosigners(note: bytes, state: RegistryState) -> dict[str, int]:
    """Witness associations whose cosignature in `note` verifies, with the latest timestamp.

    Each line by `alliance-witness/<ID>` is checked under the key the registry allowed for ID
    at that line's own timestamp. Lines by non-members, by the origin itself, with a bad
    signature or from a key not valid at their time are skipped. Does not check the origin's
    signature (see `open_origin_checkpoint`).
    """
    parsed = parse_note(note)
    origin = association_of_origin(parse_body(parsed.text).origin)
    found: dict[str, int] = {}
    for sig in parsed.signatures:
        checked = check_cosignature(parsed.text, sig, state, origin)
        if checked is not None:
            witness, timestamp = checked
            found[witness] = max(timestamp, found.get(witness, timestamp))
    return found


def check_cosignature(checkpoint_body: bytes, sig: NoteSignature, state: RegistryState,
                      origin: str | None) -> tuple[str, int] | None:
    """(witness association, timestamp) if `sig` is a valid cosignature over the body by a
    member other than `origin`, under its key valid at the cosignature's time; else None."""
    witness = association_of_witness(sig.name)
    if witness is None or witness == origin or state.association(witness) is None:
        return None
    timestamp = claimed_timestamp(sig.signature)
    if timestamp is None:
        return None
    key = key_at(state, witness, dt.datetime.fromtimestamp(timestamp, dt.UTC))
    if key is None:
        return None
    try:
        verify_cosignature(checkpoint_body, sig.line(), sig.name, key.public_key)
    except CheckpointError:
        return None
    return witness, timestamp


def claimed_timestamp(signature: bytes) -> int | None:
    """The (unverified) timestamp of a v1 cosignature's signature bytes, or None if malformed."""
    if len(signature) != 72:  # 8-byte timestamp + 64-byte Ed25519 signature
        return None
    timestamp = int.from_bytes(signature[:8], "big")
    # Anything dt cannot represent cannot be inside a key's validity window either.
    return timestamp if timestamp < 253402300800 else None  # < year 10000


def is_witnessed_by_quorum(note: bytes, state: RegistryState) -> bool:
    """Whether distinct witness keys at least `state.witness_quorum` strong cosigned `note`."""
    cosigners = verified_cosigners(note, state)
    keys = set()
    for witness, timestamp in cosigners.items():
        key = key_at(state, witness, dt.datetime.fromtimestamp(timestamp, dt.UTC))
        if key is not None:
            keys.add(key.public_key)
    return len(keys) >= state.witness_quorum

