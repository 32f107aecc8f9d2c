"""Signing keys, key files and commitment keys (DESIGN invariants 1, 7 and 8)."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from ledger.chain.commitments import CommitmentKey, commitment
from ledger.errors import BadSignature, KeyFileError
from ledger.signing import Signer, Verifier, key_id_of, public_path

MESSAGE = b"an entry body"
# Every permission bit a group or other user could hold: each alone must make a key file refused.
LOOSE_MODES = [0o640, 0o604, 0o620, 0o602, 0o610, 0o601, 0o644, 0o660, 0o666, 0o777]
TIGHT_MODES = [0o600, 0o400, 0o700]
SIGNER = Signer.generate()
COMMITMENT_KEY = CommitmentKey(b"k" * 32)
OTHER_COMMITMENT_KEY = CommitmentKey(b"K" * 32)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- keys and signatures ----------------------------------------------------------------------


def test_generated_keys_are_distinct_ed25519_keys() -> None:
    a, b = Signer.generate(), Signer.generate()
    assert len(a.public_key) == 32
    assert a.public_key != b.public_key
    assert a.key_id != b.key_id


def test_key_id_is_hex_sha256_of_the_raw_public_key() -> None:
    signer = Signer.generate()
    expected = hashlib.sha256(signer.public_key).hexdigest()
    assert signer.key_id == expected
    assert key_id_of(signer.public_key) == expected
    assert Verifier(signer.public_key).key_id == expected


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_key_id_refuses_a_public_key_that_is_not_32_bytes(length: int) -> None:
    with pytest.raises(KeyFileError):
        key_id_of(bytes(length))


def test_signature_verifies_under_the_signers_public_key() -> None:
    signer = Signer.generate()
    signature = signer.sign(MESSAGE)
    assert len(signature) == 64
    Verifier(signer.public_key).verify(signature, MESSAGE)


def test_signature_by_another_key_is_bad() -> None:
    signer, other = Signer.generate(), Signer.generate()
    with pytest.raises(BadSignature):
        Verifier(signer.public_key).verify(other.sign(MESSAGE), MESSAGE)


@given(message=st.binary(min_size=1, max_size=200), flip=st.integers(min_value=0))
def test_signature_over_a_changed_message_is_bad(message: bytes, flip: int) -> None:
    signature = SIGNER.sign(message)
    changed = bytearray(message)
    position = flip % (len(changed) * 8)
    changed[position // 8] ^= 1 << (position % 8)
    with pytest.raises(BadSignature):
        Verifier(SIGNER.public_key).verify(signature, bytes(changed))


# -- key files --------------------------------------------------------------------------------


def test_saved_key_loads_as_the_same_key(tmp_path: Path) -> None:
    signer = Signer.generate()
    path = tmp_path / "keys" / "signing.pem"
    signer.save(path)
    loaded = Signer.load(path)
    assert loaded.public_key == signer.public_key
    assert loaded.key_id == signer.key_id
    # Ed25519 is deterministic: the same key gives the same signature.
    assert loaded.sign(MESSAGE) == signer.sign(MESSAGE)
    assert public_path(path).read_text().strip() == signer.public_key.hex()


def test_saved_key_with_passphrase_is_encrypted_and_loads_with_it(tmp_path: Path) -> None:
    signer = Signer.generate()
    path = tmp_path / "signing.pem"
    signer.save(path, passphrase=b"correct horse")
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    loaded = Signer.load(path, passphrase=b"correct horse")
    assert loaded.public_key == signer.public_key


@pytest.mark.parametrize("passphrase", [b"wrong horse", None, b""],
                         ids=["wrong_passphrase", "no_passphrase", "empty_passphrase"])
def test_encrypted_key_refuses_a_wrong_or_missing_passphrase(tmp_path: Path,
                                                             passphrase: bytes | None) -> None:
    path = tmp_path / "signing.pem"
    Signer.generate().save(path, passphrase=b"correct horse")
    with pytest.raises(KeyFileError):
        Signer.load(path, passphrase=passphrase)


def test_private_key_file_is_written_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    old_umask = os.umask(0)  # a permissive umask must not loosen the key file
    try:
        Signer.generate().save(path)
    finally:
        os.umask(old_umask)
    assert mode_of(path) == 0o600


def test_save_never_overwrites_an_existing_key(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    first = Signer.generate()
    first.save(path)
    before = path.read_bytes()
    with pytest.raises((FileExistsError, KeyFileError)):
        Signer.generate().save(path)
    assert path.read_bytes() == before
    assert Signer.load(path).key_id == first.key_id


@pytest.mark.parametrize("mode", LOOSE_MODES, ids=[oct(m) for m in LOOSE_MODES])
def test_load_refuses_a_key_file_others_can_access(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "signing.pem"
    Signer.generate().save(path)
    path.chmod(mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        Signer.load(path)


@pytest.mark.parametrize("mode", TIGHT_MODES, ids=[oct(m) for m in TIGHT_MODES])
def test_load_accepts_a_key_file_only_its_owner_can_access(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "signing.pem"
    signer = Signer.generate()
    signer.save(path)
    path.chmod(mode)
    assert Signer.load(path).key_id == signer.key_id


def _not_an_ed25519_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.mark.parametrize("content", [
    pytest.param(b"", id="empty_file"),
    pytest.param(b"not a key\n", id="not_pem"),
    pytest.param(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                 id="pem_with_garbage"),
    pytest.param(_not_an_ed25519_pem(), id="ecdsa_key_not_ed25519"),
])
def test_load_refuses_a_file_that_is_not_an_ed25519_private_key(tmp_path: Path,
                                                               content: bytes) -> None:
    path = tmp_path / "signing.pem"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError):
        Signer.load(path)


def test_load_of_a_missing_key_file_is_a_key_file_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        Signer.load(tmp_path / "absent.pem")


# -- commitment keys --------------------------------------------------------------------------


def test_commitment_key_file_is_written_with_mode_0600_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "commitment.key"
    key = CommitmentKey.generate()
    old_umask = os.umask(0)
    try:
        key.save(path)
    finally:
        os.umask(old_umask)
    assert mode_of(path) == 0o600
    assert CommitmentKey.load(path).salt("agg", 1) == key.salt("agg", 1)


def test_commitment_key_save_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "commitment.key"
    key = CommitmentKey.generate()
    key.save(path)
    with pytest.raises((FileExistsError, KeyFileError)):
        CommitmentKey.generate().save(path)
    assert CommitmentKey.load(path).salt("agg", 1) == key.salt("agg", 1)


@pytest.mark.parametrize("mode", LOOSE_MODES, ids=[oct(m) for m in LOOSE_MODES])
def test_commitment_key_load_refuses_a_file_others_can_access(tmp_path: Path,
                                                              mode: int) -> None:
    path = tmp_path / "commitment.key"
    CommitmentKey.generate().save(path)
    path.chmod(mode)
    with pytest.raises(KeyFileError):
        CommitmentKey.load(path)


@pytest.mark.parametrize("content", [b"", bytes(31), bytes(33)],
                         ids=["empty", "31_bytes", "33_bytes"])
def test_commitment_key_must_be_32_bytes(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "commitment.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError):
        CommitmentKey.load(path)
    with pytest.raises(KeyFileError):
        CommitmentKey(content)


def test_commitment_key_load_of_a_missing_file_is_a_key_file_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        CommitmentKey.load(tmp_path / "absent.key")


def test_salt_is_hmac_of_aggregate_and_version_under_the_node_secret() -> None:
    secret = bytes(range(32))
    key = CommitmentKey(secret)
    expected = hmac.new(secret, b"4f0c:7", hashlib.sha256).digest()
    assert key.salt("4f0c", 7) == expected
    assert key.salt("4f0c", 7) == key.salt("4f0c", 7)


events = st.tuples(st.text(min_size=1, max_size=40), st.integers(min_value=1, max_value=2**40))


@given(first=events, second=events)
def test_salts_differ_across_events(first: tuple[str, int], second: tuple[str, int]) -> None:
    if first == second:
        assert COMMITMENT_KEY.salt(*first) == COMMITMENT_KEY.salt(*second)
    else:
        assert COMMITMENT_KEY.salt(*first) != COMMITMENT_KEY.salt(*second)


@given(event=events)
def test_salts_differ_across_node_keys(event: tuple[str, int]) -> None:
    assert COMMITMENT_KEY.salt(*event) != OTHER_COMMITMENT_KEY.salt(*event)


def test_commitment_is_salted_sha256_and_never_the_plain_hash() -> None:
    key = CommitmentKey.generate()
    private = b"transcript: Marine Biology, GPA 3.9"
    salted = key.commit("agg", 2, private)
    assert salted == hashlib.sha256(key.salt("agg", 2) + private).digest()
    assert salted == commitment(key.salt("agg", 2), private)
    # Guessable data must not be testable against the ledger without the node's secret.
    assert salted != hashlib.sha256(private).digest()
    assert salted != CommitmentKey.generate().commit("agg", 2, private)
    assert salted != key.commit("agg", 3, private)
