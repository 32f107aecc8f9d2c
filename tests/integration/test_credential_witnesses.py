"""Status list versions proven under a witnessed checkpoint of the issuer's ledger, on real
nodes (AK issues, MI witnesses), and refused with the reason when they are not: a version
recorded after the checkpoint, a checkpoint too few witnesses cosigned, a forged inclusion
proof, a registry from another genesis, a DID document listing a key the registry never gave.

The hostile node is played by rewriting what AK's app answers, between it and the verifier:
exactly what a node that lies would send.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from federation_api.clock import now, today
from federation_api.credentials.evidence import Fetch, gather
from federation_api.credentials.identity import key_windows
from ledger.credentials.did_document import KeyWindow, build_did_document, verification_method_id
from ledger.credentials.open_badges import issue_credential
from ledger.credentials.verify import CredentialState, verify_credential
from ledger.errors import StatusListNotWitnessed, VerificationMethodRefused
from ledger.signing import Signer
from ledger.transparency.cosigners import origin_of
from ledger.trust.registry import Genesis
from tests.integration.credential_world import CredentialWorld

Rewrite = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[CredentialWorld]:
    made = CredentialWorld.found(tmp_path)
    yield made
    made.close()


def _rewriting(world: CredentialWorld, path_part: str, rewrite: Rewrite) -> Fetch:
    """The world's fetch, with every JSON answer whose URL contains `path_part` rewritten."""
    def fetch(url: str) -> tuple[int, bytes]:
        status, body = world.fetch(url)
        if path_part in url and status == 200:
            return status, json.dumps(rewrite(json.loads(body))).encode()
        return status, body
    return fetch


def _state(credential: dict[str, Any], fetch: Fetch, at: dt.datetime | None = None,
           **options: Any) -> CredentialState:
    when = at or now()
    return verify_credential(credential, gather(credential, fetch, when, **options), when).state


def test_a_version_recorded_after_the_witnessed_checkpoint_is_not_proven_until_witnessed(
        world: CredentialWorld) -> None:
    credential = world.grant("AK", "AK-WIT00001")
    world.witness("AK")
    assert _state(credential, world.fetch) is CredentialState.ACTIVE
    before = now()
    node = world.node("AK")
    node.service.suspend("AK-WIT00001", effective_on=today(), reason="review", now=now())
    assert node.status_lists is not None
    node.status_lists.publish_due()  # version 2 of the suspension list, not yet witnessed
    with pytest.raises(StatusListNotWitnessed, match="beyond the witnessed checkpoint"):
        _state(credential, world.fetch)
    # What stood before it is under the checkpoint: still proven.
    assert _state(credential, world.fetch, before) is CredentialState.ACTIVE
    world.witness("AK")
    assert _state(credential, world.fetch) is CredentialState.SUSPENDED
    # MI's replica, and the checkpoint MI cosigned, prove the same.
    assert _state(credential, world.fetch, ledger_url="http://127.0.0.1:9102") \
        is CredentialState.SUSPENDED


def test_a_checkpoint_without_the_witness_quorum_is_refused(world: CredentialWorld) -> None:
    credential = world.grant("AK", "AK-WIT00002")
    with pytest.raises(StatusListNotWitnessed, match="holds no checkpoint"):
        _state(credential, world.fetch)
    node = world.node("AK")
    node.log.sign_checkpoint("AK", node.signer, now())  # signed, but no witness has seen it
    with pytest.raises(StatusListNotWitnessed,
                       match=r"cosigned by 0 distinct witness\(es\); the trust registry asks 1"):
        _state(credential, world.fetch)
    world.witness("AK")
    assert _state(credential, world.fetch) is CredentialState.ACTIVE

    def strip_cosignatures(answer: dict[str, Any]) -> dict[str, Any]:
        note = answer["heads"]["checkpoint"]
        text, _, signatures = note.partition("\n\n")
        origin = [line for line in signatures.splitlines()
                  if line.startswith(f"\u2014 {origin_of('AK')} ")]
        assert origin and len(origin) < len(signatures.splitlines())
        answer["heads"]["checkpoint"] = text + "\n\n" + "\n".join(origin) + "\n"
        return answer

    with pytest.raises(StatusListNotWitnessed, match="cosigned by 0 distinct witness"):
        _state(credential, _rewriting(world, "/versions", strip_cosignatures))
    # Without witnesses by choice, the signed entries alone still prove it (and say so).
    assert _state(credential, _rewriting(world, "/versions", strip_cosignatures),
                  witnessed=False) is CredentialState.ACTIVE


def test_a_forged_inclusion_proof_is_refused(world: CredentialWorld) -> None:
    credential = world.grant("AK", "AK-WIT00003")
    world.witness("AK")

    def forge(answer: dict[str, Any]) -> dict[str, Any]:
        proof = answer["versions"][0]["inclusion"]
        assert proof, "the ledger holds more than one entry, so the proof has hashes"
        proof[0] = ("0" if proof[0][0] != "0" else "1") + proof[0][1:]
        return answer

    with pytest.raises(StatusListNotWitnessed, match=r"inclusion proof of version 1 .* does "
                                                     r"not verify"):
        _state(credential, _rewriting(world, "/versions", forge))

    def claim_beyond(answer: dict[str, Any]) -> dict[str, Any]:
        answer["versions"][0]["inclusion"] = []  # "recorded after the checkpoint"
        return answer

    with pytest.raises(StatusListNotWitnessed, match="does not verify"):
        _state(credential, _rewriting(world, "/versions", claim_beyond))


def test_a_registry_from_another_genesis_is_refused_when_one_is_pinned(
        world: CredentialWorld) -> None:
    credential = world.grant("AK", "AK-WIT00004")
    world.witness("AK")
    genesis = world.alliance.genesis()
    assert _state(credential, world.fetch, pinned_genesis=genesis) is CredentialState.ACTIVE
    other = Genesis(alliance="Another", governance_keys=(Signer.generate().public_key,),
                    threshold=1, created_at=genesis.created_at)
    with pytest.raises(StatusListNotWitnessed, match="not the pinned"):
        _state(credential, world.fetch, pinned_genesis=other)


def test_a_did_key_the_trust_registry_never_gave_is_refused(world: CredentialWorld) -> None:
    credential = world.grant("AK", "AK-WIT00005")
    world.witness("AK")
    node = world.node("AK")
    assert node.issuer_identity is not None
    did = node.issuer_identity.did
    # AK's node lists a key of its own choosing in its DID document and signs with it.
    rogue = Signer.generate()
    keys = [*key_windows("AK", node.keyring, node.registry_dir),
            KeyWindow(key_id=rogue.key_id, public_key=rogue.public_key,
                      valid_from=now() - dt.timedelta(days=1))]
    document = build_did_document(did, keys, now())
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    signed = issue_credential(unsigned, rogue, verification_method_id(did, rogue.key_id), now())
    fetch = _rewriting(world, "did.json", lambda _: document)
    with pytest.raises(VerificationMethodRefused, match="not a key the trust registry holds"):
        _state(signed, fetch)
    # The DID document alone (no registry, no witnesses) would have let it through.
    assert _state(signed, fetch, witnessed=False) is CredentialState.ACTIVE
