"""The offline verifier: proven credentials with their status, and each hostile case refused
with its reason (a split-view status list, another association as issuer, a DID document
for the wrong host, ...)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from typing import Any

import msgspec
import pytest

from domain.credentials import StatusPurpose
from ledger.credentials.open_badges import IssuerProfile
from ledger.credentials.status_list import (
    build_status_list_credential,
    decode_list,
    encode_list,
    issue_status_list_credential,
)
from ledger.credentials.verify import (
    CredentialState,
    ServedDocument,
    load_document,
    verify_credential,
)
from ledger.errors import (
    CredentialError,
    DidDocumentRefused,
    IssuerMismatch,
    MalformedCredential,
    OutsideValidity,
    ProofInvalid,
    SchemaInvalid,
    StatusListNotRecorded,
    StatusListRefused,
    UnsafeDocument,
    VerificationMethodRefused,
)
from tests.unit.credential_fixtures import T0, IssuingAssociation, award

DAY = dt.timedelta(days=1)
LATER = T0 + 30 * DAY
SUSPENSION, REVOCATION = StatusPurpose.SUSPENSION, StatusPurpose.REVOCATION


def published() -> tuple[IssuingAssociation, dict[str, Any], int]:
    issuer = IssuingAssociation()
    issued = issuer.issue()
    issuer.publish_all()
    return issuer, issued.credential, issued.index


def test_a_fresh_credential_is_proven_active() -> None:
    issuer, credential, index = published()
    result = verify_credential(credential, issuer.evidence(), LATER)
    assert result.state is CredentialState.ACTIVE
    assert (result.issuer, result.association) == (issuer.did, "AK")
    assert result.verification_method == issuer.method_of(issuer.signer)
    assert [(s.purpose, s.index, s.is_set, s.list_version) for s in result.statuses] == [
        (REVOCATION, index, False, 1), (SUSPENSION, index, False, 1)]


def test_a_suspension_bit_reads_suspended_and_lifting_it_reads_active_again() -> None:
    issuer, credential, index = published()
    issuer.set_status(SUSPENSION, index)
    issuer.publish(SUSPENSION, T0 + DAY)
    assert verify_credential(credential, issuer.evidence(), LATER).state is (
        CredentialState.SUSPENDED)
    issuer.set_status(SUSPENSION, index, False)
    issuer.publish(SUSPENSION, T0 + 2 * DAY)
    assert verify_credential(credential, issuer.evidence(), LATER).state is (
        CredentialState.ACTIVE)


def test_a_revocation_bit_reads_revoked() -> None:
    issuer, credential, index = published()
    issuer.set_status(REVOCATION, index)
    issuer.publish(REVOCATION, T0 + DAY)
    result = verify_credential(credential, issuer.evidence(), LATER)
    assert result.state is CredentialState.REVOKED
    assert next(s for s in result.statuses if s.purpose is REVOCATION).list_version == 2


def test_after_a_key_rotation_the_old_credential_still_verifies() -> None:
    issuer, credential, _ = published()
    issuer.add_key(T0 + DAY)
    issuer.publish_all(T0 + 2 * DAY)  # lists now signed by the new key
    result = verify_credential(credential, issuer.evidence(as_of=LATER), LATER)
    assert result.state is CredentialState.ACTIVE
    assert result.verification_method != issuer.method_of(issuer.signer)


def test_as_of_a_past_date_the_version_that_stood_then_is_required() -> None:
    issuer, credential, index = published()
    version_1 = copy.deepcopy(issuer.served[issuer.list_url(SUSPENSION)])
    issuer.set_status(SUSPENSION, index)
    issuer.publish(SUSPENSION, T0 + 10 * DAY)
    # Today: suspended, from version 2.
    assert verify_credential(credential, issuer.evidence(), LATER).state is (
        CredentialState.SUSPENDED)
    # As of day 5, version 1 stood: served version 2 is refused, version 1 proves "active".
    with pytest.raises(StatusListNotRecorded, match="is version 2, but version 1 stood"):
        verify_credential(credential, issuer.evidence(), T0 + 5 * DAY)
    lists = {**issuer.served, issuer.list_url(SUSPENSION): version_1}
    result = verify_credential(credential, issuer.evidence(status_lists=lists), T0 + 5 * DAY)
    assert result.state is CredentialState.ACTIVE
    # And a replay of version 1 today is refused: version 2 stands.
    with pytest.raises(StatusListNotRecorded, match="is version 1, but version 2 stood"):
        verify_credential(credential, issuer.evidence(status_lists=lists), LATER)


# -- hostile cases --------------------------------------------------------------------------


def test_a_flipped_bit_signed_by_the_issuer_but_not_recorded_is_a_split_view() -> None:
    """The node shows this verifier a list whose bits hash to nothing its ledger records."""
    issuer, credential, index = published()
    url = issuer.list_url(SUSPENSION)
    flipped = issuer.bits[SUSPENSION].with_bits([index])
    unrecorded = issue_status_list_credential(
        build_status_list_credential(url, issuer.did, SUSPENSION, flipped, T0 + DAY),
        issuer.signer, issuer.method_of(issuer.signer), T0 + DAY)
    lists = {**issuer.served, url: unrecorded}
    with pytest.raises(StatusListNotRecorded, match="split view"):
        verify_credential(credential, issuer.evidence(status_lists=lists), LATER)


def test_a_flipped_bit_without_a_new_signature_fails_the_list_proof() -> None:
    issuer, credential, index = published()
    url = issuer.list_url(SUSPENSION)
    tampered = copy.deepcopy(issuer.served[url])
    bits = decode_list(tampered["credentialSubject"]["encodedList"]).with_bits([index])
    tampered["credentialSubject"]["encodedList"] = encode_list(bits)
    with pytest.raises(ProofInvalid):
        verify_credential(credential, issuer.evidence(status_lists={**issuer.served,
                                                                    url: tampered}), LATER)


def test_a_credential_claiming_another_association_as_issuer_is_refused() -> None:
    issuer = IssuingAssociation()
    claimed = IssuerProfile(did=issuer.did, association="WA", name="Another association")
    credential = issuer.issue(issuer=claimed).credential
    issuer.publish_all()
    with pytest.raises(IssuerMismatch, match=r"claims association 'WA'.*DID of AK"):
        verify_credential(credential, issuer.evidence(), LATER)


def test_a_credential_naming_another_associations_did_but_signed_here_is_refused() -> None:
    issuer = IssuingAssociation()
    other = IssuingAssociation(host="wa-node.example", port=None, association="WA")
    credential = issuer.issue(issuer=IssuerProfile(did=other.did, association="WA",
                                                   name="Washington")).credential
    issuer.publish_all()
    evidence = other.evidence(status_lists=issuer.served, recorded=issuer.recorded)
    with pytest.raises(IssuerMismatch, match="belongs to did:web:localhost"):
        verify_credential(credential, evidence, LATER)


def test_a_did_document_served_by_the_wrong_node_is_refused() -> None:
    issuer, credential, _ = published()
    wrong = ServedDocument("https://other-node.example/.well-known/did.json",
                           issuer.did_document())
    with pytest.raises(DidDocumentRefused, match=r"came from https://other-node\.example"):
        verify_credential(credential, issuer.evidence(did_document=wrong), LATER)


def test_a_did_document_of_another_did_is_refused() -> None:
    issuer, credential, _ = published()
    other = IssuingAssociation(host="other-node.example", port=None)
    served = ServedDocument(issuer.did_url, other.did_document())
    with pytest.raises(DidDocumentRefused, match="names 'did:web:other-node"):
        verify_credential(credential, issuer.evidence(did_document=served), LATER)


def test_a_key_the_registry_does_not_hold_is_refused_whatever_the_did_document_says() -> None:
    """A node (or whoever controls its web server) adds its own key to the DID document."""
    issuer = IssuingAssociation()
    issuer.publish_all()
    registry = list(issuer.keys)
    rogue = IssuingAssociation()
    rogue_key = rogue.keys[0]
    issuer.keys.append(rogue_key)
    issuer.signers[rogue_key.key_id] = rogue.signer
    forged = issuer.issue(signer=rogue.signer).credential
    with pytest.raises(VerificationMethodRefused, match="not a key the trust registry holds"):
        verify_credential(forged, issuer.evidence(registry_keys=registry), LATER)
    # Without the registry at hand, the DID document alone vouches for the key.
    assert verify_credential(forged, issuer.evidence(with_registry=False), LATER).state is (
        CredentialState.ACTIVE)


def test_a_key_admitted_within_the_second_its_proof_is_stamped_with_may_sign() -> None:
    """A proof's `created` has whole seconds; the registry's windows have microseconds."""
    issuer, credential, _ = published()
    stamped = dt.datetime.fromisoformat(credential["proof"][0]["created"])
    key = issuer.keys[0]
    for admitted, allowed in ((stamped + dt.timedelta(milliseconds=400), True),
                              (stamped + dt.timedelta(seconds=1), False)):
        window = msgspec.structs.replace(key, valid_from=admitted)
        evidence = issuer.evidence(registry_keys=[window])
        if allowed:
            assert verify_credential(credential, evidence, LATER).state is \
                CredentialState.ACTIVE
        else:
            with pytest.raises(VerificationMethodRefused, match="did not let key"):
                verify_credential(credential, evidence, LATER)


def test_a_credential_signed_with_a_revoked_key_is_refused() -> None:
    issuer, credential, _ = published()
    old = issuer.signer
    issuer.add_key(T0 + DAY)
    issuer.revoke_key(old.key_id, T0 + 2 * DAY)
    issuer.publish_all(T0 + 3 * DAY)
    with pytest.raises(VerificationMethodRefused, match="revoked"):
        verify_credential(credential, issuer.evidence(as_of=LATER), LATER)


def test_a_proof_dated_outside_the_keys_window_is_refused() -> None:
    issuer = IssuingAssociation()
    old = issuer.signer
    issuer.add_key(T0 + DAY)
    backdated = issuer.issue(created=T0 + 2 * DAY, signer=old).credential
    issuer.publish_all(T0 + 2 * DAY)
    with pytest.raises(VerificationMethodRefused, match="outside the signing window"):
        verify_credential(backdated, issuer.evidence(as_of=LATER), LATER)


def test_a_status_list_signed_by_another_issuer_is_refused() -> None:
    issuer, credential, _ = published()
    other = IssuingAssociation(host="other-node.example", port=None)
    url = issuer.list_url(SUSPENSION)
    foreign = issue_status_list_credential(
        build_status_list_credential(url, other.did, SUSPENSION, issuer.bits[SUSPENSION], T0),
        other.signer, other.method_of(other.signer), T0)
    with pytest.raises(IssuerMismatch, match="list was issued by did:web:other-node"):
        verify_credential(credential, issuer.evidence(status_lists={**issuer.served,
                                                                    url: foreign}), LATER)


def test_a_list_of_the_other_purpose_is_refused() -> None:
    issuer, credential, _ = published()
    lists = {issuer.list_url(SUSPENSION): issuer.served[issuer.list_url(REVOCATION)],
             issuer.list_url(REVOCATION): issuer.served[issuer.list_url(REVOCATION)]}
    with pytest.raises(StatusListRefused, match=r"served for .*suspension/1 is .*revocation/1"):
        verify_credential(credential, issuer.evidence(status_lists=lists), LATER)


def test_a_missing_status_list_is_refused() -> None:
    issuer, credential, _ = published()
    with pytest.raises(StatusListRefused, match="was not provided"):
        verify_credential(credential, issuer.evidence(status_lists={}), LATER)


def test_a_list_with_no_recorded_version_is_refused() -> None:
    issuer, credential, _ = published()
    with pytest.raises(StatusListNotRecorded, match="split view"):
        verify_credential(credential, issuer.evidence(recorded={}), LATER)


def test_an_expired_status_list_is_refused() -> None:
    issuer = IssuingAssociation()
    credential = issuer.issue().credential
    issuer.publish(REVOCATION)
    issuer.publish(SUSPENSION, valid_until=T0 + DAY)
    with pytest.raises(OutsideValidity, match="suspension list was valid until"):
        verify_credential(credential, issuer.evidence(), LATER)


@pytest.mark.parametrize(("as_of", "words"), [
    (T0 - DAY, "valid from 2026-01-15"), (dt.datetime(2027, 1, 15, tzinfo=dt.UTC),
                                          "valid until 2027-01-14T23:59:59")])
def test_a_credential_outside_its_validity_is_refused(as_of: dt.datetime, words: str) -> None:
    issuer, credential, _ = published()
    with pytest.raises(OutsideValidity, match=words):
        verify_credential(credential, issuer.evidence(), as_of)


def test_a_credential_signed_after_the_date_asked_about_is_refused() -> None:
    issuer = IssuingAssociation()
    credential = issuer.issue(award(valid_from=dt.date(2026, 1, 1)), created=T0).credential
    issuer.publish_all(T0 - 10 * DAY)
    with pytest.raises(OutsideValidity, match="signed at"):
        verify_credential(credential, issuer.evidence(), T0 - DAY)


@pytest.mark.parametrize(("change", "error", "words"), [
    (lambda c: c["credentialSubject"]["achievement"].__setitem__("name", "Infant Mental Health "
                                                                 "Mentor (Level IV-Clinical)"),
     ProofInvalid, "does not verify"),
    (lambda c: c["credentialSubject"]["achievement"].__setitem__("notATerm", "x"),
     UnsafeDocument, "notATerm"),
    (lambda c: c.__setitem__("@context", [*c["@context"], "https://example.org/ctx"]),
     MalformedCredential, "@context"),
    (lambda c: c.pop("validFrom"), SchemaInvalid, "validFrom"),
    (lambda c: c.__setitem__("credentialStatus", c["credentialStatus"][:1]),
     MalformedCredential, "one revocation and one suspension"),
    (lambda c: c["credentialStatus"][1].__setitem__("statusListIndex", "٣"),
     MalformedCredential, "string of digits"),
    (lambda c: c.__setitem__("proof", []), MalformedCredential, "exactly one proof"),
], ids=["changed name", "undefined term", "extra context", "no validFrom", "one entry",
        "non-ASCII digit", "no proof"])
def test_altered_credentials_are_refused_with_their_reason(change: Any, error: type[Exception],
                                                           words: str) -> None:
    issuer, credential, _ = published()
    altered = copy.deepcopy(credential)
    change(altered)
    with pytest.raises(error, match=words):
        verify_credential(altered, issuer.evidence(), LATER)


def test_one_changed_byte_anywhere_in_the_signed_fields_is_refused() -> None:
    issuer, credential, _ = published()
    evidence = issuer.evidence()
    text = load_document(json.dumps(credential).encode())
    for path in (("name",), ("issuer", "name"), ("credentialSubject", "identifier", 0,
                                                  "identityHash"), ("validUntil",)):
        altered = copy.deepcopy(text)
        node: Any = altered
        for step in path[:-1]:
            node = node[step]
        value = node[path[-1]]
        node[path[-1]] = value[:-1] + chr(ord(value[-1]) ^ 1)
        with pytest.raises(CredentialError):
            verify_credential(altered, evidence, LATER)


def test_oversized_or_non_object_input_is_refused_before_parsing() -> None:
    with pytest.raises(MalformedCredential, match="at most"):
        load_document(b" " * (300 * 1024))
    with pytest.raises(MalformedCredential, match="not a JSON object"):
        load_document(b"[1, 2]")
    with pytest.raises(MalformedCredential, match="not a JSON object"):
        load_document(b"{\"a\": ")


def test_every_refusal_names_its_reason_in_words() -> None:
    issuer, credential, _ = published()
    with pytest.raises(CredentialError) as refused:
        verify_credential(credential, issuer.evidence(recorded={}), LATER)
    assert re.search(r"suspension|revocation", str(refused.value))
    assert refused.value.reason == str(refused.value)
