"""Checkpoints, signed notes, witness cosignatures and the rules that keep a log's view single.

Implements C2SP tlog-checkpoint (the body), signed-note (Ed25519 note signatures, type 0x01),
tlog-cosignature v1 (timestamped Ed25519 cosignatures, type 0x04) and the checks of
tlog-witness. A log signs each checkpoint as a note; a peer that witnesses the log checks the
new checkpoint against the last one it cosigned for that origin and, if it extends it, adds a
timestamped cosignature. A client trusts a checkpoint once the log's signature and a quorum of
distinct witnesses' cosignatures verify.

Pure: bytes and explicit timestamps in, values or `CheckpointError` out; no I/O, no clock.
Public keys are raw 32-byte Ed25519 keys; every signature goes through `ledger.signing`.
Caller mistakes that no received bytes can cause (an invalid key name to sign with, a quorum
below one) raise ValueError instead.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ledger.errors import BadSignature, VerificationError
from ledger.signing import Signer, Verifier

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
HASH_SIZE = 32
MAX_TREE_SIZE = 2**64 - 1  # RFC 6962 tree sizes are uint64
MAX_TIMESTAMP = 2**63 - 1  # tlog-cosignature: a timestamp MUST NOT exceed 2^63 - 1
# signed-note: verifiers must accept at least 16 signatures and should bound the work a note can
# force on them; 100 is golang.org/x/mod/sumdb/note's bound.
MAX_SIGNATURES = 100

_KEY_ID_SIZE = 4
_ED25519_SIGNATURE_SIZE = 64
_TIMESTAMP_SIZE = 8
_SIGNATURE_PREFIX = "— "  # em dash (U+2014), space
_COSIGNATURE_HEADER = b"cosignature/v1\n"
# `[0-9]` matches ASCII digits only; int() alone would take "+1", " 1", "1_0" and "١".
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # control characters other than newline


class CheckpointError(VerificationError):
    """A checkpoint, note or cosignature is malformed, non-canonical, or does not verify."""


# -- checkpoint bodies (tlog-checkpoint) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: origin, tree size, RFC 6962 root hash, optional extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
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
            _check_line(line, "extension line")

    def body(self) -> bytes:
        """The note text: origin, size, base64 root hash and extension lines, each ending in \\n."""
        lines = (self.origin, str(self.size), _b64(self.root_hash), *self.extensions)
        return "".join(line + "\n" for line in lines).encode("utf-8")


def parse_body(body: bytes) -> Checkpoint:
    """The checkpoint whose `body()` is exactly `body`; anything else raises CheckpointError."""
    text = _note_text(body, "checkpoint body")
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint body must end in a newline")
    lines = text[:-1].split("\n")  # not splitlines(): only U+000A ends a line
    if len(lines) < 3:
        raise CheckpointError("checkpoint body needs origin, size and root hash lines")
    origin, size_line, root_line, *extensions = lines
    # The length bound keeps int() away from huge inputs; 20 digits hold any uint64.
    if len(size_line) > 20 or not _DECIMAL.fullmatch(size_line):
        raise CheckpointError("tree size must be decimal digits without leading zeroes")
    return Checkpoint(origin, int(size_line), _unb64(root_line, "root hash"), tuple(extensions))


def _check_line(line: str, what: str) -> None:
    if not line:
        raise CheckpointError(f"{what} must not be empty")
    if "\n" in line or _CONTROL.search(line):
        raise CheckpointError(f"{what} must be one line without control characters")
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as e:  # lone surrogates have no UTF-8 encoding
        raise CheckpointError(f"{what} is not encodable as UTF-8") from e


# -- signed notes (signed-note) ----------------------------------------------------------------


def is_valid_key_name(name: str) -> bool:
    """A key name is non-empty, valid UTF-8, and has no Unicode space, '+' or control character."""
    if not name or "+" in name or _CONTROL.search(name):
        return False
    if any(c.isspace() for c in name):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    """The 4-byte key ID: SHA-256(name || 0x0A || signature type || public key)[:4]."""
    _require_key_name(name)
    material = name.encode("utf-8") + b"\n" + bytes([signature_type]) + public_key
    return hashlib.sha256(material).digest()[:_KEY_ID_SIZE]


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line of a note, parsed but not verified."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> bytes:
        """The signature line, newline included."""
        return _signature_line(self.name, self.key_id, self.signature)


@dataclass(frozen=True, slots=True)
class Note:
    """A note split into its text (final newline included) and its signature lines."""

    text: bytes
    signatures: tuple[NoteSignature, ...]


def parse_note(note: bytes) -> Note:
    """Split a signed note into text and signature lines without verifying anything."""
    _note_text(note, "note")
    # The text ends at the last blank line. UTF-8 never puts 0x0A inside a multi-byte
    # character, so searching the bytes finds the same place as searching the text.
    split = note.rfind(b"\n\n")
    if split < 0:
        raise CheckpointError("no blank line separates the note text from its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise CheckpointError("note has no signature lines")
    if not block.endswith(b"\n"):
        raise CheckpointError("the last signature line does not end in a newline")
    lines = block[:-1].split(b"\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"note has more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(_parse_signature_line(line.decode("utf-8")) for line in lines))


def sign_note(body: bytes, name: str, signer: Signer) -> bytes:
    """A signed note: `body`, a blank line, and one Ed25519 signature line by `name`."""
    _check_note_body(body)
    return body + b"\n" + _signature_line(name, key_id(name, ED25519, signer.public_key),
                                          signer.sign(body))


def add_signature(note: bytes, name: str, signer: Signer) -> bytes:
    """`note` with an Ed25519 signature by `name` appended (replacing one by the same key)."""
    parsed = parse_note(note)
    own_id = key_id(name, ED25519, signer.public_key)
    line = _signature_line(name, own_id, signer.sign(parsed.text))
    return _assemble(parsed.text, [s for s in parsed.signatures
                                   if (s.name, s.key_id) != (name, own_id)], [line])


def append_signature_lines(note: bytes, lines: Iterable[bytes]) -> bytes:
    """`note` with signature lines appended (e.g. cosignatures a witness returned); no verifying."""
    parsed = parse_note(note)
    extra = [_parse_single_line(line).line() for line in lines]
    result = _assemble(parsed.text, list(parsed.signatures), extra)
    parse_note(result)  # enforces the signature-count bound on the result
    return result


def open_note(note: bytes, verifiers: Mapping[str, bytes]) -> tuple[bytes, list[str]]:
    """Verify a note against Ed25519 keys by name; return its text and who signed it.

    Lines whose (name, key ID) match no given key are ignored, as the spec requires. Every line
    from a known key must verify, and at least one must be present; otherwise CheckpointError.
    """
    parsed = parse_note(note)
    known = {name: (key_id(name, ED25519, _public_key(key)), key)
             for name, key in verifiers.items()}
    signed: list[str] = []
    for sig in parsed.signatures:
        entry = known.get(sig.name)
        if entry is None or entry[0] != sig.key_id:
            continue
        try:
            Verifier(entry[1]).verify(sig.signature, parsed.text)
        except BadSignature as e:
            raise CheckpointError(f"signature by {sig.name} does not verify") from e
        if sig.name not in signed:
            signed.append(sig.name)
    if not signed:
        raise CheckpointError("no signature from a known key")
    return parsed.text, signed


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
    return _signature_line(name, key_id(name, COSIGNATURE_V1, signer.public_key),
                           timestamp.to_bytes(_TIMESTAMP_SIZE, "big") + signature)


def add_cosignature(note: bytes, name: str, signer: Signer, timestamp: int) -> bytes:
    """`note` with a cosignature by `name` over its text appended."""
    parsed = parse_note(note)
    return append_signature_lines(note, [cosign(parsed.text, name, signer, timestamp)])


def verify_cosignature(checkpoint_body: bytes, line: bytes, name: str, public_key: bytes) -> int:
    """Check one cosignature line by witness `name` over a checkpoint body; return its timestamp."""
    parse_body(checkpoint_body)
    sig = _parse_single_line(line)
    if sig.name != name or sig.key_id != key_id(name, COSIGNATURE_V1, _public_key(public_key)):
        raise CheckpointError(f"not a cosignature by {name} under this key")
    return _check_cosignature(checkpoint_body, sig, public_key)


def cosignatures(note: bytes, witness_keys: Mapping[str, bytes]) -> dict[str, int]:
    """Witnesses whose cosignature in `note` verifies, each with its latest timestamp.

    Lines from keys not in `witness_keys` are ignored; a line that matches a witness's name and
    key ID but does not verify raises CheckpointError, as it would for any known key.
    """
    parsed = parse_note(note)
    parse_body(parsed.text)
    known = {name: key_id(name, COSIGNATURE_V1, _public_key(key))
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


# -- witnessing a peer's log (tlog-witness) ----------------------------------------------------


class Refusal(StrEnum):
    """Why a witness will not cosign a checkpoint."""

    MALFORMED = "malformed"  # not a signed note carrying a checkpoint body
    BAD_SIGNATURE = "bad-signature"  # no valid signature by the log's key, or a failing one
    WRONG_ORIGIN = "wrong-origin"  # the checkpoint names another log
    ROLLBACK = "rollback"  # smaller than the checkpoint last cosigned
    FORK = "fork"  # same size as the last cosigned, different root
    INCONSISTENT = "inconsistent"  # no valid consistency proof from the last cosigned


@dataclass(frozen=True, slots=True)
class WitnessState:
    """What a witness keeps per log: the last checkpoint it cosigned (none yet: size 0, no root)."""

    origin: str
    size: int = 0
    root_hash: bytes | None = None

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if self.root_hash is None and self.size != 0:
            raise CheckpointError("a witness state with a size needs its root hash")
        if self.root_hash is not None:  # validates size and hash as a checkpoint would
            Checkpoint(self.origin, self.size, self.root_hash)


@dataclass(frozen=True, slots=True)
class CheckpointAccepted:
    """Cosign `checkpoint`, and store `state` atomically with the check that produced it."""

    checkpoint: Checkpoint
    state: WitnessState


@dataclass(frozen=True, slots=True)
class CheckpointRefused:
    """Do not cosign; `evidence` is the note exactly as received (it may prove misbehaviour)."""

    reason: Refusal
    detail: str
    evidence: bytes


WitnessDecision = CheckpointAccepted | CheckpointRefused
ConsistencyCheck = Callable[[int, bytes, int, bytes], bool]
"""(old_size, old_root, new_size, new_root) -> whether the log's consistency proof verifies."""


