"""The texts an applicant signs in the portal, as versioned files shipped in the package.

Each text is a file `texts/<document>-<version>.txt`; `CURRENT` names the version new
signatures use. A signature records the document, the version and the SHA-256 of the file's
exact bytes, and that digest goes into the application's evidence (`SignedText`), so the
ledger's salted commitment pins the very wording signed. A new wording is a new file with a
new version; old files stay, so an old signature can always be shown with its text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

HERE = Path(__file__).parent / "texts"
_VERSION = re.compile(r"^[0-9A-Za-z.-]{1,20}$")


class Document(StrEnum):
    """The texts every application signs (as the domain's checklist names them)."""

    CODE_OF_ETHICS = "code_of_ethics"
    AGREEMENT = "endorsement_agreement"

    @property
    def heading(self) -> str:
        """The text's name on the page."""
        return {"code_of_ethics": "Code of Ethics",
                "endorsement_agreement": "Endorsement Agreement"}[self.value]


CURRENT = {Document.CODE_OF_ETHICS: "1", Document.AGREEMENT: "1"}


@dataclass(frozen=True)
class SignableText:
    """One version of one text: its words and their SHA-256."""

    document: Document
    version: str
    text: str
    sha256: str

    @property
    def title(self) -> str:
        """The text's name on the page."""
        return self.document.heading

    @property
    def paragraphs(self) -> list[str]:
        """The words as the page shows them, a paragraph per blank-line-separated block."""
        return [p.strip() for p in self.text.split("\n\n") if p.strip()]


@cache
def text_of(document: Document, version: str | None = None) -> SignableText:
    """A version of a text (the current one by default); KeyError for an unknown version."""
    chosen = version or CURRENT[document]
    if not _VERSION.match(chosen):
        raise KeyError(chosen)
    path = HERE / f"{document.value}-{chosen}.txt"
    if not path.is_file():
        raise KeyError(chosen)
    data = path.read_bytes()
    return SignableText(document, chosen, data.decode("utf-8"), hashlib.sha256(data).hexdigest())
