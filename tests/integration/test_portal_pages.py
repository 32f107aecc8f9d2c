"""The applicant portal over a real node, on SQLite files and on PostgreSQL: sign-up and
sign-in by the link read from a real SMTP server, the portal gate (own records only, no
staff), and the attacks its pages must withstand (forged forms, replayed links, markup in
names, a staff account on the portal, a portal account on the staff pages).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.testclient import TestClient

from federation_api.accounts.roles import AccountRole
from federation_api.clock import today
from federation_api.portal.texts import Document, text_of
from federation_api.web.pages.portal_session import PortalGate
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.portal_browser import (
    ANA,
    PORTAL_COOKIE,
    account_id_of,
    add_person,
    ana_and_sam,
    answer_with_more_hours,
    confirm_identity,
    coordinator,
    draft_id_of,
    form_version,
    latest_token,
    level_one_form,
    open_link,
    post,
    request_link,
    save_form,
    second_session,
    sign_both,
    sign_up,
    signed_up,
    start_draft,
    submit,
    walk,
)
from tests.integration.staff_browser import add_staff, form_token
from tests.integration.staff_workspace import Workspace, workspace


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    """The AK node's app on the backend under test."""
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        yield made


class PortalSignInContract:
    """Sign-up, sign-in, sign-out and the gate, on every backend."""

    def test_an_applicant_signs_up_signs_in_by_the_emailed_link_and_out(
            self, ws: Workspace) -> None:
        browser = ws.browser()
        assert browser.get("/portal/").headers["location"] == "/portal/sign-in"
        answer = sign_up(browser, "Ana García", ANA)
        assert answer.status_code == 200 and "Check your email" in answer.text
        account = ws.node.accounts.store.find(
            ws.node.accounts.store.all()[0].account_id)
        assert account is not None and account.roles == {AccountRole.APPLICANT}
        assert not account.email_verified and account.person_id is None
        token = latest_token(ws, ANA)
        # Opening the link (a mail scanner's GET) does not spend it.
        assert browser.get(f"/portal/sign-in/link?token={token}").status_code == 200
        signed = open_link(browser, token)
        assert signed.status_code == 303 and signed.headers["location"] == "/portal/"
        cookie = next(c for c in signed.headers.get_list("set-cookie")
                      if c.startswith(PORTAL_COOKIE + "="))
        assert "HttpOnly" in cookie and "Path=/portal" in cookie
        assert "samesite=strict" in cookie.lower()
        home = browser.get("/portal/")
        assert home.status_code == 200 and "Ana García" in home.text
        assert "not yet confirmed who you are" in home.text
        assert ws.node.accounts.store.find(account.account_id).email_verified  # type: ignore[union-attr]
        out = post(browser, "/portal/sign-out", "/portal/")
        assert out.status_code == 303 and browser.get("/portal/").status_code == 303
        # The link worked once.
        again = open_link(ws.browser(), token)
        assert again.status_code == 400 and "used already" in again.text

    def test_signing_up_again_or_as_staff_says_the_same_and_makes_nothing(
            self, ws: Workspace) -> None:
        signed_up(ws, "Ana García", ANA)
        add_staff(ws.node, "cora@ak.example.org", "coordinator")
        before = len(ws.node.accounts.store.all())
        for email in (ANA.upper(), "cora@ak.example.org"):
            answer = sign_up(ws.browser(), "Someone Else", email)
            assert answer.status_code == 200 and "Check your email" in answer.text
        assert len(ws.node.accounts.store.all()) == before
        # The applicant gets a second sign-in link only once the quarter hour is over; the
        # staff address gets none (staff sign in with password and code).
        assert request_link(ws.browser(), "cora@ak.example.org").status_code == 200
        with ws.sink.lock:
            assert not [m for m in ws.sink.received if "cora@ak.example.org" in m.rcpt_tos]

    def test_bad_sign_up_input_is_refused_next_to_its_field_and_writes_nothing(
            self, ws: Workspace) -> None:
        browser = ws.browser()
        for name, email, field in (("", ANA, "display_name"), ("Ana", "not-an-address", "email"),
                                   ("Ana\u0007", ANA, "display_name")):
            answer = sign_up(browser, name, email)
            assert answer.status_code == 422, answer.text
            assert f'id="{field}-error"' in answer.text
        page = browser.get("/portal/sign-up")
        forged = browser.post("/portal/sign-up", data={"display_name": "Ana", "email": ANA,
                                                       "csrf_token": "forged"})
        assert forged.status_code == 403 and form_token(page.text)
        assert ws.node.accounts.store.all() == []

    def test_markup_in_a_name_is_shown_as_text(self, ws: Workspace) -> None:
        browser = signed_up(ws, '<script>alert(1)</script><img src=x onerror=alert(2)>', ANA)
        home = browser.get("/portal/")
        assert "<script>alert(1)" not in home.text and "<img src=x" not in home.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in home.text
        assert "script-src" not in home.headers["content-security-policy"]
        assert "default-src 'none'" in home.headers["content-security-policy"]
        # ... and so it is where the coordinator reads it.
        staff = coordinator(ws)
        for page in ("/staff/portal-accounts",
                     f"/staff/portal-accounts/{account_id_of(ws, ANA)}"):
            shown = staff.get(page).text
            assert "<script>alert(1)" not in shown and "<img src=x" not in shown
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown

    def test_a_forged_or_missing_csrf_token_is_refused(self, ws: Workspace) -> None:
        browser = signed_up(ws, "Ana García", ANA)
        for data in ({}, {"csrf_token": "forged"}):
            assert browser.post("/portal/sign-out", data=data).status_code == 403
        assert browser.get("/portal/").status_code == 200  # still signed in
        # A forged draft form writes nothing: no draft, no change to one, no signature.
        assert browser.post("/portal/drafts", data={"level": "IFA"}).status_code == 403
        assert ws.main.app.state.portal.drafts.of_account(account_id_of(ws, ANA)) == []
        answer = post(browser, "/portal/drafts", "/portal/drafts/new", level="IFA")
        draft_id = draft_id_of(answer)
        stored = ws.main.app.state.portal.drafts.get(account_id_of(ws, ANA), draft_id)
        for path, data in ((f"/portal/drafts/{draft_id}", {"version": "1",
                                                           "degrees-0-field_of_study": "x"}),
                           (f"/portal/drafts/{draft_id}/sign", {"document": "code_of_ethics",
                                                                "signed_name": "Ana",
                                                                "agreed": "on"}),
                           (f"/portal/drafts/{draft_id}/submit", {})):
            assert browser.post(path, data={"csrf_token": "forged", **data}).status_code == 403
        assert ws.main.app.state.portal.drafts.get(account_id_of(ws, ANA), draft_id) == stored
        assert ws.main.app.state.portal.drafts.signatures(draft_id) == {}

    def test_a_staff_account_never_uses_the_portal(self, ws: Workspace) -> None:
        from tests.integration.staff_browser import post_login

        add_staff(ws.node, "rita@ak.example.org", "reviewer")
        staff = ws.browser()
        assert post_login(staff, "rita@ak.example.org").status_code == 303
        assert staff.get("/staff/").status_code == 200
        # The staff session is not a portal session, even sent under the portal's cookie.
        assert staff.get("/portal/").status_code == 303
        staff.cookies.set(PORTAL_COOKIE, str(staff.cookies.get("alliance_staff")),
                          path="/portal")
        assert staff.get("/portal/").status_code == 303
        # An applicant who later gets a staff role loses the portal.
        browser = signed_up(ws, "Ana García", ANA)
        account = ws.node.accounts.store.all()[0]
        account = next(a for a in ws.node.accounts.store.all() if a.email == ANA)
        with ws.node.accounts.store.db.transaction() as cur:
            ws.node.accounts.store.set_roles(cur, account.account_id,
                                             [AccountRole.APPLICANT, AccountRole.REVIEWER],
                                             now=account.created_at)
        assert browser.get("/portal/").status_code == 303

    def test_a_portal_account_never_passes_a_staff_gate(self, ws: Workspace) -> None:
        browser = signed_up(ws, "Ana García", ANA)
        session = str(browser.cookies.get(PORTAL_COOKIE, path="/portal"))
        browser.cookies.set("alliance_staff", session, path="/staff")
        for path in ("/staff/", "/staff/applications", "/staff/people"):
            answer = browser.get(path)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/staff/login"), path
        # A portal account's password-less sign-in is not a staff sign-in either.
        assert ws.node.accounts.sign_in.current(session, now=ws.node.accounts.store.all()[0]
                                                .created_at) is not None