def witness(state: WitnessState, note: bytes, origin_keys: Mapping[str, bytes],
            consistency_ok: ConsistencyCheck) -> WitnessDecision:
    """Decide whether to cosign a peer's new checkpoint note, given the last one cosigned.

    `origin_keys` are the log keys trusted for `state.origin`. `consistency_ok` verifies the
    proof from `state` to the new checkpoint; it is not called when there is nothing to prove
    (no earlier checkpoint, an empty earlier tree, or the same tree again). It may raise a
    VerificationError instead of returning False.
    """
    def refuse(reason: Refusal, detail: str) -> CheckpointRefused:
        return CheckpointRefused(reason, detail, note)

    try:
        parse_note(note)
    except CheckpointError as e:
        return refuse(Refusal.MALFORMED, e.reason)
    try:
        text, _ = open_note(note, origin_keys)
    except CheckpointError as e:
        return refuse(Refusal.BAD_SIGNATURE, e.reason)
    try:
        new = parse_body(text)
    except CheckpointError as e:
        return refuse(Refusal.MALFORMED, e.reason)
    if new.origin != state.origin:
        return refuse(Refusal.WRONG_ORIGIN, f"origin {new.origin!r} is not {state.origin!r}")
    accepted = CheckpointAccepted(new, WitnessState(new.origin, new.size, new.root_hash))
    if state.root_hash is None:
        return accepted  # first checkpoint seen for this log: nothing to be consistent with
    if new.size < state.size:
        return refuse(Refusal.ROLLBACK, f"size {new.size} is below the cosigned {state.size}")
    if new.size == state.size:
        if new.root_hash != state.root_hash:
            return refuse(Refusal.FORK, f"size {new.size} has a different root than cosigned")
        return accepted
    if state.size > 0:  # every tree extends the empty tree
        try:
            ok = consistency_ok(state.size, state.root_hash, new.size, new.root_hash)
        except VerificationError as e:
            return refuse(Refusal.INCONSISTENT, e.reason)
        if not ok:
            return refuse(Refusal.INCONSISTENT,
                          f"no consistency from size {state.size} to {new.size}")
    return accepted


