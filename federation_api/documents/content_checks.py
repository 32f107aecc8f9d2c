"""What an uploaded file is, judged by its bytes alone (never its name or the browser's
Content-Type), and the refusals.

Accepted: PDF, PNG and JPEG - what transcripts, certificates and their scans come as. Not
accepted, with a reason the person can act on:

- **Word files (DOCX) and every other ZIP container.** A DOCX is a ZIP archive of XML parts
  that Word opens with external relations, embedded OLE objects and (renamed .docm) macros;
  checking one soundly means decompressing an archive the sender built, which is exactly
  what a zip bomb abuses. Applicants can "Save as PDF", which staff can open safely, so the
  node refuses the container rather than inspect it.
- **HTML and SVG** (with or without script): both are active content in a browser.

A file must be exactly its kind, from its first byte to its last, so it cannot also be read
as another (a polyglot):

- PDF: `%PDF-1.x`/`%PDF-2.0` at byte 0 (readers allow junk before it, which is how a file is
  made both HTML and PDF), `%%EOF` as the last thing but white space (nothing appended, so no
  ZIP or HTML after it), not a ZIP by its end record either, no markup anywhere in the bytes,
  readable by pypdf, not encrypted (staff could not open it), and no object in it (reachable
  or not, compressed object streams included) naming JavaScript, launch, embedded-file,
  form-submission, rich-media or XFA actions, or an OpenAction or additional action that is
  an action rather than a page to open at.
- PNG: the signature, chunks walked from IHDR to IEND, nothing after IEND.
- JPEG: SOI at byte 0, EOI as the last two bytes.
- Memory: the PDF check holds one object at a time (pypdf's cache is emptied after each), so
  a 20 MB scan of twenty pages costs about one page's image, not the file.
- Images: at most `MAX_PIXELS` pixels, so a small file cannot decompress into gigabytes in a
  staff member's viewer (an image bomb).
"""

from __future__ import annotations

import re
import struct
import zipfile
from collections.abc import Iterator
from enum import StrEnum
from typing import Any, BinaryIO

from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from federation_api.documents.errors import DocumentRefused

MAX_PIXELS = 80_000_000  # a 300 dpi scan of an A3 page is ~17 Mpx
MAX_PDF_OBJECTS = 200_000
_SCAN = 1024 * 1024
# Whole tags, so that compressed image data (random-looking bytes) matches by chance about
# once in 10^5 files of 20 MB rather than once in 25 (a bare "<svg" would).
_MARKUP = re.compile(rb"<(?:script|html|body|iframe)[\s>/]|<svg\s[^>]{0,200}xmlns|"
                     rb"<!doctype\s+html|javascript:", re.IGNORECASE)
_PDF_HEADER = re.compile(rb"%PDF-(?:1\.[0-7]|2\.0)[\r\n \t%]")
_WHITESPACE = b" \t\r\n\f\x00"
# Names that make a PDF run something, fetch something, or carry another file.
_ACTIVE_PDF_NAMES = frozenset({"/JavaScript", "/JS", "/Launch", "/EmbeddedFile",
                               "/EmbeddedFiles", "/RichMedia", "/XFA", "/SubmitForm",
                               "/ImportData", "/GoToE", "/AA"})


class MediaType(StrEnum):
    """The media types a document may have; served as exactly this type."""

    PDF = "application/pdf"
    PNG = "image/png"
    JPEG = "image/jpeg"


def refused(reason: str, rule: str) -> DocumentRefused:
    """A refusal in the words the upload form shows."""
    return DocumentRefused(reason, rule=rule)


NOT_ACCEPTED = "This file is not a PDF, PNG or JPEG image. Send the document as one of those."


def media_type_of(source: BinaryIO, size: int) -> MediaType:
    """The file's media type after every check above, or DocumentRefused saying why."""
    source.seek(0)
    head = source.read(4096)
    kind = _kind(head)
    _refuse_markup(source)
    if kind is MediaType.PDF:
        _check_pdf(source, size)
    elif kind is MediaType.PNG:
        _check_png(source, size)
    else:
        _check_jpeg(source, size)
    source.seek(0)
    return kind


def _kind(head: bytes) -> MediaType:
    if head.startswith(b"%PDF-"):
        if not _PDF_HEADER.match(head):
            raise refused("This PDF has a header no PDF version uses.", "document.pdf.header")
        return MediaType.PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaType.PNG
    if head.startswith(b"\xff\xd8\xff"):
        return MediaType.JPEG
    text = head.lstrip(b"\xef\xbb\xbf" + _WHITESPACE).lower()
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise refused("Word documents and ZIP archives are not accepted. Save the document "
                      "as PDF and send that.", "document.zip")
    if b"<svg" in text:
        raise refused("SVG images are not accepted. Send a PNG or JPEG image, or a PDF.",
                      "document.svg")
    if text.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<script", b"<?xml")):
        raise refused("Web pages (HTML) are not accepted. Print the page to PDF and send "
                      "that.", "document.html")
    raise refused(NOT_ACCEPTED, "document.type")


def _chunks(source: BinaryIO, start: int = 0) -> Iterator[tuple[int, bytes]]:
    source.seek(start)
    offset = start
    while block := source.read(_SCAN):
        yield offset, block
        offset += len(block)


def _refuse_markup(source: BinaryIO) -> None:
    """No HTML or SVG markup anywhere: such a file is also a web page (a polyglot)."""
    carry = b""
    for _, block in _chunks(source):
        window = carry + block
        if _MARKUP.search(window):
            raise refused("This file also contains web page markup, so it could run as a "
                          "web page. Save the document again as a plain PDF or image.",
                          "document.polyglot.markup")
        carry = window[-32:]


