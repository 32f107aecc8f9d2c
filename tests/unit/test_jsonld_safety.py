"""What pyld would silently drop, resolve or mis-encode is refused, as safe mode refuses it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ledger.credentials.jsonld import canonicalize
from ledger.errors import MalformedCredential, UnsafeDocument
from tests.unit.credential_fixtures import IssuingAssociation

ISSUER = IssuingAssociation()
CREDENTIAL = {k: v for k, v in ISSUER.issue().credential.items() if k != "proof"}


def changed(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(CREDENTIAL)
    change(document)
    return document


def test_the_credential_canonicalises_to_its_n_quads() -> None:
    nquads = canonicalize(CREDENTIAL)
    assert nquads.endswith("\n")
    assert "<https://purl.imsglobal.org/spec/vc/ob/vocab.html#OpenBadgeCredential>" in nquads
    assert "example.org" not in nquads  # pyld's default base never applies


@pytest.mark.parametrize(("change", "words"), [
    (lambda d: d.__setitem__("notATerm", "x"), "notATerm"),
    (lambda d: d["credentialSubject"]["achievement"].__setitem__("grade", "A"), "grade"),
    (lambda d: d["issuer"].__setitem__("telephone", "1"), "telephone"),
    (lambda d: d.__setitem__("id", "credentials/1"), "not an absolute IRI"),
    (lambda d: d["credentialSubject"]["achievement"].__setitem__("id", "../ifs"),
     "not an absolute IRI"),
    (lambda d: d["type"].append("Unknown"), "not an absolute IRI"),
    (lambda d: d.__setitem__("name", "bell\x07"), "control character"),
    (lambda d: d.__setitem__("name", "nul\x00"), "control character"),
    (lambda d: d.__setitem__("name", "del\x7f"), "control character"),
    (lambda d: d.__setitem__("name", "vt\x0b"), "control character"),
    (lambda d: d["credentialSubject"].__setitem__("na\x01me", "x"), "control character"),
], ids=["top-level term", "nested term", "issuer term", "relative id", "relative nested id",
        "undefined type", "BEL", "NUL", "DEL", "VT", "control char in a key"])
def test_unsafe_documents_are_refused_with_the_reason(change: Any, words: str) -> None:
    with pytest.raises(UnsafeDocument, match=words):
        canonicalize(changed(change))


@pytest.mark.parametrize("text", ["tab\there", "two\nlines", "cr\r", 'quote " and \\',
                                  "line\u2028separator", "emoji \U0001f476", "Zoë Ångström"])
def test_text_all_implementations_encode_alike_is_accepted(text: str) -> None:
    canonicalize(changed(lambda d: d.__setitem__("name", text)))


def test_a_null_value_is_neither_signed_nor_counted_as_dropped() -> None:
    # JSON null means "no value" in JSON-LD; it is not a value that goes unsigned.
    assert canonicalize(changed(lambda d: d.__setitem__("description", None))) == canonicalize(
        changed(lambda d: d.pop("description")))


def test_a_document_must_be_an_object() -> None:
    with pytest.raises(MalformedCredential):
        canonicalize([CREDENTIAL])  # type: ignore[arg-type]