def confirm_identity_raw(staff: TestClient, account_id: str, person_id: str) -> httpx.Response:
    """The confirmation form posted for an account whose page does not exist."""
    token = form_token(staff.get("/staff/portal-accounts").text)
    return staff.post(f"/staff/portal-accounts/{account_id}/identity",
                      data={"csrf_token": token, "person_id": person_id})


class PortalApplicationContract:
    """A draft over two sessions, identity, submission, a return answered, withdrawal."""

    def test_a_draft_over_two_sessions_is_submitted_through_intake_and_followed(
            self, ws: Workspace) -> None:
        staff = ana_and_sam(ws)
        first = signed_up(ws, "Ana García", ANA)
        head = ws.head()
        draft_id = start_draft(first)
        saved = save_form(first, draft_id, level_one_form(today().year))
        assert saved.status_code == 200 and "Your draft is saved" in saved.text, saved.text
        assert "This id names Sam Rivera (AK-P-0100)" in saved.text
        assert "Not met yet:" in saved.text  # the texts are not signed yet
        early = post(first, f"/portal/drafts/{draft_id}/submit", f"/portal/drafts/{draft_id}")
        assert early.status_code == 422 and "not yet confirmed" in early.text
        assert ws.head() == head  # nothing on the ledger before submission
        assert post(first, "/portal/sign-out", "/portal/").status_code == 303

        # The second session: a new sign-in link (the first one was spent).
        second = second_session(ws, ANA, 2)
        page = second.get(f"/portal/drafts/{draft_id}")
        assert 'value="Psychology"' in page.text and 'value="AK-P-0100"' in page.text
        sign_both(second, draft_id, "Ana García")
        page = second.get(f"/portal/drafts/{draft_id}")
        # Signed: what is left is the association's to record (the transcript's arrival, the
        # fee: the documents' and the fees' pages), and the ratings, which count only once
        # the raters have rated through their links (test_portal_raters.py).
        assert page.text.count("Not met yet:") == 5, page.text
        assert "Not met yet:</strong> Ratings from a current supervisor." in page.text
        assert "No official transcript has arrived" in page.text
        assert "Not met yet:</strong> The processing fee is paid." in page.text

        confirmed = confirm_identity(staff, account_id_of(ws, ANA), "AK-P-0042")
        assert confirmed.status_code == 303, confirmed.text
        assert "confirmed" in ws.mail_to(ANA, 3)[2].message["Subject"]
        application_id = submit(second, draft_id)
        assert ws.head() != head
        application = ws.node.service.application(uuid.UUID(application_id))
        assert application.person_id == "AK-P-0042"
        assert {u.field for u in application.unmet} == {"evidence.degrees", "evidence.fee_paid",
                                                        "evidence.ratings"}
        assert {r.received for r in application.evidence.ratings} == {False}
        signed = {t.document: t for t in application.evidence.signed_texts}  # type: ignore[union-attr]
        for document in (Document.CODE_OF_ETHICS, Document.AGREEMENT):
            assert signed[document.value].sha256 == text_of(document).sha256
            assert signed[document.value].signed_name == "Ana García"
        assert application.evidence.code_of_ethics_signed
        assert application.evidence.ratings[0].rater_name == "Sam Rivera"
        ws.node.project()
        queue = staff.get("/staff/applications")
        assert application_id in queue.text
        status = second.get(f"/portal/applications/{application_id}")
        assert status.status_code == 200 and "Submitted" in status.text
        home = second.get("/portal/")
        assert f"/portal/applications/{application_id}" in home.text
        # Submitting twice opens nothing more.
        again = post(second, f"/portal/drafts/{draft_id}/submit", "/portal/")
        assert again.status_code == 404

        # The coordinator returns it; the applicant reads the comments and answers.
        token = form_token(staff.get(f"/staff/applications/{application_id}").text)
        returned = staff.post(f"/staff/applications/{application_id}/return", data={
            "csrf_token": token, "comments": "Please add <b>more</b> training hours."})
        assert returned.status_code == 303, returned.text
        status = second.get(f"/portal/applications/{application_id}")
        assert "The coordinator wrote:" in status.text
        assert "Please add &lt;b&gt;more&lt;/b&gt; training hours." in status.text
        # The application sent back as the page posts it (an empty row more per section),
        # nothing said: not an answer, refused next to the field, nothing written.
        same = level_one_form(today().year) | {"ratings-0-rater_id": "AK-P-0100",
                                               "ratings-0-rater_name": "Sam Rivera",
                                               "trainings-1-title": "",
                                               "ratings-3-rater_id": "",
                                               "ratings-3-rater_email": ""}
        head = ws.head()
        empty = post(second, f"/portal/applications/{application_id}/answer",
                     f"/portal/applications/{application_id}", response=" ", **same)
        assert empty.status_code == 422 and 'id="response-error"' in empty.text, empty.text
        assert ws.head() == head
        answer = answer_with_more_hours(second, application_id, "Added six hours.")
        assert answer.status_code == 303, answer.text
        application = ws.node.service.application(uuid.UUID(application_id))
        assert application.response == "Added six hours."
        assert application.evidence.trainings[0].hours == 36
        assert application.evidence.signed_texts  # the signatures travel with the answer
        # Then withdrawn (the box must be ticked).
        unticked = post(second, f"/portal/applications/{application_id}/withdraw",
                        f"/portal/applications/{application_id}")
        assert unticked.status_code == 422
        gone = post(second, f"/portal/applications/{application_id}/withdraw",
                    f"/portal/applications/{application_id}", confirm="on", reason="moving")
        assert gone.status_code == 303
        assert ws.node.service.application(uuid.UUID(application_id)).state.value == "withdrawn"
        actions = [e.action for e in ws.node.accounts.audit.entries(limit=1000)]
        for action in ("portal.submit", "portal.answer_return", "portal.withdraw",
                       "portal.confirm_identity"):
            assert action in actions

    def test_another_applicants_draft_and_application_are_not_found(
            self, ws: Workspace) -> None:
        add_person(ws, "AK-P-0042", "Ana", "García", ANA)
        staff = coordinator(ws)
        ana = signed_up(ws, "Ana García", ANA)
        draft_id = start_draft(ana)
        assert save_form(ana, draft_id, {"degrees-0-kind": "bachelor",
                                         "degrees-0-field_of_study": "Mine",
                                         "degrees-0-awarded_on": "2015-06-01"}
                         ).status_code == 200
        sign_both(ana, draft_id, "Ana García")
        assert confirm_identity(staff, account_id_of(ws, ANA), "AK-P-0042").status_code == 303
        application_id = submit(ana, draft_id)
        second_draft = start_draft(ana)

        bob = signed_up(ws, "Bob Other", "bob@example.org")
        head = ws.head()
        stored = ws.main.app.state.portal.drafts.get(account_id_of(ws, ANA), second_draft)
        for path in (f"/portal/drafts/{second_draft}", f"/portal/drafts/{draft_id}",
                     f"/portal/applications/{application_id}"):
            assert bob.get(path).status_code == 404, path
        token = form_token(bob.get("/portal/").text)
        for path, data in ((f"/portal/drafts/{second_draft}", {"version": "1",
                                                               "degrees-0-field_of_study": "x"}),
                           (f"/portal/drafts/{second_draft}/sign",
                            {"document": "code_of_ethics", "signed_name": "Bob", "agreed": "on"}),
                           (f"/portal/drafts/{second_draft}/submit", {}),
                           (f"/portal/applications/{application_id}/withdraw", {"confirm": "on"}),
                           (f"/portal/applications/{application_id}/answer",
                            {"response": "mine now"})):
            answer = bob.post(path, data={"csrf_token": token, **data})
            assert answer.status_code == 404, path
        assert ws.head() == head
        assert ws.main.app.state.portal.drafts.get(account_id_of(ws, ANA), second_draft) == stored
        assert ws.main.app.state.portal.drafts.signatures(second_draft) == {}
        assert ws.node.service.application(uuid.UUID(application_id)).state.value == "open"
        # Ids that are not ids at all answer the same.
        for path in ("/portal/drafts/drf_0000000000000000", "/portal/applications/not-a-uuid",
                     "/portal/drafts/drf_%3Cscript%3E"):
            assert bob.get(path).status_code == 404, path

    def test_bad_input_on_the_draft_pages_is_refused_next_to_its_field(
            self, ws: Workspace) -> None:
        ana = signed_up(ws, "Ana García", ANA)
        for level, designation, field in (("", "", "level"), ("IMHM", "", "designation"),
                                          ("IFA", "C", "designation"), ("XYZ", "", "level")):
            answer = post(ana, "/portal/drafts", "/portal/drafts/new", level=level,
                          designation=designation)
            assert answer.status_code == 422 and f'id="{field}-error"' in answer.text
        draft_id = start_draft(ana, "IMHM", "C")
        bad = post(ana, f"/portal/drafts/{draft_id}/sign", f"/portal/drafts/{draft_id}",
                   document="code_of_ethics", signed_name="Ana García")
        assert bad.status_code == 422 and 'id="sign-code_of_ethics-agreed-error"' in bad.text
        unnamed = post(ana, f"/portal/drafts/{draft_id}/sign", f"/portal/drafts/{draft_id}",
                       document="code_of_ethics", signed_name="  ", agreed="on")
        assert unnamed.status_code == 422 and 'id="sign-code_of_ethics-name-error"' in unnamed.text
        other = post(ana, f"/portal/drafts/{draft_id}/sign", f"/portal/drafts/{draft_id}",
                     document="privacy_policy", signed_name="Ana", agreed="on")
        assert other.status_code == 422
        assert ws.main.app.state.portal.drafts.signatures(draft_id) == {}
        # A wrong date is kept in the draft and shown next to its field; submit refuses.
        saved = save_form(ana, draft_id, {"degrees-0-kind": "master",
                                          "degrees-0-field_of_study": "Social work",
                                          "degrees-0-awarded_on": "yesterday"})
        assert saved.status_code == 200 and 'id="degrees-0-awarded_on-error"' in saved.text
        assert 'value="yesterday"' in ana.get(f"/portal/drafts/{draft_id}").text
        # A stale form (another tab saved since) is refused, nothing overwritten.
        page = ana.get(f"/portal/drafts/{draft_id}").text
        save_form(ana, draft_id, {"degrees-0-field_of_study": "Newer"})
        stale = ana.post(f"/portal/drafts/{draft_id}", data={
            "csrf_token": form_token(page), "version": form_version(page),
            "degrees-0-field_of_study": "Older"})
        assert stale.status_code == 409
        assert 'value="Newer"' in ana.get(f"/portal/drafts/{draft_id}").text
        # An over-long field is refused whole.
        huge = save_form(ana, draft_id, {"degrees-0-field_of_study": "x" * 6000})
        assert huge.status_code == 422
        assert 'value="Newer"' in ana.get(f"/portal/drafts/{draft_id}").text
        # Throwing it away needs the box ticked; then it is gone, with its signatures.
        kept = post(ana, f"/portal/drafts/{draft_id}/discard", f"/portal/drafts/{draft_id}")
        assert kept.status_code == 422 and 'id="discard-confirm-error"' in kept.text
        gone = post(ana, f"/portal/drafts/{draft_id}/discard", f"/portal/drafts/{draft_id}",
                    confirm="on")
        assert gone.status_code == 303 and ana.get(f"/portal/drafts/{draft_id}").status_code == 404
        assert ws.main.app.state.portal.drafts.of_account(account_id_of(ws, ANA)) == []


