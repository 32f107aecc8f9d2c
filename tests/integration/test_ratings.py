"""Reference raters rate through emailed links, over a real node (SQLite and PostgreSQL) and
a real SMTP server: vetting a rater emails them a single-use link; the rater saves a draft,
comes back, submits; the link is then spent and says so; the application's evidence counts
the rating (a ledger entry) while the answers stay in the node database; staff who may read
the rating do, others and the applicant see only the count. Hostile: an altered, expired,
superseded or replayed link; a post from another site; markup in comments; another
application's rating; every refusal writes nothing."""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.evidence import ApplicationEvidence, Degree, Membership, Rating, Training
from domain.levels import DegreeKind, Level, RaterRole
from federation_api.clock import now, stamp, today
from federation_api.demo.seed import seed
from federation_api.people.records import PersonDetails
from federation_api.ratings.areas import AREAS, parse_answers
from federation_api.ratings.errors import LinkRefused
from federation_api.ratings.waiver import PORTAL, WAIVER_SHA256, WAIVER_VERSION, record_waiver
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.staff_browser import add_staff, form_token, sign_in
from tests.integration.staff_workspace import Workspace, workspace

CORA = "cora@ak.example.org"
RAE = "rae@ak.example.org"
ROBIN = "robin.supervisor@example.org"
MARIA = "maria.rivera@example.org"
LINK = re.compile(r"(http://testserver/rate\?token=rtr_[A-Za-z0-9_%-]+)")


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    """AK's node with the demo's history, a coordinator, a reviewer, and person records for
    two raters (with addresses) and one without an address."""
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        seed(made.node, today())
        add_staff(made.node, CORA, "coordinator", name="Cora Coordinator")
        add_staff(made.node, RAE, "reviewer", name="Rae")
        with made.node.people.db.transaction() as cur:
            for pid, given, family, email in (("AK-X-0500", "Robin", "Supervisor", ROBIN),
                                              ("AK-X-0501", "Noa", "Address", "")):
                made.node.people.create(cur, PersonDetails(
                    person_id=pid, given_name=given, family_name=family, email=email),
                    by="test", now=now())
            if made.node.people.get("AK-P-0001", cur=cur) is None:
                made.node.people.create(cur, PersonDetails(
                    person_id="AK-P-0001", given_name="Maria", family_name="Rivera",
                    email=MARIA), by="test", now=now())
        yield made


def application(ws: Workspace, level: Level = Level.IFA) -> uuid.UUID:
    """An open application naming Maria Rivera (endorsed), Robin Supervisor (not endorsed,
    with an address) and Noa Address (no address on record), as named on a day before the
    ratings arrive."""
    rated = today() - dt.timedelta(days=20)
    evidence = ApplicationEvidence(
        degrees=(Degree(kind=DegreeKind.BACHELOR, field_of_study="Education",
                        awarded_on=dt.date(2018, 6, 1), transcript_received=True),),
        trainings=(Training(title="IMH basics", hours=30, completed_on=dt.date(2022, 3, 1)),),
        ratings=(Rating(rater_id="AK-P-0001", rater_name="Maria Rivera",
                        role=RaterRole.RSC_PROVIDER, rated_on=rated, waiver_signed=False),
                 Rating(rater_id="AK-X-0500", rater_name="Robin Supervisor",
                        role=RaterRole.PROGRAM_SUPERVISOR, rated_on=rated,
                        waiver_signed=False),
                 Rating(rater_id="AK-X-0501", rater_name="Noa Address",
                        role=RaterRole.COLLEAGUE, rated_on=rated, waiver_signed=False)),
        code_of_ethics_signed=True, agreement_signed=True, fee_paid=True,
        memberships=(Membership(association="AK", valid_through=dt.date(today().year, 12, 31)),))
    made = uuid.uuid4()
    ws.node.service.submit_application(
        application_id=made, person_id="AK-P-0400", family_name="Lane", given_name="Jo",
        level=level, designation=None, evidence=evidence, submitted_on=today(), now=now())
    return made


def signed_in(ws: Workspace, email: str) -> TestClient:
    browser = ws.browser()
    sign_in(browser, email)
    return browser


