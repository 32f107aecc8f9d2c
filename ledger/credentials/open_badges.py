"""Open Badges 3.0 `OpenBadgeCredential`s (W3C VC 2.0) for endorsements, and their validation
against the OB3 JSON schema.

What a credential says, and why:

- `issuer`: the association, as a Profile whose `id` is its did:web, with its name, its web
  page and its Alliance id (`otherIdentifier`), so a verifier can check the DID belongs to
  that association.
- `credentialSubject`: the achievement (the level, with the Level IV designation as its
  `specialization`, and criteria written from the shared endorsement standard), the holder's
  name exactly as the association publishes it on its ledger, and the endorsement id that
  employers look up. No private field: nothing that is not a public registry field already,
  no date of birth, no contact detail, no evidence. There is no subject `id`: holders have no
  DID of their own in this system (yet).
- `achievementType` is the OB3 extension value `ext:InfantMentalHealthEndorsement`: the
  endorsement is neither a licence nor a certification (it is an overlay on a professional's
  credentials), and none of the standard values says what it is.
- `validFrom`: the day the event that issued it took effect (grant, renewal, reinstatement,
  recognition); `validUntil`: the end of the endorsement's valid-through day, after which the
  endorsement is never shown as current (DESIGN invariant 5); `awardedDate`: the original
  grant, which renewals do not move.
- `credentialStatus`: two `BitstringStatusListEntry`s, one per purpose (revocation, final;
  suspension, reversible). The OB3 JSON schema allows a single status object, VC 2.0 and the
  status list recommendation allow a list, and the reference verifiers check every entry.
  Issuing one entry would lose either reversibility or the word "revoked", so the credential
  carries both and `schema_errors` validates it with each entry in turn as the single one:
  the one deviation from the OB3 schema, and the only one it tolerates.
- No VC-JOSE (JWT) form: OB 3.0 conformance tests the embedded Data Integrity proof, the
  reference verifiers do not read JWTs, and OB 3.0's JWT rules conflict with VC-JOSE-COSE's
  (a `sub` we cannot fill, RS256, no extra headers): any JWT would be non-conforming to one of
  them, and a second proof format is a second thing to keep consistent with the status lists.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from functools import cache
from typing import Any

import jsonschema
import msgspec

from domain.levels import Designation, Level
from domain.requirement_areas import level_label
from ledger.credentials.data_integrity import create_proof
from ledger.credentials.jsonld import OB3_CONTEXT, VC2_CONTEXT, JsonObject, shipped_file
from ledger.credentials.multikey import parse_did_web
from ledger.signing import Signer

CREDENTIAL_CONTEXT = [VC2_CONTEXT, OB3_CONTEXT]  # this order is what the OB3 schema requires
CREDENTIAL_TYPE = ["VerifiableCredential", "OpenBadgeCredential"]
ACHIEVEMENT_TYPE = "ext:InfantMentalHealthEndorsement"
FIELD_OF_STUDY = "Infant and Early Childhood Mental Health"
_SCHEMA_FILE = "ob-v3p0-achievementcredential-schema.json"
_DESIGNATION_WORDS = {Designation.CLINICAL: "Clinical", Designation.POLICY: "Policy",
                      Designation.RESEARCH_FACULTY: "Research/Faculty"}

# What earns each level, in the words of the shared standard every Alliance association
# applies (DOMAIN.md); a displayer shows this to whoever inspects the badge.
_CRITERIA = {
    Level.IFA: (
        "An academic degree, a CDA credential, an Associate's degree in a related field, or two "
        "years of paid infant or early childhood work; at least 30 clock hours of "
        "relationship-based training on infant mental health; three reference ratings of the "
        "competencies; a signed Code of Ethics and Endorsement Agreement."),
    Level.IFS: (
        "A Bachelor's degree or higher; at least 30 clock hours of relationship-based "
        "training; two years of paid work promoting infant mental health with at least 10 "
        "families of infants and toddlers; at least 24 hours of reflective supervision/"
        "consultation; three reference ratings; a signed Code of Ethics and Endorsement "
        "Agreement."),
    Level.IMHS: (
        "A Master's or doctoral degree, or a university infant mental health certificate "
        "programme; at least 30 clock hours of relationship-based training; two years of "
        "supervised postgraduate infant mental health work with infants and their parents; at "
        "least 50 hours of reflective supervision/consultation; three reference ratings; a "
        "passed written exam; a signed Code of Ethics and Endorsement Agreement."),
    Level.IMHM: (
        "A Master's or doctoral degree, a postgraduate specialisation or a university "
        "certificate programme; at least 30 clock hours of relationship-based training; three "
        "years of postgraduate leadership in the designation's field (clinical practice and "
        "providing reflective supervision/consultation, policy and programme administration, "
        "or university teaching and research); reflective supervision/consultation where the "
        "designation requires it; three reference ratings; a passed written exam; a signed "
        "Code of Ethics and Endorsement Agreement."),
}
_RENEWAL = ("Renewed every year with at least 15 clock hours of relationship-based training "
            "and membership in an infant mental health association.")


class IssuerProfile(msgspec.Struct, frozen=True, kw_only=True):
    """The association as the credential names its issuer."""

    did: str
    association: str  # the Alliance id of the association, e.g. "AK"
    name: str
    url: str | None = None

    def __post_init__(self) -> None:
        parse_did_web(self.did)


class EndorsementAward(msgspec.Struct, frozen=True, kw_only=True):
    """The public facts of one endorsement that one credential states."""

    endorsement_id: str
    family_name: str
    given_name: str
    level: Level
    designation: Designation | None
    awarded_on: dt.date  # the original grant
    valid_from: dt.date  # the day the issuing event (grant, renewal, ...) took effect
    valid_through: dt.date

    def __post_init__(self) -> None:
        if self.valid_through < self.valid_from:
            raise ValueError("valid_through is before valid_from")
        if (self.level is Level.IMHM) != (self.designation is not None):
            raise ValueError("a designation goes with Level IV, and only with it")


def achievement_code(level: Level, designation: Designation | None) -> str:
    """"IFS", "IMHM-C": the code an achievement's URL and `humanCode` use."""
    return level.value if designation is None else f"{level.value}-{designation.value}"


