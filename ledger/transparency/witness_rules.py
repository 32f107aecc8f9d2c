"""The pure rules that keep a log's view single: when a witness cosigns, when a log signs.

A witness (C2SP tlog-witness) checks a peer's new checkpoint note against the last one it
cosigned for that origin: the log's signature, the same origin, no rollback, no second root
at one size, and a consistency proof from the old tree to the new one (`witness`). The log
applies the same rule to itself before signing a checkpoint of its own ledger
(`next_checkpoint_allowed`). What a witness keeps (`WitnessState`) and its answer
(`CheckpointAccepted` with the state to store, or `CheckpointRefused` with the evidence) are
values; storing them is `witness.py`'s business.

Pure: bytes and values in, a decision or `CheckpointError` out; no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ledger.errors import CheckpointError, VerificationError
from ledger.transparency.checkpoints import Checkpoint, parse_body
from ledger.transparency.notes import check_line, open_note, parse_note


class Refusal(StrEnum):
    """Why a witness will not cosign a checkpoint."""

    MALFORMED = "malformed"  # not a signed note carrying a checkpoint body
    BAD_SIGNATURE = "bad-signature"  # no valid signature by the log's key, or a failing one
    WRONG_ORIGIN = "wrong-origin"  # the checkpoint names another log
    ROLLBACK = "rollback"  # smaller than the checkpoint last cosigned
    FORK = "fork"  # same size as the last cosigned, different root
    INCONSISTENT = "inconsistent"  # no valid consistency proof from the last cosigned


@dataclass(frozen=True, slots=True)
class WitnessState:
    """What a witness keeps per log: the last checkpoint it cosigned (none yet: size 0, no root)."""

    origin: str
    size: int = 0
    root_hash: bytes | None = None

    def __post_init__(self) -> None:
        check_line(self.origin, "origin")
        if self.root_hash is None and self.size != 0:
            raise CheckpointError("a witness state with a size needs its root hash")
        if self.root_hash is not None:  # validates size and hash as a checkpoint would
            Checkpoint(self.origin, self.size, self.root_hash)


@dataclass(frozen=True, slots=True)
class CheckpointAccepted:
    """Cosign `checkpoint`, and store `state` atomically with the check that produced it."""

    checkpoint: Checkpoint
    state: WitnessState


@dataclass(frozen=True, slots=True)
class CheckpointRefused:
    """Do not cosign; `evidence` is the note exactly as received (it may prove misbehaviour)."""

    reason: Refusal
    detail: str
    evidence: bytes


WitnessDecision = CheckpointAccepted | CheckpointRefused
ConsistencyCheck = Callable[[int, bytes, int, bytes], bool]
"""(old_size, old_root, new_size, new_root) -> whether the log's consistency proof verifies."""


def witness(state: WitnessState, note: bytes, origin_keys: Mapping[str, bytes],
            consistency_ok: ConsistencyCheck) -> WitnessDecision:
    """Decide whether to cosign a peer's new checkpoint note, given the last one cosigned.

    `origin_keys` are the log keys trusted for `state.origin`. `consistency_ok` verifies the
    proof from `state` to the new checkpoint; it is not called when there is nothing to prove
    (no earlier checkpoint, an empty earlier tree, or the same tree again). It may raise a
    VerificationError instead of returning False.
    """
    def refuse(reason: Refusal, detail: str) -> CheckpointRefused:
        return CheckpointRefused(reason, detail, note)

    try:
        parse_note(note)
    except CheckpointError as e:
        return refuse(Refusal.MALFORMED, e.reason)
    try:
        text, _ = open_note(note, origin_keys)
    except CheckpointError as e:
        return refuse(Refusal.BAD_SIGNATURE, e.reason)
    try:
        new = parse_body(text)
    except CheckpointError as e:
        return refuse(Refusal.MALFORMED, e.reason)
    if new.origin != state.origin:
        return refuse(Refusal.WRONG_ORIGIN, f"origin {new.origin!r} is not {state.origin!r}")
    accepted = CheckpointAccepted(new, WitnessState(new.origin, new.size, new.root_hash))
    if state.root_hash is None:
        return accepted  # first checkpoint seen for this log: nothing to be consistent with
    if new.size < state.size:
        return refuse(Refusal.ROLLBACK, f"size {new.size} is below the cosigned {state.size}")
    if new.size == state.size:
        if new.root_hash != state.root_hash:
            return refuse(Refusal.FORK, f"size {new.size} has a different root than cosigned")
        return accepted
    if state.size > 0:  # every tree extends the empty tree
        try:
            ok = consistency_ok(state.size, state.root_hash, new.size, new.root_hash)
        except VerificationError as e:
            return refuse(Refusal.INCONSISTENT, e.reason)
        if not ok:
            return refuse(Refusal.INCONSISTENT,
                          f"no consistency from size {state.size} to {new.size}")
    return accepted


# -- the log's own guard -----------------------------------------------------------------------


def next_checkpoint_allowed(last_signed: Checkpoint | None, new: Checkpoint,
                            consistent: bool) -> None:
    """Raise CheckpointError if signing `new` would contradict the last checkpoint signed.

    A log must never sign two inconsistent checkpoints: `new` must have the same origin, must not
    be smaller, must keep the root at the same size, and (when larger) `consistent` must say a
    consistency proof from `last_signed` to `new` verifies.
    """
    if last_signed is None:
        return
    if new.origin != last_signed.origin:
        raise CheckpointError(f"origin {new.origin!r} is not {last_signed.origin!r}")
    if new.size < last_signed.size:
        raise CheckpointError(f"size {new.size} is below the signed {last_signed.size}")
    if new.size == last_signed.size:
        if new.root_hash != last_signed.root_hash:
            raise CheckpointError(f"size {new.size} was already signed with another root")
        return
    if not consistent:
        raise CheckpointError(f"size {new.size} is not consistent with the signed "
                              f"{last_signed.size}")
