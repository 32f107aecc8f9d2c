"""The staff evidence form keeps the texts the applicant signed in the portal: the form has
no field for them, and the ledger's commitment to the evidence must keep pinning the wording
signed (`staff_applications._signatures_kept`)."""

from __future__ import annotations

import datetime as dt

import msgspec

from domain.evidence import ApplicationEvidence, SignedText
from federation_api.web.pages.staff_applications import _signatures_kept

AT = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
SIGNED = tuple(SignedText(document=d, version="1", sha256="ab" * 32, signed_by="acc_1",
                          signed_name="Ana García", signed_at=AT)
               for d in ("code_of_ethics", "endorsement_agreement"))
BEFORE = ApplicationEvidence(code_of_ethics_signed=True, agreement_signed=True,
                             signed_texts=SIGNED)


def test_the_signed_texts_survive_the_coordinators_save() -> None:
    form = ApplicationEvidence(code_of_ethics_signed=True, agreement_signed=True, fee_paid=True)
    saved = _signatures_kept(form, BEFORE)
    assert saved.signed_texts == SIGNED and saved.fee_paid


def test_a_declaration_unticked_takes_its_signature_with_it() -> None:
    form = ApplicationEvidence(code_of_ethics_signed=False, agreement_signed=True)
    saved = _signatures_kept(form, BEFORE)
    assert saved.signed_texts == (SIGNED[1],)
    none = _signatures_kept(ApplicationEvidence(), BEFORE)
    assert isinstance(none.signed_texts, msgspec.UnsetType)


def test_evidence_never_signed_in_the_portal_is_left_as_it_was() -> None:
    form = ApplicationEvidence(code_of_ethics_signed=True, agreement_signed=True)
    saved = _signatures_kept(form, ApplicationEvidence(code_of_ethics_signed=True))
    assert saved == form and isinstance(saved.signed_texts, msgspec.UnsetType)
    # Encoded byte for byte as before (the field is never written while UNSET).
    assert msgspec.json.encode(saved) == msgspec.json.encode(form)
