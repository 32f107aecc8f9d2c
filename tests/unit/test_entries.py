"""Sealing, opening and chaining ledger entries (DESIGN invariants 1, 3 and 8).

Entries are built by hand from `EntryBody` and `seal`, so these tests depend on nothing but
the entry format: the wire bytes a peer or an auditor would receive.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.chain.entries import LedgerEntry, entry_hash, open_entry, seal, seal_many, verify_chain
from ledger.codec import (
    GENESIS_HASH,
    EntryBody,
    SignedEntry,
    encode,
    encode_body,
    encode_signed,
)
from ledger.errors import (
    BadSignature,
    ChainBroken,
    MalformedEntry,
    UnknownKey,
    VerificationError,
)
from ledger.signing import Signer
from ledger.trust.keyring import KeyRecord, Keyring

AK, MI = "AK", "MI"
T0 = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
TICK = dt.timedelta(microseconds=1)
N = 5

SIGNER = Signer.generate()
OTHER = Signer.generate()  # a key nobody registered
MI_SIGNER = Signer.generate()
KEYS = Keyring(keys=(KeyRecord(association=AK, public_key=SIGNER.public_key, valid_from=T0),))


def make_body(seq: int, prev_hash: bytes, *, signer: Signer = SIGNER, association: str = AK,
              recorded_at: dt.datetime | None = None, **changes: object) -> EntryBody:
    """A plausible entry body; `changes` override any field."""
    fields: dict[str, object] = {
        "association": association, "seq": seq, "prev_hash": prev_hash,
        "recorded_at": recorded_at or T0 + seq * MINUTE,
        "event_type": "ApplicationReviewed", "schema_version": 1,
        "aggregate_id": "5b1e0f0c-54f4-4c1f-9d2e-0d7c2b1c9e01", "aggregate_version": seq,
        "payload": encode({"decision": "approve", "reason": f"entry {seq}"}),
        "commitment": b"", "key_id": signer.key_id,
    }
    fields.update(changes)
    return EntryBody(**fields)  # type: ignore[arg-type]


def make_chain(n: int, *, signer: Signer = SIGNER, association: str = AK,
               start: dt.datetime = T0) -> list[LedgerEntry]:
    """n entries linked from the genesis hash, one minute apart from `start` + 1 min."""
    entries: list[LedgerEntry] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        entry = seal(make_body(seq, prev, signer=signer, association=association,
                               recorded_at=start + seq * MINUTE), signer)
        entries.append(entry)
        prev = entry.entry_hash
    return entries


CHAIN = make_chain(N)
WIRES = [e.wire for e in CHAIN]


def signed_wire(body_bytes: bytes, signer: Signer = SIGNER) -> bytes:
    """Wire bytes carrying `body_bytes` exactly as given, validly signed."""
    return encode_signed(SignedEntry(body=body_bytes, signature=signer.sign(body_bytes)))


def rejection(wires: list[bytes], keys: Keyring = KEYS) -> VerificationError:
    """The error verify_chain raises for `wires` (failing the test if it accepts them)."""
    with pytest.raises(VerificationError) as info:
        verify_chain(wires, keys)
    return info.value


# -- the good chain ---------------------------------------------------------------------------


def test_good_chain_verifies_and_counts_every_entry() -> None:
    assert verify_chain(WIRES, KEYS) == N
    assert verify_chain([], KEYS) == 0


def test_opened_entry_is_the_sealed_entry() -> None:
    for entry in CHAIN:
        opened = open_entry(entry.wire, KEYS)
        assert opened == entry
        assert opened.entry_hash == entry_hash(encode_body(entry.body))


def test_entries_link_by_the_hash_of_the_signed_body() -> None:
    assert CHAIN[0].body.prev_hash == GENESIS_HASH
    for previous, entry in itertools.pairwise(CHAIN):
        assert entry.body.prev_hash == previous.entry_hash
    assert [e.seq for e in CHAIN] == list(range(1, N + 1))


def test_seal_refuses_a_body_naming_another_key() -> None:
    with pytest.raises(ValueError, match="key_id"):
        seal(make_body(1, GENESIS_HASH, signer=OTHER), SIGNER)


# -- any change to the bytes is caught at the entry that changed -------------------------------


def _flip(wire: bytes, bit: int) -> bytes:
    changed = bytearray(wire)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def _seq_value_offset(entry: LedgerEntry) -> int:
    """Offset in the wire of the byte holding the seq value (seq is the last body field)."""
    body_bytes = encode_body(entry.body)
    assert entry.seq < 128  # a positive fixint: the value is the one byte after the key
    return entry.wire.index(body_bytes) + body_bytes.rindex(b"\xa3seq") + 4


def _assert_rejected_at_its_position(index: int, bit: int) -> None:
    """The strongest true statement about a one-bit change to entry `index`."""
    entry = CHAIN[index]
    wires = [*WIRES[:index], _flip(entry.wire, bit), *WIRES[index + 1:]]
    error = rejection(wires)  # a VerificationError, never another exception or acceptance
    # Whatever the flip hit (framing, a field name, the seq it claims), the error names the
    # position the chain was checking, and from the second entry on, its ledger.
    assert error.seq == entry.seq, (bit // 8, bit % 8, error)
    if index > 0:
        assert error.association == AK, (bit // 8, bit % 8, error)
    if bit // 8 >= len(entry.wire) - 64:
        # The signature's own bytes: nothing else about the entry changed.
        assert type(error) is BadSignature, error


@settings(max_examples=500, deadline=None)
@given(index=st.integers(min_value=0, max_value=N - 1), where=st.integers(min_value=0))
def test_any_single_bit_flip_is_rejected_naming_the_flipped_entry(index: int,
                                                                 where: int) -> None:
    _assert_rejected_at_its_position(index, where % (len(WIRES[index]) * 8))


def test_every_single_bit_flip_of_a_middle_entry_is_rejected_naming_it() -> None:
    # Exhaustive for one entry (about 2,700 flips), so no byte is left to chance. Guards the
    # invalid-UTF-8 flips (field names, text values) that once escaped as UnicodeDecodeError.
    for bit in range(len(WIRES[2]) * 8):
        _assert_rejected_at_its_position(2, bit)


def test_tampered_seq_field_is_reported_at_the_entry_position() -> None:
    # The seq a body claims is not evidence until its signature verifies: once, this entry
    # was reported as a bad signature at seq 67.
    entry = CHAIN[2]
    bit = _seq_value_offset(entry) * 8 + 6  # 0x03 -> 0x43: the body now claims seq 67
    error = rejection([*WIRES[:2], _flip(entry.wire, bit), *WIRES[3:]])
    assert type(error) is BadSignature
    assert error.seq == 3, error


# -- the chain: nothing removed, repeated, reordered or replaced ------------------------------


@pytest.mark.parametrize("index", range(N - 1))
def test_removed_entry_breaks_the_chain_at_the_next_entry(index: int) -> None:
    wires = WIRES[:index] + WIRES[index + 1:]
    error = rejection(wires)
    assert type(error) is ChainBroken
    assert error.seq == index + 2
    assert error.association == AK


def test_removed_last_entry_shows_only_in_the_count() -> None:
    # The chain cannot know its own end: callers compare the count with the head they expect.
    assert verify_chain(WIRES[:-1], KEYS) == N - 1


@pytest.mark.parametrize("index", range(N))
def test_duplicated_entry_breaks_the_chain_at_the_duplicate(index: int) -> None:
    wires = [*WIRES[:index + 1], WIRES[index], *WIRES[index + 1:]]
    error = rejection(wires)
    assert type(error) is ChainBroken
    assert error.seq == index + 1


@pytest.mark.parametrize("index", range(N - 1))
def test_swapped_entries_break_the_chain_at_the_first_out_of_place(index: int) -> None:
    wires = list(WIRES)
    wires[index], wires[index + 1] = wires[index + 1], wires[index]
    error = rejection(wires)
    assert type(error) is ChainBroken
    assert error.seq == index + 2


def test_chain_not_starting_at_seq_1_is_broken() -> None:
    error = rejection(WIRES[1:])
    assert type(error) is ChainBroken
    assert error.seq == 2


def test_forked_entry_breaks_the_chain_at_its_successor() -> None:
    # A second, validly signed entry 3 that links to entry 2: entry 4 no longer links to it.
    fork = seal(make_body(3, CHAIN[1].entry_hash, payload=encode({"other": "history"})),
                SIGNER)
    assert verify_chain([*WIRES[:2], fork.wire], KEYS) == 3
    error = rejection([*WIRES[:2], fork.wire, *WIRES[3:]])
    assert type(error) is ChainBroken
    assert error.seq == 4


def test_right_seq_with_wrong_prev_hash_is_broken() -> None:
    stray = seal(make_body(2, GENESIS_HASH), SIGNER)
    error = rejection([WIRES[0], stray.wire])
    assert type(error) is ChainBroken
    assert error.seq == 2


def test_entry_of_another_association_breaks_the_chain() -> None:
    keys = KEYS.with_key(KeyRecord(association=MI, public_key=MI_SIGNER.public_key,
                                   valid_from=T0))
    mi_chain = make_chain(2, signer=MI_SIGNER, association=MI)
    assert verify_chain([e.wire for e in mi_chain], keys) == 2
    error = rejection([WIRES[0], mi_chain[1].wire], keys)
    assert type(error) is ChainBroken
    assert error.seq == 2


# -- keys: who may sign, and when --------------------------------------------------------------


def _single(recorded_at: dt.datetime, signer: Signer = SIGNER) -> list[bytes]:
    """A one-entry ledger signed by `signer` at `recorded_at`."""
    return [seal(make_body(1, GENESIS_HASH, signer=signer, recorded_at=recorded_at),
                 signer).wire]


def test_key_is_valid_from_its_first_instant() -> None:
    assert verify_chain(_single(T0), KEYS) == 1


def test_key_used_before_its_valid_from_is_unknown() -> None:
    error = rejection(_single(T0 - TICK))
    assert type(error) is UnknownKey
    assert error.seq == 1


def test_key_used_at_or_after_its_valid_until_is_unknown() -> None:
    until = T0 + dt.timedelta(days=30)
    keys = Keyring(keys=(KeyRecord(association=AK, public_key=SIGNER.public_key,
                                   valid_from=T0, valid_until=until),))
    assert verify_chain(_single(until - TICK), keys) == 1
    for late in (until, until + dt.timedelta(days=400)):
        error = rejection(_single(late), keys)
        assert type(error) is UnknownKey
        assert error.seq == 1


def test_key_registered_for_another_association_is_unknown() -> None:
    keys = Keyring(keys=(KeyRecord(association=MI, public_key=SIGNER.public_key,
                                   valid_from=T0),))
    error = rejection(WIRES, keys)
    assert type(error) is UnknownKey
    assert error.seq == 1


def test_key_of_another_association_cannot_sign_for_this_one() -> None:
    keys = KEYS.with_key(KeyRecord(association=MI, public_key=MI_SIGNER.public_key,
                                   valid_from=T0))
    forged = seal(make_body(2, CHAIN[0].entry_hash, signer=MI_SIGNER), MI_SIGNER)
    error = rejection([WIRES[0], forged.wire], keys)
    assert type(error) is UnknownKey
    assert error.seq == 2


def test_unregistered_key_is_unknown() -> None:
    error = rejection(_single(T0 + MINUTE, OTHER))
    assert type(error) is UnknownKey


def test_rotated_keyring_still_verifies_the_old_keys_entries(tmp_path: Path) -> None:
    new_signer = Signer.generate()
    rotation = T0 + (N + 0.5) * MINUTE  # between old entry N and the first new entry
    rotated = KEYS.with_key(KeyRecord(association=AK, public_key=new_signer.public_key,
                                      valid_from=rotation))
    first_new = seal(make_body(N + 1, CHAIN[-1].entry_hash, signer=new_signer), new_signer)
    second_new = seal(make_body(N + 2, first_new.entry_hash, signer=new_signer), new_signer)
    wires = [*WIRES, first_new.wire, second_new.wire]

    assert verify_chain(wires, rotated) == N + 2
    # Years later, from a keyring read back from its file.
    rotated.save(tmp_path / "keyring.json")
    assert verify_chain(wires, Keyring.load(tmp_path / "keyring.json")) == N + 2
    assert rotated.current(AK) is not None
    assert rotated.current(AK).public_key == new_signer.public_key  # type: ignore[union-attr]


def test_keyring_file_with_a_time_without_offset_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    KEYS.save(path)
    text = path.read_text()
    assert "2027-01-01T00:00:00Z" in text
    path.write_text(text.replace("2027-01-01T00:00:00Z", "2027-01-01T00:00:00"))
    with pytest.raises(MalformedEntry):
        Keyring.load(path)


def test_old_key_after_rotation_and_new_key_before_it_are_unknown() -> None:
    new_signer = Signer.generate()
    rotation = T0 + dt.timedelta(days=10)
    rotated = KEYS.with_key(KeyRecord(association=AK, public_key=new_signer.public_key,
                                      valid_from=rotation))
    assert verify_chain(_single(rotation - TICK), rotated) == 1
    assert verify_chain(_single(rotation, new_signer), rotated) == 1
    for wires in (_single(rotation), _single(rotation - TICK, new_signer)):
        assert type(rejection(wires, rotated)) is UnknownKey


# -- one encoding per body --------------------------------------------------------------------

BODY = make_body(1, GENESIS_HASH)


def _pairs(body: EntryBody) -> dict[str, bytes]:
    """Each field's canonical encoded value, by field name."""
    return {name: encode(getattr(body, name)) for name in body.__struct_fields__}


