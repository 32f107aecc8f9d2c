"""The portal's roles and mail over a real node (SQLite and PostgreSQL) and a real SMTP server:
the `professional` role at identity confirmation and at a grant, the return mail pointing a
portal applicant to their application's page, and the reminders while a returned
application waits for its answer (7 and 21 days after the return, each once, through the
outbox, however often the daily run repeats and across a restart)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.levels import Level, ReviewDecision
from federation_api.accounts.roles import AccountRole
from federation_api.accounts.tokens import Role
from federation_api.clock import now, today
from federation_api.demo.seed import level_two_evidence, seed
from federation_api.node.root import Node
from federation_api.web.daily_reminders import queue_due_reminders
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.portal_browser import (
    ANA,
    account_id_of,
    add_person,
    ana_and_sam,
    answer_with_more_hours,
    confirm_identity,
    coordinator,
    daily_run,
    endorse,
    level_one_form,
    post,
    save_form,
    sign_both,
    signed_up,
    start_draft,
    submit,
)
from tests.integration.smtp_sink import Received
from tests.integration.staff_browser import add_staff
from tests.integration.staff_workspace import PUBLIC_URL, Workspace, workspace

KAI = "kai.moss@example.org"
WAITING = "is waiting for your answer"


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    """The AK node's app on the backend under test."""
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        yield made


def roles_of(ws: Workspace, email: str) -> frozenset[AccountRole]:
    account = ws.node.accounts.store.find(account_id_of(ws, email))
    assert account is not None
    return account.roles


def audited(ws: Workspace, action: str) -> list[tuple[str, str, str]]:
    """(actor, target, detail) of every audit entry of `action`."""
    return [(e.actor, e.target, e.detail) for e in ws.node.accounts.audit.entries(limit=1000)
            if e.action == action]


def mails(ws: Workspace, recipient: str, subject: str) -> list[Received]:
    with ws.sink.lock:
        return [m for m in ws.sink.received
                if recipient in m.rcpt_tos and subject in str(m.message["Subject"])]


