"""Argon2id parameters, verification, rehashing and the password policy."""

from __future__ import annotations

import base64
import unicodedata

import pytest

from federation_api.accounts.errors import PasswordRejected
from federation_api.accounts.passwords import (
    OWASP_MINIMUM,
    Argon2Parameters,
    PasswordHasher,
    check_password,
    common_passwords,
)

HASHER = PasswordHasher()
CHEAP = Argon2Parameters(time_cost=1, memory_kib=8_192)


def _b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def test_hashes_are_argon2id_with_owasps_parameters() -> None:
    stored = HASHER.hash("a long enough passphrase")
    _, kind, version, params, salt, digest = stored.split("$")
    assert (kind, version, params) == ("argon2id", "v=19", "m=19456,t=2,p=1")
    assert len(_b64(salt)) == 16 and len(_b64(digest)) == 32
    assert Argon2Parameters(time_cost=2, memory_kib=19_456, parallelism=1) == OWASP_MINIMUM
    assert HASHER.hash("a long enough passphrase") != stored  # a fresh salt each time


def test_verify_accepts_the_password_and_nothing_else() -> None:
    stored = HASHER.hash("tulip harbour seventeen")
    assert HASHER.verify(stored, "tulip harbour seventeen").ok
    assert not HASHER.verify(stored, "tulip harbour seventeen ").ok
    assert not HASHER.verify(stored, "Tulip harbour seventeen").ok
    assert not HASHER.verify("not a hash", "tulip harbour seventeen").ok


def test_an_unknown_account_is_checked_against_a_dummy_hash_of_the_same_cost() -> None:
    assert HASHER.dummy_hash.split("$")[3] == "m=19456,t=2,p=1"
    assert HASHER.verify(None, "anything at all here") == (False, False)


def test_an_enormous_password_is_refused_without_hashing_all_of_it() -> None:
    long = "x" * 300
    assert HASHER.verify(HASHER.hash(long), long).ok  # the policy refuses it; a hash works
    assert not HASHER.verify(HASHER.hash(long), long * 100).ok


def test_a_hash_made_with_other_parameters_verifies_and_asks_to_be_rehashed() -> None:
    old = PasswordHasher(CHEAP).hash("tulip harbour seventeen")
    verdict = HASHER.verify(old, "tulip harbour seventeen")
    assert verdict.ok and verdict.rehash
    assert HASHER.verify(HASHER.hash("tulip harbour seventeen"),
                         "tulip harbour seventeen") == (True, False)
    assert not HASHER.verify(old, "wrong password here").rehash


def test_composed_and_decomposed_accents_are_the_same_password() -> None:
    composed = unicodedata.normalize("NFC", "café au lait matin")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert HASHER.verify(HASHER.hash(composed), decomposed).ok


@pytest.mark.parametrize(("password", "rule"), [
    ("short pass", "password.length"),
    ("x" * 257, "password.max_length"),
    ("jane.doe@example.org", "password.not_email"),
    ("JANE.DOE@EXAMPLE.ORG", "password.not_email"),
    ("jane.doe1234", "password.not_email"),
    ("abababababab", "password.repetitive"),
    ("Password1234", "password.common"),
    ("QWERTYUIOP123", "password.common"),
    ("correcthorsebatterystaple", "password.common"),
])
def test_the_policy_names_the_rule_a_password_breaks(password: str, rule: str) -> None:
    with pytest.raises(PasswordRejected) as caught:
        check_password(password, email="jane.doe@example.org")
    assert caught.value.rule == rule and caught.value.field == "password"


@pytest.mark.parametrize("password", ["tulip harbour seventeen", "jane.doe-and-the-river",
                                      "ümlaut über alles 42", "x7#Kp!2vQ9zL"])
def test_good_passwords_pass_the_policy(password: str) -> None:
    check_password(password, email="jane.doe@example.org")


def test_the_common_password_list_ships_with_the_package() -> None:
    listed = common_passwords()
    assert len(listed) > 500
    assert all(len(p) >= 12 and p == p.casefold() for p in listed)
