"""NATS user identities as nkeys: a seed file the user keeps, a public key the server knows.

Why nkeys instead of passwords: a server config then holds only public keys, so a leaked or
committed config grants nothing, and the secret never crosses the wire (the client signs the
server's nonce). Every seed is written 0600 by `write_secret`, which creates the file with
that mode so it is never readable by others, not even for a moment.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import nkeys


def new_user_seed() -> str:
    """A fresh nkey user seed (`SU...`), from the OS's random source."""
    return bytes(nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)).decode()


def public_key(seed: str) -> str:
    """The user's public key (`U...`), what server configs list."""
    return bytes(nkeys.from_seed(bytearray(seed.encode())).public_key).decode()


class UserSeeds(msgspec.Struct, frozen=True):
    """The seeds of every NATS user of the topology (secrets: each lives in its own 0600 file,
    given only to the server or process that logs in with it)."""

    hub_admin: str
    sys: str
    leaf: dict[str, str]  # association -> the seed its leaf server logs into the hub with
    node: dict[str, str]  # association -> the seed its node logs into its own leaf with

    @classmethod
    def new(cls, associations: tuple[str, ...]) -> UserSeeds:
        """Fresh seeds for every user."""
        return cls(hub_admin=new_user_seed(), sys=new_user_seed(),
                   leaf={a.lower(): new_user_seed() for a in associations},
                   node={a.lower(): new_user_seed() for a in associations})


def write_secret(path: Path, text: str) -> Path:
    """Write a secret file created 0600 (replacing an older one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path
