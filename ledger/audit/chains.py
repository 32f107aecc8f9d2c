"""Checks on one ledger's bytes that run in worker processes of the audit (picklable).

`check_chain` walks a ledger once: canonical bytes, seq, prev-hash, and the Merkle roots at the
checkpoints' sizes (the latest one's and the witnessed one's, a prefix) taken from the same
growing tree, so one pass and O(log n) memory cover both; the audit runs it in a second
process while it replays the same ledger.
`verify_chunk` re-verifies entry signatures under the registry's keys (`--full-signatures`).
Both read only what they are given, so a worker imports little and returns small values.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ledger.chain.entries import LedgerEntry, check_link, entry_hash, open_entry
from ledger.codec import EntryBody, decode_body, decode_canonical, decode_signed
from ledger.errors import VerificationError
from ledger.transparency.merkle import MerkleTree, leaf_hash
from ledger.trust.keyring import Keyring


@dataclass
class Chain:
    """What checking one ledger's chain found (picklable: it comes back from the checker)."""

    count: int | None = None  # entries, when the chain holds
    finding: str | None = None
    roots: dict[int, bytes] = field(default_factory=dict)  # Merkle root at each wanted size
    bodies: list[EntryBody] | None = None  # decoded once, when checked in this process
    seconds: float = 0.0


def chain_job(args: tuple[str, Path, frozenset[int]]) -> Chain:
    """`check_chain` of a ledger file, timed (runs in the checker process)."""
    association, path, wants = args
    started = time.perf_counter()
    wires = list(decode_canonical(path.read_bytes(), list[bytes]))
    chain = check_chain(association, wires, wants, keep_bodies=False)
    chain.seconds = time.perf_counter() - started
    return chain


def check_chain(association: str, wires: list[bytes], wants: frozenset[int], *,
                keep_bodies: bool) -> Chain:
    """Check the chain and compute the Merkle root at each size in `wants`, in one pass (a
    size beyond the ledger gets no root: the caller names that)."""
    previous: LedgerEntry | None = None
    tree = MerkleTree()
    result = Chain(bodies=[] if keep_bodies else None)
    if 0 in wants:
        result.roots[0] = tree.root()
    for position, wire in enumerate(wires, start=1):
        try:
            signed = decode_signed(wire)
            body = decode_body(signed.body)
            entry = LedgerEntry(body=body, wire=wire, entry_hash=entry_hash(signed.body))
            if body.association != association:
                raise VerificationError("entry of another association", seq=position)
            check_link(previous, entry)
        except VerificationError as e:
            return Chain(finding=f"{association}#{position}: {e.reason}")
        previous = entry
        if result.bodies is not None:
            result.bodies.append(body)
        tree.append(leaf_hash(wire))
        if position in wants:
            result.roots[position] = tree.root()
    result.count = len(wires)
    return result


def verify_chunk(args: tuple[list[bytes], Keyring]) -> int:
    """Verify every entry's signature; return the count (raises at the first bad one)."""
    wires, keys = args
    for wire in wires:
        open_entry(wire, keys)
    return len(wires)