def _manual(pairs: dict[str, bytes], *, order: list[str] | None = None,
            header: bytes | None = None) -> bytes:
    """A MessagePack map of already-encoded values, in the given key order."""
    names = order or sorted(pairs)
    head = header if header is not None else bytes([0x80 | len(names)])
    return head + b"".join(encode(name) + pairs[name] for name in names)


def _with(**values: bytes) -> bytes:
    return _manual({**_pairs(BODY), **values})


def _seconds(moment: dt.datetime) -> int:
    return int(moment.timestamp())


NON_CANONICAL_BODIES: dict[str, bytes] = {
    "fields_in_declaration_order": _manual(_pairs(BODY), order=list(BODY.__struct_fields__)),
    "fields_in_reverse_order": _manual(_pairs(BODY), order=sorted(_pairs(BODY), reverse=True)),
    "map_header_as_map16": _manual(_pairs(BODY), header=b"\xde\x00\x0b"),
    "seq_as_uint8": _with(seq=b"\xcc\x01"),
    "seq_as_uint32": _with(seq=b"\xce\x00\x00\x00\x01"),
    "seq_as_int64": _with(seq=b"\xd3" + (1).to_bytes(8, "big")),
    "version_as_uint16": _with(aggregate_version=b"\xcd\x00\x01"),
    "association_as_str8": _with(association=b"\xd9\x02AK"),
    "payload_as_bin16": _with(payload=b"\xc5" + len(BODY.payload).to_bytes(2, "big")
                              + BODY.payload),
    "prev_hash_as_bin32": _with(prev_hash=b"\xc6" + (32).to_bytes(4, "big") + GENESIS_HASH),
    "recorded_at_as_timestamp96": _with(recorded_at=b"\xc7\x0c\xff" + bytes(4)
                                        + _seconds(BODY.recorded_at).to_bytes(8, "big")),
    "recorded_at_as_rfc3339_string": _with(recorded_at=encode(
        BODY.recorded_at.isoformat().replace("+00:00", "Z"))),
}


