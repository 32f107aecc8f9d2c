"""The texts a person signs in the portal, each with a version and the SHA-256 of its words.

A signature in the page records which text was signed (`version`, `sha256`), so that a later
edit of the wording never changes what someone is taken to have agreed to: the record names
the exact words, and the hash proves which. The renewal re-signs the Code of Ethics here
(`portal.renewal`); the drafts' signatures (`portal.drafts.Signature`) carry the same three
facts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class SignedText:
    """One text to sign: its name, version and words."""

    document: str
    title: str
    version: str
    text: str

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of the words (UTF-8), recorded with each signature."""
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def paragraphs(self) -> list[str]:
        """The words as the page shows them."""
        return [p.strip() for p in self.text.split("\n\n") if p.strip()]


CODE_OF_ETHICS = SignedText(
    document="code_of_ethics", title="Code of Ethics", version="2026-1",
    text="""As an endorsed infant and early childhood mental health professional I commit to:

Put the well-being of infants, young children and their families first, and respect each
family's culture, language and choices.

Keep what families tell me confidential, except where the law or a child's safety requires
otherwise, and tell families those limits.

Work only within the competencies of my endorsement, and seek reflective supervision or
consultation for the work I do.

Keep my knowledge current through training, and report my training and supervision truthfully
to the association.

Avoid conflicts of interest and relationships that could harm the families I serve.

Accept that the association's Endorsement Committee may suspend or revoke my endorsement
if I breach this code.""")
