"""The content checks of uploads: what is accepted, what is refused and why, judged by the
bytes alone; and the display name of an upload's original file name."""

from __future__ import annotations

import io

import pytest

from federation_api.documents.content_checks import MediaType, media_type_of
from federation_api.documents.errors import DocumentRefused
from federation_api.documents.names import content_disposition, display_name
from tests import document_files as files


def kind(data: bytes) -> MediaType:
    return media_type_of(io.BytesIO(data), len(data))


def rule(data: bytes) -> str:
    with pytest.raises(DocumentRefused) as refused:
        kind(data)
    return refused.value.rule


def test_pdf_png_and_jpeg_are_accepted_by_their_bytes() -> None:
    assert kind(files.pdf(2)) is MediaType.PDF
    assert kind(files.png()) is MediaType.PNG
    assert kind(files.jpeg()) is MediaType.JPEG


def test_html_and_svg_with_or_without_script_are_refused() -> None:
    assert rule(files.HTML) == "document.html"
    assert rule(b"\xef\xbb\xbf  \n" + files.HTML) == "document.html"
    assert rule(files.SVG_SCRIPT) == "document.svg"
    assert rule(files.SVG_PLAIN) == "document.svg"


def test_a_zip_bomb_and_a_word_file_are_refused_without_being_opened() -> None:
    assert rule(files.zip_bomb()) == "document.zip"
    assert rule(files.docx()) == "document.zip"


def test_unknown_bytes_are_refused() -> None:
    assert rule(b"just some text, not a document\n") == "document.type"
    assert rule(b"GIF89a" + b"\x00" * 20) == "document.type"


def test_a_pdf_that_is_also_a_web_page_is_refused() -> None:
    # Readers accept junk before %PDF-; the check does not (the header must be at byte 0).
    assert rule(b"<html><script>alert(1)</script>" + files.pdf()) == "document.html"
    # Markup inside a PDF that otherwise checks out.
    body = files.pdf()
    tampered = body.replace(b"%%EOF", b"%<script>alert(1)</script>\n%%EOF")
    assert rule(tampered) == "document.polyglot.markup"


def test_a_pdf_with_anything_after_its_end_is_refused() -> None:
    assert rule(files.pdf() + files.docx()) == "document.pdf.trailer"
    assert rule(files.pdf() + b"trailing") == "document.pdf.trailer"
    assert kind(files.pdf() + b"\r\n  \n") is MediaType.PDF  # white space is no data


def test_a_pdf_that_is_also_a_zip_by_its_end_record_is_refused() -> None:
    # A ZIP's end record may carry a comment; one ending in %%EOF passes the trailer rule.
    archive = files.docx()
    comment = b"\n%%EOF\n"
    disguised = files.pdf() + archive[:-2] + len(comment).to_bytes(2, "little") + comment
    assert rule(disguised) == "document.polyglot.zip"


def test_a_pdf_with_javascript_or_an_open_action_is_refused() -> None:
    assert rule(files.pdf(javascript=True)) == "document.pdf.active"
    assert rule(files.pdf(open_action=True)) == "document.pdf.active"
    # A name spelled with #-escapes is the same name to a reader, and to the check.
    escaped = files.pdf(javascript=True).replace(b"/JavaScript", b"/J#61vaScript")
    assert rule(escaped) == "document.pdf.active"


def test_a_script_hidden_in_a_compressed_object_stream_is_found() -> None:
    hidden = files.pdf_with_hidden_action()
    assert b"JavaScript" not in hidden
    assert rule(hidden) == "document.pdf.active"
    # The same file with a plain link instead is accepted: the walk found the script by
    # reading the object, not by refusing object streams.
    assert kind(files.pdf_with_hidden_action(files.LINK_ACTION)) is MediaType.PDF


def test_an_encrypted_or_broken_pdf_is_refused() -> None:
    assert rule(files.pdf(password="secret")) == "document.pdf.encrypted"
    assert rule(b"%PDF-1.7\n garbage garbage\n%%EOF\n") == "document.pdf.unreadable"
    assert rule(b"%PDF-9.9\n%%EOF") == "document.pdf.header"


def test_images_with_data_after_their_end_or_too_many_pixels_are_refused() -> None:
    assert rule(files.png() + files.HTML.replace(b"<", b"(")) == "document.polyglot.png"
    assert rule(files.jpeg() + b"PK\x03\x04zip") == "document.polyglot.jpeg"
    assert rule(files.png(100_000, 100_000)) == "document.image.pixels"
    assert rule(files.jpeg(60_000, 60_000)) == "document.image.pixels"


def test_a_file_name_with_a_path_markup_or_control_characters_is_only_displayed() -> None:
    assert display_name("../../etc/passwd", MediaType.PDF) == "passwd.pdf"
    assert display_name("C:\\Users\\me\\transcript.pdf", MediaType.PDF) == "transcript.pdf"
    assert display_name("<script>x</script>.pdf", MediaType.PDF) == "script>.pdf"
    assert display_name("report\r\nSet-Cookie: a=b.pdf", MediaType.PDF) == (
        "reportSet-Cookie: a=b.pdf")
    assert display_name("transcript.html", MediaType.PDF) == "transcript.html.pdf"
    assert display_name("..", MediaType.PNG) == "document.png"
    assert display_name("x" * 500, MediaType.JPEG).endswith(".jpg")
    assert len(display_name("x" * 500, MediaType.JPEG)) == 120


def test_the_download_header_cannot_be_broken_by_a_name() -> None:
    header = content_disposition('Zeugnis "ü"; x.pdf')
    assert header.startswith('attachment; filename="Zeugnis ____ x.pdf"; ')
    assert "filename*=UTF-8''Zeugnis%20%22%C3%BC%22%3B%20x.pdf" in header
    assert "\r" not in content_disposition(display_name("a\r\nb.pdf", MediaType.PDF))
