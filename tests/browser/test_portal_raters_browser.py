"""The applicant's reference raters in a real headless Chromium against `alliance serve` with
a real SMTP server, JavaScript off: the applicant names three raters with their addresses,
is told next to the box that the waiver needs ticking, signs it, submits; the status page
lists the raters as named; the coordinator sends the endorsed rater's request and vets the
two others (which sends theirs); each rater rates through the link read from the SMTP
server; the applicant's status page then says each has rated, never what they said, and the
checklist's ratings are met. Every page on the way is checked with axe-core.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from federation_api.clock import today
from federation_api.ratings.areas import AREAS
from tests.browser.journeys import (
    BACKENDS,
    PROVIDER,
    Checker,
    axe_script_or_skip,
    database_url,
    follow,
    sign_in,
)
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
from tests.integration.portal_browser import level_one_form

ADDRESSES = {"ratings-0-rater_email": "maria.rivera@example.org",
             "ratings-1-rater_email": "lee@example.org",
             "ratings-2-rater_email": "pat@example.org"}
SECRET = "Only the association reads this"


@pytest.fixture(scope="module", params=BACKENDS)
def served(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with database_url(request.param) as url, \
            serve_portal(tmp_path_factory.mktemp("portal-raters"), url) as made:
        yield made


@pytest.fixture(scope="module")
def axe_script() -> Path:
    return axe_script_or_skip()


def rating_link(served: Served, recipient: str) -> str:
    for _ in range(30):
        mails = [m for m in served.sink.wait_for(1) if recipient in m.rcpt_tos]
        if mails:
            found = re.search(r"https?://\S+/rate\?token=\S+", mails[-1].text())
            assert found, mails[-1].text()
            return found.group(0)
        served.sink.wait_for(len(served.sink.received) + 1, timeout=10)
    raise AssertionError(f"no rating request reached {recipient}")


def rate(browser: Any, axe: Checker, link: str) -> None:
    """A rater with no account opens the link and submits a full rating."""
    context = browser.new_context(java_script_enabled=False)
    form = context.new_page()
    try:
        form.goto(link)
        axe.check(form)
        form.get_by_label("Your relationship to the applicant").select_option("colleague")
        for area in AREAS:
            form.locator(f'[id="{area.code}-score-4"]').check()
        form.get_by_label("Comments on Thinking").fill(SECRET)
        follow(form.get_by_role("button", name="Submit the rating"))
        assert form.get_by_role("heading", level=1).inner_text() == \
            "Thank you: your rating is submitted"
    finally:
        context.close()


def test_raters_named_waiver_signed_rated_through_links_and_followed(
        browser: Any, served: Served, axe_script: Path) -> None:
    axe = Checker(browser, served.url, axe_script)
    ana = browser.new_context(java_script_enabled=False)
    page = ana.new_page()
    staff = browser.new_context(java_script_enabled=False)
    try:
        page.goto(f"{served.url}/portal/sign-up")
        sign_up(page)
        open_link(page, served, 1)
        start_level_one(page)
        # The rows ask for the rater's address, not a day of rating.
        assert page.locator('[id="ratings-0-rater_email"]').count() == 1
        assert page.locator('[id="ratings-0-rated_on"]').count() == 0
        save_rows(page, level_one_form(today().year) | ADDRESSES)
        axe.check(page)

        # The waiver: the box left unticked is named next to it.
        follow(page.get_by_role("button", name="Sign the waiver"))
        assert page.locator("#waiver-agreed-error").is_visible()
        assert page.locator("#waiver-agreed").get_attribute("aria-describedby") == \
            "waiver-agreed-error"
        axe.check(page)
        page.get_by_label(re.compile("^I have read the waiver")).check()
        follow(page.get_by_role("button", name="Sign the waiver"))
        assert "Your waiver is recorded" in page.locator(".message").first.inner_text()
        assert "You signed the waiver on" in page.locator("main").inner_text()
        sign_texts(page)
        draft_url = page.url.split("?")[0].split("#")[0]

        # The coordinator records Ana and confirms who the account is.
        desk = sign_in(staff, served.url, served.coordinator, axe)
        confirm_ana(desk, served)

        page.goto(draft_url)
        follow(page.get_by_role("button", name="Submit the application"))
        assert "Your application is submitted" in page.locator(".message").inner_text()
        status_url = page.url.split("?")[0]
        raters = page.locator("section", has=page.locator("#raters-title"))
        assert raters.inner_text().count("the coordinator has not sent the link yet") == 3
        axe.check(page)
        application_id = status_url.rstrip("/").split("/")[-1]

        # Maria is endorsed: her request goes from the ratings page to the address Ana gave;
        # Lee and Pat are vetted on the application page, which sends theirs.
        desk.goto(f"{served.url}/staff/applications/{application_id}/ratings")
        assert "maria.rivera@example.org (given by the applicant)" in \
            desk.locator("main").inner_text()
        axe.check(desk)
        desk.get_by_label("Rater", exact=True).select_option(PROVIDER)
        follow(desk.get_by_role("button", name="Send the request"))
        assert "maria.rivera@example.org" in desk.locator(".message").inner_text()
        for rater in ("X-0001", "X-0002"):
            desk.goto(f"{served.url}/staff/applications/{application_id}")
            desk.get_by_label("Rater", exact=True).select_option(rater)
            desk.get_by_label("How you vetted the rater").fill("Phoned the programme office")
            follow(desk.get_by_role("button", name="Record the vetting"))
            assert "The rater is vetted" in desk.locator(".message").first.inner_text()

        page.goto(status_url)
        assert page.locator("#raters-title + div").inner_text().count("Link sent on") == 3
        items = page.locator(".checklist").inner_text()
        assert "Not met: Ratings from a current supervisor." in items, items
        for address in ADDRESSES.values():
            rate(browser, axe, rating_link(served, address))

        page.goto(status_url)
        shown = page.locator("main").inner_text()
        assert page.locator("#raters-title + div").inner_text().count("Rated on") == 3
        assert SECRET not in shown
        checklist = page.locator(".checklist").inner_text()
        assert "Met: Ratings from a current supervisor." in checklist, checklist
        assert "Met: Exactly 3 reference ratings" in checklist, checklist
        axe.check(page)
    finally:
        staff.close()
        ana.close()
        axe.close()
    assert axe.problems == [], axe.problems