def vet(ws: Workspace, coordinator: TestClient, app: uuid.UUID, rater_id: str) -> None:
    page = f"/staff/applications/{app}"
    r = coordinator.post(f"{page}/rater-vettings", data={
        "csrf_token": form_token(coordinator.get(page).text), "rater_id": rater_id,
        "note": "Phoned the programme office"})
    assert r.status_code == 303, r.text


def link_in(ws: Workspace, recipient: str, count: int = 1) -> str:
    mails = ws.mail_to(recipient, count)
    body = mails[count - 1].message.get_content()
    found = LINK.search(body)
    assert found, body
    return found.group(1).removeprefix("http://testserver")


def token_of(link: str) -> str:
    return link.split("token=", 1)[1]


def full_answers(token: str, action: str = "submit", comment: str = "Warm and attentive."
                 ) -> dict[str, str]:
    data = {"token": token, "action": action, "relationship": "program_supervisor",
            "years_known": "4", "overall": "Recommended."}
    for area in AREAS:
        data[f"{area.code}-score"] = "4"
        data[f"{area.code}-comment"] = comment
    return data


def submitted(ws: Workspace, app: uuid.UUID, rater_id: str) -> bool:
    found = ws.node.ratings.store.get(app, rater_id)
    return found is not None and found.submitted


