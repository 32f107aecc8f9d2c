"""Checkpoints and Merkle proofs of a node's ledger, checked the way an auditor would."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.levels import Level
from domain.policy import AssociationPolicy
from federation_api.accounts.tokens import Role
from federation_api.demo.seed import seed
from federation_api.node.root import Node
from federation_api.node.setup import init_node
from federation_api.settings import Settings
from federation_api.web.app import create_app
from ledger.errors import CheckpointError
from ledger.transparency.checkpoints import open_checkpoint
from ledger.transparency.cosigners import origin_of
from ledger.transparency.merkle import (
    MerkleProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    settings = Settings(data_dir=tmp_path / "ak")
    init_node(settings, association="AK", name="Alaska", policy=AssociationPolicy(), now=NOW)
    node = Node(settings)
    yield node
    node.close()


def _client(node: Node) -> tuple[TestClient, dict[str, str]]:
    _, token = node.tokens.issue(label="auditor", role=Role.AUDITOR, now=NOW)
    return TestClient(create_app(node)), {"Authorization": f"Bearer {token}"}


def test_checkpoint_inclusion_and_consistency_verify_offline(node: Node) -> None:
    client, auth = _client(node)
    node.service.record_existing(endorsement_id="AK-FIRST001", person_id="p0",
                                 family_name="First", given_name="A", level=Level.IFA,
                                 designation=None, granted_on=dt.date(2020, 1, 1),
                                 valid_through=dt.date(2030, 1, 1), legacy_reference="x",
                                 now=NOW)
    first = client.get("/v1/ledger/AK/checkpoint", headers=auth)
    assert first.status_code == 200
    keys = {origin_of("AK"): node.signer.public_key}
    old = open_checkpoint(first.text.encode(), keys)
    assert old.size == 1

    seed(node, dt.date(2026, 6, 1))  # more entries
    second = client.get("/v1/ledger/AK/checkpoint", headers=auth)
    new = open_checkpoint(second.text.encode(), keys)
    assert new.size > old.size
    assert client.get("/v1/ledger/AK/checkpoint", headers=auth).text == second.text  # no growth

    proof = client.get("/v1/ledger/AK/proofs/consistency",
                       params={"from": old.size, "to": new.size}, headers=auth).json()
    verify_consistency(old.size, new.size, old.root_hash, new.root_hash,
                       [bytes.fromhex(h) for h in proof["proof"]])

    entries = client.get("/v1/ledger/AK/entries", params={"from": 3, "to": 3},
                         headers=auth).json()["entries"]
    wire = base64.b64decode(entries[0]["wire"])
    included = client.get("/v1/ledger/AK/proofs/inclusion", params={"seq": 3, "size": new.size},
                          headers=auth).json()
    proof_hashes = [bytes.fromhex(h) for h in included["proof"]]
    verify_inclusion(leaf_hash(wire), 2, new.size, proof_hashes, new.root_hash)
    with pytest.raises(MerkleProofError):  # another entry's bytes are not at that position
        verify_inclusion(leaf_hash(wire + b"x"), 2, new.size, proof_hashes, new.root_hash)
    with pytest.raises(CheckpointError):  # a checkpoint under another key is refused
        open_checkpoint(second.text.encode(), {origin_of("AK"): bytes(32)})


def test_bad_proof_requests_are_4xx(node: Node) -> None:
    client, auth = _client(node)
    seed(node, dt.date(2026, 6, 1))
    for params in ({"seq": 999}, {"seq": 0}, {"seq": 1, "size": 999}):
        response = client.get("/v1/ledger/AK/proofs/inclusion", params=params, headers=auth)
        assert 400 <= response.status_code < 500, (params, response.text)
    response = client.get("/v1/ledger/AK/proofs/consistency", params={"from": 999}, headers=auth)
    assert response.status_code == 422
    assert client.get("/v1/ledger/MI/checkpoint", headers=auth).status_code == 404
    assert client.get("/v1/ledger/AK/checkpoint").status_code == 401
