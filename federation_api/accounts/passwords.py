"""Password hashing (Argon2id) and the password policy.

Parameters: Argon2id, 19 MiB of memory (19,456 KiB), 2 iterations, 1 lane, a 16-byte salt and
a 32-byte hash: the minimum OWASP's Password Storage Cheat Sheet recommends today. On this
project's reference machine one hash takes a few tens of milliseconds, which a sign-in can
afford and a thief with the table cannot (each guess costs the same memory and time). Lanes
stay at 1 so concurrent sign-ins do not compete for the two cores. The parameters are written
into every stored hash (PHC string `$argon2id$v=19$m=19456,t=2,p=1$...`), so raising them
later needs no migration: a hash made with other parameters still verifies, and is replaced
at the next successful sign-in (`Verdict.rehash`).

Passwords are normalised to Unicode NFKC before hashing, so the same password typed on
another keyboard (composed or decomposed accents, full-width digits) still matches.

Unknown accounts cost the same as known ones: `verify(None, password)` checks the password
against a dummy hash made with the same parameters, so the time of an answer does not tell
whether an email address has an account.

Policy (NIST SP 800-63B style: length and a block list, no composition rules): at least 12
characters, at most 256, not the email address or its local part, at least 4 different
characters, and not one of the most common passwords (a small list shipped with the package,
`common_passwords.txt`, compared case-insensitively).
"""

from __future__ import annotations

import functools
import secrets
import unicodedata
from dataclasses import dataclass
from importlib import resources
from typing import NamedTuple

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from federation_api.accounts.errors import PasswordRejected

MIN_LENGTH = 12
MAX_LENGTH = 256
MIN_DISTINCT = 4


@dataclass(frozen=True)
class Argon2Parameters:
    """Argon2id cost parameters (memory in KiB)."""

    time_cost: int = 2
    memory_kib: int = 19_456
    parallelism: int = 1
    hash_len: int = 32
    salt_len: int = 16


OWASP_MINIMUM = Argon2Parameters()


class Verdict(NamedTuple):
    """The result of checking a password: whether it matched, and whether the stored hash
    should be replaced by one made with the current parameters."""

    ok: bool
    rehash: bool = False


class PasswordHasher:
    """Hashes and verifies passwords with fixed Argon2id parameters."""

    def __init__(self, parameters: Argon2Parameters = OWASP_MINIMUM) -> None:
        self.parameters = parameters
        self._argon = argon2.PasswordHasher(
            time_cost=parameters.time_cost, memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism, hash_len=parameters.hash_len,
            salt_len=parameters.salt_len, type=argon2.Type.ID)
        # What unknown accounts are checked against: same parameters, so the same cost.
        self.dummy_hash = self._argon.hash(secrets.token_urlsafe(24))

    def hash(self, password: str) -> str:
        """The PHC string of a new hash (fresh salt)."""
        return self._argon.hash(_normalise(password))

    def verify(self, stored: str | None, password: str) -> Verdict:
        """Check `password` against a stored hash; with None (no account, or no password yet)
        the same work is done against a dummy hash and the answer is no."""
        if len(password) > 4 * MAX_LENGTH:
            # No stored password is this long (the policy allows 256 characters, and NFKC
            # shortens composed text at most a few times): bound the work, same answer.
            password, stored = password[:MAX_LENGTH], None
        target = stored if stored is not None else self.dummy_hash
        try:
            self._argon.verify(target, _normalise(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return Verdict(ok=False)
        if stored is None:
            return Verdict(ok=False)
        return Verdict(ok=True, rehash=self._argon.check_needs_rehash(stored))


def _normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_password(password: str, *, email: str) -> None:
    """PasswordRejected (naming the rule) unless `password` meets the policy."""
    field = "password"
    normal = _normalise(password)
    if len(normal) < MIN_LENGTH:
        raise PasswordRejected(f"use at least {MIN_LENGTH} characters (a few unrelated words "
                               f"make a good password)", field=field, rule="password.length")
    if len(normal) > MAX_LENGTH:
        raise PasswordRejected(f"use at most {MAX_LENGTH} characters", field=field,
                               rule="password.max_length")
    folded = normal.casefold()
    address = email.strip().casefold()
    local = address.partition("@")[0]
    if folded in (address, local) or (len(local) >= 4 and folded.startswith(local)
                                      and len(folded) - len(local) <= 4):
        raise PasswordRejected("the password must not be your email address", field=field,
                               rule="password.not_email")
    if len(set(folded)) < MIN_DISTINCT:
        raise PasswordRejected("the password repeats too few characters; use a few unrelated "
                               "words instead", field=field, rule="password.repetitive")
    if folded in common_passwords():
        raise PasswordRejected("this is one of the most common passwords, which attackers "
                               "try first; choose another", field=field,
                               rule="password.common")


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list of common passwords, case-folded."""
    text = resources.files("federation_api.accounts").joinpath("common_passwords.txt")
    return frozenset(line.strip().casefold() for line in text.read_text("utf-8").splitlines()
                     if line.strip() and not line.startswith("#"))