class RatingsContract:
    """The rating journey and its refusals on every backend."""

    def test_vetting_mails_a_link_the_rater_drafts_then_submits_and_it_is_spent(
            self, ws: Workspace) -> None:
        app = application(ws)
        cora = signed_in(ws, CORA)
        vet(ws, cora, app, "AK-X-0500")
        link = link_in(ws, ROBIN)
        mail = ws.mail_to(ROBIN)[0]
        assert "reference rating" in str(mail.message["Subject"])
        assert "Jo Lane" in mail.message.get_content()
        rater = ws.browser()  # no account, no cookie: the link is all the rater has
        form = rater.get(link)
        assert form.status_code == 200
        for area in AREAS:
            assert area.title in form.text.replace("&amp;", "&")
        assert form.headers["referrer-policy"] == "no-referrer"
        assert form.headers["cache-control"] == "no-store"
        # A draft: only one area rated so far; the link stays live.
        draft = rater.post("/rate", data={"token": token_of(link), "action": "save",
                                          "relationship": "program_supervisor",
                                          "thinking-score": "5",
                                          "thinking-comment": "Thinks aloud with families."})
        assert draft.status_code == 303 and "saved=1" in draft.headers["location"]
        again = ws.browser().get(link)  # coming back later, another browser
        assert again.status_code == 200
        assert 'id="thinking-score-5" name="thinking-score" value="5" checked' in again.text
        assert "Thinks aloud with families." in again.text
        assert not submitted(ws, app, "AK-X-0500")
        # Submitting with areas missing: each named next to its field, nothing written.
        head = ws.head()
        short = rater.post("/rate", data={"token": token_of(link), "action": "submit",
                                          "relationship": "program_supervisor"})
        assert short.status_code == 422
        assert 'id="reflection-score-error"' in short.text
        assert "Rate Reflection, or choose" in short.text
        assert not submitted(ws, app, "AK-X-0500") and ws.head() == head
        done = rater.post("/rate", data=full_answers(token_of(link)))
        assert done.status_code == 200 and "your rating is submitted" in done.text
        assert submitted(ws, app, "AK-X-0500")
        # The link is spent: it says when, for a view and for a replayed post.
        used = rater.get(link)
        assert used.status_code == 410
        day = today()
        assert f"This link was already used on {day.day} {day:%B %Y}" in used.text
        replay = rater.post("/rate", data=full_answers(token_of(link), comment="changed"))
        assert replay.status_code == 410 and "already used" in replay.text
        stored = ws.node.ratings.store.get(app, "AK-X-0500")
        assert stored is not None and stored.answers is not None
        assert stored.answers.areas["thinking"].comment == "Warm and attentive."
        # The ledger counts it through the evidence (one entry), the answers stay here.
        assert ws.head() != head
        evidence = ws.node.service.application(app).evidence
        robin = next(r for r in evidence.ratings if r.rater_id == "AK-X-0500")
        assert robin.rated_on == today()
        entry = next(e for e in ws.node.accounts.audit.entries()
                     if e.action == "application.ratings_received")
        assert entry.outcome.value == "ok" and entry.ledger is not None
        # Staff read it; the applicant's summary has the count only.
        page = cora.get(f"/staff/applications/{app}/ratings").text
        assert "Robin Supervisor, received" in page and "Warm and attentive." in page
        summary = ws.node.ratings.store.summary(app)
        assert summary.words == "1 of 3 ratings received" and summary.requested == 1
        assert ("1 of 3 ratings received through their links; the waiver is not signed yet"
                in cora.get(f"/staff/applications/{app}").text)

    def test_an_altered_expired_or_superseded_link_says_so_and_writes_nothing(
            self, ws: Workspace) -> None:
        app = application(ws, Level.IFS)
        cora = signed_in(ws, CORA)
        page = f"/staff/applications/{app}/ratings"
        r = cora.post(f"/staff/applications/{app}/rating-requests", data={
            "csrf_token": form_token(cora.get(page).text), "rater_id": "AK-X-0500"})
        assert r.status_code == 303 and "mail=queued" in r.headers["location"]
        assert "emailed to Robin Supervisor at " + ROBIN in cora.get(r.headers["location"]).text
        link = link_in(ws, ROBIN)
        token = token_of(link)
        rater = ws.browser()
        # Any one character changed finds no link.
        for i in (4, len(token) // 2, len(token) - 1):
            altered = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
            shown = rater.get(f"/rate?token={altered}")
            assert shown.status_code == 404 and "This link does not work" in shown.text
            posted = rater.post("/rate", data=full_answers(altered))
            assert posted.status_code == 404
        for bad in ("", "x", token + "x", token[:-1]):
            assert rater.get("/rate", params={"token": bad}).status_code == 404
        # A post another site sends is refused, even with the right token.
        forged = rater.post("/rate", data=full_answers(token),
                            headers={"origin": "https://evil.example"})
        assert forged.status_code == 403
        cross = rater.post("/rate", data=full_answers(token),
                           headers={"sec-fetch-site": "cross-site"})
        assert cross.status_code == 403
        assert not submitted(ws, app, "AK-X-0500")
        # A new link (the coordinator's) supersedes the first; the draft carries over.
        rater.post("/rate", data={"token": token, "action": "save", "overall": "So far"})
        r = cora.post(f"/staff/applications/{app}/rating-requests", data={
            "csrf_token": form_token(cora.get(page).text), "rater_id": "AK-X-0500"})
        assert r.status_code == 303
        newer = link_in(ws, ROBIN, 2)
        old = rater.get(link)
        assert old.status_code == 410 and "A newer link for this rating was emailed" in old.text
        assert rater.post("/rate", data=full_answers(token)).status_code == 410
        assert "So far" in rater.get(newer).text
        # Expiry: the same link, read after its 30 days.
        store = ws.node.ratings.store
        later = now() + dt.timedelta(days=31)
        with pytest.raises(LinkRefused, match="expired"):
            store.open(token_of(newer), now=later)
        with store.db.transaction() as cur:
            _, expiring = store.issue(cur, application_id=app, rater_id="AK-X-0500",
                                            rater_name="Robin Supervisor", recipient=ROBIN,
                                            requested_by="test",
                                            now=now() - dt.timedelta(days=31))
        gone = rater.get(f"/rate?token={expiring}")
        assert gone.status_code == 410 and "This link expired on" in gone.text
        assert "ask the coordinator for a new one" in gone.text
        assert rater.post("/rate", data=full_answers(expiring)).status_code == 410
        assert not submitted(ws, app, "AK-X-0500")

    def test_markup_is_inert_and_ratings_stay_with_their_application_and_readers(
            self, ws: Workspace) -> None:
        first, second = application(ws, Level.IFS), application(ws, Level.IFS)
        cora = signed_in(ws, CORA)
        for app in (first, second):
            page = f"/staff/applications/{app}/ratings"
            r = cora.post(f"/staff/applications/{app}/rating-requests", data={
                "csrf_token": form_token(cora.get(page).text), "rater_id": "AK-P-0001"})
            assert r.status_code == 303
        first_link, second_link = link_in(ws, MARIA, 1), link_in(ws, MARIA, 2)
        markup = '<script>alert(1)</script><img src=x onerror=alert(2)>'
        done = ws.browser().post("/rate", data=full_answers(token_of(first_link),
                                                            comment=markup))
        assert done.status_code == 200
        shown = cora.get(f"/staff/applications/{first}/ratings").text
        assert "<script>alert(1)</script>" not in shown and "<img src=x" not in shown
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
        # The other application's page has no rating of the first; its link still works.
        other = cora.get(f"/staff/applications/{second}/ratings").text
        assert "alert(1)" not in other and "No rating has been received yet" in other
        assert ws.browser().get(second_link).status_code == 200
        assert not submitted(ws, second, "AK-P-0001")
        # A reviewer not assigned to the application sees that it arrived, not what it says.
        rae = signed_in(ws, RAE)
        for_rae = rae.get(f"/staff/applications/{first}/ratings")
        assert for_rae.status_code == 200 and "alert(1)" not in for_rae.text
        assert "Only the coordinator, the committee and the application" in for_rae.text
        assert MARIA not in for_rae.text  # contact details are for coordinators
        # Only a coordinator sends requests, and only with the form's token.
        head = ws.head()
        refused = rae.post(f"/staff/applications/{second}/rating-requests", data={
            "csrf_token": form_token(for_rae.text), "rater_id": "AK-X-0500"})
        assert refused.status_code == 403
        assert cora.post(f"/staff/applications/{second}/rating-requests",
                         data={"rater_id": "AK-X-0500"}).status_code == 403
        unknown = cora.post(f"/staff/applications/{second}/rating-requests", data={
            "csrf_token": form_token(cora.get(f"/staff/applications/{second}/ratings").text),
            "rater_id": "AK-X-9999"})
        assert unknown.status_code == 422 and 'id="send-rater-error"' in unknown.text
        assert ws.node.ratings.store.get(second, "AK-X-0500") is None
        assert ws.head() == head
        # The applicant's summary of the first: one received, no contents.
        assert ws.node.ratings.store.summary(first).words == "1 of 3 ratings received"

    def test_level_one_needs_vetting_first_and_a_rater_without_address_is_not_mailed(
            self, ws: Workspace) -> None:
        app = application(ws)
        cora = signed_in(ws, CORA)
        page = f"/staff/applications/{app}/ratings"
        r = cora.post(f"/staff/applications/{app}/rating-requests", data={
            "csrf_token": form_token(cora.get(page).text), "rater_id": "AK-X-0500"})
        assert r.status_code == 422 and "Vet Robin Supervisor on the application page" in r.text
        assert ws.node.ratings.store.get(app, "AK-X-0500") is None
        vet(ws, cora, app, "AK-X-0501")  # vetted, but no address on record
        r = cora.post(f"/staff/applications/{app}/rating-requests", data={
            "csrf_token": form_token(cora.get(page).text), "rater_id": "AK-X-0501"})
        assert r.status_code == 303 and "mail=no-email" in r.headers["location"]
        assert "their person record has no email address" in cora.get(
            r.headers["location"]).text
        assert ws.node.ratings.store.get(app, "AK-X-0501") is None

    def test_reminders_are_queued_once_each_and_carry_a_new_link(self, ws: Workspace) -> None:
        app = application(ws)
        cora = signed_in(ws, CORA)
        vet(ws, cora, app, "AK-X-0500")
        first = link_in(ws, ROBIN)
        ratings = ws.node.ratings

        def application_of(app_id: str):  # type: ignore[no-untyped-def]
            return ws.node.service.application(uuid.UUID(app_id))

        def days_pass(days: int) -> None:
            # The request's last email as if sent `days` earlier (the links keep their
            # expiry: a reminder's new link is what the rater uses).
            with ratings.store.db.transaction() as cur:
                row = cur.execute("SELECT last_mailed_at FROM rating_requests").fetchone()
                assert row is not None
                earlier = dt.datetime.fromisoformat(row[0]) - dt.timedelta(days=days)
                cur.execute("UPDATE rating_requests SET last_mailed_at = ?",
                            (stamp(earlier),))

        assert ratings.queue_reminders(application_of=application_of, now=now()) == 0
        days_pass(8)
        assert ratings.queue_reminders(application_of=application_of, now=now()) == 1
        assert ratings.queue_reminders(application_of=application_of, now=now()) == 0
        reminder = link_in(ws, ROBIN, 2)
        mail = ws.mail_to(ROBIN, 2)[1].message
        assert str(mail["Subject"]).startswith("Reminder:")
        assert "has not received it yet" in mail.get_content()
        assert ws.browser().get(first).status_code == 410
        days_pass(8)
        assert ratings.queue_reminders(application_of=application_of, now=now()) == 1
        days_pass(30)
        assert ratings.queue_reminders(application_of=application_of, now=now()) == 0  # 2 at most
        with ws.node.outbox.db.transaction() as cur:
            keys = sorted(r[0] for r in cur.execute(
                "SELECT dedupe_key FROM mail_outbox WHERE recipient = ?", (ROBIN,)).fetchall())
        assert keys == [f"rating.reminder:{app}:AK-X-0500:1",
                        f"rating.reminder:{app}:AK-X-0500:2",
                        f"rating.request:{app}:AK-X-0500"]
        latest = link_in(ws, ROBIN, 3)
        assert ws.browser().get(reminder).status_code == 410
        assert ws.browser().post("/rate", data=full_answers(token_of(latest))).status_code \
            == 200

    def test_the_waiver_is_recorded_once_with_its_text_and_reaches_the_evidence(
            self, ws: Workspace) -> None:
        app = application(ws, Level.IFS)
        cora = signed_in(ws, CORA)
        page = f"/staff/applications/{app}/ratings"
        cora.post(f"/staff/applications/{app}/rating-requests", data={
            "csrf_token": form_token(cora.get(page).text), "rater_id": "AK-P-0001"})
        assert ws.browser().post("/rate", data=full_answers(token_of(link_in(ws, MARIA)))
                                 ).status_code == 200
        shown = cora.get(page).text
        assert "Not signed yet" in shown and WAIVER_VERSION in shown
        unconfirmed = cora.post(f"/staff/applications/{app}/rating-waiver", data={
            "csrf_token": form_token(shown)})
        assert unconfirmed.status_code == 422 and 'id="waiver-confirm-error"' in unconfirmed.text
        assert ws.node.ratings.store.waiver(app) is None
        head = ws.head()
        r = cora.post(f"/staff/applications/{app}/rating-waiver", data={
            "csrf_token": form_token(shown), "confirm": "yes"})
        assert r.status_code == 303 and "done=waiver" in r.headers["location"]
        waiver = ws.node.ratings.store.waiver(app)
        assert waiver is not None and waiver.how == "paper"
        assert waiver.text_version == WAIVER_VERSION and waiver.text_sha256 == WAIVER_SHA256
        assert waiver.signed_by == "AK-P-0400"
        maria = next(r for r in ws.node.service.application(app).evidence.ratings
                     if r.rater_id == "AK-P-0001")
        assert maria.waiver_signed and ws.head() != head
        # The portal's call: a second signing keeps the first.
        with ws.node.ratings.store.db.transaction() as cur:
            kept, added = record_waiver(cur, ws.node.ratings.store, application_id=app,
                                        signed_by="account:someone", how=PORTAL,
                                        recorded_by="account:someone", now=now())
        assert not added and kept == waiver
        assert ws.node.ratings.store.summary(app).waiver_signed

    def test_two_submissions_at_once_spend_the_link_once(self, ws: Workspace) -> None:
        app = application(ws, Level.IFS)
        store = ws.node.ratings.store
        with store.db.transaction() as cur:
            _, token = store.issue(cur, application_id=app, rater_id="AK-P-0001",
                                   rater_name="Maria Rivera", recipient=MARIA,
                                   requested_by="test", now=now())
        answers = parse_answers(full_answers(token), AREAS, final=True)
        start = threading.Barrier(2)
        outcomes: list[str] = []

        def submit() -> None:
            start.wait()
            try:
                with store.db.transaction() as cur:
                    store.submit(cur, token, answers, now=now())
                outcomes.append("ok")
            except LinkRefused as e:
                outcomes.append(e.state.value)

        threads = [threading.Thread(target=submit) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(outcomes) == ["ok", "used"]
        with store.db.transaction() as cur:
            spent = cur.execute("SELECT COUNT(*) FROM rating_links WHERE used_at IS NOT NULL"
                                ).fetchone()
        assert spent is not None and spent[0] == 1


class TestRatingsOnSQLite(RatingsContract, OnSQLite):
    """On SQLite files."""


class TestRatingsOnPostgreSQL(RatingsContract, OnPostgreSQL):
    """On a PostgreSQL schema."""
