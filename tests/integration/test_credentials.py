"""Portable credentials on real nodes: issued in the transaction of the command that earns
them, served by every node, status lists recorded on the ledger before they are served, and
verified (with the provable history) from what the nodes serve over HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.credentials import StatusPurpose
from domain.evidence import RenewalEvidence
from federation_api.accounts.tokens import Role
from federation_api.clock import now, today
from federation_api.credentials.evidence import gather
from federation_api.credentials.issuer import CredentialIssuer
from federation_api.credentials.publisher import expected_bits
from federation_api.credentials.served_lists import ServedList
from ledger.codec import decode_json, encode_json
from ledger.credentials.open_badges import issue_credential, schema_errors
from ledger.credentials.verify import CredentialState, Evidence, verify_credential
from ledger.errors import (
    ConcurrencyConflict,
    DidDocumentRefused,
    IssuerMismatch,
    ProofInvalid,
    StatusListNotRecorded,
)
from tests.integration.credential_world import CredentialWorld, forge_next_version

AK_URL = "http://127.0.0.1:9101"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[CredentialWorld]:
    made = CredentialWorld.found(tmp_path)
    yield made
    made.close()


def _gather(world: CredentialWorld, credential: dict[str, Any], at: dt.datetime,
            ledger_url: str | None = None) -> Evidence:
    """The evidence, once MI has witnessed AK's ledger as it stands (as the gossip would)."""
    world.witness("AK")
    return gather(credential, world.fetch, at, ledger_url)


def _state(world: CredentialWorld, credential: dict[str, Any],
           as_of: dt.datetime | None = None, ledger_url: str | None = None) -> CredentialState:
    at = as_of or now()
    evidence = _gather(world, credential, at, ledger_url)
    return verify_credential(credential, evidence, at).state


def test_a_grant_issues_one_stable_credential_that_every_node_serves(
        world: CredentialWorld) -> None:
    credential = world.grant("AK", "AK-CRED0001")
    assert schema_errors(credential) == ()
    assert credential["issuer"]["id"] == "did:web:127.0.0.1%3A9101"
    assert credential["credentialSubject"]["achievement"]["humanCode"] == "IMHS"
    named = {"last_name": "OYELARAN"}  # as /v1/verify: the id and the last name, any case
    response = world.client("AK").get("/v1/credentials/AK-CRED0001", params=named)
    assert response.headers["content-type"] == "application/ld+json"
    assert 'filename="AK-CRED0001-credential.json"' in response.headers["content-disposition"]
    again = world.client("AK").get("/v1/credentials/AK-CRED0001", params=named)
    assert again.content == response.content  # stable: the same download twice
    world.sync("AK", "MI")
    assert world.client("MI").get("/v1/credentials/AK-CRED0001",
                                  params=named).content == response.content
    # One 404 for a wrong id or a wrong name, the same as /v1/verify's: ids cannot be walked.
    wrong_id = world.client("AK").get("/v1/credentials/AK-NOPE0001", params=named)
    wrong_name = world.client("AK").get("/v1/credentials/AK-CRED0001",
                                        params={"last_name": "Other"})
    assert wrong_id.status_code == wrong_name.status_code == 404
    assert wrong_id.json() == wrong_name.json()
    assert world.client("AK").get("/v1/credentials/AK-CRED0001").status_code == 422
    assert _state(world, credential) is CredentialState.ACTIVE
    # MI's replica of AK's ledger proves the same history (a peer as the ledger's witness).
    assert _state(world, credential, ledger_url="http://127.0.0.1:9102") \
        is CredentialState.ACTIVE


def test_renewal_issues_a_new_credential_and_one_entry_per_event(
        world: CredentialWorld) -> None:
    first = world.grant("AK", "AK-CRED0002")
    node = world.node("AK")
    rebuilt_before = node.projector.digest()
    node.projector.rebuild(node.ledger)  # a replay issues nothing and gives the same state
    assert node.projector.digest() == rebuilt_before
    assert node.projector.latest_credential("AK-CRED0002") == encode_json(first).decode()
    entries = [w for w in node.ledger.wires("AK")]
    assert sum(b"CredentialIssued" in w for w in entries) == 1


