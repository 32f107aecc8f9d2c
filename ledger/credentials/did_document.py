"""An association's `did:web` DID document, built from its keys' windows in the trust registry,
and the reading of one when verifying.

Which keys the document lists, and how (decided here; README "Portable credentials"):

- Every key whose window has begun is listed under `verificationMethod`, with its window as
  metadata (`validFrom`, `validUntil`: when the registry let it sign), so the document shows
  the association's whole key history, as the registry does.
- A key retired by rotation stays an `assertionMethod`. A credential it signed while it was
  the association's key is as good after the rotation as before, and third-party verifiers
  accept a proof only under a key the issuer's document lists as an assertion method.
- A key the registry revoked (a compromise) is removed from `assertionMethod` and carries the
  standard Multikey `revoked` time. Whoever holds a stolen key can write any `created` time
  into a proof, so no proof under it can be told from a forgery: every verifier must refuse
  them all. The reference verifiers ignore `revoked` on a verification method (they check
  only `assertionMethod`), so removal is what makes them refuse; `revoked` tells the others,
  and people, why. Credentials signed with a revoked key must be issued again.
- `expires` is deliberately not used for rotated keys: a verifier that honours it refuses
  proofs after that time, which would invalidate every credential a rotation left behind.
- No `authentication`: these keys sign credentials and ledger entries; nothing logs in with
  them (least privilege).
- `@context[0]` is exactly DID v1, and stays so: only then do the reference verifiers read
  `assertionMethod` as plain JSON instead of re-framing the document under a context this
  project does not ship.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import msgspec

from ledger.codec import AwareDatetime
from ledger.credentials.data_integrity import parse_time, xsd_datetime
from ledger.credentials.jsonld import DID_CONTEXT, MULTIKEY_CONTEXT, JsonObject
from ledger.credentials.multikey import (
    decode_public_key,
    did_web_url,
    encode_public_key,
    parse_did_web,
    split_did_url,
)
from ledger.errors import (
    DidDocumentRefused,
    IssuerMismatch,
    MalformedCredential,
    VerificationMethodRefused,
)
from ledger.signing import key_id_of

_XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"
# The signing window's terms. Neither DID v1 nor Multikey defines one, and an undefined term
# is what safe-mode verifiers refuse, so the document defines them inline (schema.org's
# generic validity terms).
KEY_WINDOW_CONTEXT: JsonObject = {
    "validFrom": {"@id": "https://schema.org/validFrom", "@type": _XSD_DATETIME},
    "validUntil": {"@id": "https://schema.org/validThrough", "@type": _XSD_DATETIME},
}
_LOOPBACK = ("localhost", "127.0.0.1")


class KeyWindow(msgspec.Struct, frozen=True, kw_only=True):
    """One key of an association as the trust registry records it (plain values, so that this
    module does not depend on the registry's types)."""

    key_id: str
    public_key: bytes
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None  # end of its signing window (rotation, revocation)
    revoked_from: AwareDatetime | None = None  # set when the registry revoked it (compromise)

    def __post_init__(self) -> None:
        if key_id_of(self.public_key) != self.key_id:
            raise ValueError("key_id is not the SHA-256 of public_key")
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("a key's window cannot end before it starts")


class ListedKey(msgspec.Struct, frozen=True, kw_only=True):
    """An assertion key found in a DID document, with the window the document gives it."""

    verification_method: str
    public_key: bytes
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None


def verification_method_id(did: str, key_id: str) -> str:
    """The DID URL of a key: the DID with the registry's key id as fragment, so an auditor can
    match a proof to the key id in ledger entries and the registry."""
    return f"{did}#{key_id}"


def build_did_document(did: str, keys: Iterable[KeyWindow], as_of: dt.datetime) -> JsonObject:
    """The DID document of `did` as of `as_of`, listing `keys` as the module docstring says."""
    parse_did_web(did)
    methods: list[JsonObject] = []
    assertion: list[str] = []
    for key in sorted(keys, key=lambda k: (k.valid_from, k.key_id)):
        if key.valid_from > as_of:
            continue  # registered ahead of its window: it has signed nothing yet
        method: JsonObject = {
            "id": verification_method_id(did, key.key_id), "type": "Multikey",
            "controller": did, "publicKeyMultibase": encode_public_key(key.public_key),
            "validFrom": xsd_datetime(key.valid_from)}
        if key.valid_until is not None:
            method["validUntil"] = xsd_datetime(_second_after(key.valid_until))
        if key.revoked_from is not None and key.revoked_from <= as_of:
            method["revoked"] = xsd_datetime(key.revoked_from)
        else:
            assertion.append(method["id"])
        methods.append(method)
    return {"@context": [DID_CONTEXT, MULTIKEY_CONTEXT, KEY_WINDOW_CONTEXT], "id": did,
            "verificationMethod": methods, "assertionMethod": assertion}


def _second_after(moment: dt.datetime) -> dt.datetime:
    """`moment` rounded up to a whole second. Documents carry times to the second, and proof
    times are cut down to theirs: a window end cut down too would refuse what its key signed
    in the second before the registry closed its window."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + dt.timedelta(seconds=1)


def check_served(did: str, served_from: str, document: JsonObject) -> None:
    """Refuse a DID document that is not `did`'s: another id, or fetched from a URL other than
    the one `did` resolves to (another node answering for this association)."""
    expected = did_web_url(did)
    host, _, _ = parse_did_web(did)
    allowed = {expected}
    if host in _LOOPBACK:
        allowed.add("http://" + expected.removeprefix("https://"))  # local tests and demos
    if served_from not in allowed:
        raise DidDocumentRefused(f"the DID document of {did} must come from {expected}; this "
                                 f"one came from {served_from}")
    if not isinstance(document, dict) or document.get("id") != did:
        claimed = document.get("id") if isinstance(document, dict) else None
        raise DidDocumentRefused(f"the DID document names {claimed!r}, not {did}")
    context = document.get("@context")
    if not isinstance(context, list) or not context or context[0] != DID_CONTEXT:
        raise DidDocumentRefused(f"a DID document's first @context must be {DID_CONTEXT}")


def assertion_key(document: JsonObject, verification_method: str) -> ListedKey:
    """The key `verification_method` names in `document` (already `check_served`), if the
    document lets it assert credentials; VerificationMethodRefused with the reason if not."""
    did, fragment = split_did_url(verification_method)
    if did != document.get("id"):
        raise IssuerMismatch(f"the proof's key {verification_method} belongs to {did}, not to "
                             f"{document.get('id')}")
    if not fragment:
        raise VerificationMethodRefused("the proof names a DID, not one of its keys")
    method = _find_method(document, verification_method)
    if method.get("type") != "Multikey" or method.get("controller") != did:
        raise VerificationMethodRefused(f"{verification_method} is not a Multikey controlled "
                                        f"by {did}")
    if "revoked" in method:
        raise VerificationMethodRefused(f"{verification_method} was revoked on "
                                        f"{method['revoked']}: no proof under it can be trusted")
    assertion = document.get("assertionMethod")
    if not isinstance(assertion, list) or verification_method not in assertion:
        raise VerificationMethodRefused(f"{verification_method} is not an assertion method of "
                                        f"{did}")
    return ListedKey(verification_method=verification_method,
                     public_key=decode_public_key(method.get("publicKeyMultibase", "")),
                     valid_from=_optional_time(method, "validFrom"),
                     valid_until=_optional_time(method, "validUntil"))


def _find_method(document: JsonObject, verification_method: str) -> dict[str, Any]:
    methods = document.get("verificationMethod")
    if not isinstance(methods, list):
        raise MalformedCredential("the DID document lists no verification methods")
    for method in methods:
        if isinstance(method, dict) and method.get("id") == verification_method:
            return method
    raise VerificationMethodRefused(f"{verification_method} is not listed in the DID document "
                                    "of its DID")


def _optional_time(method: dict[str, Any], name: str) -> dt.datetime | None:
    value = method.get(name)
    return None if value is None else parse_time(value, f"verification method {name}")
