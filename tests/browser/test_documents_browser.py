"""Documents in a real headless Chromium (JavaScript off) against `alliance serve`: the
coordinator signs in, uploads a web page (refused, the reason next to the file field), then
a PDF transcript, sees it listed on the application page, and downloads it: the browser saves
the very bytes as an attachment. Each page is checked with axe-core."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from federation_api.accounts import totp
from federation_api.clock import now
from tests import document_files as files
from tests.browser.journeys import Checker, axe_script_or_skip, follow
from tests.e2e.harness import NodeDir, ServerProcess, init_node, run_alliance

PASSWORD = "tulip harbour seventeen"
CORA = "cora@ak.example.org"
STARTING = 180.0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, NodeDir,
                                                                        str]]:
    root = tmp_path_factory.mktemp("documents-browser")
    node = init_node(root / "ak", "AK", roles=("coordinator",))
    run_alliance("staff", "add", "--email", CORA, "--name", "Cora Coordinator", "--role",
                 "coordinator", "--password-stdin", *node.store_args(), stdin=PASSWORD + "\n")
    server = ServerProcess(node)
    server.start(timeout=STARTING)
    try:
        with server.client() as client:
            r = client.post("/v1/applications", headers=node.auth("coordinator"), json={
                "person_id": "AK-P-0300", "family_name": "Lopez", "given_name": "Ana",
                "level": "IFS"})
            assert r.status_code == 201, r.text
            yield server, node, str(r.json()["application_id"])
    finally:
        server.stop()


def test_upload_a_transcript_and_download_it(browser: Any, served: tuple[ServerProcess,
                                                                         NodeDir, str],
                                             tmp_path: Path) -> None:
    server, _, application_id = served
    axe = Checker(browser, server.url, axe_script_or_skip())
    context = browser.new_context(java_script_enabled=False, accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/staff/login")
        page.get_by_label("Email address").fill(CORA)
        page.get_by_label("Password").fill(PASSWORD)
        follow(page.get_by_role("button", name="Sign in"))
        secret = page.locator("code.secret").inner_text().replace(" ", "")
        page.get_by_label("Code from the app").fill(totp.code_at(secret, totp.step_of(now())))
        follow(page.get_by_role("button", name="Finish setting up"))
        page.goto(f"{server.url}/staff/applications/{application_id}")
        assert page.get_by_role("heading", name="Documents").is_visible()
        axe.check(page)

        hostile = tmp_path / "transcript.pdf"
        hostile.write_bytes(files.HTML)  # a web page named like a PDF
        page.get_by_label("File", exact=True).set_input_files(str(hostile))
        follow(page.get_by_role("button", name="Upload"))
        error = page.locator("#document-file-error")
        assert "Web pages (HTML) are not accepted" in error.inner_text()
        assert "document-file-error" in (page.get_by_label("File", exact=True).get_attribute(
            "aria-describedby") or "")
        axe.check(page)

        transcript = tmp_path / "Transcript 2025.pdf"
        content = files.pdf(2)
        transcript.write_bytes(content)
        page.get_by_label("What the document is").select_option("transcript")
        page.get_by_label("File", exact=True).set_input_files(str(transcript))
        follow(page.get_by_role("button", name="Upload"))
        assert "The document is stored." in page.locator(".message").inner_text()
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
        assert axe.problems == [], axe.problems
    finally:
        context.close()
        axe.close()
