"""The offline verifier of an Alliance credential: proof, issuer, validity, status, history.

It does no I/O and reads no clock: the caller fetches the issuer's DID document and the
status list credentials the credential names, reads the versions of those lists that the
issuer's ledger records (a replicated, checkpointed and witnessed ledger), and passes them in
with the time to judge at. The verifier refuses, with a `CredentialError` naming the reason,
anything it cannot prove; a credential it can prove comes back with its status (active,
suspended, revoked) and the list versions that status was read from.

Beyond what any conforming verifier checks (the proof under a key the issuer's DID document
lets assert, validity dates, the status bits under a list the issuer signed), it checks what
only the Alliance can:

- the status list served is the version the issuer's ledger records as standing at the time
  asked about, so a list the node shows one verifier and not the ledger (a split view), or an
  old version replayed, is refused;
- when the trust registry's directory is given, the issuer's DID belongs to the association
  the credential names, and the proof's key is one the registry let that association sign
  with at the proof's time, whatever the DID document served says.

It is deliberately stricter than a generic verifier about shape: it verifies the credentials
Alliance nodes issue (`open_badges.py`) and refuses other contexts, extra proof fields, and a
credential without both status entries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

import msgspec

from domain.credentials import StatusPurpose
from ledger.codec import AwareDatetime, decode_json
from ledger.credentials.data_integrity import Proof, parse_time, read_proof, verify_proof
from ledger.credentials.did_document import KeyWindow, ListedKey, assertion_key, check_served
from ledger.credentials.jsonld import JsonObject, check_depth
from ledger.credentials.multikey import parse_did_web, split_did_url
from ledger.credentials.open_badges import CREDENTIAL_CONTEXT, schema_errors
from ledger.credentials.status_list import ENTRY_TYPE, PublishedList, read_status_list_credential
from ledger.errors import (
    IssuerMismatch,
    MalformedCredential,
    MalformedEntry,
    OutsideValidity,
    SchemaInvalid,
    StatusListNotRecorded,
    StatusListRefused,
    VerificationMethodRefused,
)
from ledger.signing import key_id_of

# Bounds on documents from outside, before any parsing: a credential is a few KiB, a status
# list credential of the largest decodable list a few hundred KiB.
MAX_CREDENTIAL_BYTES = 256 * 1024
MAX_LIST_CREDENTIAL_BYTES = 4 * 1024 * 1024


class CredentialState(StrEnum):
    """What a proven credential's status lists say of it."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class ServedDocument(msgspec.Struct, frozen=True):
    """A document and the URL it was fetched from."""

    url: str
    document: dict[str, Any]


class RecordedVersion(msgspec.Struct, frozen=True, kw_only=True):
    """A version of a status list as the issuer's ledger records it (StatusListPublished)."""

    list_version: int
    list_hash: str
    recorded_at: AwareDatetime


