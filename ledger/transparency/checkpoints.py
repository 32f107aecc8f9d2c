"""Checkpoints (C2SP tlog-checkpoint) and witness cosignatures (C2SP tlog-cosignature v1).

A log signs each checkpoint (origin, tree size, RFC 6962 root hash) as a signed note
(`notes.py`); a peer that witnesses the log adds a timestamped Ed25519 cosignature line over
the checkpoint body. A client trusts a checkpoint once the log's signature and a quorum of
distinct witnesses' cosignatures verify. The rules a witness and the log itself apply before
signing are in `witness_rules.py`.

Pure: bytes and explicit timestamps in, values or `CheckpointError` out; no I/O, no clock.
Public keys are raw 32-byte Ed25519 keys; every signature goes through `ledger.signing`.
Caller mistakes that no received bytes can cause (a timestamp out of range, a quorum below
one) raise ValueError instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ledger.errors import BadSignature, CheckpointError
from ledger.signing import Signer, Verifier
from ledger.transparency.notes import (
    NoteSignature,
    append_signature_lines,
    check_line,
    decode_b64,
    encode_b64,
    key_id,
    note_text,
    open_note,
    parse_note,
    parse_single_line,
    raw_public_key,
    signature_line,
)

COSIGNATURE_V1 = 0x04
HASH_SIZE = 32
MAX_TREE_SIZE = 2**64 - 1  # RFC 6962 tree sizes are uint64
MAX_TIMESTAMP = 2**63 - 1  # tlog-cosignature: a timestamp MUST NOT exceed 2^63 - 1

_ED25519_SIGNATURE_SIZE = 64
_TIMESTAMP_SIZE = 8
_COSIGNATURE_HEADER = b"cosignature/v1\n"
# `[0-9]` matches ASCII digits only; int() alone would take "+1", " 1", "1_0" and "١".
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


# -- checkpoint bodies (tlog-checkpoint) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: origin, tree size, RFC 6962 root hash, optional extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise CheckpointError("tree size must be an integer")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"tree size {self.size} is outside 0..2^64-1")
        if len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"root hash must be {HASH_SIZE} bytes")
        # Freeze what a caller may pass as a list or bytearray, so the value stays immutable.
        object.__setattr__(self, "root_hash", bytes(self.root_hash))
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for line in self.extensions:
            check_line(line, "extension line")

    def body(self) -> bytes:
        """The note text: origin, size, base64 root hash and extension lines, each ending in \\n."""
        lines = (self.origin, str(self.size), encode_b64(self.root_hash), *self.extensions)
        return "".join(line + "\n" for line in lines).encode("utf-8")


def parse_body(body: bytes) -> Checkpoint:
    """The checkpoint whose `body()` is exactly `body`; anything else raises CheckpointError."""
    text = note_text(body, "checkpoint body")
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint body must end in a newline")
    lines = text[:-1].split("\n")  # not splitlines(): only U+000A ends a line
    if len(lines) < 3:
        raise CheckpointError("checkpoint body needs origin, size and root hash lines")
    origin, size_line, root_line, *extensions = lines
    # The length bound keeps int() away from huge inputs; 20 digits hold any uint64.
    if len(size_line) > 20 or not _DECIMAL.fullmatch(size_line):
        raise CheckpointError("tree size must be decimal digits without leading zeroes")
    return Checkpoint(origin, int(size_line), decode_b64(root_line, "root hash"), tuple(extensions))


def open_checkpoint(note: bytes, log_keys: Mapping[str, bytes]) -> Checkpoint:
    """The checkpoint in a note that one of the log's keys signed."""
    text, _ = open_note(note, log_keys)
    return parse_body(text)


# -- cosignatures (tlog-cosignature v1, Ed25519) -----------------------------------------------


def cosign(checkpoint_body: bytes, name: str, signer: Signer, timestamp: int) -> bytes:
    """A witness's cosignature line (newline included) over a checkpoint body at `timestamp`."""
    parse_body(checkpoint_body)  # a v1 cosignature makes a statement about a checkpoint only
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) \
            or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError("a cosignature timestamp is POSIX seconds in 0..2^63-1")
    signature = signer.sign(_cosigned_message(checkpoint_body, timestamp))
    return signature_line(name, key_id(name, COSIGNATURE_V1, signer.public_key),
                           timestamp.to_bytes(_TIMESTAMP_SIZE, "big") + signature)


def add_cosignature(note: bytes, name: str, signer: Signer, timestamp: int) -> bytes:
    """`note` with a cosignature by `name` over its text appended."""
    parsed = parse_note(note)
    return append_signature_lines(note, [cosign(parsed.text, name, signer, timestamp)])


def verify_cosignature(checkpoint_body: bytes, line: bytes, name: str, public_key: bytes) -> int:
    """Check one cosignature line by witness `name` over a checkpoint body; return its timestamp."""
    parse_body(checkpoint_body)
    sig = parse_single_line(line)
    if sig.name != name or sig.key_id != key_id(name, COSIGNATURE_V1, raw_public_key(public_key)):
        raise CheckpointError(f"not a cosignature by {name} under this key")
    return _check_cosignature(checkpoint_body, sig, public_key)


def cosignatures(note: bytes, witness_keys: Mapping[str, bytes]) -> dict[str, int]:
    """Witnesses whose cosignature in `note` verifies, each with its latest timestamp.

    Lines from keys not in `witness_keys` are ignored; a line that matches a witness's name and
    key ID but does not verify raises CheckpointError, as it would for any known key.
    """
    parsed = parse_note(note)
    parse_body(parsed.text)
    known = {name: key_id(name, COSIGNATURE_V1, raw_public_key(key))
             for name, key in witness_keys.items()}
    found: dict[str, int] = {}
    for sig in parsed.signatures:
        if known.get(sig.name) != sig.key_id:
            continue
        timestamp = _check_cosignature(parsed.text, sig, witness_keys[sig.name])
        found[sig.name] = max(timestamp, found.get(sig.name, timestamp))
    return found


def is_witnessed(note: bytes, witness_keys: Mapping[str, bytes], quorum: int) -> bool:
    """Whether at least `quorum` distinct witness keys cosigned the checkpoint in `note`.

    Counts keys, not names or lines: v1 cosignatures do not commit to the cosigner's name, so one
    key listed under two names, or one line repeated, is one witness. The log's own signature is
    not checked here; use `open_checkpoint` for that.
    """
    if quorum < 1:
        raise ValueError("a witness quorum is at least 1")
    return len({witness_keys[name] for name in cosignatures(note, witness_keys)}) >= quorum


def _cosigned_message(body: bytes, timestamp: int) -> bytes:
    return _COSIGNATURE_HEADER + b"time %d\n" % timestamp + body


def _check_cosignature(body: bytes, sig: NoteSignature, public_key: bytes) -> int:
    if len(sig.signature) != _TIMESTAMP_SIZE + _ED25519_SIGNATURE_SIZE:
        raise CheckpointError(f"cosignature by {sig.name} has the wrong length")
    timestamp = int.from_bytes(sig.signature[:_TIMESTAMP_SIZE], "big")
    if timestamp > MAX_TIMESTAMP:
        raise CheckpointError(f"cosignature by {sig.name} has a timestamp above 2^63-1")
    try:
        Verifier(public_key).verify(sig.signature[_TIMESTAMP_SIZE:],
                                    _cosigned_message(body, timestamp))
    except BadSignature as e:
        raise CheckpointError(f"cosignature by {sig.name} does not verify") from e
    return timestamp
