"""The staff workspace in a real headless Chromium against `alliance serve` with a real SMTP
server: the first coordinator (from `alliance staff add`) signs in and sets up the
authenticator, invites a reviewer, and the reviewer accepts the emailed invitation and signs
in. Every page is driven with JavaScript off; each page on the way is checked with axe-core
(npm `axe-core`, injected by Playwright into a copy of the page in a second context with
scripts on), and a serious or critical violation fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from federation_api.accounts import totp
from federation_api.clock import now
from tests.browser.journeys import Checker, axe_script_or_skip, follow, nav_link
from tests.e2e.harness import NodeDir, ServerProcess, init_node, run_alliance
from tests.integration.smtp_sink import SmtpSink

PASSWORD = "tulip harbour seventeen"
CORA = "cora@ak.example.org"


@dataclass
class Served:
    """`alliance serve` of a node with a coordinator account, and its SMTP server."""

    server: ServerProcess
    node: NodeDir
    sink: SmtpSink
    endorsement: str  # an imported Level III endorsement

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("staff-browser")
    node = init_node(root / "ak", "AK", roles=("coordinator",))
    run_alliance("staff", "add", "--email", CORA, "--name", "Cora Coordinator", "--role",
                 "coordinator", "--password-stdin", *node.store_args(), stdin=PASSWORD + "\n")
    with SmtpSink() as sink:
        server = ServerProcess(node)
        server.env = {"ALLIANCE_SMTP_URL": sink.url, "ALLIANCE_PUBLIC_URL": server.url,
                      "ALLIANCE_MAIL_FROM": "Alliance AK <noreply@ak.example.org>"}
        with server.start(), server.client() as client:
            r = client.post("/v1/endorsements/imports", headers=node.auth("coordinator"), json={
                "person_id": "AK-P-0001", "family_name": "Rivera", "given_name": "Maria",
                "level": "IMHS", "designation": None, "granted_on": "2019-05-01",
                "valid_through": f"{now().year + 1}-12-31", "legacy_reference": "paper"})
            assert r.status_code == 201, r.text
            yield Served(server=server, node=node, sink=sink,
                         endorsement=str(r.json()["endorsement_id"]))


@pytest.fixture(scope="module")
def axe_script() -> Path:
    return axe_script_or_skip()


def mail_link(sink: SmtpSink, recipient: str, path: str) -> str:
    received = [m for m in sink.wait_for(1) if recipient in m.rcpt_tos]
    assert received, f"no mail to {recipient}"
    found = re.search(rf"https?://\S+{re.escape(path)}\?token=\S+", received[-1].text())
    assert found, received[-1].text()
    return found.group(0)


def test_sign_in_with_totp_and_invite_a_reviewer(browser: Any, served: Served,
                                                 axe_script: Path) -> None:
    axe = Checker(browser, served.url, axe_script)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{served.url}/staff/")
        assert "/staff/login" in page.url  # not signed in yet
        axe.check(page)
        page.get_by_label("Email address").fill(CORA)
        page.get_by_label("Password").fill("not the password at all")
        follow(page.get_by_role("button", name="Sign in"))
        error = page.locator("#password-error")
        assert "is not right" in error.inner_text()
        assert "password-error" in (page.get_by_label("Password").get_attribute(
            "aria-describedby") or "")
        axe.check(page)
        page.get_by_label("Email address").fill(CORA)
        page.get_by_label("Password").fill(PASSWORD)
        follow(page.get_by_role("button", name="Sign in"))

        assert page.url.endswith("/staff/login/enrol")
        assert page.get_by_role("img", name="QR code for your authenticator app").is_visible()
        axe.check(page)
        secret = page.locator("code.secret").inner_text().replace(" ", "")
        page.get_by_label("Code from the app").fill(
            totp.code_at(secret, totp.step_of(now())))
        follow(page.get_by_role("button", name="Finish setting up"))
        assert page.get_by_role("heading", level=1, name="Your recovery codes").is_visible()
        assert page.locator("ul.codes li").count() == 10
        axe.check(page)
        follow(page.get_by_role("link", name="Continue"))

        assert page.get_by_role("heading", level=1, name="Dashboard").is_visible()
        assert "Cora Coordinator" in page.locator(".staff-nav").inner_text()
        axe.check(page)
        follow(nav_link(page, "Accounts"))
        axe.check(page)
        follow(page.get_by_role("button", name="Send the invitation"))  # empty: refused
        assert page.locator(".error-summary").is_visible()
        axe.check(page)
        page.locator("#invite-email").fill("rae@ak.example.org")
        page.locator("#invite-display_name").fill("Rae Reviewer")
        page.get_by_label(re.compile("^Reviewer")).check()
        follow(page.get_by_role("button", name="Send the invitation"))
        assert "The invitation is on its way" in page.locator(".message").inner_text()
        assert "Rae Reviewer" in page.locator("table").inner_text()
        for name in ("API tokens", "Audit log", "Change password"):
            follow(nav_link(page, name))
            axe.check(page)
        assert "account.invite" in page.goto(f"{served.url}/staff/audit").text()
        follow(nav_link(page, "Applications"))
        axe.check(page)
        page.get_by_label("Person record id").fill("AK-P-0300")
        page.get_by_label("Given name").fill("Ana")
        page.get_by_label("Family name").fill("Lopez")
        page.get_by_label("Level applied for").select_option("IFS")
        follow(page.get_by_role("button", name="Open the application"))
        assert "The application is open." in page.locator(".message").inner_text()
        assert page.locator('.stages [aria-current="step"]').inner_text().startswith(
            "Submitted")
        axe.check(page)
        follow(page.get_by_role("link", name="Enter or change the evidence"))
        page.locator("#degrees-0-kind").select_option("bachelor")
        page.locator("#degrees-0-awarded_on").fill("2016-05-15")
        follow(page.get_by_role("button", name="Save the evidence"))  # no field of study
        assert page.locator("#degrees-0-field_of_study-error").is_visible()
        axe.check(page)
        page.locator("#degrees-0-field_of_study").fill("Early childhood education")
        follow(page.get_by_role("button", name="Save the evidence"))
        assert "The evidence is saved" in page.locator(".message").inner_text()
        follow(nav_link(page, "Roster"))
        axe.check(page)
        follow(page.get_by_role("link", name=served.endorsement))
        assert page.get_by_role("heading", level=2, name="History on the ledger").is_visible()
        axe.check(page)
        follow(page.get_by_role("link", name="Renew this endorsement"))
        assert page.get_by_role("heading", level=1, name=re.compile("^Renew")).is_visible()
        axe.check(page)
        page.goto(f"{served.url}/staff/lapses")
        assert "No lapse is due today." in page.locator("main").inner_text()
        axe.check(page)
        # The person records (docs/people.md): bad input named next to its field, a record,
        # its duplicates, renewals due with contact details, the search for a move here.
        follow(nav_link(page, "People"))
        axe.check(page)
        follow(page.get_by_role("link", name="Add a person record"))
        page.get_by_label("Professional id").fill("AK-P-0300")
        page.get_by_label("Email").fill("not an address")
        follow(page.get_by_role("button", name="Save the record"))
        assert page.locator("#email-error").is_visible()
        assert page.locator("#given_name-error").is_visible()
        axe.check(page)
        page.get_by_label("Given name").fill("Ana")
        page.get_by_label("Family name").fill("Lopez")
        page.get_by_label("Email").fill("ana.lopez@example.org")
        follow(page.get_by_role("button", name="Save the record"))
        assert "The person record is saved." in page.locator(".message").inner_text()
        axe.check(page)
        follow(page.get_by_role("link", name="Change the record"))
        axe.check(page)
        page.goto(f"{served.url}/staff/people/duplicates")
        axe.check(page)
        follow(nav_link(page, "Renewals due"))
        follow(page.get_by_role("link", name="90 days"))
        # Maria Rivera's endorsement runs to the end of next year: not due within 90 days.
        assert "No renewal is due within 90 days." in page.locator("main").inner_text()
        axe.check(page)
        follow(nav_link(page, "Recognise a move"))
        page.get_by_label("Name or endorsement id").fill("nobody")
        follow(page.get_by_role("button", name="Search"))
        assert "No current endorsement" in page.locator("main").inner_text()
        axe.check(page)
        follow(page.get_by_role("button", name="Sign out"))
        assert page.url.endswith("/staff/login?signed_out=1")

        link = mail_link(served.sink, "rae@ak.example.org", "/staff/invitation")
        reviewer = context.new_page()
        reviewer.goto(link)
        assert "rae@ak.example.org" in reviewer.locator("main").inner_text()
        axe.check(reviewer)
        reviewer.get_by_label("New password", exact=True).fill(PASSWORD)
        reviewer.get_by_label("New password again").fill(PASSWORD)
        follow(reviewer.get_by_role("button", name="Save password"))
        assert "Your password is saved" in reviewer.locator("main").inner_text()
        reviewer.get_by_label("Email address").fill("rae@ak.example.org")
        reviewer.get_by_label("Password").fill(PASSWORD)
        follow(reviewer.get_by_role("button", name="Sign in"))
        assert reviewer.get_by_role("heading", level=2,
                                    name=re.compile("My review queue")).is_visible()
        assert reviewer.get_by_role("link", name="Accounts", exact=True).count() == 0
        axe.check(reviewer)
    finally:
        context.close()
        axe.close()
    assert len(axe.checked) >= 10
    assert axe.problems == []