class Evidence(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the verifier judges a credential by, fetched and read by the caller."""

    did_document: ServedDocument  # the issuer's, fetched from the URL its did:web resolves to
    status_lists: Mapping[str, dict[str, Any]]  # statusListCredential URL -> credential served
    recorded: Mapping[str, Sequence[RecordedVersion]]  # list URL -> versions on the ledger
    # From the Alliance trust registry, when at hand: DID -> association id, and the issuing
    # association's key windows. None: checked against the DID document alone.
    issuers: Mapping[str, str] | None = None
    registry_keys: Sequence[KeyWindow] | None = None
    # List URL -> the witnessed checkpoint its versions were proven under (the caller checked
    # it, `ledger.proofs.list_history`); empty when they were taken on their signatures.
    witnessed: Mapping[str, Any] = msgspec.field(default_factory=dict)


class StatusFinding(msgspec.Struct, frozen=True, kw_only=True):
    """One status entry of the credential, read from a proven list version."""

    purpose: StatusPurpose
    index: int
    is_set: bool
    list_url: str
    list_version: int


class VerifiedCredential(msgspec.Struct, frozen=True, kw_only=True):
    """A credential the verifier proved, and what its status lists say."""

    credential_id: str
    issuer: str
    association: str | None
    verification_method: str
    valid_from: dt.datetime
    valid_until: dt.datetime | None
    state: CredentialState
    statuses: tuple[StatusFinding, ...]


def load_document(data: bytes, limit: int = MAX_CREDENTIAL_BYTES) -> JsonObject:
    """A JSON object from untrusted bytes, refusing oversized or non-object input."""
    if len(data) > limit:
        raise MalformedCredential(f"document is {len(data)} bytes; at most {limit} are read")
    try:
        document: JsonObject = decode_json(data, dict[str, Any])
    except MalformedEntry as e:
        raise MalformedCredential(f"not a JSON object: {e.reason}") from e
    except RecursionError as e:
        raise MalformedCredential("not a JSON object: nested too deeply") from e
    check_depth(document)
    return document


def verify_credential(credential: JsonObject, evidence: Evidence,
                      as_of: dt.datetime) -> VerifiedCredential:
    """Prove `credential` as of `as_of` from `evidence`, or raise the CredentialError that
    names why it cannot be proven."""
    issuer, association = _check_shape(credential, evidence)
    entries = _status_entries(credential)
    check_served(issuer, evidence.did_document.url, evidence.did_document.document)
    proof = read_proof(credential)
    listed = _proven_key(proof, evidence)
    verify_proof(credential, proof, listed.public_key)
    valid_from, valid_until = _check_validity(credential, proof, as_of, "the credential")
    findings = tuple(_read_status(entry, issuer, evidence, as_of) for entry in entries)
    state = CredentialState.ACTIVE
    if any(f.is_set for f in findings if f.purpose is StatusPurpose.SUSPENSION):
        state = CredentialState.SUSPENDED
    if any(f.is_set for f in findings if f.purpose is StatusPurpose.REVOCATION):
        state = CredentialState.REVOKED
    return VerifiedCredential(credential_id=credential["id"], issuer=issuer,
                              association=association,
                              verification_method=proof.verification_method,
                              valid_from=valid_from, valid_until=valid_until, state=state,
                              statuses=findings)


def _check_shape(credential: JsonObject, evidence: Evidence) -> tuple[str, str | None]:
    """The issuer's DID and the association it claims, after the shape and schema checks."""
    check_depth(credential)
    if credential.get("@context") != CREDENTIAL_CONTEXT:
        raise MalformedCredential(f"an Alliance credential's @context is {CREDENTIAL_CONTEXT}")
    errors = schema_errors(credential)
    if errors:
        raise SchemaInvalid("the credential does not validate against the Open Badges 3.0 "
                            f"schema: {'; '.join(errors[:3])}")
    types = credential.get("type")
    if not isinstance(types, list) or "OpenBadgeCredential" not in types:
        raise MalformedCredential("not an OpenBadgeCredential")
    issuer = credential["issuer"]
    if not isinstance(issuer, dict) or not isinstance(issuer.get("id"), str):
        raise MalformedCredential("the issuer must be a profile with an id")
    did: str = issuer["id"]
    parse_did_web(did)
    claimed = _claimed_association(issuer)
    if evidence.issuers is not None:
        owner = evidence.issuers.get(did)
        if owner is None:
            raise IssuerMismatch(f"{did} is not the DID of any Alliance association")
        if claimed != owner:
            raise IssuerMismatch(f"the credential claims association {claimed!r} as issuer, "
                                 f"but {did} is the DID of {owner}")
    return did, claimed


def _claimed_association(issuer: dict[str, Any]) -> str | None:
    for entry in issuer.get("otherIdentifier") or ():
        if isinstance(entry, dict) and entry.get("identifierType") == "identifier":
            identifier = entry.get("identifier")
            return identifier if isinstance(identifier, str) else None
    return None


def _proven_key(proof: Proof, evidence: Evidence) -> ListedKey:
    """The key the proof names, if the DID document (and the registry, when given) let it
    sign at the proof's time."""
    listed = assertion_key(evidence.did_document.document, proof.verification_method)
    too_early = listed.valid_from is not None and proof.created < listed.valid_from
    too_late = listed.valid_until is not None and proof.created >= listed.valid_until
    if too_early or too_late:
        raise VerificationMethodRefused(
            f"the proof was made at {proof.created.isoformat()}, outside the signing window of "
            f"{listed.verification_method}")
    if evidence.registry_keys is not None:
        _check_registry(proof, listed, evidence.registry_keys)
    return listed


def _check_registry(proof: Proof, listed: ListedKey, keys: Sequence[KeyWindow]) -> None:
    _, fragment = split_did_url(listed.verification_method)
    key_id = key_id_of(listed.public_key)
    for key in keys:
        if key.key_id == key_id:
            if fragment != key_id:
                raise VerificationMethodRefused(f"{listed.verification_method} does not name "
                                                f"its key by its registry id {key_id[:16]}")
            if key.revoked_from is not None:
                raise VerificationMethodRefused(f"the trust registry revoked key {key_id[:16]} "
                                                f"on {key.revoked_from.isoformat()}")
            # A proof's time has whole seconds (the floor of when it was signed), the
            # registry's windows microseconds: a key admitted at 12:00:00.4 may sign a proof
            # stamped 12:00:00, and a floor never reaches a window's end it was signed before.
            if proof.created < key.valid_from.replace(microsecond=0) or (
                    key.valid_until is not None and proof.created >= key.valid_until):
                raise VerificationMethodRefused(f"the trust registry did not let key "
                                                f"{key_id[:16]} sign at "
                                                f"{proof.created.isoformat()}")
            return
    raise VerificationMethodRefused(f"key {key_id[:16]} in the DID document is not a key the "
                                    "trust registry holds for the issuer")


def _check_validity(document: JsonObject, proof: Proof, as_of: dt.datetime,
                    what: str) -> tuple[dt.datetime, dt.datetime | None]:
    valid_from = parse_time(document.get("validFrom"), f"{what}'s validFrom")
    until = document.get("validUntil")
    valid_until = None if until is None else parse_time(until, f"{what}'s validUntil")
    if as_of < valid_from:
        raise OutsideValidity(f"{what} is valid from {valid_from.isoformat()}, not yet at "
                              f"{as_of.isoformat()}")
    if valid_until is not None and as_of > valid_until:
        raise OutsideValidity(f"{what} was valid until {valid_until.isoformat()}; it had expired "
                              f"at {as_of.isoformat()}")
    if proof.created > as_of:
        raise OutsideValidity(f"{what} was signed at {proof.created.isoformat()}, after "
                              f"{as_of.isoformat()}")
    return valid_from, valid_until


class _Entry(msgspec.Struct, frozen=True):
    purpose: StatusPurpose
    index: int
    list_url: str


def _status_entries(credential: JsonObject) -> list[_Entry]:
    """The credential's two status entries, checked for shape."""
    written = credential.get("credentialStatus")
    entries = written if isinstance(written, list) else [] if written is None else [written]
    purposes = sorted(str(e.get("statusPurpose")) for e in entries if isinstance(e, dict))
    if len(purposes) != len(entries) or purposes != sorted(p.value for p in StatusPurpose):
        raise MalformedCredential("an Alliance credential carries exactly one revocation and "
                                  "one suspension status entry")
    return [_parse_entry(entry) for entry in entries]


def _parse_entry(entry: dict[str, Any]) -> _Entry:
    if entry.get("type") != ENTRY_TYPE:
        raise MalformedCredential(f"status entries must be {ENTRY_TYPE}s")
    index_text, url = entry.get("statusListIndex"), entry.get("statusListCredential")
    if not isinstance(index_text, str) or not index_text.isdecimal() or not index_text.isascii():
        raise MalformedCredential("statusListIndex must be a string of digits")
    if not isinstance(url, str) or entry.get("id") == url:
        raise MalformedCredential("a status entry names its list, under an id of its own")
    return _Entry(StatusPurpose(entry["statusPurpose"]), int(index_text), url)


def _read_status(entry: _Entry, issuer: str, evidence: Evidence,
                 as_of: dt.datetime) -> StatusFinding:
    """The entry's bit, from the list version the ledger shows standing at `as_of`, signed by
    the issuer and valid then."""
    purpose, url = entry.purpose, entry.list_url
    served = evidence.status_lists.get(url)
    if served is None:
        raise StatusListRefused(f"the {purpose} list {url} was not provided")
    published = read_status_list_credential(served)
    if published.url != url:
        raise StatusListRefused(f"the list served for {url} is {published.url}")
    if published.issuer != issuer:
        raise IssuerMismatch(f"the {purpose} list was issued by {published.issuer}, the "
                             f"credential by {issuer}")
    if published.purpose is not purpose:
        raise StatusListRefused(f"the list at {url} is a {published.purpose} list, the entry "
                                f"is for {purpose}")
    proof = read_proof(served)
    listed = _proven_key(proof, evidence)
    verify_proof(served, proof, listed.public_key)
    version = _standing_version(url, published, evidence.recorded.get(url, ()), as_of)
    _check_validity(served, proof, as_of, f"the {purpose} list")
    return StatusFinding(purpose=purpose, index=entry.index,
                         is_set=published.bits.get(entry.index), list_url=url,
                         list_version=version)


def _standing_version(url: str, published: PublishedList, recorded: Sequence[RecordedVersion],
                      as_of: dt.datetime) -> int:
    """The version number of the served list, if it is the one the ledger shows standing at
    `as_of` (the last version recorded at or before it)."""
    served_hash = published.bits.list_hash
    standing = None
    for version in sorted(recorded, key=lambda v: v.list_version):
        if version.recorded_at <= as_of:
            standing = version
    if standing is not None and standing.list_hash == served_hash:
        return standing.list_version
    other = next((v for v in recorded if v.list_hash == served_hash), None)
    if other is None:
        raise StatusListNotRecorded(f"the {published.purpose} list served at {url} (bits "
                                    f"{served_hash[:16]}) is not a version the issuer's ledger "
                                    "records: a split view of the status list")
    if standing is None:
        raise StatusListNotRecorded(f"no version of the {published.purpose} list {url} was "
                                    f"recorded by {as_of.isoformat()}")
    raise StatusListNotRecorded(f"the {published.purpose} list served at {url} is version "
                                f"{other.list_version}, but version {standing.list_version} "
                                f"stood on {as_of.isoformat()}")