class PortalIdentityContract:
    """The coordinator's confirmation of who a portal account is."""

    def test_the_coordinator_sees_matching_records_with_duplicates_and_confirms(
            self, ws: Workspace) -> None:
        add_person(ws, "AK-P-0042", "Ana", "García", ANA)
        add_person(ws, "AK-P-0043", "Ana", "Garcia", "other@example.org")  # same folded names
        staff = coordinator(ws)
        signed_up(ws, "Ana García", ANA)
        account_id = account_id_of(ws, ANA)
        listing = staff.get("/staff/portal-accounts")
        assert listing.status_code == 200 and "Not confirmed" in listing.text
        page = staff.get(f"/staff/portal-accounts/{account_id}")
        assert "AK-P-0042" in page.text and "the same email address" in page.text
        assert "Possible duplicate" in page.text  # the two Ana Garcías
        head = ws.head()
        for person_id, message in (("", "Enter the professional id"),
                                   ("AK-P-9999", "There is no person record AK-P-9999")):
            refused = confirm_identity(staff, account_id, person_id)
            assert refused.status_code == 422 and message in refused.text
            assert 'id="person_id-error"' in refused.text
        assert ws.node.accounts.store.find(account_id).person_id is None  # type: ignore[union-attr]
        assert confirm_identity(staff, account_id, "AK-P-0042").status_code == 303
        assert ws.node.accounts.store.find(account_id).person_id == "AK-P-0042"  # type: ignore[union-attr]
        assert ws.head() == head  # identity is private: nothing on the ledger
        # A record is tied to one account only.
        signed_up(ws, "Ana Impostor", "impostor@example.org")
        other = account_id_of(ws, "impostor@example.org")
        taken = confirm_identity(staff, other, "AK-P-0042")
        assert taken.status_code == 422 and "tied to another portal account" in taken.text
        assert ws.node.accounts.store.find(other).person_id is None  # type: ignore[union-attr]
        # A staff account is no portal account: not found, nothing written.
        cora = account_id_of(ws, "cora@ak.example.org")
        assert staff.get(f"/staff/portal-accounts/{cora}").status_code == 404
        assert confirm_identity_raw(staff, cora, "AK-P-0043").status_code == 404
        assert ws.node.accounts.store.find(cora).person_id is None  # type: ignore[union-attr]

    def test_only_a_coordinator_confirms_identity(self, ws: Workspace) -> None:
        from tests.integration.staff_browser import sign_in as staff_sign_in

        add_person(ws, "AK-P-0042", "Ana", "García", ANA)
        signed_up(ws, "Ana García", ANA)
        account_id = account_id_of(ws, ANA)
        add_staff(ws.node, "rita@ak.example.org", "reviewer")
        reviewer = ws.browser()
        staff_sign_in(reviewer, "rita@ak.example.org")
        token = form_token(reviewer.get("/staff/").text)
        answer = reviewer.post(f"/staff/portal-accounts/{account_id}/identity",
                               data={"csrf_token": token, "person_id": "AK-P-0042"})
        assert answer.status_code == 403
        assert ws.node.accounts.store.find(account_id).person_id is None  # type: ignore[union-attr]


