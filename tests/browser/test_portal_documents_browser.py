"""The applicant's documents in a real headless Chromium (JavaScript off) against `alliance
serve` with a real SMTP server: the applicant signs up by the emailed link, starts a draft,
uploads a web page named like a PDF (refused, the reason next to the file field), then a PDF
transcript, sees it listed on the draft page and downloads it (saved as an attachment, the
very bytes), then removes it. Each page is checked with axe-core; a serious or critical
violation fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import document_files as files
from tests.browser.journeys import (
    COORDINATOR,
    Checker,
    axe_script_or_skip,
    follow,
    make_node,
)
from tests.e2e.harness import ServerProcess
from tests.integration.smtp_sink import SmtpSink

ANA = "ana@example.org"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess,
                                                                        SmtpSink]]:
    node, _ = make_node(tmp_path_factory.mktemp("portal-documents-browser"), "AK", None,
                        {"cora": COORDINATOR})
    with SmtpSink() as sink:
        server = ServerProcess(node)
        server.env = {"ALLIANCE_SMTP_URL": sink.url, "ALLIANCE_PUBLIC_URL": server.url,
                      "ALLIANCE_MAIL_FROM": "Alliance AK <noreply@ak.example.org>"}
        with server.start(timeout=180):  # a loaded machine
            yield server, sink


def sign_in_link(sink: SmtpSink) -> str:
    """The sign-in link of the first mail to the applicant."""
    for _ in range(20):
        mails = [m for m in sink.wait_for(1, timeout=60) if ANA in m.rcpt_tos]
        if mails:
            found = re.search(r"https?://\S+/portal/sign-in/link\?token=\S+", mails[0].text())
            assert found, mails[0].text()
            return found.group(0)
        sink.wait_for(len(sink.received) + 1, timeout=20)
    raise AssertionError("no sign-in link arrived")


def test_upload_a_transcript_list_download_and_remove_it(
        browser: Any, served: tuple[ServerProcess, SmtpSink], tmp_path: Path) -> None:
    server, sink = served
    axe = Checker(browser, server.url, axe_script_or_skip())
    context = browser.new_context(java_script_enabled=False, accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/portal/sign-up")
        page.get_by_label("Your full name").fill("Ana García")
        page.get_by_label("Email address").fill(ANA)
        follow(page.get_by_role("button", name="Create account"))
        page.goto(sign_in_link(sink))
        follow(page.get_by_role("button", name="Sign in"))
        follow(page.get_by_role("link", name="Start an application"))
        page.get_by_label("Level", exact=True).select_option("IFA")
        follow(page.get_by_role("button", name="Start the draft"))
        assert page.get_by_role("heading", name="Documents").is_visible()
        assert "No documents yet." in page.locator("main").inner_text()
        axe.check(page)

        hostile = tmp_path / "transcript.pdf"
        hostile.write_bytes(files.HTML)  # a web page named like a PDF
        page.get_by_label("File", exact=True).set_input_files(str(hostile))
        follow(page.get_by_role("button", name="Upload the document"))
        assert page.get_by_role("heading", level=1, name="Upload a document").is_visible()
        error = page.locator("#document-file-error")
        assert "Web pages (HTML) are not accepted" in error.inner_text()
        assert "document-file-error" in (page.get_by_label("File", exact=True).get_attribute(
            "aria-describedby") or "")
        assert "Nothing was stored" in page.locator(".error-summary").inner_text()
        axe.check(page)

        transcript = tmp_path / "Transcript 2025.pdf"
        content = files.pdf(2)
        transcript.write_bytes(content)
        page.get_by_label("What the document is").select_option("transcript")
        page.get_by_label("File", exact=True).set_input_files(str(transcript))
        follow(page.get_by_role("button", name="Upload the document"))
        assert page.get_by_role("heading", level=1).inner_text().startswith("Draft application")
        assert "The document is stored" in page.locator(
            "#documents-title ~ .message").first.inner_text()
        link = page.get_by_role("link", name="Transcript 2025.pdf")
        assert link.is_visible()
        axe.check(page)
        with page.expect_download() as downloading:
            link.click()
        download = downloading.value
        assert download.suggested_filename == "Transcript 2025.pdf"
        saved = tmp_path / "saved.pdf"
        download.save_as(saved)
        assert saved.read_bytes() == content

        follow(page.get_by_role("button", name="Remove Transcript 2025.pdf"))
        assert "The document is removed." in page.locator("main").inner_text()
        assert page.get_by_role("link", name="Transcript 2025.pdf").count() == 0
        axe.check(page)
        assert axe.problems == [], axe.problems
    finally:
        context.close()
        axe.close()
