"""Paying fees in the portal, in a real headless Chromium with JavaScript off against `alliance
serve` (SQLite files and PostgreSQL), a real SMTP server and the fake payment provider (a
real HTTP service on loopback, whose signed callback reaches the served node over a socket):

- an applicant signs up, signs in by the emailed link, starts a draft, presses "Pay", pays on
  the provider's page and comes back to a page saying the fee is paid; the draft's checklist
  then shows the fee met;
- an endorsed professional declines on the provider's page first (the page says so), pays on
  the second try, and the renewal page shows the renewal fee met.

Each portal page is checked with axe-core (no serious or critical violation); the fake
provider's page is not the project's and is not checked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from federation_api.accounts.roles import AccountRole
from federation_api.clock import now
from federation_api.fees.schedule import FeeSchedule
from federation_api.node.root import Node
from federation_api.settings import Settings
from tests.browser.journeys import (
    BACKENDS,
    Checker,
    axe_script_or_skip,
    database_url,
    follow,
    import_endorsement,
    make_node,
)
from tests.e2e.harness import NodeDir, ServerProcess, today
from tests.integration.fake_payments import FakeProvider
from tests.integration.smtp_sink import SmtpSink

ANA = "ana@example.org"
SAM = "sam.okafor@example.org"
SECRET = b"fake provider secret, browser test only"
START_UNDER_LOAD = 180.0  # seconds: a shared two-core machine starts `alliance serve` slowly


@contextlib.contextmanager
def opened(node: NodeDir) -> Iterator[Node]:
    """The node's stores opened in this process, beside the server, for what the
    coordinator's pages do (tested with them): set the fees, tie an account to a person."""
    made = Node(Settings(data_dir=node.data_dir, association=node.association,
                         database_url=node.database_url))
    try:
        yield made
    finally:
        made.close()


def set_fees(node: NodeDir) -> None:
    with opened(node) as made, made.fees.db.transaction() as cur:
        made.fees.set_schedule(cur, FeeSchedule("USD", 7500, 2550, 6000, 1500), by="test",
                               now=now())


def link_to_person(node: NodeDir, email: str, person_id: str) -> None:
    with opened(node) as made:
        store = made.accounts.store
        account = next(a for a in store.all() if a.email == email)
        with store.db.transaction() as cur:
            store.link_person(cur, account.account_id, person_id, now=now())
            store.set_roles(cur, account.account_id, [AccountRole.PROFESSIONAL], now=now())


def emailed_link(sink: SmtpSink, recipient: str, timeout: float = 60.0) -> str:
    """The sign-in link of the last mail to `recipient`, once one has arrived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sink.lock:
            received = [m for m in sink.received if recipient in m.rcpt_tos]
        if received:
            found = re.search(r"https?://\S+/portal/sign-in/link\?token=\S+",
                              received[-1].text())
            assert found, received[-1].text()
            return found.group(0)
        time.sleep(0.05)
    raise AssertionError(f"no mail to {recipient} in {timeout} s")


def signed_up(page: Any, axe: Checker, url: str, sink: SmtpSink, name: str, email: str,
              before_sign_in: Any = None) -> None:
    page.goto(f"{url}/portal/sign-up")
    page.get_by_label("Your full name").fill(name)
    page.get_by_label("Email address").fill(email)
    follow(page.get_by_role("button", name="Create account"))
    if before_sign_in is not None:
        before_sign_in()
    page.goto(emailed_link(sink, email))
    follow(page.get_by_role("button", name="Sign in"))
    assert page.url.endswith("/portal/")
    axe.check(page)


def at_provider(page: Any, button: str) -> None:
    """On the fake provider's checkout page: press Pay or Decline (back to the portal)."""
    assert page.get_by_role("heading", level=1).inner_text().startswith("Pay ")
    follow(page.get_by_role("button", name=button, exact=True))


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_applicant_and_a_professional_pay_their_fees_through_the_provider(
        browser: Any, tmp_path: Path, backend: str) -> None:
    axe_script = axe_script_or_skip()
    with database_url(backend) as db_url, SmtpSink() as sink, \
            FakeProvider(SECRET) as provider:
        node, _ = make_node(tmp_path, "AK", db_url, {})
        set_fees(node)
        server = ServerProcess(node)
        server.env = {"ALLIANCE_SMTP_URL": sink.url, "ALLIANCE_PUBLIC_URL": server.url,
                      "ALLIANCE_MAIL_FROM": "Alliance AK <noreply@ak.example.org>",
                      "ALLIANCE_PAYMENT_URL": provider.url,
                      "ALLIANCE_PAYMENT_SECRET": SECRET.decode()}
        provider.callback_url = f"{server.url}/v1/payments/callback"
        server.start(timeout=START_UNDER_LOAD)
        with server, server.client(timeout=60) as client:
            okafor = import_endorsement(client, node, "AK-P-0002", "Okafor", "Sam", "IMHM",
                                        dt.date(today().year, 12, 31), designation="C")
            axe = Checker(browser, server.url, axe_script)
            applicant = browser.new_context(java_script_enabled=False)
            try:
                page = applicant.new_page()
                signed_up(page, axe, server.url, sink, "Ana García", ANA)
                follow(page.get_by_role("link", name="Start an application"))
                page.get_by_label("Level", exact=True).select_option("IFA")
                follow(page.get_by_role("button", name="Start the draft"))
                fee = page.locator("#fee-title").locator("xpath=..")
                assert "Due: 100.50 USD. Not paid yet." in fee.inner_text()
                axe.check(page)
                follow(page.get_by_role("button", name="Pay 100.50 USD online"))
                assert page.url.startswith(f"{provider.url}/checkout?")
                at_provider(page, "Pay")
                assert "/portal/payments/application/" in page.url
                assert page.get_by_role("heading", level=1).inner_text() == "Your fee is paid"
                assert "Paid: 100.50 USD through the payment provider" in page.content()
                axe.check(page)
                follow(page.get_by_role("link", name="Back to your draft"))
                checklist = page.get_by_role("list", name="What the rules need")
                assert "Met: The processing fee is paid." in checklist.inner_text()
                assert page.get_by_role("button", name=re.compile("online$")).count() == 0
                axe.check(page)
            finally:
                applicant.close()

            professional = browser.new_context(java_script_enabled=False)
            try:
                page = professional.new_page()
                signed_up(page, axe, server.url, sink, "Sam Okafor", SAM,
                          lambda: link_to_person(node, SAM, "AK-P-0002"))
                page.goto(f"{server.url}/portal/renewal/{okafor}")
                fee = page.locator("#fee-title").locator("xpath=..")
                assert "Not met yet: The renewal fee is paid." in fee.inner_text()
                axe.check(page)
                follow(page.get_by_role("button", name="Pay 60.00 USD online"))
                at_provider(page, "Decline")
                assert page.get_by_role("heading", level=1).inner_text() == \
                    "Your payment was declined"
                axe.check(page)
                follow(page.get_by_role("button", name="Pay 60.00 USD online"))
                at_provider(page, "Pay")
                assert page.get_by_role("heading", level=1).inner_text() == "Your fee is paid"
                follow(page.get_by_role("link", name="Back to your renewal"))
                fee = page.locator("#fee-title").locator("xpath=..")
                assert "Met: The renewal fee is paid." in fee.inner_text()
                assert "Renewal fee: paid (60.00 USD)." in page.content()
                axe.check(page)
            finally:
                professional.close()
                axe.close()
            assert axe.problems == [], axe.problems
            assert len(axe.checked) >= 8
