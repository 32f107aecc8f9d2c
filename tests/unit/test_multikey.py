"""Multikey encoding of Ed25519 keys, base58btc, and did:web identifiers and URLs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.credentials.multikey import (
    base58btc_decode,
    base58btc_encode,
    decode_public_key,
    did_web,
    did_web_url,
    encode_public_key,
    parse_did_web,
)
from ledger.errors import DidDocumentRefused, MalformedCredential
from ledger.signing import Signer


@given(st.binary(max_size=80))
def test_base58btc_round_trips_any_bytes_including_leading_zeros(data: bytes) -> None:
    assert base58btc_decode(base58btc_encode(data)) == data


def test_leading_zero_bytes_become_ones() -> None:
    assert base58btc_encode(b"\0\0\x01") == "112"
    assert base58btc_encode(b"") == ""


def test_an_ed25519_multikey_starts_z6mk_and_round_trips() -> None:
    key = Signer.generate().public_key
    multikey = encode_public_key(key)
    assert multikey.startswith("z6Mk")
    assert decode_public_key(multikey) == key


@pytest.mark.parametrize(("multikey", "words"), [
    ("u" + "A" * 40, "base58btc"),
    ("z" + base58btc_encode(b"\xec\x01" + bytes(32)), "not an Ed25519 key"),  # X25519
    ("z" + base58btc_encode(b"\xed\x01" + bytes(31)), "not an Ed25519 key"),
    ("z6Mk0", "base58btc character"),
])
def test_other_keys_are_refused(multikey: str, words: str) -> None:
    with pytest.raises(MalformedCredential, match=words):
        decode_public_key(multikey)


@pytest.mark.parametrize(("did", "url"), [
    ("did:web:node.example", "https://node.example/.well-known/did.json"),
    ("did:web:localhost%3A8765", "https://localhost:8765/.well-known/did.json"),
    ("did:web:alliance.example:associations:ak",
     "https://alliance.example/associations/ak/did.json"),
    ("did:web:127.0.0.1%3A443", "https://127.0.0.1:443/.well-known/did.json"),
])
def test_did_web_resolves_to_its_url_and_back(did: str, url: str) -> None:
    assert did_web_url(did) == url
    host, port, path = parse_did_web(did)
    assert did_web(host, port, path) == did


@pytest.mark.parametrize("did", [
    "did:key:z6Mk",
    "did:web:",
    "did:web:Node.Example",  # upper case: not the canonical spelling
    "did:web:node.example%3a8765",  # lower-case escape
    "did:web:node.example%3A0",
    "did:web:node.example%3A99999",
    "did:web:node.example%3Ax",
    "did:web:node.example#key-1",
    "did:web:node.example/path",
    "did:web:node.example?x=1",
    "did:web:no_underscore.example",
    "did:web:node.example:a%2Fb",
    "did:web:-bad.example",
])
def test_anything_but_a_canonical_did_web_is_refused(did: str) -> None:
    with pytest.raises(DidDocumentRefused):
        parse_did_web(did)


def test_building_a_did_web_refuses_what_it_cannot_carry() -> None:
    with pytest.raises(ValueError):
        did_web("::1")
    with pytest.raises(ValueError):
        did_web("node.example", 70000)
    assert did_web("Node.Example", 8443) == "did:web:node.example%3A8443"
