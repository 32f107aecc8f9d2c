"""Signed notes (C2SP signed-note): text, a blank line, and signature lines by named keys.

A note is the envelope of every checkpoint: the log's Ed25519 signature (type 0x01) and the
witnesses' cosignatures (`checkpoints.py`, type 0x04) are all signature lines of the same
form, `— <key name> <base64(key ID || signature)>`. This module parses notes, signs them, adds
and appends signature lines and opens a note against known keys; it also holds the strict
encodings the checkpoint formats share (one-line text, canonical base64, signature lines).

Pure: bytes in, values or `CheckpointError` out; no I/O, no clock. Public keys are raw 32-byte
Ed25519 keys; every signature goes through `ledger.signing`. Caller mistakes that no received
bytes can cause (an invalid key name to sign with) raise ValueError instead.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ledger.errors import BadSignature, CheckpointError
from ledger.signing import Signer, Verifier

ED25519 = 0x01
# signed-note: verifiers must accept at least 16 signatures and should bound the work a note can
# force on them; 100 is golang.org/x/mod/sumdb/note's bound.
MAX_SIGNATURES = 100

_KEY_ID_SIZE = 4
_SIGNATURE_PREFIX = "— "  # em dash (U+2014), space
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # control characters other than newline


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
        return signature_line(self.name, self.key_id, self.signature)


@dataclass(frozen=True, slots=True)
class Note:
    """A note split into its text (final newline included) and its signature lines."""

    text: bytes
    signatures: tuple[NoteSignature, ...]


def parse_note(note: bytes) -> Note:
    """Split a signed note into text and signature lines without verifying anything."""
    note_text(note, "note")
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
    return body + b"\n" + signature_line(name, key_id(name, ED25519, signer.public_key),
                                          signer.sign(body))


def add_signature(note: bytes, name: str, signer: Signer) -> bytes:
    """`note` with an Ed25519 signature by `name` appended (replacing one by the same key)."""
    parsed = parse_note(note)
    own_id = key_id(name, ED25519, signer.public_key)
    line = signature_line(name, own_id, signer.sign(parsed.text))
    return _assemble(parsed.text, [s for s in parsed.signatures
                                   if (s.name, s.key_id) != (name, own_id)], [line])


def append_signature_lines(note: bytes, lines: Iterable[bytes]) -> bytes:
    """`note` with signature lines appended (e.g. cosignatures a witness returned); no verifying."""
    parsed = parse_note(note)
    extra = [parse_single_line(line).line() for line in lines]
    result = _assemble(parsed.text, list(parsed.signatures), extra)
    parse_note(result)  # enforces the signature-count bound on the result
    return result


def open_note(note: bytes, verifiers: Mapping[str, bytes]) -> tuple[bytes, list[str]]:
    """Verify a note against Ed25519 keys by name; return its text and who signed it.

    Lines whose (name, key ID) match no given key are ignored, as the spec requires. Every line
    from a known key must verify, and at least one must be present; otherwise CheckpointError.
    """
    parsed = parse_note(note)
    known = {name: (key_id(name, ED25519, raw_public_key(key)), key)
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


# -- the encodings the note formats share ----------------------------------------------------


def check_line(line: str, what: str) -> None:
    """CheckpointError unless `line` is one non-empty line of UTF-8 text without control
    characters (an origin, an extension line)."""
    if not line:
        raise CheckpointError(f"{what} must not be empty")
    if "\n" in line or _CONTROL.search(line):
        raise CheckpointError(f"{what} must be one line without control characters")
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as e:  # lone surrogates have no UTF-8 encoding
        raise CheckpointError(f"{what} is not encodable as UTF-8") from e


def encode_b64(data: bytes) -> str:
    """Standard base64 with padding, as notes write every key, hash and signature."""
    return base64.b64encode(data).decode("ascii")


def decode_b64(text: str, what: str) -> bytes:
    """Strict standard base64: padded, no stray characters, zero padding bits."""
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError as e:  # binascii.Error, or non-ASCII text
        raise CheckpointError(f"{what} is not valid base64") from e
    if encode_b64(data) != text:
        raise CheckpointError(f"{what} is not canonical base64")
    return data


def note_text(data: bytes, what: str) -> str:
    """`data` as note text: valid UTF-8 with no control character other than newline."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CheckpointError(f"{what} is not valid UTF-8") from e
    if _CONTROL.search(text):
        raise CheckpointError(f"{what} contains a control character other than newline")
    return text


def _check_note_body(body: bytes) -> None:
    note_text(body, "note text")
    if not body.endswith(b"\n"):
        raise CheckpointError("note text must end in a newline")


def _require_key_name(name: str) -> None:
    if not is_valid_key_name(name):
        raise ValueError(f"invalid key name {name!r}: empty, or has a space, '+' or control")


def raw_public_key(key: bytes) -> bytes:
    """A configured Ed25519 public key, checked to be 32 raw bytes (ValueError otherwise)."""
    if len(key) != 32:
        raise ValueError("a configured Ed25519 public key is 32 raw bytes")
    return key


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise CheckpointError("a signature line must start with an em dash and a space")
    name, space, encoded = line[len(_SIGNATURE_PREFIX):].partition(" ")
    if not space or not is_valid_key_name(name):
        raise CheckpointError("a signature line needs a valid key name and a signature")
    raw = decode_b64(encoded, f"signature by {name}")
    if len(raw) <= _KEY_ID_SIZE:
        raise CheckpointError(f"signature by {name} is too short")
    return NoteSignature(name, raw[:_KEY_ID_SIZE], raw[_KEY_ID_SIZE:])


def parse_single_line(line: bytes) -> NoteSignature:
    """One signature line (newline included), parsed but not verified."""
    text = note_text(line, "signature line")
    if not text.endswith("\n") or "\n" in text[:-1]:
        raise CheckpointError("a signature line is one line ending in a newline")
    return _parse_signature_line(text[:-1])


def signature_line(name: str, key: bytes, signature: bytes) -> bytes:
    """A signature line by `name`: key ID and signature bytes in base64, newline included."""
    _require_key_name(name)
    return f"{_SIGNATURE_PREFIX}{name} {encode_b64(key + signature)}\n".encode()


def _assemble(text: bytes, kept: list[NoteSignature], new_lines: list[bytes]) -> bytes:
    return text + b"\n" + b"".join(s.line() for s in kept) + b"".join(new_lines)
