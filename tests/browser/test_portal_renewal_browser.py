"""An endorsed professional renews in the portal, in a real headless Chromium with
JavaScript off against `alliance serve` (SQLite files and PostgreSQL) and a real SMTP
server: Sam Okafor (Level IV-C, valid through 31 December) signs up, signs in by the emailed
link, logs hours in one session, logs more in a second, sees what the cycle still needs,
renews (membership confirmed, the Code of Ethics signed) and downloads his certificate.
Each page is checked with axe-core (no serious or critical violation).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from federation_api.accounts.audit_log import Actor
from federation_api.accounts.links import LinkPurpose
from federation_api.accounts.roles import AccountRole
from federation_api.clock import now
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
from tests.e2e.harness import NodeDir, ServerProcess, head_seq, today
from tests.integration.smtp_sink import SmtpSink

SAM = "sam.okafor@example.org"
START_UNDER_LOAD = 180.0  # seconds: a shared two-core machine starts `alliance serve` slowly


@contextlib.contextmanager
def opened(node: NodeDir) -> Iterator[Node]:
    """The node's stores opened in this process (beside the server) for what the
    coordinator's pages of another helper will do: tie the account to its person record."""
    made = Node(Settings(data_dir=node.data_dir, association=node.association,
                         database_url=node.database_url))
    try:
        yield made
    finally:
        made.close()


def link_to_person(node: NodeDir, email: str, person_id: str) -> None:
    with opened(node) as made:
        store = made.accounts.store
        account = next(a for a in store.all() if a.email == email)
        with store.db.transaction() as cur:
            store.link_person(cur, account.account_id, person_id, now=now())
            store.set_roles(cur, account.account_id, [AccountRole.PROFESSIONAL], now=now())


def second_link(node: NodeDir, email: str) -> str:
    """A sign-in link for a later session. The emailed one goes out at most once a quarter
    hour (tested with the portal base), so this one is issued by the accounts' own link
    service rather than waited for."""
    with opened(node) as made:
        accounts = made.accounts
        account = next(a for a in accounts.store.all() if a.email == email)
        with accounts.store.db.transaction() as cur:
            return accounts.links.issue(cur, account_id=account.account_id,
                                        purpose=LinkPurpose.SIGN_IN,
                                        issued_by=Actor.account(account.account_id).label,
                                        now=now(), lifetime=dt.timedelta(minutes=15))


def emailed_link(sink: SmtpSink, recipient: str) -> str:
    received = [m for m in sink.wait_for(1) if recipient in m.rcpt_tos]
    assert received, f"no mail to {recipient}"
    found = re.search(r"https?://\S+/portal/sign-in/link\?token=\S+", received[-1].text())
    assert found, received[-1].text()
    return found.group(0)


def log_hours(page: Any, axe: Checker, kind: str, hours: str, provider: str) -> None:
    page.get_by_label("What the hours were").select_option(kind)
    page.get_by_label("Date").fill(today().isoformat())
    page.get_by_label("Clock hours").fill(hours)
    page.get_by_label("Provider").fill(provider)
    follow(page.get_by_role("button", name="Log the hours"))
    assert page.get_by_role("status").inner_text() == "The hours are logged."
    axe.check(page)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_professional_logs_hours_in_two_sessions_renews_and_downloads_the_certificate(
        browser: Any, tmp_path: Path, backend: str) -> None:
    axe_script = axe_script_or_skip()
    with database_url(backend) as url, SmtpSink() as sink:
        node, _ = make_node(tmp_path, "AK", url, {})
        server = ServerProcess(node)
        server.env = {"ALLIANCE_SMTP_URL": sink.url, "ALLIANCE_PUBLIC_URL": server.url,
                      "ALLIANCE_MAIL_FROM": "Alliance AK <noreply@ak.example.org>"}
        server.start(timeout=START_UNDER_LOAD)
        with server, server.client(timeout=60) as client:
            year = today().year
            okafor = import_endorsement(client, node, "AK-P-0002", "Okafor", "Sam", "IMHM",
                                        dt.date(year, 12, 31), designation="C")
            axe = Checker(browser, server.url, axe_script)
            first = browser.new_context(java_script_enabled=False)
            try:
                page = first.new_page()
                page.goto(f"{server.url}/portal/sign-up")
                axe.check(page)
                page.get_by_label("Your full name").fill("Sam Okafor")
                page.get_by_label("Email address").fill(SAM)
                follow(page.get_by_role("button", name=re.compile("Sign up|Create")))
                axe.check(page)
                link_to_person(node, SAM, "AK-P-0002")
                page.goto(emailed_link(sink, SAM))
                axe.check(page)
                follow(page.get_by_role("button", name=re.compile("Sign in")))
                assert page.url.endswith("/portal/")
                follow(page.get_by_role("link", name="Your hours"))
                axe.check(page)
                log_hours(page, axe, "training", "9", "AK-AIMH spring conference")
                log_hours(page, axe, "rsc", "2", "Dana Mentor")
                follow(page.get_by_role("button", name="Sign out"))
            finally:
                first.close()

            second = browser.new_context(java_script_enabled=False, accept_downloads=True)
            try:
                page = second.new_page()
                page.goto(f"{server.url}/portal/sign-in/link?token={second_link(node, SAM)}")
                follow(page.get_by_role("button", name=re.compile("Sign in")))
                follow(page.get_by_role("link", name="Your renewal"))
                axe.check(page)
                follow(page.get_by_role("link", name=re.compile(okafor)))
                axe.check(page)
                missing = page.get_by_role("list", name="What your logged hours still lack")
                assert "9 clock hours of relationship-based training" in missing.inner_text()
                follow(page.get_by_role("link", name="Log or correct your hours"))
                assert "AK-AIMH spring conference" in page.content()  # the first session's
                log_hours(page, axe, "training", "7", "Infant mental health webinar")
                page.goto(f"{server.url}/portal/renewal/{okafor}")
                assert "Your logged hours meet the cycle's requirements." in page.content()
                before = head_seq(client, node)
                # Renewing without signing the Code of Ethics: refused, next to the box.
                page.get_by_label("Association you are a member of").fill("AK")
                page.get_by_label("Membership valid through").fill(f"{year + 1}-12-31")
                page.get_by_label("I confirm my membership is current as stated").check()
                page.get_by_label("Your full name, as your signature").fill("Sam Okafor")
                follow(page.get_by_role("button", name="Renew my endorsement"))
                assert "Tick the box to sign the Code of Ethics." in page.content()
                axe.check(page)
                assert f"valid through 31 December {year}." in page.content()  # not renewed
                page.get_by_label("I have read the Code of Ethics and sign it again").check()
                follow(page.get_by_role("button", name="Renew my endorsement"))
                assert "Your endorsement is renewed." in page.get_by_role("status").inner_text()
                axe.check(page)
                # The renewal entry (the status-list publisher may add its own after it).
                assert head_seq(client, node) > before
                assert f"31 December {year + 1}" in page.content()
                link = page.get_by_role("link", name="Download your certificate (PDF)")
                href = link.get_attribute("href")
                assert href == f"/portal/renewal/{okafor}/certificate.pdf"
                # The PDF as the browser fetches it with the session (Chromium's own viewer
                # would only show it).
                answer = second.request.get(f"{server.url}{href}")
                assert answer.status == 200
                assert answer.headers["content-type"] == "application/pdf"
                assert answer.body().startswith(b"%PDF-")
            finally:
                second.close()
                axe.close()
            assert axe.problems == [], axe.problems
            assert len(axe.checked) >= 8
