"""The board reports page and a certificate in a real headless Chromium against `alliance
serve`, JavaScript off: an auditor opens the reports from the nav, sees the charts as named
images beside their tables, switches to the Alliance-wide figures, downloads a CSV, and
opens an endorsement's certificate. Each page is checked with axe-core (no serious or
critical violation)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from federation_api.clock import now
from tests.browser.journeys import Checker, axe_script_or_skip, follow, nav_link
from tests.e2e.harness import NodeDir, ServerProcess, init_node, run_alliance

PASSWORD = "tulip harbour seventeen"
AUDRA = "audra@ak.example.org"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    """AK served with an auditor account and one imported Level III endorsement (its id)."""
    root = tmp_path_factory.mktemp("reports-browser")
    node: NodeDir = init_node(root / "ak", "AK", roles=("coordinator",))
    run_alliance("staff", "add", "--email", AUDRA, "--name", "Audra Auditor", "--role",
                 "auditor", "--password-stdin", *node.store_args(), stdin=PASSWORD + "\n")
    server = ServerProcess(node)
    with server.start(), server.client() as client:
        r = client.post("/v1/endorsements/imports", headers=node.auth("coordinator"), json={
            "person_id": "AK-P-0001", "family_name": "Rivera", "given_name": "Maria",
            "level": "IMHS", "designation": None, "granted_on": "2019-05-01",
            "valid_through": f"{now().year + 1}-12-31", "legacy_reference": "paper"})
        assert r.status_code == 201, r.text
        yield server, str(r.json()["endorsement_id"])


def test_an_auditor_reads_the_reports_and_prints_a_certificate(
        browser: Any, served: tuple[ServerProcess, str], tmp_path: Path) -> None:
    server, endorsement = served
    axe = Checker(browser, server.url, axe_script_or_skip())
    context = browser.new_context(java_script_enabled=False, accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/staff/login")
        page.get_by_label("Email address").fill(AUDRA)
        page.get_by_label("Password").fill(PASSWORD)
        follow(page.get_by_role("button", name="Sign in"))
        follow(nav_link(page, "Board reports"))
        assert page.get_by_role("heading", level=1).inner_text().startswith("Board reports")
        assert page.get_by_role("img", name="Endorsements in good standing by level"
                                ).is_visible()
        assert page.get_by_role("img", name="Renewal rate per year").is_visible()
        counts = page.get_by_role("table", name=re.compile("^Endorsements by level"))
        assert "IMHS" in counts.inner_text()
        axe.check(page)
        follow(page.get_by_role("link", name="Show the whole Alliance"))
        assert "the whole Alliance" in page.get_by_role("heading", level=1).inner_text()
        axe.check(page)
        with page.expect_download() as download:
            page.get_by_role("link", name="Download CSV of the counts").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        rows = list(csv.DictReader(io.StringIO(saved.read_text())))
        assert rows == [{"year_granted": "2019", "level": "IMHS", "designation": "",
                         "standing": "current", "count": "1"}]

        page.goto(f"{server.url}/staff/endorsements/{endorsement}")
        axe.check(page)
        link = page.get_by_role("link", name="Certificate (PDF)")
        href = link.get_attribute("href")
        assert href == f"/staff/endorsements/{endorsement}/certificate.pdf"
        # The PDF as the browser fetches it, with the page's session (Chromium's own
        # viewer would only show it).
        answer = context.request.get(f"{server.url}{href}")
        assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
        assert answer.body().startswith(b"%PDF-")
    finally:
        context.close()
        axe.close()