def test_suspension_and_lift_flip_the_bit_and_each_past_date_is_provable(
        world: CredentialWorld) -> None:
    credential = world.grant("AK", "AK-CRED0003")
    node = world.node("AK")
    before = now()
    node.service.suspend("AK-CRED0003", effective_on=today(), reason="committee review",
                         now=now())
    published = node.status_lists.publish_due()
    assert [url.rsplit("/", 2)[1] for url, _ in published] == ["suspension"]
    assert _state(world, credential) is CredentialState.SUSPENDED
    # The version standing before the suspension is still served, and still proves "active".
    assert _state(world, credential, as_of=before) is CredentialState.ACTIVE
    node.service.reinstate("AK-CRED0003", reinstated_on=today(), reason="lifted",
                           evidence=_no_evidence(), by_committee=True, now=now())
    node.status_lists.publish_due()
    latest = decode_json(world.client("AK").get("/v1/credentials/AK-CRED0003", params={
        "last_name": "Oyelaran"}).content, dict[str, Any])
    assert latest["id"] != credential["id"]  # reinstatement issues a new credential
    assert _state(world, credential) is CredentialState.ACTIVE
    assert _state(world, latest) is CredentialState.ACTIVE


def test_revocation_sets_the_revocation_bit(world: CredentialWorld) -> None:
    credential = world.grant("AK", "AK-CRED0004")
    node = world.node("AK")
    node.service.revoke("AK-CRED0004", effective_on=today(), reason="ethics", now=now())
    node.status_lists.publish_due()
    assert _state(world, credential) is CredentialState.REVOKED


def test_list_headers_are_honest_and_a_peer_refers_to_the_origin(
        world: CredentialWorld) -> None:
    credential = world.grant("AK", "AK-CRED0005")
    url = next(e["statusListCredential"] for e in credential["credentialStatus"]
               if e["statusPurpose"] == "suspension")
    path = url.removeprefix(AK_URL)
    client = world.client("AK")
    latest = client.get(path)
    assert latest.status_code == 200
    assert latest.headers["cache-control"] == "public, max-age=5"
    assert latest.headers["last-modified"].endswith("GMT")
    assert client.get(path, headers={"If-None-Match": latest.headers["etag"]}).status_code == 304
    pinned = client.get(path, params={"version": 1})
    assert "immutable" in pinned.headers["cache-control"]
    assert client.get(path, params={"version": 9}).status_code == 404
    world.sync("AK", "MI")
    referred = world.client("MI").get(path, follow_redirects=False)
    assert (referred.status_code, referred.headers["location"]) == (307, url)
    versions = world.client("MI").get(f"{path}/versions").json()["versions"]
    assert [v["list_version"] for v in versions] == [1]
    assert client.get("/v1/status-lists/AK/suspension/7").status_code == 404
    assert client.get("/v1/status-lists/AK/unknown/1").status_code == 422


def test_the_did_document_keeps_a_rotated_key_so_old_credentials_verify(
        world: CredentialWorld) -> None:
    credential = world.grant("AK", "AK-CRED0006")
    world.alliance.rotate("AK", now())
    document = world.client("AK").get("/.well-known/did.json").json()
    assert document["id"] == "did:web:127.0.0.1%3A9101"
    assert len(document["assertionMethod"]) == 2
    assert _state(world, credential) is CredentialState.ACTIVE
    renewed_list = world.node("AK")
    renewed_list.service.suspend("AK-CRED0006", effective_on=today(), reason="review",
                                 now=now())
    renewed_list.status_lists.publish_due()  # signed with the new key
    assert _state(world, credential) is CredentialState.SUSPENDED


# -- hostile ---------------------------------------------------------------------------------


def _forge_next_version(world: CredentialWorld, credential: dict[str, Any]) -> dict[str, Any]:
    """The origin itself signs a list with the credential's suspension bit set and serves it
    as its latest, without recording it on its ledger; the forged list."""
    forged = forge_next_version(world.node("AK"), credential)
    entry = next(e for e in credential["credentialStatus"] if e["statusPurpose"] == "suspension")
    status, latest = world.fetch(entry["statusListCredential"])
    assert (status, decode_json(latest, dict[str, Any])) == (200, forged)
    return forged