def test_manual_encoding_matches_the_codec() -> None:
    # Guards the table below: with nothing changed, the hand-built bytes are canonical.
    assert _manual(_pairs(BODY)) == encode_body(BODY)
    assert verify_chain([signed_wire(_manual(_pairs(BODY)))], KEYS) == 1


@pytest.mark.parametrize("variant", NON_CANONICAL_BODIES.values(),
                         ids=list(NON_CANONICAL_BODIES))
def test_non_canonical_body_encoding_is_malformed(variant: bytes) -> None:
    # Same fields, other bytes: msgspec alone would accept them as this very body.
    assert variant != encode_body(BODY)
    assert msgspec.msgpack.decode(variant, type=EntryBody) == BODY
    error = rejection([signed_wire(variant)])
    assert type(error) is MalformedEntry
    assert error.seq == 1


# -- malformed input, each named after what it guards -----------------------------------------

SECOND = make_body(2, CHAIN[0].entry_hash)
SECOND_BYTES = encode_body(SECOND)
SECOND_WIRE = WIRES[1]


def _body_without(name: str) -> bytes:
    pairs = _pairs(SECOND)
    del pairs[name]
    return _manual(pairs)


def _resealed(**changes: object) -> bytes:
    return signed_wire(encode_body(msgspec.structs.replace(SECOND, **changes)))


