"""Bitstring Status Lists: bit order, deterministic encoding, bounded decoding, list hashes."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.credentials import MIN_LIST_SIZE, StatusPurpose
from ledger.credentials.jsonld import canonicalize
from ledger.credentials.status_list import (
    MAX_LIST_SIZE,
    StatusBits,
    build_status_list_credential,
    decode_list,
    encode_list,
    read_status_list_credential,
    status_entry,
)
from ledger.errors import StatusListRefused

URL = "https://localhost:8765/status/suspension/1"
T0 = dt.datetime(2026, 1, 15, 10, 0, tzinfo=dt.UTC)


def encoded(raw: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(("index", "byte", "mask"), [
    (0, 0, 0x80), (7, 0, 0x01), (8, 1, 0x80), (65537, 8192, 0x40), (131071, 16383, 0x01)])
def test_index_zero_is_the_leftmost_bit_of_the_first_byte(index: int, byte: int,
                                                          mask: int) -> None:
    bits = StatusBits.empty().with_bits([index])
    assert bits.data[byte] == mask
    assert bits.get(index)
    assert bits.set_count == 1


@settings(max_examples=50)
@given(st.sets(st.integers(0, MIN_LIST_SIZE - 1), max_size=200))
def test_set_bits_survive_encoding_and_decoding(indexes: set[int]) -> None:
    bits = StatusBits.empty().with_bits(indexes)
    decoded = decode_list(encode_list(bits))
    assert decoded == bits
    assert decoded.set_count == len(indexes)
    assert all(decoded.get(i) for i in indexes)


def test_clearing_a_bit_restores_the_list_and_its_hash() -> None:
    empty = StatusBits.empty()
    assert empty.with_bits([42]).with_bits([42], value=False).list_hash == empty.list_hash


def test_the_encoding_is_deterministic_gzip_with_mtime_zero() -> None:
    bits = StatusBits.empty().with_bits([1, 99, 4242])
    first, second = encode_list(bits), encode_list(bits)
    assert first == second and first.startswith("u")
    body = first[1:]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == bytes(4)  # GZIP magic, MTIME 0


def test_the_list_hash_is_sha256_of_the_bits_whatever_the_compressor_wrote() -> None:
    bits = StatusBits.empty().with_bits([7])
    other_compressor = encoded(gzip.compress(bits.data, compresslevel=1, mtime=12345))
    assert other_compressor != encode_list(bits)
    assert decode_list(other_compressor).list_hash == bits.list_hash == hashlib.sha256(
        bits.data).hexdigest()


@pytest.mark.parametrize(("value", "words"), [
    ("z" + "A" * 20, "base64url"),
    (12, "base64url"),
    ("u!!!!", "does not decode"),
    ("u" + encode_list(StatusBits.empty())[1:].replace("A", "+"), "does not decode"),
    (encoded(b"not gzip at all"), "does not decode"),
    (encoded(gzip.compress(bytes(MIN_LIST_SIZE // 8 - 1))), "131072"),
    (encoded(gzip.compress(bytes(MIN_LIST_SIZE // 8)) + b"trailing"), "one complete GZIP"),
    (encoded(gzip.compress(bytes(MIN_LIST_SIZE // 8))[:-4]), "one complete GZIP"),
], ids=["other multibase", "not text", "bad base64", "standard alphabet", "not gzip",
        "too short", "trailing", "truncated"])
def test_bad_encodings_are_refused(value: object, words: str) -> None:
    with pytest.raises(StatusListRefused, match=words):
        decode_list(value)


def test_a_compression_bomb_is_refused_without_inflating_it() -> None:
    bomb = encoded(gzip.compress(bytes(MAX_LIST_SIZE // 8 * 8)))  # 16 MiB of zeros, ~16 KiB
    assert len(bomb) < 40_000
    with pytest.raises(StatusListRefused, match="more than"):
        decode_list(bomb)


def test_lists_shorter_than_the_minimum_or_not_whole_bytes_do_not_exist() -> None:
    with pytest.raises(StatusListRefused):
        StatusBits.empty(MIN_LIST_SIZE - 8)
    with pytest.raises(StatusListRefused):
        StatusBits.empty(MIN_LIST_SIZE + 1)
    with pytest.raises(StatusListRefused, match="outside the list"):
        StatusBits.empty().get(MIN_LIST_SIZE)


def test_an_entry_names_its_index_as_a_string_under_an_id_of_its_own() -> None:
    entry = status_entry(URL, StatusPurpose.SUSPENSION, 4242)
    assert entry == {"id": f"{URL}#4242", "type": "BitstringStatusListEntry",
                     "statusPurpose": "suspension", "statusListIndex": "4242",
                     "statusListCredential": URL}


def test_the_list_credential_is_safe_json_ld_and_reads_back() -> None:
    bits = StatusBits.empty().with_bits([4242])
    credential = build_status_list_credential(URL, "did:web:localhost%3A8765",
                                              StatusPurpose.SUSPENSION, bits, T0,
                                              T0 + dt.timedelta(days=1), ttl_ms=300_000)
    canonicalize(credential)
    published = read_status_list_credential(credential)
    assert (published.url, published.issuer, published.purpose) == (
        URL, "did:web:localhost%3A8765", StatusPurpose.SUSPENSION)
    assert published.bits == bits
    assert credential["validUntil"] == "2026-01-16T10:00:00Z"
    assert credential["credentialSubject"]["ttl"] == 300_000


def test_a_list_credential_with_an_unknown_purpose_is_refused() -> None:
    credential = build_status_list_credential(URL, "did:web:localhost%3A8765",
                                              StatusPurpose.SUSPENSION, StatusBits.empty(), T0)
    credential["credentialSubject"]["statusPurpose"] = "refresh"
    with pytest.raises(StatusListRefused, match="refresh"):
        read_status_list_credential(credential)
