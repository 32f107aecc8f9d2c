"""An association's DID document from its key windows: rotation keeps keys, revocation
removes them from assertionMethod, and a document from the wrong place is refused."""

from __future__ import annotations

import datetime as dt

import pytest

from ledger.credentials.did_document import (
    KeyWindow,
    assertion_key,
    check_served,
    verification_method_id,
)
from ledger.credentials.jsonld import DID_CONTEXT, canonicalize
from ledger.errors import DidDocumentRefused, IssuerMismatch, VerificationMethodRefused
from ledger.signing import Signer
from tests.unit.credential_fixtures import T0, IssuingAssociation

DAY = dt.timedelta(days=1)


def rotated() -> tuple[IssuingAssociation, Signer, Signer]:
    issuer = IssuingAssociation()
    old = issuer.signer
    new = issuer.add_key(T0 + DAY)
    return issuer, old, new


def test_a_rotated_key_stays_listed_and_an_assertion_method() -> None:
    issuer, old, new = rotated()
    document = issuer.did_document(T0 + 2 * DAY)
    methods = {m["id"]: m for m in document["verificationMethod"]}
    assert set(document["assertionMethod"]) == {issuer.method_of(old), issuer.method_of(new)}
    assert methods[issuer.method_of(old)]["validUntil"] == "2026-01-16T10:00:00Z"
    assert "validUntil" not in methods[issuer.method_of(new)]
    assert all("revoked" not in m and "expires" not in m for m in methods.values())
    assert "authentication" not in document


def test_a_revoked_key_is_listed_with_its_revocation_but_asserts_nothing() -> None:
    issuer, old, _ = rotated()
    issuer.revoke_key(old.key_id, T0 + 3 * DAY)
    document = issuer.did_document(T0 + 4 * DAY)
    method = next(m for m in document["verificationMethod"] if m["id"] == issuer.method_of(old))
    assert method["revoked"] == "2026-01-18T10:00:00Z"
    assert issuer.method_of(old) not in document["assertionMethod"]
    with pytest.raises(VerificationMethodRefused, match="revoked"):
        assertion_key(document, issuer.method_of(old))


def test_a_revocation_takes_effect_from_its_time() -> None:
    issuer, old, _ = rotated()
    issuer.revoke_key(old.key_id, T0 + 3 * DAY)
    assert issuer.method_of(old) in issuer.did_document(T0 + 2 * DAY)["assertionMethod"]


def test_a_key_whose_window_has_not_begun_is_not_listed() -> None:
    issuer = IssuingAssociation()
    future = issuer.add_key(T0 + 10 * DAY)
    document = issuer.did_document(T0)
    assert issuer.method_of(future) not in {m["id"] for m in document["verificationMethod"]}


def test_the_document_is_safe_json_ld_with_did_v1_first() -> None:
    issuer, old, _ = rotated()
    issuer.revoke_key(old.key_id, T0 + 3 * DAY)
    document = issuer.did_document(T0 + 4 * DAY)
    assert document["@context"][0] == DID_CONTEXT
    nquads = canonicalize(document)  # every term defined: nothing a safe-mode reader drops
    assert "<https://schema.org/validFrom>" in nquads
    assert "<https://w3id.org/security#revoked>" in nquads


def test_the_verification_method_id_is_the_registry_key_id() -> None:
    issuer = IssuingAssociation()
    assert verification_method_id(issuer.did, issuer.signer.key_id) == (
        f"{issuer.did}#{issuer.signer.key_id}")
    listed = assertion_key(issuer.did_document(), issuer.method_of(issuer.signer))
    assert listed.public_key == issuer.signer.public_key


def test_a_key_window_must_match_its_key() -> None:
    signer = Signer.generate()
    with pytest.raises(ValueError, match="SHA-256"):
        KeyWindow(key_id="0" * 64, public_key=signer.public_key, valid_from=T0)
    with pytest.raises(ValueError, match="before it starts"):
        KeyWindow(key_id=signer.key_id, public_key=signer.public_key, valid_from=T0,
                  valid_until=T0 - DAY)


def test_a_document_served_by_another_host_is_refused() -> None:
    issuer = IssuingAssociation()
    with pytest.raises(DidDocumentRefused, match=r"must come from https://localhost:8765/"):
        check_served(issuer.did, "https://other-node.example/.well-known/did.json",
                     issuer.did_document())


def test_a_document_for_another_did_is_refused() -> None:
    issuer, other = IssuingAssociation(), IssuingAssociation(host="other-node.example", port=None)
    with pytest.raises(DidDocumentRefused, match=r"names 'did:web:other-node\.example'"):
        check_served(issuer.did, issuer.did_url, other.did_document())


def test_plain_http_is_accepted_for_loopback_hosts_only() -> None:
    local = IssuingAssociation()
    check_served(local.did, "http://localhost:8765/.well-known/did.json", local.did_document())
    remote = IssuingAssociation(host="node.example", port=None)
    with pytest.raises(DidDocumentRefused):
        check_served(remote.did, "http://node.example/.well-known/did.json",
                     remote.did_document())


def test_a_document_whose_first_context_is_not_did_v1_is_refused() -> None:
    issuer = IssuingAssociation()
    document = issuer.did_document()
    document["@context"] = document["@context"][1:]
    with pytest.raises(DidDocumentRefused, match="first @context"):
        check_served(issuer.did, issuer.did_url, document)


def test_a_key_of_another_did_is_an_issuer_mismatch() -> None:
    issuer, other = IssuingAssociation(), IssuingAssociation(host="other-node.example", port=None)
    with pytest.raises(IssuerMismatch, match=r"belongs to did:web:other-node\.example"):
        assertion_key(issuer.did_document(), other.method_of(other.signer))


def test_an_unlisted_key_is_refused() -> None:
    issuer = IssuingAssociation()
    with pytest.raises(VerificationMethodRefused, match="not listed"):
        assertion_key(issuer.did_document(), f"{issuer.did}#{'0' * 64}")


def test_a_key_listed_but_not_an_assertion_method_is_refused() -> None:
    issuer = IssuingAssociation()
    document = issuer.did_document()
    document["assertionMethod"] = []
    with pytest.raises(VerificationMethodRefused, match="not an assertion method"):
        assertion_key(document, issuer.method_of(issuer.signer))
