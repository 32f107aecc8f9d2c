"""The applicant portal in a real headless Chromium against `alliance serve` with a real SMTP
server, JavaScript off: an applicant signs up and signs in by the emailed link (read from the
SMTP server), drafts a Level I application over two sessions (a rater found by name), signs
the Code of Ethics and the Agreement in the page; the coordinator records the person and
confirms who they are; the applicant submits and sees the status, and the coordinator sees
the application in the queue. Every page on the way is checked with axe-core; a serious or
critical violation fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from federation_api.clock import today
from tests.browser.journeys import Checker, axe_script_or_skip, follow, nav_link, sign_in
from tests.browser.portal_steps import (
    Served,
    confirm_ana,
    open_link,
    save_rows,
    serve_portal,
    sign_texts,
    sign_up,
    start_level_one,
)
from tests.integration.portal_browser import ANA, level_one_form


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve_portal(tmp_path_factory.mktemp("portal-browser"), None) as made:
        yield made


@pytest.fixture(scope="module")
def axe_script() -> Path:
    return axe_script_or_skip()


def test_sign_up_draft_over_two_sessions_submit_and_follow(browser: Any, served: Served,
                                                           axe_script: Path) -> None:
    axe = Checker(browser, served.url, axe_script)
    first = browser.new_context(java_script_enabled=False)
    page = first.new_page()
    try:
        page.goto(f"{served.url}/portal/sign-up")
        axe.check(page)
        follow(page.get_by_role("button", name="Create account"))  # empty: refused
        assert page.locator("#display_name-error").is_visible()
        axe.check(page)
        sign_up(page)
        axe.check(page)
        open_link(page, served, 1, axe)
        assert "not yet confirmed who you are" in page.locator("main").inner_text()
        axe.check(page)
        start_level_one(page, axe)
        axe.check(page)
        save_rows(page, level_one_form(today().year))
        assert "This id names Maria Rivera (AK-P-0001)" in page.locator("main").inner_text()
        axe.check(page)
        follow(page.get_by_role("button", name="Sign out"))
    finally:
        first.close()

    second = browser.new_context(java_script_enabled=False)
    page = second.new_page()
    try:
        page.goto(f"{served.url}/portal/sign-in")
        axe.check(page)
        page.get_by_label("Email address").fill(ANA)
        follow(page.get_by_role("button", name="Email me a sign-in link"))
        open_link(page, served, 2)
        follow(page.get_by_role("link", name=re.compile("^Level I: Infant Family Associate")))
        assert page.locator('[id="degrees-0-field_of_study"]').input_value() == "Psychology"
        sign_texts(page)
        axe.check(page)
        draft_url = page.url.split("?")[0]
        follow(page.get_by_role("button", name="Submit the application"))
        assert "not yet confirmed" in page.locator(".error-summary").inner_text()
        axe.check(page)

        # The coordinator records the person and confirms who the account is.
        staff = browser.new_context(java_script_enabled=False)
        try:
            desk = sign_in(staff, served.url, served.coordinator, axe)
            confirm_ana(desk, served, axe)

            page.goto(draft_url)
            follow(page.get_by_role("button", name="Submit the application"))
            assert page.get_by_role("heading", level=1).inner_text().startswith(
                "Your application")
            assert "Your application is submitted" in page.locator(".message").inner_text()
            assert "Submitted" in page.locator(".facts").inner_text()
            axe.check(page)
            follow(page.get_by_role("link", name="Back to your applications"))
            assert "Submitted" in page.locator("main").inner_text()
            axe.check(page)

            follow(nav_link(desk, "Applications"))
            assert "García" in desk.locator("main").inner_text()
        finally:
            staff.close()
    finally:
        second.close()
        axe.close()
    assert axe.problems == [], axe.problems
