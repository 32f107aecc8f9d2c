"""The application pages over a real node (SQLite and PostgreSQL): intake with bad input
refused next to its field, the stage and the checklist shown, two reviewers assigned, a
reviewer with a declared conflict unable to decide, decisions recorded as ledger entries the
page names, and no refused post moving the ledger head."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.evidence import (
    ApplicationEvidence,
    Degree,
    Membership,
    Rating,
    RscHours,
    Training,
    WorkExperience,
)
from domain.levels import DegreeKind, Level, RaterRole, WorkKind
from federation_api.clock import now, today
from federation_api.demo.seed import level_two_evidence, seed
from federation_api.web.pages import evidence_form
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.staff_browser import add_staff, form_token, sign_in
from tests.integration.staff_workspace import Workspace, workspace

CORA = "cora@ak.example.org"


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    """AK's node, seeded with the demo's history, with a coordinator and three reviewers."""
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        seed(made.node, today())
        add_staff(made.node, CORA, "coordinator", name="Cora Coordinator")
        for name in ("rae", "ray", "ria"):
            add_staff(made.node, f"{name}@ak.example.org", "reviewer", name=name.title())
        yield made


def level_three_evidence() -> ApplicationEvidence:
    """Everything Level III needs but the exam, with Maria Rivera (the seed's Level III) as
    RS/C provider and rater."""
    d = dt.date
    rated = d(2021, 2, 1)
    return ApplicationEvidence(
        degrees=(Degree(kind=DegreeKind.MASTER, field_of_study="Social work",
                        awarded_on=d(2017, 6, 1), transcript_received=True),),
        trainings=(Training(title="IMH foundations", hours=40, completed_on=d(2022, 3, 1)),),
        work=(WorkExperience(kind=WorkKind.IMH_INFANT_AND_PARENT, employer="Clinic",
                             started_on=d(2018, 1, 1), ended_on=d(2021, 1, 31), supervised=True,
                             families_served=20, infant_social_emotional_focus=True,
                             post_bachelor=True, post_master=True),),
        rsc=(RscHours(provider_id="AK-P-0001", hours=60, started_on=d(2019, 6, 1),
                      ended_on=d(2020, 12, 31), post_bachelor=True, post_master=True),),
        ratings=(Rating(rater_id="AK-X-0100", rater_name="Supervisor",
                        role=RaterRole.PROGRAM_SUPERVISOR, rated_on=rated),
                 Rating(rater_id="AK-P-0001", rater_name="Maria Rivera",
                        role=RaterRole.RSC_PROVIDER, rated_on=rated,
                        rater_degree=DegreeKind.MASTER),
                 Rating(rater_id="AK-X-0101", rater_name="Colleague",
                        role=RaterRole.COLLEAGUE, rated_on=rated)),
        code_of_ethics_signed=True, agreement_signed=True, fee_paid=True,
        memberships=(Membership(association="AK", valid_through=d(today().year, 12, 31)),))


def account(ws: Workspace, email: str) -> str:
    return next(a.account_id for a in ws.node.accounts.store.all() if a.email == email)


def post(browser: TestClient, path: str, page: str, **data: object):  # type: ignore[no-untyped-def]
    return browser.post(path, data={"csrf_token": form_token(browser.get(page).text), **data})


class StaffApplicationsContract:
    """The application pages on every backend."""

    def test_intake_refuses_bad_input_next_to_the_field_and_writes_nothing(
            self, ws: Workspace) -> None:
        coordinator = ws.browser()
        sign_in(coordinator, CORA)
        head = ws.head()
        r = post(coordinator, "/staff/applications", "/staff/applications", person_id="",
                 given_name="Ana", family_name="", level="king", birth_date="soon")
        assert r.status_code == 422
        for field in ("intake-person_id", "intake-family_name", "intake-level",
                      "intake-birth_date"):
            assert f'id="{field}-error"' in r.text and f'href="#{field}"' in r.text
        assert ws.head() == head
        r = post(coordinator, "/staff/applications", "/staff/applications",
                 person_id="AK-P-0200", given_name="Ana", family_name="Lopez", level="IFS")
        assert r.status_code == 303, r.text
        location = r.headers["location"]
        assert re.search(r"seq=\d+&hash=[0-9a-f]{64}", location)
        page = coordinator.get(location).text
        assert "Infant Family Specialist (IFS)" in page and "The application is open." in page
        assert 'aria-current="step"' in page and "Not met:" in page
        assert "Approved for exam" not in page  # no exam at Level II
        head_after = ws.head()
        assert head_after is not None and f"#{head_after[0]}" in page
        entries = ws.node.accounts.audit.entries(action="application.start")
        assert entries[0].ledger is not None and entries[0].ledger.seq == head_after[0]

    def test_the_open_applications_follow_the_ledger_with_names_escaped(
            self, ws: Workspace) -> None:
        """The list's rows are kept while the projection stands (web/pages/kept_rows.py):
        an application opened is listed on the next read, and a name is text, not markup."""
        coordinator = ws.browser()
        sign_in(coordinator, CORA)

        def listed() -> tuple[int, str]:
            page = coordinator.get("/staff/applications").text
            found = re.search(r'<h2 id="pipeline-title">(\d+) open application', page)
            assert found is not None
            return int(found.group(1)), page

        before, _ = listed()
        assert before > 0 and listed()[0] == before  # the seed's open applications, kept
        r = post(coordinator, "/staff/applications", "/staff/applications",
                 person_id="AK-P-0201", given_name="<b>Zed</b>", family_name="O'Hara & Co",
                 level="IFA")
        assert r.status_code == 303, r.text
        after, page = listed()
        assert after == before + 1
        assert "&lt;b&gt;Zed&lt;/b&gt; O&#x27;Hara &amp; Co</a>" in page
        assert "<b>Zed</b>" not in page
        assert "Infant Family Associate (IFA)" in page

    def test_two_reviewers_a_conflict_and_a_decision(self, ws: Workspace) -> None:
        application = uuid.uuid4()
        ws.node.service.submit_application(
            application_id=application, person_id="AK-P-0201", family_name="Brooks",
            given_name="Tim", level=Level.IFS, designation=None,
            evidence=level_two_evidence(today()), submitted_on=today(), now=now())
        page = f"/staff/applications/{application}"
        coordinator = ws.browser()
        sign_in(coordinator, CORA)
        rae, ray = account(ws, "rae@ak.example.org"), account(ws, "ray@ak.example.org")
        head = ws.head()
        same = post(coordinator, f"{page}/reviewers", page, first=rae, second=rae)
        assert same.status_code == 422 and 'id="assign-second-error"' in same.text
        assert ws.head() == head
        r = post(coordinator, f"{page}/reviewers", page, first=rae, second=ray)
        assert r.status_code == 303
        assert "Rae: assigned" in coordinator.get(page).text

        first = ws.browser()
        sign_in(first, "rae@ak.example.org")
        assert "Tim Brooks" in first.get("/staff/").text  # in the reviewer's queue
        r = post(first, f"{page}/conflict", page, note="I supervised him last year")
        assert r.status_code == 303
        assert "declared a conflict of interest" in first.get(page).text
        assert "Record my decision" not in first.get(page).text
        head = ws.head()
        # A reviewer with a declared conflict cannot decide, even by posting the form.
        refused = first.post(f"{page}/decision", data={
            "csrf_token": form_token(first.get(page).text), "decision": "approve",
            "comments": "looks fine"})
        assert refused.status_code == 422 and "Nothing was recorded" in refused.text
        assert ws.head() == head

        second = ws.browser()
        sign_in(second, "ray@ak.example.org")
        no_choice = post(second, f"{page}/decision", page, comments="x")
        assert no_choice.status_code == 422 and 'id="decision-decision-error"' in no_choice.text
        r = post(second, f"{page}/decision", page, decision="approve",
                 comments="All requirements met.")
        assert r.status_code == 303 and "hash=" in r.headers["location"]
        shown = second.get(r.headers["location"]).text
        assert "Your decision is recorded." in shown and "decided: approve" in shown
        outcomes = [(e.action, e.outcome.value) for e in ws.node.accounts.audit.entries()]
        assert ("application.decide", "refused") in outcomes
        assert ("application.decide", "ok") in outcomes

    def test_a_coordinator_returns_an_application_with_comments(self, ws: Workspace) -> None:
        coordinator = ws.browser()
        sign_in(coordinator, CORA)
        r = post(coordinator, "/staff/applications", "/staff/applications",
                 person_id="AK-P-0202", given_name="Kai", family_name="Moss", level="IFA")
        page = r.headers["location"].split("?")[0]
        r = post(coordinator, f"{page}/return", page,
                 comments="Please send your transcript.")
        assert r.status_code == 303
        assert "Returned with comments <strong>(now)</strong>" in coordinator.get(page).text
        # Reviewers read applications but cannot return them.
        reviewer = ws.browser()
        sign_in(reviewer, "ria@ak.example.org")
        assert reviewer.get(page).status_code == 200
        assert post(reviewer, f"{page}/return", page, comments="x").status_code == 403
        assert coordinator.get("/staff/applications/not-a-uuid").status_code == 404


    def test_evidence_entered_in_the_form_meets_the_checklist(self, ws: Workspace) -> None:
        coordinator = ws.browser()
        sign_in(coordinator, CORA)
        r = post(coordinator, "/staff/applications", "/staff/applications",
                 person_id="AK-P-0203", given_name="Ida", family_name="Park", level="IFS")
        page = r.headers["location"].split("?")[0]
        form_page = coordinator.get(f"{page}/evidence")
        assert form_page.status_code == 200 and "Not met:" in form_page.text
        assert 'id="degrees-0-kind"' in form_page.text
        assert 'id="degrees-1-kind"' not in form_page.text
        head = ws.head()
        bad = post(coordinator, f"{page}/evidence", f"{page}/evidence", **{
            "degrees-0-kind": "bachelor", "degrees-0-field_of_study": "Education",
            "degrees-0-awarded_on": "last spring", "trainings-0-title": "IMH basics"})
        assert bad.status_code == 422
        assert 'id="degrees-0-awarded_on-error"' in bad.text
        assert 'id="trainings-0-hours-error"' in bad.text  # a row half filled in
        assert 'value="Education"' in bad.text  # what was typed stays
        assert ws.head() == head
        wanted = level_two_evidence(today())
        data = {k: v for k, v in evidence_form.form_values(wanted).items() if v}
        saved = post(coordinator, f"{page}/evidence", f"{page}/evidence", **data)
        assert saved.status_code == 303, saved.text
        application = uuid.UUID(page.rsplit("/", 1)[1])
        assert ws.node.service.application(application).evidence == wanted
        shown = coordinator.get(saved.headers["location"]).text
        assert "The evidence is saved" in shown and "Not met:" not in shown
        again = coordinator.get(f"{page}/evidence").text
        assert 'id="ratings-3-rater_id"' in again  # three ratings and an empty row


    def test_a_level_two_application_from_intake_to_grant(self, ws: Workspace) -> None:
        coordinator = ws.browser()
        sign_in(coordinator, CORA)
        r = post(coordinator, "/staff/applications", "/staff/applications",
                 person_id="AK-P-0204", given_name="Noa", family_name="Reyes", level="IFS")
        page = r.headers["location"].split("?")[0]
        data = {k: v for k, v in evidence_form.form_values(level_two_evidence(today())).items()
                if v}
        assert post(coordinator, f"{page}/evidence", f"{page}/evidence", **data
                    ).status_code == 303
        rae, ray = account(ws, "rae@ak.example.org"), account(ws, "ray@ak.example.org")
        assert post(coordinator, f"{page}/reviewers", page, first=rae, second=ray
                    ).status_code == 303
        for email in ("rae@ak.example.org", "ray@ak.example.org"):
            reviewer = ws.browser()
            sign_in(reviewer, email)
            assert post(reviewer, f"{page}/decision", page, decision="approve",
                        comments="Complete.").status_code == 303
        shown = coordinator.get(page).text
        assert "Grant the endorsement</button>" in shown
        r = post(coordinator, f"{page}/grant", page)
        assert r.status_code == 303
        granted = coordinator.get(r.headers["location"]).text
        assert "The endorsement is granted." in granted and "Granted <strong>(now)" in granted
        found = re.search(r"Endorsement: <strong>(AK-[A-Z0-9]+)</strong>", granted)
        assert found
        head = ws.head()
        again = post(coordinator, f"{page}/grant", page)  # a second grant is refused
        assert again.status_code in (404, 422) and ws.head() == head
        public = ws.browser().get("/v1/verify", params={"endorsement_id": found[1],
                                                        "last_name": "Reyes"})
        assert public.status_code == 200 and public.json()["status"] == "current"

    def approved_for_exam(self, ws: Workspace, coordinator: TestClient, person: str) -> str:
        """A complete Level III application, approved for the exam by two reviewers; its
        page."""
        application = uuid.uuid4()
        ws.node.service.submit_application(
            application_id=application, person_id=person, family_name="Kim",
            given_name="Alex", level=Level.IMHS, designation=None,
            evidence=level_three_evidence(), submitted_on=today(), now=now())
        page = f"/staff/applications/{application}"
        rae, ray = account(ws, "rae@ak.example.org"), account(ws, "ray@ak.example.org")
        assert post(coordinator, f"{page}/reviewers", page, first=rae, second=ray
                    ).status_code == 303
        for email in ("rae@ak.example.org", "ray@ak.example.org"):
            reviewer = ws.browser()
            sign_in(reviewer, email)
            assert post(reviewer, f"{page}/decision", page, decision="approve_for_exam",
                        comments="Ready for the exam.").status_code == 303
        assert "Approved for exam <strong>(now)" in coordinator.get(page).text
        return page

    def test_a_level_three_application_through_the_exam(self, ws: Workspace) -> None:
        coordinator = ws.browser()
        sign_in(coordinator, CORA)
        passing = self.approved_for_exam(ws, coordinator, "AK-P-0301")
        assert post(coordinator, f"{passing}/exam", passing, sat_on=today().isoformat(),
                    score="85").status_code == 303
        assert "Exam passed <strong>(now)" in coordinator.get(passing).text
        assert post(coordinator, f"{passing}/grant", passing).status_code == 303
        assert "Granted <strong>(now)" in coordinator.get(passing).text
        page = self.approved_for_exam(ws, coordinator, "AK-P-0300")
        bad = post(coordinator, f"{page}/exam", page, sat_on="2999-01-01", score="lots")
        assert bad.status_code == 422
        assert 'id="exam-sat_on-error"' in bad.text and 'id="exam-score-error"' in bad.text
        failed = post(coordinator, f"{page}/exam", page, sat_on=today().isoformat(),
                      score="55")
        assert failed.status_code == 303
        shown = coordinator.get(page).text
        assert "Exam failed <strong>(now)" in shown
        assert "the pass mark\nis 70 of 100" in shown  # the association's default policy
        assert "<td>1</td>" in shown and "<td>55</td><td>70</td><td>failed</td>" in shown
        head = ws.head()
        retake = post(coordinator, f"{page}/exam", page, sat_on=today().isoformat(),
                      score="90")  # too soon after the first sitting
        assert retake.status_code == 422 and "Nothing was recorded" in retake.text
        assert ws.head() == head


class TestStaffApplicationsOnSQLite(StaffApplicationsContract, OnSQLite):
    """On SQLite files."""


class TestStaffApplicationsOnPostgreSQL(StaffApplicationsContract, OnPostgreSQL):
    """On a PostgreSQL schema."""
