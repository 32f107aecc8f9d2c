"""The coordinator's fee pages in a real headless Chromium against `alliance serve` (SQLite
and PostgreSQL), JavaScript off: the fee schedule set (a wrong amount first, named next to its
field, nothing saved), then an application's fee recorded as paid by cheque (a wrong amount
first). Every page on the way is checked with axe-core: no serious or critical violation."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.browser.journeys import (
    BACKENDS,
    COORDINATOR,
    Checker,
    axe_script_or_skip,
    database_url,
    follow,
    make_node,
    nav_link,
    new_context,
    sign_in,
)
from tests.e2e.harness import ServerProcess, applicant, today


@pytest.fixture(scope="module")
def axe_script() -> Path:
    return axe_script_or_skip()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_coordinator_sets_the_fees_and_records_a_cheque(
        browser: Any, axe_script: Path, tmp_path: Path, backend: str) -> None:
    with database_url(backend) as url:
        node, accounts = make_node(tmp_path, "AK", url, {"cora": COORDINATOR})
        with ServerProcess(node).start(timeout=120) as server, server.client() as client:
            started = client.post("/v1/applications", json=applicant(
                "AK-P-0901", started_on=today().isoformat()),
                headers={**node.auth("coordinator"), "Idempotency-Key": str(uuid.uuid4())})
            assert started.status_code == 201, started.text
            application_id = started.json()["application_id"]
            axe = Checker(browser, server.url, axe_script)
            context = new_context(browser)
            try:
                page = sign_in(context, server.url, accounts["cora"], axe)
                follow(nav_link(page, "Fees"))
                assert "has not set its fees yet" in page.locator("main").inner_text()
                axe.check(page)
                page.get_by_label("Application fee").fill("75")
                page.get_by_label("Processing fee").fill("25,50")  # a comma: refused
                page.get_by_label("Renewal fee").fill("60")
                page.get_by_label("Late fee").fill("15")
                follow(page.get_by_role("button", name="Save as a new version"))
                error = page.locator("#processing-error")
                assert "125.50" in error.inner_text()
                assert page.locator("#processing").get_attribute("aria-invalid") == "true"
                axe.check(page)
                page.get_by_label("Processing fee").fill("25.50")
                follow(page.get_by_role("button", name="Save as a new version"))
                main = page.locator("main").inner_text()
                assert "The new fee schedule is saved." in main and "version 1" in main
                assert "100.50" not in main and "25.50 USD" in main
                axe.check(page)

                page.goto(f"{server.url}/staff/applications/{application_id}")
                follow(page.get_by_role("link", name="Fees and payment"))
                assert "100.50 USD" in page.locator("main").inner_text()
                axe.check(page)
                page.get_by_label("Cheque number").fill("1042")
                page.get_by_label("Amount").fill("100")
                page.get_by_label("Date on the cheque").fill(today().isoformat())
                follow(page.get_by_role("button", name="Record the cheque"))
                assert "The amount due is 100.50 USD" in page.locator("#amount-error"
                                                                      ).inner_text()
                axe.check(page)
                page.get_by_label("Amount").fill("100.50")
                follow(page.get_by_role("button", name="Record the cheque"))
                main = page.locator("main").inner_text()
                assert "The cheque is recorded" in main and "1042" in main
                assert page.get_by_role("button", name="Record the cheque").count() == 0
                axe.check(page)
                assert axe.problems == [], axe.problems
            finally:
                context.close()
                axe.close()
