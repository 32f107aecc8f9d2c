"""Credentials issued here, verified by code nobody on this project wrote.

The npm packages `@digitalbazaar/vc`, `@digitalbazaar/eddsa-rdfc-2022-cryptosuite` and
`@digitalbazaar/vc-bitstring-status-list` (exact versions in js/package-lock.json) verify each
credential against the association's did:web DID document and its status lists, fetched
over HTTP from a loopback server this test runs. Our own verifier judges the same artefacts,
and both must agree.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from domain.credentials import StatusPurpose
from ledger.credentials.status_list import decode_list, encode_list
from ledger.credentials.verify import CredentialState, verify_credential
from ledger.errors import CredentialError
from tests.interop.js_stack import JsVerifier
from tests.interop.loopback_site import Site
from tests.unit.credential_fixtures import T0, IssuingAssociation, award

DAY = dt.timedelta(days=1)
NOW = T0 + 30 * DAY
SUSPENSION, REVOCATION = StatusPurpose.SUSPENSION, StatusPurpose.REVOCATION


def serve(site: Site, issuer: IssuingAssociation, as_of: dt.datetime = NOW) -> None:
    """Put the association's current DID document and signed lists on the site."""
    site.documents["/.well-known/did.json"] = json.dumps(issuer.did_document(as_of)).encode()
    for url, credential in issuer.served.items():
        site.documents[urlsplit(url).path] = json.dumps(credential).encode()