def arrived(ws: Workspace, recipient: str, subject: str, count: int) -> list[Received]:
    """The messages to `recipient` whose subject has `subject`, once `count` have arrived and
    the outbox has nothing left to send (then a moment more, for a stray duplicate)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if (len(mails(ws, recipient, subject)) >= count
                and ws.node.outbox.counts()["pending"] == 0):
            break
        time.sleep(0.05)
    time.sleep(0.5)
    return mails(ws, recipient, subject)


def portal_application(ws: Workspace) -> tuple[TestClient, TestClient, str]:
    """Ana's Level I application, drafted, signed and submitted in the portal (her identity
    confirmed by the coordinator): the coordinator's browser, hers, and the application's
    id."""
    staff = ana_and_sam(ws)
    ana = signed_up(ws, "Ana García", ANA)
    draft_id = start_draft(ana)
    saved = save_form(ana, draft_id, level_one_form(today().year))
    assert saved.status_code == 200, saved.text
    sign_both(ana, draft_id)
    assert confirm_identity(staff, account_id_of(ws, ANA), "AK-P-0042").status_code == 303
    return staff, ana, submit(ana, draft_id)


def staff_application(ws: Workspace, staff: TestClient, person_id: str) -> str:
    """An application the coordinator types in (no portal draft behind it): its id."""
    r = post(staff, "/staff/applications", "/staff/applications", person_id=person_id,
             given_name="Kai", family_name="Moss", level="IFA")
    assert r.status_code == 303, r.text
    return str(r.headers["location"].split("?")[0].rsplit("/", 1)[1])


def give_back(staff: TestClient, application_id: str, comments: str) -> None:
    page = f"/staff/applications/{application_id}"
    r = post(staff, f"{page}/return", page, comments=comments)
    assert r.status_code == 303 and "mail=queued" in r.headers["location"], r.headers


class ProfessionalRoleContract:
    """The `professional` role, given when the person holds an endorsement here."""

    def test_identity_confirmation_makes_an_endorsed_person_a_professional(
            self, ws: Workspace) -> None:
        add_person(ws, "AK-P-0042", "Ana", "García", ANA)
        endorse(ws, "AK-P-0042", "Ana", "García")
        add_person(ws, "AK-P-0043", "Bo", "Novak", "bo@example.org")
        staff = coordinator(ws)
        signed_up(ws, "Ana García", ANA)
        signed_up(ws, "Bo Novak", "bo@example.org")
        assert roles_of(ws, ANA) == {AccountRole.APPLICANT}
        assert confirm_identity(staff, account_id_of(ws, ANA), "AK-P-0042").status_code == 303
        assert roles_of(ws, ANA) == {AccountRole.APPLICANT, AccountRole.PROFESSIONAL}
        ((actor, target, detail),) = audited(ws, "portal.professional")
        assert target == account_id_of(ws, ANA) and detail == "holds endorsement AK-0042"
        assert actor == f"account:{account_id_of(ws, 'cora@ak.example.org')}"
        page = staff.get(f"/staff/portal-accounts/{account_id_of(ws, ANA)}").text
        assert "applicant, professional" in page
        # Without an endorsement here the account stays an applicant's, and nothing is
        # recorded; confirming Ana again gives nothing twice.
        bo = account_id_of(ws, "bo@example.org")
        assert confirm_identity(staff, bo, "AK-P-0043").status_code == 303
        assert roles_of(ws, "bo@example.org") == {AccountRole.APPLICANT}
        assert confirm_identity(staff, account_id_of(ws, ANA), "AK-P-0042").status_code == 303
        assert len(audited(ws, "portal.professional")) == 1

    def test_a_grant_makes_the_applicants_portal_account_a_professionals(
            self, ws: Workspace) -> None:
        staff = coordinator(ws)
        ana, application = approved_applicant(ws, staff)
        service = ws.node.service
        ids = {a.email.split("@")[0]: a.account_id for a in ws.node.accounts.store.all()}
        page = f"/staff/applications/{application}"
        granted = post(staff, f"{page}/grant", page)
        assert granted.status_code == 303, granted.text
        endorsement_id = service.application(application).endorsement_id
        assert endorsement_id is not None
        assert roles_of(ws, ANA) == {AccountRole.APPLICANT, AccountRole.PROFESSIONAL}
        ((actor, target, detail),) = audited(ws, "portal.professional")
        assert (actor, target) == (f"account:{ids['cora']}", account_id_of(ws, ANA))
        assert detail == f"holds endorsement {endorsement_id}"
        # The same grant sent again is refused and gives nothing twice; she still signs in
        # to the portal, now to her endorsement's renewal page.
        assert post(staff, f"{page}/grant", page).status_code in (404, 422)
        assert len(audited(ws, "portal.professional")) == 1
        renewals = ana.get("/portal/renewal")
        assert renewals.status_code == 200 and endorsement_id in renewals.text


    def test_a_grant_through_the_api_gives_the_role_too(self, ws: Workspace) -> None:
        staff = coordinator(ws)
        _, application = approved_applicant(ws, staff)
        _, secret = ws.node.tokens.issue(label="intake", role=Role.COORDINATOR, now=now())
        for _ in range(2):  # the retry replays the grant; the role is given once
            answer = ws.browser().post(f"/v1/applications/{application}/grant", json={},
                                       headers={"Authorization": f"Bearer {secret}",
                                                "Idempotency-Key": "grant-1"})
            assert answer.status_code == 201, answer.text
        assert roles_of(ws, ANA) == {AccountRole.APPLICANT, AccountRole.PROFESSIONAL}
        ((actor, _, detail),) = audited(ws, "portal.professional")
        assert actor.startswith("token:") and detail.startswith("holds endorsement AK-")


def approved_applicant(ws: Workspace, staff: TestClient) -> tuple[TestClient, uuid.UUID]:
    """Ana, confirmed as AK-P-0042 in the portal (an applicant), and her Level II
    application approved by two reviewers: her browser and the application's id."""
    seed(ws.node, today())
    add_person(ws, "AK-P-0042", "Ana", "García", ANA)
    ana = signed_up(ws, "Ana García", ANA)
    assert confirm_identity(staff, account_id_of(ws, ANA), "AK-P-0042").status_code == 303
    assert roles_of(ws, ANA) == {AccountRole.APPLICANT}
    for name in ("rae", "ray"):
        add_staff(ws.node, f"{name}@ak.example.org", "reviewer", name=name.title())
    ids = {a.email.split("@")[0]: a.account_id for a in ws.node.accounts.store.all()}
    application = uuid.uuid4()
    service = ws.node.service
    service.submit_application(
        application_id=application, person_id="AK-P-0042", family_name="García",
        given_name="Ana", level=Level.IFS, designation=None,
        evidence=level_two_evidence(today()), submitted_on=today(), now=now())
    service.assign_reviewers(application, [ids["rae"], ids["ray"]],
                             assigned_by=ids["cora"], assigned_on=today(), now=now())
    for name in ("rae", "ray"):
        service.decide(application, ReviewDecision.APPROVE, reviewer=ids[name],
                       comments="Complete.", decided_on=today(), now=now())
    return ana, application


