"""Open Badges 3.0 credentials for endorsements: schema-valid, safe JSON-LD, nothing private."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from domain.credentials import StatusPurpose
from domain.levels import Designation, Level
from ledger.credentials.jsonld import canonicalize
from ledger.credentials.open_badges import ACHIEVEMENT_TYPE, schema_errors
from tests.unit.credential_fixtures import MENTOR, IssuingAssociation, award

ISSUER = IssuingAssociation()
LEVELS = [(Level.IFA, None), (Level.IFS, None), (Level.IMHS, None),
          *((Level.IMHM, d) for d in Designation)]


@pytest.mark.parametrize(("level", "designation"), LEVELS)
def test_every_level_gives_a_schema_valid_safe_credential(level: Level,
                                                          designation: Designation | None) -> None:
    credential = ISSUER.issue(award(level=level, designation=designation)).credential
    assert schema_errors(credential) == ()
    canonicalize({k: v for k, v in credential.items() if k != "proof"})
    achievement = credential["credentialSubject"]["achievement"]
    assert achievement["name"].startswith(level.title)
    assert achievement["criteria"]["narrative"]
    assert achievement["achievementType"] == ACHIEVEMENT_TYPE
    assert ("specialization" in achievement) == (designation is not None)


def test_the_credential_says_what_the_registry_publishes_and_nothing_else() -> None:
    credential = ISSUER.issue(award(**MENTOR)).credential
    subject = credential["credentialSubject"]
    assert set(subject) == {"type", "identifier", "achievement"}
    assert subject["identifier"] == [
        {"type": "IdentityObject", "identityType": "name", "hashed": False,
         "identityHash": "Ada Oyelaran"},
        {"type": "IdentityObject", "identityType": "identifier", "hashed": False,
         "identityHash": "AK-7Q4M2XKD"}]
    text = json.dumps(credential)
    for private in ("birth", "email", "phone", "address", "person_id", "evidence", "transcript"):
        assert private not in text.lower()
    assert credential["validFrom"] == "2026-01-15T00:00:00Z"
    assert credential["validUntil"] == "2027-01-14T23:59:59Z"
    assert credential["awardedDate"] == "2024-03-01T00:00:00Z"
    assert credential["issuer"]["otherIdentifier"][0]["identifier"] == "AK"
    assert subject["achievement"]["humanCode"] == "IMHM-C"
    assert subject["achievement"]["specialization"] == "Clinical"


def test_the_credential_carries_one_revocation_and_one_suspension_entry() -> None:
    issued = ISSUER.issue()
    entries = issued.credential["credentialStatus"]
    assert [e["statusPurpose"] for e in entries] == [p.value for p in StatusPurpose]
    assert {e["statusListIndex"] for e in entries} == {str(issued.index)}
    assert isinstance(issued.credential["proof"], list)  # the OB3 schema wants an array


def test_the_two_status_entries_are_the_only_deviation_from_the_ob3_schema() -> None:
    # The unmodified schema, applied to the whole credential, objects to the array and only
    # to it: validating entry by entry tolerates exactly that.
    from ledger.credentials.open_badges import _validator

    credential = ISSUER.issue().credential
    errors = list(_validator().iter_errors(credential))
    assert errors and {tuple(e.absolute_path) for e in errors} == {("credentialStatus",)}


@pytest.mark.parametrize(("change", "path"), [
    (lambda c: c.__setitem__("validFrom", "15 January 2026"), "validFrom"),
    (lambda c: c.__setitem__("validUntil", "2027-13-01T00:00:00Z"), "validUntil"),
    (lambda c: c["credentialSubject"]["achievement"].pop("criteria"),
     "credentialSubject/achievement"),
    (lambda c: c["credentialSubject"]["identifier"][0].__setitem__("hashed", "no"),
     "credentialSubject/identifier/0/hashed"),
    (lambda c: c.__setitem__("@context", list(reversed(c["@context"]))), "@context/0"),
    (lambda c: c.__setitem__("proof", c["proof"][0]), "proof"),
    (lambda c: c["credentialStatus"][1].pop("type"), "credentialStatus"),
], ids=["date-time format", "impossible date", "criteria", "boolean", "context order",
        "proof object", "entry without type"])
def test_schema_violations_are_reported_with_their_path(change: object, path: str) -> None:
    credential = copy.deepcopy(ISSUER.issue().credential)
    change(credential)  # type: ignore[operator]
    errors = schema_errors(credential)
    assert any(error.startswith(f"{path}:") for error in errors), errors


def test_an_award_must_be_coherent() -> None:
    with pytest.raises(ValueError, match="before valid_from"):
        award(valid_through=dt.date(2025, 1, 1))
    with pytest.raises(ValueError, match="designation"):
        award(level=Level.IMHM)
    with pytest.raises(ValueError, match="designation"):
        award(designation=Designation.POLICY)