def reference_verify(verifier: JsVerifier, tmp_path: Path, credential: dict[str, Any] | bytes,
                     now: dt.datetime = NOW) -> dict[str, Any]:
    """The npm verifier's judgement of one credential file."""
    path = tmp_path / f"credential-{len(list(tmp_path.iterdir()))}.json"
    path.write_bytes(credential if isinstance(credential, bytes) else json.dumps(
        credential, indent=2).encode())
    run = subprocess.run([verifier.node, str(verifier.script), str(path), "--now",
                          now.isoformat().replace("+00:00", "Z")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.stdout, run.stderr
    verdict: dict[str, Any] = json.loads(run.stdout)
    assert (run.returncode == 0) == verdict["verified"], run.stderr
    return verdict


def our_state(issuer: IssuingAssociation, credential: dict[str, Any],
              as_of: dt.datetime = NOW) -> str:
    """Our verifier's judgement of the same artefacts ("invalid" when it refuses)."""
    try:
        return verify_credential(credential, issuer.evidence(as_of=as_of), as_of).state.value
    except CredentialError:
        return "invalid"


@pytest.fixture
def issuer(site: Site) -> IssuingAssociation:
    association = IssuingAssociation(host="localhost", port=site.port, scheme="http")
    return association


def test_a_fresh_credential_is_valid_and_active(js_verifier: JsVerifier, tmp_path: Path, site: Site,
                                                issuer: IssuingAssociation) -> None:
    issued = issuer.issue(award())
    issuer.publish_all()
    serve(site, issuer)
    verdict = reference_verify(js_verifier, tmp_path, issued.credential)
    assert verdict["summary"] == "active", verdict["errors"]
    assert sorted(s["purpose"] for s in verdict["statuses"]) == ["revocation", "suspension"]
    assert {s["index"] for s in verdict["statuses"]} == {str(issued.index)}
    assert our_state(issuer, issued.credential) == "active"
    # Everything came over HTTP from the site: the DID document and both lists.
    assert "/.well-known/did.json" in site.requests
    assert {"/status/revocation/1", "/status/suspension/1"} <= set(site.requests)


def test_after_a_suspension_bit_is_set_the_credential_is_suspended(
        js_verifier: JsVerifier, tmp_path: Path, site: Site, issuer: IssuingAssociation) -> None:
    issued = issuer.issue(award())
    issuer.publish_all()
    issuer.set_status(SUSPENSION, issued.index)
    issuer.publish(SUSPENSION, T0 + DAY)
    serve(site, issuer)
    verdict = reference_verify(js_verifier, tmp_path, issued.credential)
    assert verdict["summary"] == "suspended", verdict["errors"]
    assert our_state(issuer, issued.credential) == "suspended"
    # Lifting the suspension (a new version of the list) makes it active again.
    issuer.set_status(SUSPENSION, issued.index, False)
    issuer.publish(SUSPENSION, T0 + 2 * DAY)
    serve(site, issuer)
    assert reference_verify(js_verifier, tmp_path, issued.credential)["summary"] == "active"


def test_after_a_revocation_bit_is_set_the_credential_is_revoked(
        js_verifier: JsVerifier, tmp_path: Path, site: Site, issuer: IssuingAssociation) -> None:
    issued = issuer.issue(award())
    issuer.set_status(REVOCATION, issued.index)
    issuer.publish_all()
    serve(site, issuer)
    assert reference_verify(js_verifier, tmp_path, issued.credential)["summary"] == "revoked"
    assert our_state(issuer, issued.credential) == CredentialState.REVOKED.value


def test_after_a_key_rotation_the_old_credential_still_verifies(
        js_verifier: JsVerifier, tmp_path: Path, site: Site, issuer: IssuingAssociation) -> None:
    old = issuer.issue(award())
    issuer.publish_all()
    issuer.add_key(T0 + DAY)
    issuer.publish_all(T0 + 2 * DAY)  # the lists are now signed with the new key
    new = issuer.issue(award(endorsement_id="AK-9X2P4KLM"), created=T0 + 2 * DAY)
    serve(site, issuer)
    for credential in (old.credential, new.credential):
        verdict = reference_verify(js_verifier, tmp_path, credential)
        assert verdict["summary"] == "active", verdict["errors"]
        assert our_state(issuer, credential) == "active"
    assert old.credential["proof"][0]["verificationMethod"] != new.credential["proof"][0][
        "verificationMethod"]


def test_a_credential_with_one_byte_changed_fails(js_verifier: JsVerifier, tmp_path: Path,
                                                  site: Site,
                                                  issuer: IssuingAssociation) -> None:
    issued = issuer.issue(award())
    issuer.publish_all()
    serve(site, issuer)
    text = json.dumps(issued.credential, indent=2).encode()
    at = text.index(b'"Ada Oyelaran"') + 1
    changed = text[:at] + bytes([text[at] ^ 0x01]) + text[at + 1:]  # "Ada" -> "@da"
    assert len(changed) == len(text) and sum(a != b for a, b in zip(changed, text,
                                                                     strict=True)) == 1
    verdict = reference_verify(js_verifier, tmp_path, changed)
    assert verdict["summary"] == "invalid"
    assert any("signature" in error.lower() for error in verdict["errors"]), verdict["errors"]
    assert our_state(issuer, json.loads(changed)) == "invalid"


def test_a_key_revoked_for_compromise_invalidates_its_credentials(
        js_verifier: JsVerifier, tmp_path: Path, site: Site, issuer: IssuingAssociation) -> None:
    compromised = issuer.signer
    issued = issuer.issue(award())
    issuer.add_key(T0 + DAY)
    issuer.revoke_key(compromised.key_id, T0 + DAY)
    issuer.publish_all(T0 + 2 * DAY)
    serve(site, issuer)
    verdict = reference_verify(js_verifier, tmp_path, issued.credential)
    assert verdict["summary"] == "invalid", verdict
    assert our_state(issuer, issued.credential) == "invalid"


def test_a_status_bit_flipped_without_signing_fails(js_verifier: JsVerifier, tmp_path: Path,
                                                    site: Site,
                                                    issuer: IssuingAssociation) -> None:
    issued = issuer.issue(award())
    issuer.publish_all()
    url = issuer.list_url(SUSPENSION)
    flipped = json.loads(json.dumps(issuer.served[url]))
    bits = decode_list(flipped["credentialSubject"]["encodedList"]).with_bits([issued.index])
    flipped["credentialSubject"]["encodedList"] = encode_list(bits)
    issuer.served[url] = flipped
    serve(site, issuer)
    assert reference_verify(js_verifier, tmp_path, issued.credential)["summary"] == "invalid"
    assert our_state(issuer, issued.credential) == "invalid"


@pytest.mark.parametrize(("now", "summary"), [(T0 - DAY, "invalid"),
                                               (dt.datetime(2027, 2, 1, tzinfo=dt.UTC),
                                                "invalid"), (NOW, "active")],
                         ids=["before validFrom", "after validUntil", "within"])
def test_validity_dates_are_read_alike(js_verifier: JsVerifier, tmp_path: Path, site: Site,
                                       issuer: IssuingAssociation, now: dt.datetime,
                                       summary: str) -> None:
    issued = issuer.issue(award(), created=T0 - 2 * DAY)
    issuer.publish_all(T0 - 2 * DAY)
    serve(site, issuer)
    assert reference_verify(js_verifier, tmp_path, issued.credential, now)["summary"] == summary
    assert our_state(issuer, issued.credential, now) == summary


def test_a_term_no_context_defines_is_refused_alike(js_verifier: JsVerifier, tmp_path: Path,
                                                    site: Site,
                                                    issuer: IssuingAssociation) -> None:
    """pyld alone would drop the term and verify the rest; both verifiers refuse instead."""
    issued = issuer.issue(award())
    issuer.publish_all()
    serve(site, issuer)
    extended = json.loads(json.dumps(issued.credential))
    extended["credentialSubject"]["achievement"]["grade"] = "A"
    verdict = reference_verify(js_verifier, tmp_path, extended)
    assert verdict["summary"] == "invalid"
    assert any("safe mode" in error.lower() for error in verdict["errors"]), verdict["errors"]
    assert our_state(issuer, extended) == "invalid"