def _bad(name: str, build: Callable[[], bytes], error: type[VerificationError], *,
         seq: int = 2) -> object:
    """One row: the second entry's wire bytes, the error they must raise and the seq it names."""
    return pytest.param(build, error, seq, id=name)


def _not_utf8(text: str) -> bytes:
    """`text` encoded as a MessagePack str whose last byte is no longer valid UTF-8."""
    raw = encode(text)
    return raw[:-1] + bytes([raw[-1] | 0x80])


MALFORMED = [
    _bad("empty_bytes", lambda: b"", MalformedEntry),
    _bad("random_bytes", lambda: random.Random(7).randbytes(200), MalformedEntry),
    _bad("msgpack_nil", lambda: b"\xc0", MalformedEntry),
    _bad("json_instead_of_msgpack", lambda: b'{"body": "", "signature": ""}', MalformedEntry),
    _bad("truncated_by_one_byte", lambda: SECOND_WIRE[:-1], MalformedEntry),
    _bad("truncated_to_half", lambda: SECOND_WIRE[:len(SECOND_WIRE) // 2], MalformedEntry),
    _bad("trailing_byte", lambda: SECOND_WIRE + b"\x00", MalformedEntry),
    _bad("wire_without_signature", lambda: encode({"body": SECOND_BYTES}), MalformedEntry),
    _bad("wire_with_extra_field", lambda: encode({"body": SECOND_BYTES, "key": b"",
                                                  "signature": bytes(64)}), MalformedEntry),
    _bad("signature_empty", lambda: encode_signed(SignedEntry(SECOND_BYTES, b"")),
         MalformedEntry),
    _bad("signature_63_bytes", lambda: encode_signed(
        SignedEntry(SECOND_BYTES, SIGNER.sign(SECOND_BYTES)[:63])), MalformedEntry),
    _bad("signature_65_bytes", lambda: encode_signed(
        SignedEntry(SECOND_BYTES, SIGNER.sign(SECOND_BYTES) + b"\x00")), MalformedEntry),
    _bad("body_empty", lambda: signed_wire(b""), MalformedEntry),
    _bad("body_not_a_map", lambda: signed_wire(encode([1, 2, 3])), MalformedEntry),
    _bad("body_missing_key_id", lambda: signed_wire(_body_without("key_id")), MalformedEntry),
    _bad("body_with_unknown_field", lambda: signed_wire(
        _manual({**_pairs(SECOND), "zz_extra": encode("x")})), MalformedEntry),
    _bad("body_field_of_wrong_type", lambda: signed_wire(
        _manual({**_pairs(SECOND), "seq": encode("2")})), MalformedEntry),
    _bad("prev_hash_31_bytes", lambda: _resealed(prev_hash=CHAIN[0].entry_hash[:31]),
         MalformedEntry),
    _bad("prev_hash_33_bytes", lambda: _resealed(prev_hash=CHAIN[0].entry_hash + b"\x00"),
         MalformedEntry),
    _bad("seq_0", lambda: _resealed(seq=0), MalformedEntry),
    _bad("seq_negative", lambda: _resealed(seq=-1), MalformedEntry),
    # msgspec raises UnicodeDecodeError, not DecodeError, for invalid UTF-8.
    _bad("wire_key_not_utf8", lambda: SECOND_WIRE.replace(b"\xa4body", b"\xa4bod\xf9", 1),
         MalformedEntry),
    _bad("body_key_not_utf8", lambda: signed_wire(encode_body(SECOND).replace(
        b"\xa6key_id", b"\xa6key_i\xe4", 1)), MalformedEntry),
    _bad("association_not_utf8", lambda: signed_wire(_manual(
        {**_pairs(SECOND), "association": _not_utf8(AK)})), MalformedEntry),
    _bad("signature_by_unregistered_key_naming_registered_key", lambda: encode_signed(
        SignedEntry(SECOND_BYTES, OTHER.sign(SECOND_BYTES))), BadSignature),
    _bad("signature_of_another_entry", lambda: encode_signed(
        SignedEntry(SECOND_BYTES, SIGNER.sign(encode_body(CHAIN[0].body)))), BadSignature),
    _bad("signature_all_zero", lambda: encode_signed(SignedEntry(SECOND_BYTES, bytes(64))),
         BadSignature),
    _bad("key_id_of_unregistered_key", lambda: _resealed(key_id=OTHER.key_id), UnknownKey),
    _bad("recorded_before_key_valid", lambda: _resealed(recorded_at=T0 - MINUTE), UnknownKey),
    # Once the signature holds, the entry's own seq is what the error names.
    _bad("seq_skips_ahead", lambda: _resealed(seq=3), ChainBroken, seq=3),
    _bad("prev_hash_of_genesis_at_seq_2", lambda: _resealed(prev_hash=GENESIS_HASH),
         ChainBroken),
]


@pytest.mark.parametrize(("build", "expected", "seq"), MALFORMED)
def test_malformed_second_entry_is_rejected_with_its_error(
        build: Callable[[], bytes], expected: type[VerificationError], seq: int) -> None:
    wire = build()
    assert wire != SECOND_WIRE
    error = rejection([WIRES[0], wire])
    assert type(error) is expected, error
    assert error.seq == seq
    assert error.association == AK


def test_naive_recorded_at_is_malformed_not_a_crash() -> None:
    naive = signed_wire(encode_body(msgspec.structs.replace(
        BODY, recorded_at=(T0 + MINUTE).replace(tzinfo=None))))
    # Once, this raised TypeError from the key window comparison: anyone could crash a
    # verifier with a naive time, without any key.
    error = rejection([naive])
    assert type(error) is MalformedEntry
    assert error.seq == 1


@pytest.mark.parametrize("count", [1, 63, 64, 65, 500])
def test_a_batch_sealed_in_parallel_is_byte_identical_to_one_by_one(count: int) -> None:
    # Ed25519 is deterministic, so the parallel path must give exactly the sequential bytes,
    # in order, whichever thread signed which part.
    prev, pairs, one_by_one = GENESIS_HASH, [], []
    for seq in range(1, count + 1):
        body = make_body(seq, prev)
        body_bytes = encode_body(body)
        pairs.append((body, body_bytes))
        one_by_one.append(seal(body, SIGNER))
        prev = entry_hash(body_bytes)
    assert seal_many(pairs, SIGNER) == one_by_one
    assert verify_chain([e.wire for e in seal_many(pairs, SIGNER)], KEYS) == count


def test_a_batch_with_a_body_naming_another_key_is_refused() -> None:
    body = make_body(1, GENESIS_HASH, signer=OTHER)
    with pytest.raises(ValueError, match="key_id"):
        seal_many([(body, encode_body(body))], SIGNER)
