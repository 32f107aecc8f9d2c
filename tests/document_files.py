"""Files for the document tests: real PDFs (written by pypdf), PNGs and JPEGs built byte by
byte, and the hostile files an upload must refuse."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib

from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    StreamObject,
    TextStringObject,
)


def pdf(pages: int = 1, *, image_bytes: int = 0, javascript: bool = False,
        open_action: bool = False, password: str | None = None) -> bytes:
    """A PDF of `pages` pages, each with an image stream of `image_bytes` random bytes."""
    writer = PdfWriter()
    for _ in range(pages):
        page = writer.add_blank_page(612, 792)
        if image_bytes:
            image = StreamObject()
            image.set_data(os.urandom(image_bytes))
            image.update({NameObject("/Type"): NameObject("/XObject"),
                          NameObject("/Subtype"): NameObject("/Image"),
                          NameObject("/Width"): NumberObject(1024),
                          NameObject("/Height"): NumberObject(image_bytes // 1024),
                          NameObject("/ColorSpace"): NameObject("/DeviceGray"),
                          NameObject("/BitsPerComponent"): NumberObject(8)})
            page[NameObject("/Resources")] = DictionaryObject({NameObject("/XObject"):
                DictionaryObject({NameObject("/Im0"): writer._add_object(image)})})
    if javascript:
        script = DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                                   NameObject("/JS"): TextStringObject("app.alert(1);")})
        tree = DictionaryObject({NameObject("/Names"): ArrayObject(
            [TextStringObject("hello"), writer._add_object(script)])})
        writer._root_object[NameObject("/Names")] = DictionaryObject(
            {NameObject("/JavaScript"): writer._add_object(tree)})
    if open_action:
        action = DictionaryObject({NameObject("/S"): NameObject("/URI"),
                                   NameObject("/URI"): TextStringObject("https://x.test/")})
        writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    if password:
        writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width: int = 2, height: int = 2) -> bytes:
    """A grey PNG image (its IHDR may claim more pixels than its data holds)."""
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(min(height, 4)))
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0,
                                                               0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))


def jpeg(width: int = 8, height: int = 8, *, padding: int = 0) -> bytes:
    """A baseline JPEG's marker structure: SOI, APP0, a comment of `padding` bytes, SOF0,
    SOS with a little scan data, EOI."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    comments = b""
    while padding > 0:
        part = min(padding, 65000)
        comments += b"\xff\xfe" + struct.pack(">H", part + 2) + b"a" * part
        padding -= part
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00" + b"\x12\x34"
    return b"\xff\xd8" + app0 + comments + sof + sos + b"\xff\xd9"


def zip_bomb() -> bytes:
    """A ZIP archive of 50 MB of zeros in a few kilobytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\x00" * (50 * 1024 * 1024))
    return out.getvalue()


def docx() -> bytes:
    """The skeleton of a Word document (a ZIP of XML parts)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG_SCRIPT = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
              b"<script>alert(1)</script></svg>")
SVG_PLAIN = b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>'


SCRIPT_ACTION = b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>"
LINK_ACTION = b"<< /S /URI /URI (https://ak.example.org/) >>"


def pdf_with_hidden_action(action: bytes = SCRIPT_ACTION) -> bytes:
    """A PDF 1.5 whose link's action sits in a compressed object stream (with an xref
    stream), so no byte of the file spells it: only reading the objects finds it."""
    header = b"5 0 "
    objstm_data = zlib.compress(header + action)
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Annots [4 0 R] >>",
        4: b"<< /Type /Annot /Subtype /Link /Rect [0 0 100 100] /A 5 0 R >>",
        6: (b"<< /Type /ObjStm /N 1 /First " + str(len(header)).encode()
            + b" /Filter /FlateDecode /Length " + str(len(objstm_data)).encode()
            + b" >>\nstream\n" + objstm_data + b"\nendstream"),
    }
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number, body in objects.items():
        offsets[number] = len(out)
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_offset = len(out)
    rows = [struct.pack(">BIH", 0, 0, 65535)]
    for number in range(1, 8):
        if number == 5:
            rows.append(struct.pack(">BIH", 2, 6, 0))  # in object stream 6, index 0
        elif number == 7:
            rows.append(struct.pack(">BIH", 1, xref_offset, 0))
        else:
            rows.append(struct.pack(">BIH", 1, offsets[number], 0))
    table = b"".join(rows)
    out += (b"7 0 obj\n<< /Type /XRef /Size 8 /W [1 4 2] /Root 1 0 R /Length "
            + str(len(table)).encode() + b" >>\nstream\n" + table + b"\nendstream\nendobj\n")
    out += b"startxref\n" + str(xref_offset).encode() + b"\n%%EOF\n"
    return bytes(out)
