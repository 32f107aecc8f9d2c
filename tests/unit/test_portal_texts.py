"""The texts an applicant signs, and how a signature enters the committed evidence: the
file's SHA-256 is the one recorded, unknown versions are refused, evidence without portal
signatures encodes byte for byte as before (so no earlier commitment changes), and the JSON
API cannot set a signature (only the portal records them)."""

from __future__ import annotations

import datetime as dt
import hashlib

import msgspec
import pydantic
import pytest

from domain.evidence import ApplicationEvidence, SignedText, Training
from federation_api.portal.applying import with_signatures
from federation_api.portal.drafts import Signature
from federation_api.portal.texts import HERE, Document, text_of
from federation_api.web.schemas import ApplicationEvidenceIn
from ledger.codec import encode

AT = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("document", list(Document))
def test_a_text_is_its_files_bytes_and_their_sha256(document: Document) -> None:
    text = text_of(document)
    data = (HERE / f"{document.value}-{text.version}.txt").read_bytes()
    assert text.sha256 == hashlib.sha256(data).hexdigest() and text.text == data.decode()
    assert document.heading in text.text.splitlines()[0]


@pytest.mark.parametrize("version", ["999", "../code_of_ethics-1", "1/../../x", ""])
def test_an_unknown_or_malformed_version_is_refused(version: str) -> None:
    if version == "":
        assert text_of(Document.CODE_OF_ETHICS).version == "1"  # empty: the current one
        return
    with pytest.raises(KeyError):
        text_of(Document.CODE_OF_ETHICS, version)


def test_evidence_without_signatures_encodes_as_it_always_did() -> None:
    evidence = ApplicationEvidence(trainings=(Training(title="t", hours=30,
                                                       completed_on=dt.date(2025, 1, 1)),),
                                   code_of_ethics_signed=True)
    before = {k: v for k, v in msgspec.to_builtins(evidence).items() if k != "signed_texts"}
    assert encode(evidence) == encode(before)
    assert b"signed_texts" not in encode(evidence)


def test_signatures_set_the_declarations_and_enter_the_evidence() -> None:
    text = text_of(Document.AGREEMENT)
    signature = Signature(document=text.document.value, text_version=text.version,
                          text_sha256=text.sha256, signed_by="acc_1", signed_name="Ana",
                          signed_at=AT)
    signed = with_signatures(ApplicationEvidence(), {text.document.value: signature})
    assert signed.agreement_signed and not signed.code_of_ethics_signed
    assert signed.signed_texts == (SignedText(document="endorsement_agreement", version="1",
                                              sha256=text.sha256, signed_by="acc_1",
                                              signed_name="Ana", signed_at=AT),)
    assert text.sha256.encode() in encode(signed)
    # Unsigning (a draft without signatures) leaves nothing of them behind.
    assert with_signatures(signed, {}) == ApplicationEvidence()


def test_the_json_api_cannot_set_a_signature() -> None:
    assert "signed_texts" not in ApplicationEvidenceIn.model_fields
    with pytest.raises(pydantic.ValidationError):
        ApplicationEvidenceIn.model_validate({"signed_texts": []})
