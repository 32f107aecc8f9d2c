"""The documents package's errors."""

from __future__ import annotations

from federation_api.errors import EdgeError


class DocumentError(EdgeError):
    """Root of the documents' errors."""


class DocumentRefused(DocumentError, ValueError):
    """An upload is refused; nothing was stored. `reason` is plain words for the person who
    sent it (shown next to the file field), never the file's content."""

    def __init__(self, reason: str, *, rule: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rule = rule


class TooLarge(DocumentRefused):
    """The upload is over the size limit (found while streaming, or from Content-Length)."""


class NoSuchDocument(DocumentError, LookupError):
    """No document with this id that the viewer may open (the two are one answer on purpose:
    a stranger cannot tell a document that exists from one that does not)."""


class StorageFailed(DocumentError):
    """The document storage could not keep or give back a file."""
