"""A reference rater's journey in a real headless Chromium against `alliance serve` with a real
SMTP server (SQLite and PostgreSQL): the coordinator signs in and vets a Level I rater on the
application page; the rater opens the link read from the mail the SMTP server received (no
account, JavaScript off), saves a draft, comes back in another browser, finishes and
submits; the link then says it was used. The coordinator reads the rating. Every page on the
way is checked with axe-core: no serious or critical violation.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from domain.evidence import ApplicationEvidence, Degree, Rating, Training
from domain.levels import DegreeKind, Level, RaterRole
from federation_api.clock import now
from federation_api.node.root import Node
from federation_api.people.records import PersonDetails
from federation_api.ratings.areas import AREAS
from federation_api.settings import Settings
from tests.browser.journeys import (
    BACKENDS,
    COORDINATOR,
    Checker,
    axe_script_or_skip,
    database_url,
    follow,
    make_node,
    new_context,
    sign_in,
)
from tests.e2e.harness import ServerProcess, today
from tests.integration.smtp_sink import SmtpSink

ROBIN = "robin.supervisor@example.org"


@pytest.fixture(scope="module")
def axe_script() -> Path:
    return axe_script_or_skip()


def _prepare(data_dir: Path, url: str | None) -> uuid.UUID:
    """The rater's person record (with an address) and a Level I application naming them."""
    node = Node(Settings(data_dir=data_dir, association="AK", database_url=url))
    try:
        with node.people.db.transaction() as cur:
            node.people.create(cur, PersonDetails(person_id="AK-X-0500", given_name="Robin",
                                                  family_name="Supervisor", email=ROBIN),
                               by="test", now=now())
        application = uuid.uuid4()
        node.service.submit_application(
            application_id=application, person_id="AK-P-0400", family_name="Lane",
            given_name="Jo", level=Level.IFA, designation=None, submitted_on=today(),
            now=now(), evidence=ApplicationEvidence(
                degrees=(Degree(kind=DegreeKind.BACHELOR, field_of_study="Education",
                                awarded_on=dt.date(2018, 6, 1), transcript_received=True),),
                trainings=(Training(title="IMH basics", hours=30,
                                    completed_on=dt.date(2022, 3, 1)),),
                ratings=(Rating(rater_id="AK-X-0500", rater_name="Robin Supervisor",
                                role=RaterRole.PROGRAM_SUPERVISOR,
                                rated_on=today() - dt.timedelta(days=10)),)))
        return application
    finally:
        node.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_vetted_rater_drafts_comes_back_and_submits_through_the_emailed_link(
        browser: Any, tmp_path: Path, axe_script: Path, backend: str) -> None:
    with database_url(backend) as url, SmtpSink() as sink:
        node, accounts = make_node(tmp_path, "AK", url, {"cora": COORDINATOR})
        application = _prepare(node.data_dir, url)
        server = ServerProcess(node)
        server.env = {"ALLIANCE_SMTP_URL": sink.url, "ALLIANCE_PUBLIC_URL": server.url,
                      "ALLIANCE_MAIL_FROM": "Alliance AK <noreply@ak.example.org>"}
        with server.start(timeout=120):  # a loaded machine starts it slowly
            axe = Checker(browser, server.url, axe_script)
            coordinator = new_context(browser)
            page = sign_in(coordinator, server.url, accounts["cora"], axe)
            page.goto(f"{server.url}/staff/applications/{application}")
            axe.check(page)
            page.get_by_label("Rater", exact=True).select_option("AK-X-0500")
            page.get_by_label("How you vetted the rater").fill("Phoned the programme office")
            follow(page.get_by_role("button", name="Record the vetting"))
            assert "The rater is vetted" in page.locator(".message").first.inner_text()
            follow(page.get_by_role("link", name="Rating requests, ratings and the waiver"))
            assert "Sent " in page.locator("main").inner_text()
            axe.check(page)

            mail = [m for m in sink.wait_for(1) if ROBIN in m.rcpt_tos]
            assert mail, "no mail to the rater"
            found = re.search(r"https?://\S+/rate\?token=\S+", mail[-1].text())
            assert found, mail[-1].text()
            link = found.group(0)

            first = new_context(browser)  # the rater: no account, no cookie
            form = first.new_page()
            form.goto(link)
            assert form.get_by_role("heading", level=1).inner_text() == \
                "Reference rating for Jo Lane"
            axe.check(form)
            form.get_by_label("Your relationship to the applicant").select_option(
                "program_supervisor")
            form.locator('[id="thinking-score-4"]').check()
            form.get_by_label("Comments on Thinking").fill("Thinks with the family.")
            follow(form.get_by_role("button", name="Save and finish later"))
            assert "Your answers are saved" in form.locator(".message").inner_text()
            first.close()

            later = new_context(browser)  # coming back another day, another browser
            form = later.new_page()
            form.goto(link)
            assert form.locator('[id="thinking-score-4"]').is_checked()
            assert form.get_by_label("Comments on Thinking").input_value() == \
                "Thinks with the family."
            follow(form.get_by_role("button", name="Submit the rating"))
            assert form.locator(".error-summary").count() == 1  # areas still open
            axe.check(form)
            form.get_by_label("Your relationship to the applicant").select_option(
                "program_supervisor")
            for area in AREAS:
                form.locator(f'[id="{area.code}-score-4"]').check()
            follow(form.get_by_role("button", name="Submit the rating"))
            assert form.get_by_role("heading", level=1).inner_text() == \
                "Thank you: your rating is submitted"
            axe.check(form)
            form.goto(link)
            day = today()
            assert (f"This link was already used on {day.day} {day:%B %Y}"
                    in form.locator("main").inner_text())
            axe.check(form)
            later.close()

            page.reload()
            shown = page.locator("main").inner_text()
            assert "Robin Supervisor, received" in shown and "Thinks with the family." in shown
            assert "1 of 3 ratings received" in shown
            axe.check(page)
            coordinator.close()
            axe.close()
        assert len(axe.checked) >= 7
        assert axe.problems == []