OPEN_ROUTES = {("GET", "/portal/sign-up"), ("POST", "/portal/sign-up"),
               ("GET", "/portal/sign-in"), ("POST", "/portal/sign-in"),
               ("GET", "/portal/sign-in/link"), ("POST", "/portal/sign-in/link")}


def portal_routes(ws: Workspace) -> list[tuple[str, str, bool]]:
    """(method, path, behind a PortalGate) of every route under /portal."""
    def gated(dependant: Dependant) -> bool:
        return any(isinstance(d.call, PortalGate) or gated(d) for d in dependant.dependencies)

    return [(method, path, gated(route.dependant))
            for path, route in walk(ws.main.app.router.routes)  # type: ignore[attr-defined]
            if path.startswith("/portal") for method in sorted(route.methods)]


def test_every_portal_page_but_the_way_in_is_behind_the_gate(tmp_path: Path) -> None:
    with workspace(tmp_path, None) as ws:
        routes = portal_routes(ws)
        assert len(routes) > len(OPEN_ROUTES)
        ungated = {(m, p) for m, p, gate in routes if not gate}
        assert ungated == OPEN_ROUTES, f"routes without a PortalGate: {ungated - OPEN_ROUTES}"
        browser = ws.browser()
        for method, path, _ in routes:
            if (method, path) in OPEN_ROUTES:
                continue
            concrete = re.sub(r"\{[a-z_]+\}", "00000000-0000-4000-8000-000000000000", path)
            answer = browser.request(method, concrete)
            assert answer.status_code == 303, (method, path)
            assert answer.headers["location"] == "/portal/sign-in", (method, path)


class TestPortalSignInOnSQLite(PortalSignInContract, OnSQLite):
    """SQLite files."""


class TestPortalSignInOnPostgreSQL(PortalSignInContract, OnPostgreSQL):
    """A PostgreSQL schema."""


class TestPortalIdentityOnSQLite(PortalIdentityContract, OnSQLite):
    """SQLite files."""


class TestPortalIdentityOnPostgreSQL(PortalIdentityContract, OnPostgreSQL):
    """A PostgreSQL schema."""


class TestPortalApplicationOnSQLite(PortalApplicationContract, OnSQLite):
    """SQLite files."""


class TestPortalApplicationOnPostgreSQL(PortalApplicationContract, OnPostgreSQL):
    """A PostgreSQL schema."""
