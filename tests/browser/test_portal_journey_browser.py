"""Issue 12's proof that it works: the whole journey across roles and processes in a real
headless Chromium (JavaScript off) against `alliance serve` on SQLite files and on a fresh
PostgreSQL schema, with a real SMTP server in this process, axe-core on every page (no
serious or critical violation):

the coordinator sets the fees; an applicant signs up (the link read from the SMTP server),
drafts a Level II application over two sessions (signed out, back by a new link), names
three raters with their addresses and signs the waiver, uploads the transcript (a web page
named like a PDF refused first) and pays the fee through the provider; the coordinator
confirms who they are; they submit; the coordinator sends the rating requests and each
rater rates through the link in their mail (a used link says so); the coordinator opens the
transcript and assigns two reviewers; one returns it with comments, the applicant reads
them (mailed, and on the status page) and answers with a change; both reviewers approve;
the coordinator grants; the applicant downloads the certificate (the PDF's text checked).
At the end of the cycle the daily run mails the renewal reminder (once, however often it
runs), and the professional logs the cycle's hours, pays the renewal fee and renews in the
page.

The steps are in `tests/browser/portal_journey.py` (which also says how "a year later" is
reached without moving the clock). The fees are paid through the fake payment provider (a
real HTTP service on loopback whose signed callback reaches the served node); the
coordinator opens the uploaded transcript and ticks that it arrived (the association's
judgement, as the portal leaves it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import portal_journey as steps
from tests.browser.journeys import (
    BACKENDS,
    COORDINATOR,
    PROVIDER,
    REVIEWERS,
    Checker,
    axe_script_or_skip,
    database_url,
    import_endorsement,
    make_node,
)
from tests.e2e.harness import ServerProcess, today
from tests.integration.fake_payments import FakeProvider
from tests.integration.smtp_sink import SmtpSink

SECRET = b"fake provider secret, journey test only"
START_UNDER_LOAD = 180.0  # seconds: a shared two-core machine starts `alliance serve` slowly


@pytest.fixture(scope="module", params=BACKENDS)
def journey(request: pytest.FixtureRequest, browser: Any,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[steps.Journey]:
    """AK's node on the backend (its renewal date three weeks ahead), a coordinator and two
    reviewers, Maria Rivera (Level III: the RS/C provider and a rater) imported, served with
    a real SMTP server; everyone's browsers closed at the end."""
    axe_script: Path = axe_script_or_skip()
    backend = str(request.param)
    policy = steps.renewal_soon_policy(today())
    with database_url(backend) as url, SmtpSink() as sink, FakeProvider(SECRET) as provider:
        node, accounts = make_node(tmp_path_factory.mktemp(f"portal-journey-{backend}"), "AK",
                                   url, {"cora": COORDINATOR, **REVIEWERS}, policy)
        server = ServerProcess(node)
        server.env = {"ALLIANCE_SMTP_URL": sink.url, "ALLIANCE_PUBLIC_URL": server.url,
                      "ALLIANCE_MAIL_FROM": "Alliance AK <noreply@ak.example.org>",
                      "ALLIANCE_PAYMENT_URL": provider.url,
                      "ALLIANCE_PAYMENT_SECRET": SECRET.decode()}
        provider.callback_url = f"{server.url}/v1/payments/callback"
        server.start(timeout=START_UNDER_LOAD)
        with server, server.client(timeout=60) as client:
            import_endorsement(client, node, PROVIDER, "Rivera", "Maria", "IMHS",
                               dt.date(today().year + 1, 12, 31))
            made = steps.Journey(browser=browser, server=server, node=node, sink=sink,
                                 provider=provider, accounts=accounts, policy=policy,
                                 axe=Checker(browser, server.url, axe_script, set()))
            try:
                yield made
            finally:
                made.close()


def test_apply_review_return_answer_grant_certificate_reminder_and_renew(
        journey: steps.Journey) -> None:
    j = journey
    steps.set_the_fees(j)
    steps.sign_up(j)
    steps.draft_first_session(j)
    steps.draft_second_session(j)
    steps.upload_transcript(j)
    steps.pay_the_application_fee(j)
    steps.confirm_identity(j)
    steps.submit(j)
    steps.send_rating_requests(j)
    steps.raters_rate(j)
    steps.check_the_transcript(j)
    steps.assign_reviewers(j)
    asked = "Please check how many families you served: the employer's letter says 15."
    steps.decide(j, "rae", "Return for more (the coordinator asks the applicant)", asked)
    steps.decide(j, "ray", "Approve", "Complete as far as I can see.", returns=True)
    steps.read_comments_and_answer(j, asked, "Corrected: 15 families, as the letter says.",
                                   {"work-0-families_served": "15"})
    steps.decide(j, "rae", "Approve", "Thank you; complete.")
    steps.decide(j, "ray", "Approve", "Still complete.")
    steps.grant(j)
    steps.evidence_kept_to_the_grant(j)
    steps.download_certificate(j)
    steps.daily_run(j)
    steps.renew_in_the_page(j)
    assert j.axe.problems == [], j.axe.problems
    assert len(j.axe.checked) >= 40
