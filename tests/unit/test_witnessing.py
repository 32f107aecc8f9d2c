"""The registry's witness rules: quorum, witness keys, and which cosignature lines count."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from ledger.codec import encode
from ledger.errors import VerificationError
from ledger.signing import Signer
from ledger.transparency.checkpoints import Checkpoint, add_cosignature
from ledger.transparency.cosigners import (
    association_of_origin,
    association_of_witness,
    is_witnessed_by_quorum,
    open_origin_checkpoint,
    verified_cosigners,
    witness_keys,
    witness_name,
)
from ledger.transparency.notes import sign_note
from ledger.trust.registry import (
    Action,
    Genesis,
    RegistryState,
    apply_entry,
    initial_state,
    propose,
    wire_of,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
GOVERNANCE = Signer.generate()


def _append(state: RegistryState, action: Action, at: dt.datetime = T0,
            **fields: object) -> RegistryState:
    body = state.next_body(action, issued_at=at, **fields)
    return apply_entry(state, wire_of(propose(body).with_signature(GOVERNANCE)))


def _alliance(ids: tuple[str, ...], *, genesis_quorum: int = 0
              ) -> tuple[RegistryState, dict[str, Signer]]:
    state = initial_state(Genesis(alliance="Test", governance_keys=(GOVERNANCE.public_key,),
                                  threshold=1, created_at=T0, witness_quorum=genesis_quorum))
    keys = {a: Signer.generate() for a in ids}
    for association, signer in keys.items():
        state = _append(state, Action.ADMIT, association=association, name=association,
                        public_key=signer.public_key, effective_at=T0)
    return state, keys


def _note(origin: str, signer: Signer, size: int = 3) -> bytes:
    body = Checkpoint(f"alliance-ledger/{origin}", size, bytes(range(32))).body()
    return sign_note(body, f"alliance-ledger/{origin}", signer)


def _ts(at: dt.datetime) -> int:
    return int(at.timestamp())


@pytest.mark.parametrize(("active", "quorum"), [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3),
                                                (30, 15)])
def test_default_quorum_is_a_majority_of_the_peers(active: int, quorum: int) -> None:
    ids = tuple(f"A{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(active))
    state, _ = _alliance(ids)
    assert state.witness_quorum == quorum


def test_suspended_associations_do_not_count_towards_the_default() -> None:
    state, _ = _alliance(("AK", "MI", "TX", "NY", "CA"))
    assert state.witness_quorum == 3
    state = _append(state, Action.SUSPEND, association="CA", effective_at=T0)
    state = _append(state, Action.WITHDRAW, association="NY", effective_at=T0)
    assert state.witness_quorum == 2


def test_governance_sets_and_resets_the_witness_quorum() -> None:
    state, _ = _alliance(("AK", "MI", "TX"))
    state = _append(state, Action.WITNESS_QUORUM, threshold=1)
    assert (state.configured_witness_quorum, state.witness_quorum) == (1, 1)
    state = _append(state, Action.WITNESS_QUORUM, threshold=0)
    assert state.witness_quorum == 2
    with pytest.raises(VerificationError, match="witness quorum"):
        _append(state, Action.WITNESS_QUORUM, threshold=-1)
    unsigned = propose(state.next_body(Action.WITNESS_QUORUM, issued_at=T0, threshold=1))
    with pytest.raises(VerificationError, match="governance signatures"):
        apply_entry(state, wire_of(unsigned))


def test_genesis_quorum_field_keeps_old_genesis_digests() -> None:
    class OldGenesis(msgspec.Struct, frozen=True, kw_only=True):
        alliance: str
        governance_keys: tuple[bytes, ...]
        threshold: int
        created_at: dt.datetime

    fields = {"alliance": "Test", "governance_keys": (GOVERNANCE.public_key,), "threshold": 1,
              "created_at": T0}
    assert Genesis(**fields).digest() == Genesis(**fields, witness_quorum=0).digest()
    assert encode(Genesis(**fields)) == encode(OldGenesis(**fields))
    assert Genesis(**fields, witness_quorum=2).digest() != Genesis(**fields).digest()
    assert _alliance(("AK", "MI", "TX"), genesis_quorum=1)[0].witness_quorum == 1
    with pytest.raises(VerificationError):
        Genesis(**fields, witness_quorum=-1)


@pytest.mark.parametrize(("name", "expected"), [
    ("alliance-witness/MI", "MI"), ("alliance-witness/mi", None), ("alliance-witness/", None),
    ("alliance-ledger/MI", None), ("alliance-witness/M1", None), ("witness/MI", None)])
def test_witness_names(name: str, expected: str | None) -> None:
    assert association_of_witness(name) == expected


def test_origin_names() -> None:
    assert association_of_origin("alliance-ledger/AK") == "AK"
    assert association_of_origin("alliance-witness/AK") is None
    assert witness_name("tx") == "alliance-witness/TX"


def test_witness_keys_leave_out_the_origin_and_keys_not_valid_then() -> None:
    state, keys = _alliance(("AK", "MI", "TX"))
    later = T0 + dt.timedelta(days=10)
    rotated = Signer.generate()
    state = _append(state, Action.ADD_KEY, association="TX", public_key=rotated.public_key,
                    effective_at=later)
    assert witness_keys(state, T0 + dt.timedelta(days=1), origin="AK") == {
        "alliance-witness/MI": keys["MI"].public_key,
        "alliance-witness/TX": keys["TX"].public_key}
    assert witness_keys(state, later)["alliance-witness/TX"] == rotated.public_key
    assert witness_keys(state, T0 - dt.timedelta(days=1)) == {}


def test_only_valid_member_cosignatures_count() -> None:
    state, keys = _alliance(("AK", "MI", "TX"))
    at = _ts(T0 + dt.timedelta(hours=1))
    note = _note("AK", keys["AK"])
    cosigned = add_cosignature(note, witness_name("MI"), keys["MI"], at)
    assert verified_cosigners(cosigned, state) == {"MI": at}
    assert not is_witnessed_by_quorum(cosigned, state)  # quorum 2
    hostile = cosigned
    for name, signer in ((witness_name("ZZ"), Signer.generate()),  # not a member
                         (witness_name("TX"), Signer.generate()),  # TX's name, another key
                         (witness_name("AK"), keys["AK"]),  # the origin itself
                         ("alliance-ledger/TX", keys["TX"])):  # not a witness name
        hostile = add_cosignature(hostile, name, signer, at)
    assert verified_cosigners(hostile, state) == {"MI": at}
    assert not is_witnessed_by_quorum(hostile, state)
    both = add_cosignature(cosigned, witness_name("TX"), keys["TX"], at + 5)
    assert verified_cosigners(both, state) == {"MI": at, "TX": at + 5}
    assert is_witnessed_by_quorum(both, state)


def test_a_cosignature_needs_the_key_valid_at_its_own_time() -> None:
    state, keys = _alliance(("AK", "MI", "TX"))
    change = T0 + dt.timedelta(days=10)
    new_mi = Signer.generate()
    state = _append(state, Action.ADD_KEY, association="MI", public_key=new_mi.public_key,
                    effective_at=change)
    note = _note("AK", keys["AK"])
    before, after = _ts(change) - 60, _ts(change) + 60
    assert verified_cosigners(add_cosignature(note, witness_name("MI"), keys["MI"], before),
                              state) == {"MI": before}
    assert verified_cosigners(add_cosignature(note, witness_name("MI"), keys["MI"], after),
                              state) == {}
    assert verified_cosigners(add_cosignature(note, witness_name("MI"), new_mi, after),
                              state) == {"MI": after}
    # Dated before the witness was admitted: no key then, so it does not count.
    assert verified_cosigners(add_cosignature(note, witness_name("TX"), keys["TX"],
                                              _ts(T0) - 60), state) == {}


def test_origin_checkpoint_opens_only_under_the_origin_key_valid_then() -> None:
    state, keys = _alliance(("AK", "MI"))
    note = _note("AK", keys["AK"])
    association, checkpoint = open_origin_checkpoint(note, state, T0 + dt.timedelta(days=1))
    assert (association, checkpoint.size) == ("AK", 3)
    for bad in (_note("AK", keys["MI"]), _note("ZZ", Signer.generate())):
        with pytest.raises(VerificationError):
            open_origin_checkpoint(bad, state, T0 + dt.timedelta(days=1))
    with pytest.raises(VerificationError):
        open_origin_checkpoint(note, state, T0 - dt.timedelta(days=1))


def test_one_key_admitted_twice_is_one_witness() -> None:
    state, keys = _alliance(("AK", "MI"))
    state = _append(state, Action.ADMIT, association="TX", name="TX",
                    public_key=keys["MI"].public_key, effective_at=T0)  # MI's key again
    at = _ts(T0 + dt.timedelta(hours=1))
    note = add_cosignature(_note("AK", keys["AK"]), witness_name("MI"), keys["MI"], at)
    note = add_cosignature(note, witness_name("TX"), keys["MI"], at)
    assert set(verified_cosigners(note, state)) == {"MI", "TX"}
    assert state.witness_quorum == 2
    assert not is_witnessed_by_quorum(note, state)