def test_a_list_with_a_bit_the_ledger_does_not_record_is_a_split_view(
        world: CredentialWorld) -> None:
    credential = world.grant("AK", "AK-CRED0007")
    _forge_next_version(world, credential)
    with pytest.raises(StatusListNotRecorded, match="split view"):
        verify_credential(credential, _gather(world, credential, now()), now())


def test_a_peer_catches_the_split_view_and_flags_a_fork(world: CredentialWorld) -> None:
    credential = world.grant("AK", "AK-CRED0016")
    world.sync("AK", "MI")
    mi = world.node("MI")
    assert {f.outcome for f in mi.list_watch.check("AK", world.fetch, now())} == {"recorded"}
    assert "AK" not in mi.forked_associations()
    _forge_next_version(world, credential)
    findings = {f.list_url.rsplit("/", 2)[1]: f for f in mi.list_watch.check(
        "AK", world.fetch, now())}
    assert findings["suspension"].outcome == "split view"
    assert findings["revocation"].outcome == "recorded"
    assert mi.forked_associations()["AK"] == 1
    evidence = mi.list_watch.evidence("AK")
    assert len(evidence) == 1 and b"BitstringStatusListCredential" in evidence[0][2]
    client = world.client("MI")
    assert client.get("/v1/federation/status-list-forks/AK").status_code == 401
    _, secret = mi.tokens.issue(label="auditor", role=Role.AUDITOR, now=now())
    auditor = {"Authorization": f"Bearer {secret}"}
    forks = client.get("/v1/federation/status-list-forks/AK", headers=auditor)
    assert forks.status_code == 200 and len(forks.json()) == 1
    peers = client.get("/v1/federation/peers", headers=auditor)
    assert {p["association"]: p["forked"] for p in peers.json()}["AK"] is True


def test_a_peer_reports_an_origin_serving_an_old_version_as_stale(
        world: CredentialWorld) -> None:
    credential = world.grant("AK", "AK-CRED0017")
    node = world.node("AK")
    row = node.projector.status_list("AK", StatusPurpose.SUSPENSION, 1)
    assert row is not None and node.status_lists is not None
    first = node.served_lists.get(row.aggregate_id, 1)
    assert first is not None
    node.service.suspend("AK-CRED0017", effective_on=today(), reason="review", now=now())
    node.status_lists.publish_due()  # version 2 recorded and served
    # The origin goes back to serving version 1 (as signed then): the suspension is hidden.
    node.served_lists.put(ServedList(list_id=row.aggregate_id, list_version=3,
                                     signed_at=first.signed_at, document=first.document))
    world.sync("AK", "MI")
    mi = world.node("MI")

    def outcome(at: dt.datetime) -> str:
        found = {f.list_url.rsplit("/", 2)[1]: f for f in mi.list_watch.check("AK", world.fetch,
                                                                              at)}
        return found["suspension"].outcome

    assert outcome(now()) == "recorded"  # within the grace a publisher needs
    assert outcome(now() + 2 * mi.list_watch.stale_after) == "stale"
    assert "AK" not in mi.forked_associations()  # no fork: the ledger covers both versions
    with pytest.raises(StatusListNotRecorded, match="is version 1, but version 2 stood"):
        verify_credential(credential, _gather(world, credential, now()), now())


def test_a_credential_claiming_another_association_is_refused(world: CredentialWorld) -> None:
    credential = world.grant("AK", "AK-CRED0008")
    node = world.node("AK")
    claimed = {**credential, "issuer": {**credential["issuer"], "otherIdentifier": [
        {"type": "IdentifierEntry", "identifier": "MI", "identifierType": "identifier"}]}}
    del claimed["proof"]
    signed = issue_credential(claimed, node.signer, node.issuer_identity.method(
        node.signer.key_id), now())
    with pytest.raises(IssuerMismatch, match="claims association 'MI'"):
        verify_credential(signed, _gather(world, signed, now()), now())


def test_a_did_document_served_by_the_wrong_node_is_refused(world: CredentialWorld) -> None:
    credential = world.grant("AK", "AK-CRED0009")
    world.routes["127.0.0.1:9101"] = "MI"  # AK's host now answered by MI's node
    with pytest.raises(DidDocumentRefused, match="names"):
        _gather(world, credential, now())


