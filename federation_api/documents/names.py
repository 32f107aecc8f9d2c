"""The original file name of a document: kept for display only, never used as a path.

The name a browser sends may carry a path (`..\\..\\boot.ini`, `C:\\Users\\...`), control
characters, markup or a header-breaking line end. The node keeps its last path component,
normalised (NFC), without control or format characters, at most `MAX_NAME` characters; the
pages escape it like any text, and the download's Content-Disposition carries it percent-
encoded (RFC 6266 `filename*`) beside a plain ASCII fallback, so it can never end the header.
The stored file's own name is its content hash (`storage.py`).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from federation_api.documents.content_checks import MediaType

MAX_NAME = 120
_EXTENSION = {MediaType.PDF: ".pdf", MediaType.PNG: ".png", MediaType.JPEG: ".jpg"}
_ASCII_SAFE = re.compile(r"[^A-Za-z0-9._ -]")


def display_name(raw: str, media_type: MediaType) -> str:
    """The name to show: the last path component, cleaned, with the extension of what the
    file really is (a `transcript.html` that is a PDF is shown as `transcript.html.pdf`)."""
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in ("C", "Z")
                   or ch == " ").strip(" .")
    extension = _EXTENSION[media_type]
    stem = name[:-len(extension)] if name.lower().endswith(extension) else name
    if media_type is MediaType.JPEG and stem.lower().endswith((".jpeg",)):
        stem = stem[:-5]
    stem = stem[:MAX_NAME - len(extension)].strip(" .") or "document"
    return stem + extension


def content_disposition(name: str) -> str:
    """`attachment` with the name as a quoted ASCII fallback and as UTF-8 (RFC 6266)."""
    fallback = _ASCII_SAFE.sub("_", name) or "document"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
