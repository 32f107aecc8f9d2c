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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from federation_api.clock import today
from tests.browser.journeys import (
    COORDINATOR,
    PROVIDER,
    Account,
    Checker,
    axe_script_or_skip,
    fill_form,
    follow,
    import_endorsement,
    make_node,
    nav_link,
    sign_in,
)
from tests.e2e.harness import NodeDir, ServerProcess
from tests.integration.smtp_sink import SmtpSink

ANA = "ana@example.org"


@dataclass
class Served:
    """`alliance serve` of a node with a coordinator, its SMTP server."""

    server: ServerProcess
    node: NodeDir
    sink: SmtpSink
    coordinator: Account

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    node, accounts = make_node(tmp_path_factory.mktemp("portal-browser"), "AK", None,
                               {"cora": COORDINATOR})
    with SmtpSink() as sink:
        server = ServerProcess(node)
        server.env = {"ALLIANCE_SMTP_URL": sink.url, "ALLIANCE_PUBLIC_URL": server.url,
                      "ALLIANCE_MAIL_FROM": "Alliance AK <noreply@ak.example.org>"}
        with server.start(timeout=180), server.client() as client:  # a loaded machine
            import_endorsement(client, node, PROVIDER, "Rivera", "Maria", "IMHS",
                               today().replace(year=today().year + 1))
            yield Served(server=server, node=node, sink=sink, coordinator=accounts["cora"])


@pytest.fixture(scope="module")
def axe_script() -> Path:
    return axe_script_or_skip()


def link_in_mail(sink: SmtpSink, count: int) -> str:
    """The sign-in link of the `count`-th mail to the applicant."""
    deadline = 200
    while deadline:
        mails = [m for m in sink.wait_for(1) if ANA in m.rcpt_tos]
        if len(mails) >= count:
            break
        sink.wait_for(len(sink.received) + 1, timeout=20)
        deadline -= 1
    found = re.search(r"https?://\S+/portal/sign-in/link\?token=\S+", mails[count - 1].text())
    assert found, mails[count - 1].text()
    return found.group(0)


def level_one(year: int) -> dict[str, str]:
    return {
        "degrees-0-kind": "bachelor", "degrees-0-field_of_study": "Psychology",
        "degrees-0-awarded_on": "2015-06-01",
        "trainings-0-title": "Infant mental health foundations", "trainings-0-hours": "30",
        "trainings-0-completed_on": f"{year - 1}-01-10",
        "ratings-0-rater_id": "Rivera", "ratings-0-role": "current_supervisor",
        "ratings-0-rater_email": "sam@rivera.example.org",
        "ratings-1-rater_id": "X-0001", "ratings-1-rater_name": "Lee Colleague",
        "ratings-1-role": "colleague", "ratings-1-rater_email": "lee@example.org",
        "ratings-2-rater_id": "X-0002", "ratings-2-rater_name": "Pat Parent",
        "ratings-2-role": "parent_or_recipient", "ratings-2-rater_email": "pat@example.org",
        "memberships-0-association": "AK", "memberships-0-valid_through": f"{year + 1}-06-30",
    }


def save_rows(page: Any, values: dict[str, str], rounds: int = 5) -> None:
    """Fill the rows the draft shows, save (a new empty row appears), until all are in."""
    left = dict(values)
    for _ in range(rounds):
        filled = fill_form(page, left)
        follow(page.get_by_role("button", name="Save the draft"))
        assert "Your draft is saved" in page.locator(".message").first.inner_text()
        left = {k: v for k, v in left.items() if k not in filled}
        if not left:
            return
    raise AssertionError(f"the draft never showed {sorted(left)}")


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
        page.get_by_label("Your full name").fill("Ana García")
        page.get_by_label("Email address").fill(ANA)
        follow(page.get_by_role("button", name="Create account"))
        assert page.get_by_role("heading", level=1, name="Check your email").is_visible()
        axe.check(page)
        page.goto(link_in_mail(served.sink, 1))
        axe.check(page)
        follow(page.get_by_role("button", name="Sign in"))
        assert page.get_by_role("heading", level=1, name="Your applications").is_visible()
        assert "not yet confirmed who you are" in page.locator("main").inner_text()
        axe.check(page)
        follow(page.get_by_role("link", name="Start an application"))
        axe.check(page)
        page.get_by_label("Level", exact=True).select_option("IFA")
        follow(page.get_by_role("button", name="Start the draft"))
        assert page.get_by_role("heading", level=1).inner_text().startswith("Draft application")
        axe.check(page)
        save_rows(page, level_one(today().year))
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
        page.goto(link_in_mail(served.sink, 2))
        follow(page.get_by_role("button", name="Sign in"))
        follow(page.get_by_role("link", name=re.compile("^Level I: Infant Family Associate")))
        assert page.locator('[id="degrees-0-field_of_study"]').input_value() == "Psychology"
        for heading in ("Code of Ethics", "Endorsement Agreement"):
            page.get_by_label(re.compile(f"^I have read the {heading}")).check()
            prefix = "code_of_ethics" if heading == "Code of Ethics" else "endorsement_agreement"
            page.locator(f"#sign-{prefix}-name").fill("Ana García")
            follow(page.get_by_role("button", name=f"Sign the {heading}"))
            assert "Your signature is recorded" in page.locator(".message").first.inner_text()
        axe.check(page)
        draft_url = page.url.split("?")[0]
        follow(page.get_by_role("button", name="Submit the application"))
        assert "not yet confirmed" in page.locator(".error-summary").inner_text()
        axe.check(page)

        # The coordinator records the person and confirms who the account is.
        staff = browser.new_context(java_script_enabled=False)
        try:
            desk = sign_in(staff, served.url, served.coordinator, axe)
            desk.goto(f"{served.url}/staff/people/new")
            fill_form(desk, {"person_id": "AK-P-0042", "given_name": "Ana",
                             "family_name": "García", "email": ANA})
            follow(desk.get_by_role("button", name="Save the record"))
            follow(nav_link(desk, "Portal accounts"))
            axe.check(desk)
            follow(desk.get_by_role("link", name="Ana García"))
            assert "the same email address" in desk.locator("main").inner_text()
            axe.check(desk)
            desk.get_by_label("Professional id of the person's record").fill("AK-P-0042")
            follow(desk.get_by_role("button", name="Confirm identity"))
            assert "tied to AK-P-0042" in desk.locator(".message").inner_text()
            axe.check(desk)

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