def build_credential(*, credential_id: str, issuer: IssuerProfile, award: EndorsementAward,
                     achievement_base_url: str,
                     status_entries: Sequence[JsonObject]) -> JsonObject:
    """The unsigned OpenBadgeCredential for `award` (see the module docstring for each part)."""
    code = achievement_code(award.level, award.designation)
    label = level_label(award.level, award.designation)
    achievement: JsonObject = {
        "id": f"{achievement_base_url.rstrip('/')}/{code}", "type": ["Achievement"],
        "achievementType": ACHIEVEMENT_TYPE, "humanCode": code,
        "name": f"{award.level.title} ({label})",
        "description": f"{label} of the Infant Mental Health Endorsement, granted under the "
                       "competency guidelines every Alliance association applies.",
        "criteria": {"narrative": f"{_CRITERIA[award.level]} {_RENEWAL}"},
        "fieldOfStudy": FIELD_OF_STUDY}
    if award.designation is not None:
        achievement["specialization"] = _DESIGNATION_WORDS[award.designation]
    profile: JsonObject = {
        "id": issuer.did, "type": ["Profile"], "name": issuer.name,
        "otherIdentifier": [{"type": "IdentifierEntry", "identifier": issuer.association,
                             "identifierType": "identifier"}]}
    if issuer.url:
        profile["url"] = issuer.url
    credential: JsonObject = {
        "@context": list(CREDENTIAL_CONTEXT), "id": credential_id, "type": list(CREDENTIAL_TYPE),
        "name": f"Infant Mental Health Endorsement: {award.level.title}",
        "description": f"{issuer.name} endorses {award.given_name} {award.family_name} at "
                       f"{label} ({award.level.title}), endorsement {award.endorsement_id}.",
        "issuer": profile,
        "validFrom": _start_of(award.valid_from), "validUntil": _end_of(award.valid_through),
        "awardedDate": _start_of(award.awarded_on),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                _identity("name", f"{award.given_name} {award.family_name}"),
                _identity("identifier", award.endorsement_id)],
            "achievement": achievement},
        "credentialStatus": [dict(entry) for entry in status_entries]}
    return credential


def issue_credential(unsigned: JsonObject, signer: Signer, verification_method: str,
                     created: dt.datetime) -> JsonObject:
    """`unsigned` secured with its eddsa-rdfc-2022 proof, as the one-element array the OB3
    schema requires."""
    return create_proof(unsigned, signer, verification_method, created, as_list=True)


def schema_errors(credential: JsonObject) -> tuple[str, ...]:
    """Where `credential` breaks the OB3 JSON schema ("path: message"), with a list of status
    entries validated one entry at a time (the module docstring says why)."""
    entries = credential.get("credentialStatus")
    if isinstance(entries, list):
        variants = [{**credential, "credentialStatus": entry} for entry in entries] or [
            {key: value for key, value in credential.items() if key != "credentialStatus"}]
    else:
        variants = [credential]
    found: dict[str, None] = {}
    for variant in variants:
        for error in _validator().iter_errors(variant):
            path = "/".join(str(part) for part in error.absolute_path) or "(credential)"
            found[f"{path}: {error.message}"] = None
    return tuple(found)


@cache
def _validator() -> Any:
    schema = json.loads(shipped_file(_SCHEMA_FILE))
    # Without a FormatChecker (and rfc3339-validator installed) `format: date-time` would be
    # silently ignored.
    return jsonschema.Draft201909Validator(schema, format_checker=jsonschema.FormatChecker())


def _identity(kind: str, value: str) -> JsonObject:
    # Plain text, not hashed: both values are published in the association's registry.
    return {"type": "IdentityObject", "identityType": kind, "hashed": False,
            "identityHash": value}


def _start_of(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _end_of(day: dt.date) -> str:
    return f"{day.isoformat()}T23:59:59Z"