class ReturnMailLinkContract:
    """The return mail sends a portal applicant to the application's page."""

    def test_a_portal_applicant_is_sent_to_the_status_page_others_as_before(
            self, ws: Workspace) -> None:
        staff, ana, application_id = portal_application(ws)
        give_back(staff, application_id, "Please add more training hours.")
        (mail,) = arrived(ws, ANA, "returned with comments", 1)
        body = mail.text()
        link = f"{PUBLIC_URL}/portal/applications/{application_id}"
        assert link in body and "Please add more training hours." in body
        assert "send it to the association" not in body
        # The link opens the page with the comments, for her (and only after signing in).
        assert ana.get(link.removeprefix(PUBLIC_URL)).status_code == 200
        assert ws.browser().get(link.removeprefix(PUBLIC_URL)).status_code == 303
        # An application the coordinator typed in has no portal page: the mail says, as
        # before, to send the association what is asked.
        add_person(ws, "AK-P-0202", "Kai", "Moss", KAI)
        typed = staff_application(ws, staff, "AK-P-0202")
        give_back(staff, typed, "Please send your transcript.")
        (other,) = arrived(ws, KAI, "returned with comments", 1)
        assert "/portal/" not in other.text() and "send it to the association" in other.text()


class WaitingRemindersContract:
    """Reminders while a returned application waits for its answer."""

    def test_seven_and_twenty_one_days_after_a_return_each_reminder_goes_once(
            self, ws: Workspace) -> None:
        staff, ana, application_id = portal_application(ws)
        add_person(ws, "AK-P-0202", "Kai", "Moss", KAI)
        typed = staff_application(ws, staff, "AK-P-0202")
        # Both were returned a week ago (the daily run takes no day in the future).
        on = today()
        returned_on = on - dt.timedelta(days=7)
        for application, comments in ((application_id, "Please add more training hours."),
                                      (typed, "Please send your transcript.")):
            ws.node.service.return_with_comments(
                uuid.UUID(application), returned_by=account_id_of(ws, "cora@ak.example.org"),
                comments=comments, returned_on=returned_on, now=now())
        returned = ws.node.service.application(uuid.UUID(application_id))
        # Not yet due six days after the return.
        assert queue_due_reminders(ws.node, on=on - dt.timedelta(days=1), now=now()
                                   ).queued == 0
        # A week on, the daily run queues one each; run twice, each is queued and sent once.
        assert daily_run(ws, "day-7", on).headers["Reminders-Queued"] == "2"
        assert daily_run(ws, "day-7-again", on).headers["Reminders-Queued"] == "0"
        (reminder,) = arrived(ws, ANA, WAITING, 1)
        body = reminder.text()
        assert f"{PUBLIC_URL}/portal/applications/{application_id}" in body
        assert "Please add more training hours." in body and returned_on.isoformat() in body
        assert "cannot be unsubscribed" in body
        (kai,) = arrived(ws, KAI, WAITING, 1)
        assert "/portal/" not in kai.text() and "send it to the association" in kai.text()
        key = f"reminder:returned-waiting:{application_id}:v{returned.version}:7d"
        status = ws.node.outbox.status(key)
        assert status is not None and status.sent_at is not None
        # Days 8 to 20 cross nothing new; a restarted node queues nothing twice.
        assert queue_due_reminders(ws.node, on=on + dt.timedelta(days=8), now=now()
                                   ).queued == 0
        again = Node(ws.node.settings)
        try:
            rerun = queue_due_reminders(again, on=on, now=now())
        finally:
            again.close()
        assert (rerun.queued, rerun.already) == (0, 2)
        # Ana answers; Kai does not. At 21 days only Kai is reminded, once.
        answered = answer_with_more_hours(ana, application_id, "Six more hours.")
        assert answered.status_code == 303, answered.text
        later = on + dt.timedelta(days=14)
        assert queue_due_reminders(ws.node, on=later, now=now()).queued == 1
        assert queue_due_reminders(ws.node, on=later, now=now()).queued == 0
        assert len(arrived(ws, KAI, WAITING, 2)) == 2
        assert len(arrived(ws, ANA, WAITING, 1)) == 1
        kai_record = ws.node.service.application(uuid.UUID(typed))
        assert ws.node.outbox.status(
            f"reminder:returned-waiting:{typed}:v{kai_record.version}:21d") is not None
        # Long after, no reminder is left to send.
        assert queue_due_reminders(ws.node, on=on + dt.timedelta(days=90), now=now()
                                   ).queued == 0


class TestProfessionalRoleOnSQLite(ProfessionalRoleContract, OnSQLite):
    """SQLite files."""


class TestProfessionalRoleOnPostgreSQL(ProfessionalRoleContract, OnPostgreSQL):
    """A PostgreSQL schema."""


class TestReturnMailLinkOnSQLite(ReturnMailLinkContract, OnSQLite):
    """SQLite files."""


class TestReturnMailLinkOnPostgreSQL(ReturnMailLinkContract, OnPostgreSQL):
    """A PostgreSQL schema."""


class TestWaitingRemindersOnSQLite(WaitingRemindersContract, OnSQLite):
    """SQLite files."""


class TestWaitingRemindersOnPostgreSQL(WaitingRemindersContract, OnPostgreSQL):
    """A PostgreSQL schema."""
