"""Documents over HTTP: a multipart upload read as it streams, and the download answer.

Shared by the staff pages and the applicants' portal: each page admits its own accounts and
passes the CSRF check of its own session; what is done with the bytes is the same.

**The upload is streamed, not spooled by Starlette.** `request.form()` would read the whole
body (to a temporary file past 1 MB) before any check could run, so a 200 MB post would be
received in full. Here python-multipart parses the body chunk by chunk as it arrives: a
Content-Length over the limit is refused before a byte is read, the file's bytes go straight
into the bounded spool (`documents.incoming`), and the read stops the moment the limit is
passed. Memory is one chunk of the request stream, whatever the file's size.

**The CSRF token comes first.** The form puts its hidden `csrf_token` before the file, and
the reader checks it when the file part begins, before it keeps one byte of the file: a
forged post is refused without storing or even spooling anything. A form with no token, or
a body that is not multipart, is refused by the same check.

**The download is inert.** `Content-Disposition: attachment` (the browser saves it, never
renders it in the node's origin), the sniffed media type (never what the uploader claimed),
`X-Content-Type-Options: nosniff`, `Content-Security-Policy: default-src 'none'; sandbox` for
a browser that renders it anyway, and `Cache-Control: private, no-store` so no shared cache
keeps a private document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import StreamingResponse
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from federation_api.clock import now
from federation_api.documents.errors import DocumentRefused
from federation_api.documents.incoming import Incoming
from federation_api.documents.names import content_disposition
from federation_api.documents.service import Documents, Viewer
from federation_api.documents.store import Document
from federation_api.web.pages.templating import CSRF_FIELD

FILE_FIELD = "file"
MAX_FIELDS = 8
MAX_FIELD_BYTES = 1000
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
CsrfCheck = Callable[[str | None], None]  # raises when the token is not the session's


@dataclass
class Upload:
    """A read upload: the small fields, the file's name as sent, and its spool (the caller
    closes it, or hands it to `Documents.accept`)."""

    fields: dict[str, str]
    file_name: str
    incoming: Incoming


def _refused(reason: str, rule: str) -> DocumentRefused:
    return DocumentRefused(reason, rule=rule)


@dataclass
class _Reader:
    documents: Documents
    csrf: CsrfCheck
    fields: dict[str, str] = field(default_factory=dict)
    file_name: str | None = None
    incoming: Incoming | None = None
    _header: bytes = b""
    _value: bytes = b""
    _headers: dict[bytes, bytes] = field(default_factory=dict)
    _name: str = ""
    _into_file: bool = False
    _buffer: bytearray = field(default_factory=bytearray)

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {"on_part_begin": self.part_begin, "on_header_field": self.header_field,
                "on_header_value": self.header_value, "on_header_end": self.header_end,
                "on_headers_finished": self.headers_finished, "on_part_data": self.data,
                "on_part_end": self.part_end}

    def part_begin(self) -> None:
        self._headers, self._buffer, self._into_file = {}, bytearray(), False

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def header_end(self) -> None:
        self._headers[self._header.lower()] = self._value
        self._header, self._value = b"", b""

    def headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if self._name == FILE_FIELD and b"filename" in options:
            if self.incoming is not None:
                raise _refused("Send one file at a time.", "document.one_file")
            # Before a byte of the file is kept: the form must be this session's own.
            self.csrf(self.fields.get(CSRF_FIELD))
            self.file_name = options[b"filename"].decode("utf-8", "replace")
            self.incoming = self.documents.incoming()
            self._into_file = True
        elif len(self.fields) >= MAX_FIELDS:
            raise _refused("The form has more fields than it should. Reload the page.",
                           "document.form")

    def data(self, data: bytes, start: int, end: int) -> None:
        if self._into_file:
            assert self.incoming is not None
            self.incoming.write(data[start:end])
            return
        self._buffer += data[start:end]
        if len(self._buffer) > MAX_FIELD_BYTES:
            raise _refused("A field of the form is too long. Reload the page.",
                           "document.form")

    def part_end(self) -> None:
        if not self._into_file:
            self.fields[self._name] = self._buffer.decode("utf-8", "replace")


async def read_upload(request: Request, documents: Documents, csrf: CsrfCheck) -> Upload:
    """The upload of a form with a `csrf_token` field before a `file` field; DocumentRefused
    (nothing kept) when it is too large, malformed or has no file, and whatever `csrf` raises
    when the token is missing or wrong."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        csrf(None)  # not the upload form: refused as a forged one is
        raise _refused("Send the file with the upload form.", "document.form")
    declared = request.headers.get("content-length", "")
    documents.refuse_declared_size(int(declared) if declared.isdigit() else None)
    reader = _Reader(documents, csrf)
    parser = MultipartParser(boundary, reader.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except BaseException as e:
        if reader.incoming is not None:
            reader.incoming.close()
        if isinstance(e, MultipartParseError):
            raise _refused("The upload arrived broken. Send the form again.",
                           "document.form") from e
        raise
    if reader.incoming is None or reader.file_name is None:
        csrf(reader.fields.get(CSRF_FIELD))
        raise _refused("Choose a file to upload.", "document.missing")
    return Upload(reader.fields, reader.file_name, reader.incoming)


def download(documents: Documents, document_id: str, viewer: Viewer, *,
             client: str) -> StreamingResponse:
    """The document as an attachment for `viewer`, logged; NoSuchDocument when the viewer
    may not open it."""
    document, chunks = documents.open_for(document_id, viewer, now=now(), client=client)
    return StreamingResponse(chunks, media_type=document.media_type.value,
                             headers=download_headers(document))


def download_headers(document: Document) -> dict[str, str]:
    """The headers that keep a served document inert and private."""
    return {**DOWNLOAD_HEADERS, "Content-Disposition": content_disposition(
        document.original_name), "Content-Length": str(document.size)}