def _tail(source: BinaryIO, size: int, length: int = 2048) -> bytes:
    source.seek(max(0, size - length))
    return source.read(length)


def _check_pdf(source: BinaryIO, size: int) -> None:
    if not _tail(source, size).rstrip(_WHITESPACE).endswith(b"%%EOF"):
        raise refused("This PDF does not end where a PDF ends (something is appended to "
                      "it, or it is cut short). Save it again as PDF.", "document.pdf.trailer")
    source.seek(0)
    if zipfile.is_zipfile(source):
        raise refused("This PDF is also a ZIP archive. Save the document again as a plain "
                      "PDF.", "document.polyglot.zip")
    source.seek(0)
    try:
        reader = PdfReader(source, strict=False)
        if reader.is_encrypted:
            raise refused("This PDF is protected by a password, so staff could not open it. "
                          "Save a copy without the password.", "document.pdf.encrypted")
        if not reader.pages:
            raise refused("This PDF has no pages.", "document.pdf.empty")
        for obj in _pdf_objects(reader):
            _refuse_active(obj)
    except DocumentRefused:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            RecursionError, OSError) as e:
        raise refused("This PDF cannot be read. Save it again as PDF and send that.",
                      "document.pdf.unreadable") from e


def _pdf_objects(reader: PdfReader) -> Iterator[Any]:
    """Every object of the file: the trailer, each one in the cross-reference table and in
    compressed object streams, and what they hold directly."""
    yield reader.trailer
    numbers: set[tuple[int, int]] = set()
    for generation, table in reader.xref.items():
        numbers.update((number, generation) for number in table)
    numbers.update((number, 0) for number in reader.xref_objStm)
    if len(numbers) > MAX_PDF_OBJECTS:
        raise refused("This PDF has too many objects to check.", "document.pdf.objects")
    for number, generation in sorted(numbers):
        obj = reader.get_object(IndirectObject(number, generation, reader))
        if obj is not None:
            yield obj
        # pypdf keeps every object it read; forgetting each one after its check keeps the
        # memory of a check to the largest single object, not the whole file.
        reader.resolved_objects.clear()


def _refuse_active(obj: Any, depth: int = 0) -> None:
    """Refuse an object (and the direct objects inside it) that names an active feature."""
    if depth > 64:
        raise refused("This PDF nests its objects too deeply to check.", "document.pdf.depth")
    if isinstance(obj, DictionaryObject):
        for key, value in obj.items():
            if key in _ACTIVE_PDF_NAMES:
                raise _active()
            if key == "/OpenAction" and not isinstance(_direct(value), ArrayObject):
                raise _active()  # an action, not a page to open at
            _refuse_active(value, depth + 1)
    elif isinstance(obj, ArrayObject):
        for value in obj:
            _refuse_active(value, depth + 1)
    elif isinstance(obj, NameObject) and obj in _ACTIVE_PDF_NAMES:
        raise _active()


def _direct(value: Any) -> Any:
    return value.get_object() if isinstance(value, IndirectObject) else value


def _active() -> DocumentRefused:
    return refused("This PDF contains scripts, actions or embedded files. Print it to a new "
                   "PDF (or scan it) and send that.", "document.pdf.active")


def _too_many_pixels(width: int, height: int) -> None:
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise refused(f"This image is {width} x {height} pixels, more than a scan needs. "
                      "Scan it again at 150-300 dpi.", "document.image.pixels")


def _check_png(source: BinaryIO, size: int) -> None:
    source.seek(8)
    first = True
    while True:
        header = source.read(8)
        if len(header) < 8:
            raise refused("This PNG image is cut short. Save it again.", "document.png.cut")
        length, kind = struct.unpack(">I4s", header)
        if first:
            if kind != b"IHDR" or length != 13:
                raise refused("This PNG image does not start as a PNG image does.",
                              "document.png.header")
            width, height = struct.unpack(">II", source.read(8))
            _too_many_pixels(width, height)
            source.seek(length - 8 + 4, 1)
            first = False
            continue
        source.seek(length + 4, 1)
        if source.tell() > size:
            raise refused("This PNG image is cut short. Save it again.", "document.png.cut")
        if kind == b"IEND":
            break
    if source.tell() != size:
        raise refused("Something is appended to this PNG image. Save it again.",
                      "document.polyglot.png")


_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _check_jpeg(source: BinaryIO, size: int) -> None:
    if _tail(source, size, 2) != b"\xff\xd9":
        raise refused("Something is appended to this JPEG image, or it is cut short. Save it "
                      "again.", "document.polyglot.jpeg")
    source.seek(2)
    while True:
        marker = source.read(2)
        while marker[:1] == b"\xff" and marker[1:] == b"\xff":  # fill bytes
            marker = marker[1:] + source.read(1)
        if len(marker) < 2 or marker[0] != 0xFF:
            raise refused("This JPEG image cannot be read. Save it again.",
                          "document.jpeg.unreadable")
        code = marker[1]
        if code in (0xD8, 0x01) or 0xD0 <= code <= 0xD7:
            continue
        raw = source.read(2)
        if len(raw) < 2:
            raise refused("This JPEG image cannot be read. Save it again.",
                          "document.jpeg.unreadable")
        (length,) = struct.unpack(">H", raw)
        if code in _SOF:
            height, width = struct.unpack(">xHH", source.read(5))
            _too_many_pixels(width, height)
            return
        if code == 0xDA or length < 2:  # scan data before any frame header
            raise refused("This JPEG image cannot be read. Save it again.",
                          "document.jpeg.unreadable")
        source.seek(length - 2, 1)
