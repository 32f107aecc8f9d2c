"""Sealing and opening ledger entries, and checking that they chain.

`seal` signs a body and yields the entry with its hash; `open_entry` is the only way bytes from
anywhere (a file, a peer, the store) become a trusted entry: signature first, then decode,
then the key's validity at the entry's recorded time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

import msgspec

from ledger.codec import (
    GENESIS_HASH,
    EntryBody,
    SignedEntry,
    decode_body,
    decode_signed,
    encode_body,
    encode_signed,
)
from ledger.errors import BadSignature, ChainBroken, UnknownKey, VerificationError
from ledger.signing import Signer, Verifier


class KeySource(Protocol):
    """Answers which verifier may check `key_id` for `association` at time `at`."""

    def verifier_for(self, association: str, key_id: str, at: dt.datetime) -> Verifier:
        """The verifier, or raise UnknownKey."""
        ...


class LedgerEntry(msgspec.Struct, frozen=True):
    """A verified entry: its decoded body, its exact wire bytes, and its hash."""

    body: EntryBody
    wire: bytes
    entry_hash: bytes

    @property
    def seq(self) -> int:
        """Position in its association's ledger, from 1."""
        return self.body.seq


def entry_hash(body_bytes: bytes) -> bytes:
    """SHA-256 of the signed body bytes."""
    return hashlib.sha256(body_bytes).digest()


def seal(body: EntryBody, signer: Signer) -> LedgerEntry:
    """Sign a body with the association's key and return the entry."""
    if body.key_id != signer.key_id:
        raise ValueError("body.key_id must name the signing key")
    body_bytes = encode_body(body)
    wire = encode_signed(SignedEntry(body=body_bytes, signature=signer.sign(body_bytes)))
    return LedgerEntry(body=body, wire=wire, entry_hash=entry_hash(body_bytes))


def seal_many(bodies: Sequence[tuple[EntryBody, bytes]], signer: Signer) -> list[LedgerEntry]:
    """Seal a batch of (body, its canonical bytes), signing them in parallel.

    The caller built the bytes already to chain each body to the previous one's hash (a hash
    of body bytes, not of signatures), which is what lets one batch be signed on every core
    (see Signer.sign_many)."""
    if any(body.key_id != signer.key_id for body, _ in bodies):
        raise ValueError("body.key_id must name the signing key")
    signatures = signer.sign_many([body_bytes for _, body_bytes in bodies])
    return [LedgerEntry(body=body, entry_hash=entry_hash(body_bytes),
                        wire=encode_signed(SignedEntry(body=body_bytes, signature=signature)))
            for (body, body_bytes), signature in zip(bodies, signatures, strict=True)]


def open_entry(wire: bytes, keys: KeySource) -> LedgerEntry:
    """Verify wire bytes and return the entry; raise a VerificationError naming the problem."""
    signed = decode_signed(wire)
    # The key named in the body is only a hint until the signature verifies, so decode the
    # body just far enough to find the key, verify, and only then trust anything it says.
    body = decode_body(signed.body)
    try:
        verifier = keys.verifier_for(body.association, body.key_id, body.recorded_at)
    except UnknownKey as e:
        raise UnknownKey(e.reason, association=body.association, seq=body.seq) from e
    try:
        verifier.verify(signed.signature, signed.body)
    except BadSignature as e:
        raise BadSignature(e.reason, association=body.association, seq=body.seq) from e
    return LedgerEntry(body=body, wire=wire, entry_hash=entry_hash(signed.body))


def check_link(previous: LedgerEntry | None, entry: LedgerEntry) -> None:
    """Raise ChainBroken unless `entry` directly follows `previous` in one ledger."""
    body = entry.body
    if previous is None:
        expected_seq, expected_prev = 1, GENESIS_HASH
    else:
        if previous.body.association != body.association:
            raise ChainBroken("entry belongs to another association",
                              association=body.association, seq=body.seq)
        expected_seq, expected_prev = previous.seq + 1, previous.entry_hash
    if body.seq != expected_seq:
        raise ChainBroken(f"expected seq {expected_seq}, found {body.seq}",
                          association=body.association, seq=body.seq)
    if body.prev_hash != expected_prev:
        raise ChainBroken("prev_hash does not match the previous entry's hash",
                          association=body.association, seq=body.seq)


def verify_chain(wires: Iterable[bytes], keys: KeySource) -> int:
    """Open every entry and check the chain from seq 1; return the count verified.

    Raises the first VerificationError, which names the association and seq of the bad entry.
    """
    previous: LedgerEntry | None = None
    count = 0
    for wire in wires:
        position = previous.seq + 1 if previous else 1
        try:
            entry = open_entry(wire, keys)
        except VerificationError as e:
            # Until the signature verifies, the seq an entry claims is not evidence of
            # anything: report the position the chain was checking.
            association = previous.body.association if previous else e.association
            raise type(e)(e.reason, association=association, seq=position) from e
        check_link(previous, entry)
        previous = entry
        count += 1
    return count
