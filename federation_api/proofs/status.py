"""Making status proofs on a node, and replaying them with the projection code.

`build_status_proof` gathers the entries that decide one endorsement's status from the node's
stores, with an inclusion proof of each under the latest checkpoint the node holds for that
ledger (for its own ledger it signs a new one when the latest does not cover them yet; for a
peer's it raises `CheckpointWanted`, and the routes ask the peer for one over NATS).
`replay_status` is the `Replay` that `ledger.proofs.status` needs: the very `Projector` the
nodes run, on a private in-memory SQLite database, so an offline verifier computes a status
exactly as every node does, with no second implementation of the rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

from federation_api.errors import EdgeError
from federation_api.node.root import Node
from ledger.chain.entries import entry_hash
from ledger.codec import decode_payload, decode_signed, decode_stored
from ledger.errors import LedgerError
from ledger.proofs.status import (
    PROOF_FORMAT,
    LedgerCheckpoint,
    ProvenEntry,
    StatusClaim,
    StatusProof,
    StatusProofError,
)
from ledger.storage.database import Database, DatabaseUrl
from ledger.transparency.checkpoints import parse_body
from ledger.transparency.merkle import leaf_hash, verify_inclusion
from ledger.transparency.notes import parse_note
from projections.errors import ProjectionError
from projections.projector import Projector
from projections.rows import StatusAnswer


class ProofUnavailable(EdgeError, LedgerError):
    """The node cannot prove this answer yet (no registry, or no checkpoint covering an entry)."""


class CheckpointWanted(ProofUnavailable):
    """A peer's entry is held here, but no checkpoint of the peer's ledger covering it has
    arrived yet: only that peer can sign one, so the caller may ask it to (and retry)."""

    def __init__(self, association: str, seq: int) -> None:
        super().__init__(f"no checkpoint of {association}'s ledger covering its entry {seq} "
                         f"has reached this node yet; try again later")
        self.association = association
        self.seq = seq


def claim_of(answer: StatusAnswer) -> StatusClaim:
    """The proof's form of a projection answer."""
    return StatusClaim(endorsement_id=answer.endorsement_id, as_of=answer.as_of,
                       family_name=answer.family_name, given_name=answer.given_name,
                       level=str(answer.level),
                       designation=None if answer.designation is None else str(answer.designation),
                       association=answer.association, recorded_status=str(answer.status),
                       standing=str(answer.standing), valid_through=answer.valid_through)


# -- making a proof ----------------------------------------------------------------------------


def build_status_proof(node: Node, answer: StatusAnswer, now: dt.datetime) -> StatusProof:
    """A bundle proving `answer` (a projection answer the node just gave)."""
    registry = node.registry
    if registry is None:
        raise ProofUnavailable("this node has no Alliance trust registry, so it cannot make "
                               "proofs that verify without trusting it")
    wires = decisive_entries(node, answer.endorsement_id)
    _require_recognitions(wires)
    by_association: dict[str, list[tuple[int, bytes]]] = {}
    for wire in wires:
        body = decode_stored(wire)
        by_association.setdefault(body.association, []).append((body.seq, wire))
    entries: list[ProvenEntry] = []
    checkpoints: list[LedgerCheckpoint] = []
    for association in sorted(by_association):
        held = sorted(by_association[association])
        note, size = _covering_checkpoint(node, association, held[-1][0], now)
        checkpoints.append(LedgerCheckpoint(association=association, note=note))
        root = parse_body(parse_note(note).text).root_hash
        for seq, wire in held:
            path = node.log.inclusion(association, seq, size)
            # Cheap (log n hashes), and it means a node never hands out a proof that fails.
            verify_inclusion(leaf_hash(wire), seq - 1, size, path, root)
            entries.append(ProvenEntry(wire=wire, inclusion=tuple(path)))
    return StatusProof(format=PROOF_FORMAT, made_by=node.association, made_at=now,
                       claim=claim_of(answer), entries=tuple(entries),
                       checkpoints=tuple(checkpoints), genesis=node.registry_dir.genesis(),
                       registry=tuple(node.registry_dir.entries()))