# -- the log's own guard -----------------------------------------------------------------------


def next_checkpoint_allowed(last_signed: Checkpoint | None, new: Checkpoint,
                            consistent: bool) -> None:
    """Raise CheckpointError if signing `new` would contradict the last checkpoint signed.

    A log must never sign two inconsistent checkpoints: `new` must have the same origin, must not
    be smaller, must keep the root at the same size, and (when larger) `consistent` must say a
    consistency proof from `last_signed` to `new` verifies.
    """
    if last_signed is None:
        return
    if new.origin != last_signed.origin:
        raise CheckpointError(f"origin {new.origin!r} is not {last_signed.origin!r}")
    if new.size < last_signed.size:
        raise CheckpointError(f"size {new.size} is below the signed {last_signed.size}")
    if new.size == last_signed.size:
        if new.root_hash != last_signed.root_hash:
            raise CheckpointError(f"size {new.size} was already signed with another root")
        return
    if not consistent:
        raise CheckpointError(f"size {new.size} is not consistent with the signed "
                              f"{last_signed.size}")


# -- encoding helpers --------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    """Strict standard base64: padded, no stray characters, zero padding bits."""
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError as e:  # binascii.Error, or non-ASCII text
        raise CheckpointError(f"{what} is not valid base64") from e
    if _b64(data) != text:
        raise CheckpointError(f"{what} is not canonical base64")
    return data


