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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from federation_api.clock import today
from federation_api.ratings.areas import AREAS
from tests.browser.journeys import (
    BACKENDS,
    COORDINATOR,
    PROVIDER,
    Account,
    Checker,
    axe_script_or_skip,
    database_url,
    fill_form,
    follow,
    import_endorsement,
    make_node,
    nav_link,
    sign_in,
)
from tests.e2e.harness import NodeDir, ServerProcess
from tests.integration.smtp_sink import SmtpSink

ADDRESSES = {"ratings-0-rater_email": "maria.rivera@example.org",
             "ratings-1-rater_email": "lee@example.org",
             "ratings-2-rater_email": "pat@example.org"}
SECRET = "Only the association reads this"
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




@pytest.fixture(scope="module", params=BACKENDS)
def served(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with database_url(request.param) as url, SmtpSink() as sink:
        node, accounts = make_node(tmp_path_factory.mktemp("portal-raters"), "AK", url,
                                   {"cora": COORDINATOR})
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
        page.get_by_label("Your full name").fill("Ana García")
        page.get_by_label("Email address").fill(ANA)
        follow(page.get_by_role("button", name="Create account"))
        page.goto(link_in_mail(served.sink, 1))
        follow(page.get_by_role("button", name="Sign in"))
        follow(page.get_by_role("link", name="Start an application"))
        page.get_by_label("Level", exact=True).select_option("IFA")
        follow(page.get_by_role("button", name="Start the draft"))
        # The rows ask for the rater's address, not a day of rating.
        assert page.locator('[id="ratings-0-rater_email"]').count() == 1
        assert page.locator('[id="ratings-0-rated_on"]').count() == 0
        save_rows(page, level_one(today().year) | ADDRESSES)
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
        for heading in ("Code of Ethics", "Endorsement Agreement"):
            page.get_by_label(re.compile(f"^I have read the {heading}")).check()
            prefix = "code_of_ethics" if heading == "Code of Ethics" else "endorsement_agreement"
            page.locator(f"#sign-{prefix}-name").fill("Ana García")
            follow(page.get_by_role("button", name=f"Sign the {heading}"))
        draft_url = page.url.split("?")[0].split("#")[0]

        # The coordinator records Ana and confirms who the account is.
        desk = sign_in(staff, served.url, served.coordinator, axe)
        desk.goto(f"{served.url}/staff/people/new")
        fill_form(desk, {"person_id": "AK-P-0042", "given_name": "Ana",
                         "family_name": "García", "email": ANA})
        follow(desk.get_by_role("button", name="Save the record"))
        follow(nav_link(desk, "Portal accounts"))
        follow(desk.get_by_role("link", name="Ana García"))
        desk.get_by_label("Professional id of the person's record").fill("AK-P-0042")
        follow(desk.get_by_role("button", name="Confirm identity"))

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
