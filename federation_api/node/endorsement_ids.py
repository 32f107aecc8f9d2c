"""Public endorsement ids: association prefix plus 8 Crockford base-32 characters.

Random rather than sequential, so that ids cannot be walked; 40 bits make a collision within
one association vanishingly rare, and a collision fails loudly (the aggregate exists). When a
command carries an idempotency key, the id is derived from it instead, so that a retry after
a lost answer names the same endorsement rather than creating a second one.
"""

from __future__ import annotations

import hashlib
import secrets

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U


def new_endorsement_id(association: str, seed: str | None = None) -> str:
    """e.g. 'AK-7Q4M2XKD'; deterministic for a given seed."""
    raw = hashlib.sha256(seed.encode()).digest()[:5] if seed else secrets.token_bytes(5)
    number = int.from_bytes(raw, "big")
    chars = [_ALPHABET[(number >> shift) & 31] for shift in range(35, -1, -5)]
    return f"{association}-{''.join(chars)}"