def _note_text(data: bytes, what: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CheckpointError(f"{what} is not valid UTF-8") from e
    if _CONTROL.search(text):
        raise CheckpointError(f"{what} contains a control character other than newline")
    return text


def _check_note_body(body: bytes) -> None:
    _note_text(body, "note text")
    if not body.endswith(b"\n"):
        raise CheckpointError("note text must end in a newline")


def _require_key_name(name: str) -> None:
    if not is_valid_key_name(name):
        raise ValueError(f"invalid key name {name!r}: empty, or has a space, '+' or control")


def _public_key(key: bytes) -> bytes:
    if len(key) != 32:
        raise ValueError("a configured Ed25519 public key is 32 raw bytes")
    return key


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise CheckpointError("a signature line must start with an em dash and a space")
    name, space, encoded = line[len(_SIGNATURE_PREFIX):].partition(" ")
    if not space or not is_valid_key_name(name):
        raise CheckpointError("a signature line needs a valid key name and a signature")
    raw = _unb64(encoded, f"signature by {name}")
    if len(raw) <= _KEY_ID_SIZE:
        raise CheckpointError(f"signature by {name} is too short")
    return NoteSignature(name, raw[:_KEY_ID_SIZE], raw[_KEY_ID_SIZE:])


def _parse_single_line(line: bytes) -> NoteSignature:
    text = _note_text(line, "signature line")
    if not text.endswith("\n") or "\n" in text[:-1]:
        raise CheckpointError("a signature line is one line ending in a newline")
    return _parse_signature_line(text[:-1])


def _signature_line(name: str, key: bytes, signature: bytes) -> bytes:
    _require_key_name(name)
    return f"{_SIGNATURE_PREFIX}{name} {_b64(key + signature)}\n".encode()


def _assemble(text: bytes, kept: list[NoteSignature], new_lines: list[bytes]) -> bytes:
    return text + b"\n" + b"".join(s.line() for s in kept) + b"".join(new_lines)
