"""The endorsement certificate over a real node (SQLite and PostgreSQL): the PDF's text has
the level's full title, the designation, the name, the dates and the association; the QR code
decoded from the rendered page is the endorsement's public verification link; a suspended or
lapsed endorsement gets a refusal instead, and another association's endorsement none."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader

from federation_api.clock import today
from federation_api.demo.seed import seed
from federation_api.web.pages.templating import long_date
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.staff_browser import add_staff, sign_in
from tests.integration.staff_workspace import PUBLIC_URL, Workspace, workspace

CORA = "cora@ak.example.org"
RITA = "rita@ak.example.org"


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        add_staff(made.node, CORA, "coordinator", name="Cora Coordinator")
        add_staff(made.node, RITA, "reviewer", name="Rita Reviewer")
        yield made


@pytest.fixture
def ids(ws: Workspace) -> dict[str, str]:
    """The demo history's endorsement ids."""
    return seed(ws.node, today())


def qr_codes(pdf: bytes) -> list[str]:
    """The text of every QR code on the PDF's first page, rendered to pixels at 200 dpi."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=200 / 72).to_pil()
    finally:
        document.close()
    return [r.text for r in zxingcpp.read_barcodes(image)
            if r.format == zxingcpp.BarcodeFormat.QRCode]


class StaffCertificatesContract:
    """Certificates on every backend."""

    def test_a_current_endorsement_prints_with_its_facts_and_verification_qr(
            self, ws: Workspace, ids: dict[str, str]) -> None:
        okafor = ids["okafor"]  # Level IV, Clinical, granted 1 March 2015
        browser = ws.browser()
        sign_in(browser, CORA)
        page = browser.get(f"/staff/endorsements/{okafor}").text
        link = f'<a href="/staff/endorsements/{okafor}/certificate.pdf">Certificate (PDF)</a>'
        assert link in page
        r = browser.get(f"/staff/endorsements/{okafor}/certificate.pdf")
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        reader = PdfReader(io.BytesIO(r.content))
        assert len(reader.pages) == 1
        text = " ".join(reader.pages[0].extract_text().split())
        row = ws.node.projector.endorsement(okafor)
        assert row is not None
        for fact in ("Sam Okafor", "Level IV: Infant Mental Health Mentor - Clinical (IMHM-C)",
                     "Alaska Association for Infant and Early Childhood Mental Health",
                     okafor, "1 March 2015", long_date(row.valid_through)):
            assert fact in text, fact
        codes = qr_codes(r.content)
        assert len(codes) == 1
        verify = codes[0]
        parts = urlsplit(verify)
        assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL and parts.path == "/verify"
        assert parse_qs(parts.query) == {"by": ["id"], "endorsement_id": [okafor],
                                         "last_name": ["Okafor"]}
        # The link is the node's public verification result for this endorsement.
        shown = browser.get(verify.removeprefix(PUBLIC_URL))
        assert shown.status_code == 200 and okafor in shown.text
        printed = [e for e in ws.node.accounts.audit.entries()
                   if e.action == "certificate.print"]
        assert len(printed) == 1 and printed[0].target == okafor

    def test_suspended_and_lapsed_endorsements_get_a_refusal(self, ws: Workspace,
                                                             ids: dict[str, str]) -> None:
        browser = ws.browser()
        sign_in(browser, CORA)
        for key, standing in (("morgan", "suspended"), ("chen", "lapsed")):
            page = browser.get(f"/staff/endorsements/{ids[key]}").text
            assert "certificate.pdf" not in page
            assert "No certificate: one is printed only for an endorsement in good" in page
            r = browser.get(f"/staff/endorsements/{ids[key]}/certificate.pdf")
            assert r.status_code == 409 and r.headers["content-type"].startswith("text/html")
            assert f"is {standing} today" in r.text
        assert browser.get("/staff/endorsements/AK-NOSUCH00/certificate.pdf").status_code == 404
        assert not [e for e in ws.node.accounts.audit.entries()
                    if e.action == "certificate.print"]

    def test_a_reviewer_prints_no_certificate(self, ws: Workspace,
                                              ids: dict[str, str]) -> None:
        reviewer = ws.browser()
        sign_in(reviewer, RITA)
        r = reviewer.get(f"/staff/endorsements/{ids['rivera']}/certificate.pdf")
        assert r.status_code == 403


class TestOnSQLite(StaffCertificatesContract, OnSQLite):
    """SQLite files."""


class TestOnPostgreSQL(StaffCertificatesContract, OnPostgreSQL):
    """A real PostgreSQL server."""
