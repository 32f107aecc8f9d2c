"""The steps of the portal journeys in Chromium, shared by the browser tests that walk them
(a fixtures module): the node served with a coordinator and a real SMTP server, signing up
and in by the mailed link, a Level I draft started, saved row by row and signed, and the
coordinator recording the applicant and confirming who the account is.

A step given an axe `Checker` checks the pages it passes through (as the portal's main
journey does); without one it only walks them, so each test keeps the checks it makes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from federation_api.clock import today
from tests.browser.journeys import (
    COORDINATOR,
    PROVIDER,
    Account,
    Checker,
    fill_form,
    follow,
    import_endorsement,
    make_node,
    nav_link,
)
from tests.e2e.harness import NodeDir, ServerProcess
from tests.integration.portal_browser import ANA
from tests.integration.smtp_sink import SmtpSink


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


@contextmanager
def serve_portal(root: Path, database: str | None) -> Iterator[Served]:
    """The AK node on `database` (None: SQLite files) served with mail to a real SMTP server
    and Maria Rivera's endorsement (`PROVIDER`) imported, the supervisor a Level I form
    finds by name."""
    with SmtpSink() as sink:
        node, accounts = make_node(root, "AK", database, {"cora": COORDINATOR})
        server = ServerProcess(node)
        server.env = {"ALLIANCE_SMTP_URL": sink.url, "ALLIANCE_PUBLIC_URL": server.url,
                      "ALLIANCE_MAIL_FROM": "Alliance AK <noreply@ak.example.org>"}
        with server.start(timeout=180), server.client() as client:  # a loaded machine
            import_endorsement(client, node, PROVIDER, "Rivera", "Maria", "IMHS",
                               today().replace(year=today().year + 1))
            yield Served(server=server, node=node, sink=sink, coordinator=accounts["cora"])


def _check(axe: Checker | None, page: Any) -> None:
    if axe is not None:
        axe.check(page)


def link_in_mail(sink: SmtpSink, count: int, recipient: str = ANA) -> str:
    """The sign-in link of the `count`-th mail to `recipient`."""
    deadline = 200
    while deadline:
        mails = [m for m in sink.wait_for(1) if recipient in m.rcpt_tos]
        if len(mails) >= count:
            break
        sink.wait_for(len(sink.received) + 1, timeout=20)
        deadline -= 1
    found = re.search(r"https?://\S+/portal/sign-in/link\?token=\S+", mails[count - 1].text())
    assert found, mails[count - 1].text()
    return found.group(0)


def sign_up(page: Any, name: str = "Ana García", email: str = ANA) -> None:
    """Fill the sign-up form the page shows and send it."""
    page.get_by_label("Your full name").fill(name)
    page.get_by_label("Email address").fill(email)
    follow(page.get_by_role("button", name="Create account"))
    assert page.get_by_role("heading", level=1, name="Check your email").is_visible()


def open_link(page: Any, served: Served, count: int, axe: Checker | None = None) -> None:
    """Open the `count`-th sign-in link mailed to the applicant and press its button: the
    portal's home page."""
    page.goto(link_in_mail(served.sink, count))
    _check(axe, page)
    follow(page.get_by_role("button", name="Sign in"))
    assert page.get_by_role("heading", level=1, name="Your applications").is_visible()


def start_level_one(page: Any, axe: Checker | None = None) -> None:
    """From the home page, start a Level I (IFA) draft: the draft's page."""
    follow(page.get_by_role("link", name="Start an application"))
    _check(axe, page)
    page.get_by_label("Level", exact=True).select_option("IFA")
    follow(page.get_by_role("button", name="Start the draft"))
    assert page.get_by_role("heading", level=1).inner_text().startswith("Draft application")


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


def sign_texts(page: Any, name: str = "Ana García") -> None:
    """Sign the Code of Ethics and the Endorsement Agreement on the draft page."""
    for heading in ("Code of Ethics", "Endorsement Agreement"):
        page.get_by_label(re.compile(f"^I have read the {heading}")).check()
        prefix = "code_of_ethics" if heading == "Code of Ethics" else "endorsement_agreement"
        page.locator(f"#sign-{prefix}-name").fill(name)
        follow(page.get_by_role("button", name=f"Sign the {heading}"))
        assert "Your signature is recorded" in page.locator(".message").first.inner_text()


def confirm_ana(desk: Any, served: Served, axe: Checker | None = None) -> None:
    """The coordinator (signed in on `desk`) records Ana as AK-P-0042 and confirms that the
    portal account is hers."""
    desk.goto(f"{served.url}/staff/people/new")
    fill_form(desk, {"person_id": "AK-P-0042", "given_name": "Ana",
                     "family_name": "García", "email": ANA})
    follow(desk.get_by_role("button", name="Save the record"))
    follow(nav_link(desk, "Portal accounts"))
    _check(axe, desk)
    follow(desk.get_by_role("link", name="Ana García"))
    assert "the same email address" in desk.locator("main").inner_text()
    _check(axe, desk)
    desk.get_by_label("Professional id of the person's record").fill("AK-P-0042")
    follow(desk.get_by_role("button", name="Confirm identity"))
    assert "tied to AK-P-0042" in desk.locator(".message").inner_text()
    _check(axe, desk)