def decisive_entries(node: Node, endorsement_id: str) -> list[bytes]:
    """Every entry the projections used for this endorsement, from any association's ledger.

    Its status history names the (association, seq) of each entry that changed its status,
    including another association's recognition of it; its roster row names the last entry
    that changed it. A name correction changes no status, so it is found by the gap it leaves
    in the aggregate's versions (which are gapless), scanning only between its neighbours.
    """
    row = node.projector.endorsement(endorsement_id)
    if row is None:
        return []
    wanted = {(h.association, h.seq) for h in node.projector.history(endorsement_id)}
    wanted.add((row.association, row.last_seq))
    found: dict[tuple[str, int], bytes] = {}
    for association, seq in sorted(wanted):
        wire = next(node.ledger.wires(association, seq, seq), None)
        if wire is not None:
            found[(association, seq)] = wire
    own = sorted((seq, decode_stored(w).aggregate_version) for (a, seq), w in found.items()
                 if a == row.association and decode_stored(w).aggregate_id == row.aggregate_id)
    for (seq, version), (next_seq, next_version) in pairwise(own):
        if next_version - version > 1:
            for wire in node.ledger.wires(row.association, seq + 1, next_seq - 1):
                if decode_stored(wire).aggregate_id == row.aggregate_id:
                    found[(row.association, decode_stored(wire).seq)] = wire
    return [found[k] for k in sorted(found)]


def _require_recognitions(wires: Sequence[bytes]) -> None:
    """A recorded transfer out names the peer's recognition; until that entry has reached this
    node (replication lags), the bundle would be incomplete, so do not make one."""
    held = {entry_hash(decode_signed(w).body).hex() for w in wires}
    for wire in wires:
        body = decode_stored(wire)
        if body.event_type != "EndorsementTransferredOut":
            continue
        wanted = decode_payload(body).get("recognition_entry_hash")
        if wanted not in held:
            raise ProofUnavailable(f"the recognition that {body.association}#{body.seq} "
                                   f"records has not reached this node yet; try again later")


def _covering_checkpoint(node: Node, association: str, seq: int,
                         now: dt.datetime) -> tuple[bytes, int]:
    """A checkpoint held for `association` that covers entry `seq`, and its size.

    The latest witnessed one is preferred (its cosignatures say the peers saw the same
    history), then the latest one; for its own ledger the node signs a new checkpoint only
    when neither reaches `seq` yet (witnesses cosign it later, so that proof is unwitnessed).
    """
    for note in (node.log.latest_witnessed_checkpoint(association),
                 node.log.latest_checkpoint(association)):
        if note is not None and _size_of(note) >= seq:
            return note, _size_of(note)
    if association == node.association:
        note = node.log.sign_checkpoint(association, node.signer, now)
        if _size_of(note) >= seq:
            return note, _size_of(note)
    raise CheckpointWanted(association, seq)


def checkpoint_size(node: Node, association: str) -> int:
    """The size of the latest checkpoint of `association`'s ledger held here (0: none)."""
    return _size_of(node.log.latest_checkpoint(association))


def covered(node: Node, association: str, seq: int) -> bool:
    """Whether the node holds a checkpoint of `association`'s ledger covering entry `seq`."""
    return checkpoint_size(node, association) >= seq


def _size_of(note: bytes | None) -> int:
    return 0 if note is None else parse_body(parse_note(note).text).size


# -- replaying a proof -------------------------------------------------------------------------


def replay_status(wires: Sequence[bytes], endorsement_id: str,
                  on: dt.date) -> StatusClaim | None:
    """The status the projections compute from these (already verified) entries alone."""
    db = Database(DatabaseUrl(dialect="sqlite", path=Path(":memory:")))
    try:
        projector = Projector(db)
        for wire in sorted(wires, key=_position):
            body = decode_stored(wire)
            # A bundle holds a few entries of each ledger, not the ledger: tell the projector
            # that the ones before each entry are applied, so it does not see a gap. What the
            # skipped entries could have changed is what the proof's limits speak of.
            with db.transaction() as cur:
                cur.execute("INSERT INTO projection_tracking (association, seq) VALUES (?, ?) "
                            "ON CONFLICT (association) DO UPDATE SET seq = excluded.seq",
                            (body.association, body.seq - 1))
            try:
                projector.apply_wires([wire])
            except ProjectionError as e:  # e.g. a gap: two entries claiming one position
                raise StatusProofError(f"the entry cannot be replayed: {e}",
                                       association=body.association, seq=body.seq) from e
        faults = projector.faults()
        if faults:
            association, seq, reason = faults[0]
            raise StatusProofError(f"the entry breaks a projection rule: {reason}",
                                   association=association, seq=seq)
        answer = projector.status_as_of(endorsement_id, on)
        return None if answer is None else claim_of(answer)
    finally:
        db.close()


def _position(wire: bytes) -> tuple[str, int]:
    body = decode_stored(wire)
    return body.association, body.seq