def test_one_changed_byte_fails(world: CredentialWorld) -> None:
    credential = world.grant("AK", "AK-CRED0010")
    changed = {**credential, "credentialSubject": {
        **credential["credentialSubject"], "identifier": [
            {**credential["credentialSubject"]["identifier"][0], "identityHash": "Ada Oyelaram"},
            credential["credentialSubject"]["identifier"][1]]}}
    with pytest.raises(ProofInvalid):
        verify_credential(changed, _gather(world, changed, now()), now())


# -- exactly once ----------------------------------------------------------------------------


def test_a_refused_command_issues_nothing_and_the_next_one_issues_once(
        world: CredentialWorld) -> None:
    world.grant("AK", "AK-CRED0011")
    node = world.node("AK")
    head = node.ledger.head("AK")
    # The second import of one id fails at the save, after its credential and indexes were
    # drawn in memory: nothing is stored, and the lists forget the indexes.
    with pytest.raises(ConcurrencyConflict):
        world.grant("AK", "AK-CRED0011")
    assert node.ledger.head("AK") == head
    world.grant("AK", "AK-CRED0015")
    wires = list(node.ledger.wires("AK"))
    assert sum(b"CredentialIssued" in w for w in wires) == 2
    for purpose in StatusPurpose:
        status_list = node.credential_issuer.list_of(purpose, 1)
        assert status_list is not None and len(status_list.assigned) == 2


def test_a_full_list_starts_the_next_one(world: CredentialWorld) -> None:
    node = world.node("AK")
    node.credential_issuer.fill_limit = 1 / 131_072  # one credential fills a list
    world.grant("AK", "AK-CRED0012")
    second = world.grant("AK", "AK-CRED0013")
    assert {e["statusListCredential"].rsplit("/", 1)[1]
            for e in second["credentialStatus"]} == {"2"}
    assert _state(world, second) is CredentialState.ACTIVE


def test_a_version_recorded_before_a_crash_is_signed_on_the_next_pass(
        world: CredentialWorld) -> None:
    world.grant("AK", "AK-CRED0014")
    node = world.node("AK")
    node.service.suspend("AK-CRED0014", effective_on=today(), reason="x", now=now())
    publisher = node.status_lists
    row = node.projector.status_list("AK", StatusPurpose.SUSPENSION, 1)
    assert row is not None
    # The ledger records version 2; the process dies before the document is stored.
    publisher._record_if_changed(row, expected_bits(node.projector, row))
    assert node.served_lists.get(row.aggregate_id).list_version == 1  # type: ignore[union-attr]
    node.close()
    world.alliance.nodes["AK"] = reopened = type(node)(world.alliance.settings["AK"])
    assert reopened.status_lists.publish_due() == [
        (f"{AK_URL}/v1/status-lists/AK/suspension/1", 2)]
    version = reopened.projector.list_versions(row.aggregate_id)[-1]
    stored = reopened.served_lists.get(row.aggregate_id)
    assert stored is not None and stored.signed_at == version.recorded_at


def _no_evidence() -> RenewalEvidence:
    return RenewalEvidence()


def test_issuer_is_the_service_companion(world: CredentialWorld) -> None:
    assert isinstance(world.node("AK").service.companions, CredentialIssuer)


def test_the_public_page_offers_the_credential_and_linkedin(world: CredentialWorld) -> None:
    world.grant("AK", "AK-CRED0017")
    page = world.client("AK").get("/verify", params={"endorsement_id": "AK-CRED0017",
                                                     "last_name": "Oyelaran"})
    assert page.status_code == 200
    assert 'href="/v1/credentials/AK-CRED0017?last_name=Oyelaran" download' in page.text
    assert "https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME" in page.text
    assert "certId=AK-CRED0017" in page.text
    assert f"certUrl={AK_URL.replace(':', '%3A').replace('/', '%2F')}%2Fverify" in page.text
    world.node("AK").service.suspend("AK-CRED0017", effective_on=today(), reason="review",
                                     now=now())
    suspended = world.client("AK").get("/verify", params={"endorsement_id": "AK-CRED0017",
                                                          "last_name": "Oyelaran"})
    assert "Download credential" not in suspended.text  # offered only while current
