"""The applicant's reference raters through the portal, over a real node (SQLite and
PostgreSQL) and a real SMTP server: the applicant names three raters with the addresses their
links go to and signs the waiver in the page; the coordinator vets and sends; each rater
rates through the link read from the SMTP server; the applicant's status page follows each
rater (named, link sent, rated) and never shows a rating's contents; the checklist's ratings
turn met only once the ratings have arrived; the daily run reminds a rater who has not rated,
once. Another applicant's application answers 404, and bad input changes nothing."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from federation_api.clock import now, stamp, today
from federation_api.ratings.areas import AREAS
from federation_api.ratings.waiver import PORTAL, WAIVER_SHA256, WAIVER_VERSION
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.portal_browser import (
    ANA,
    account_id_of,
    ana_and_sam,
    confirm_identity,
    daily_run,
    level_one_form,
    post,
    save_form,
    sign_both,
    signed_up,
    start_draft,
    submit,
)
from tests.integration.staff_browser import form_token
from tests.integration.staff_workspace import Workspace, workspace

BEA = "bea@example.org"
# The addresses `level_one_form` gives the three raters.
SAM_AT, LEE_AT, PAT_AT = "sam@rivera.example.org", "lee@example.org", "pat@example.org"
LINK = re.compile(r"(http://testserver/rate\?token=rtr_[A-Za-z0-9_%-]+)")
SECRET = "Kept this comment private"


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        yield made


def raters_form(pat: str = "Pat Parent") -> dict[str, str]:
    """The Level I form naming three raters: Sam found by name, two the coordinator vets,
    Pat endorsed nowhere and so named by name alone (no id: the portal gives her one)."""
    form = level_one_form(today().year) | {"ratings-2-rater_name": pat}
    del form["ratings-2-rater_id"]
    return form


def link_in(ws: Workspace, recipient: str, count: int = 1) -> str:
    body = ws.mail_to(recipient, count)[count - 1].message.get_content()
    found = LINK.search(body)
    assert found, body
    return found.group(1).removeprefix("http://testserver")


def rate(ws: Workspace, link: str) -> None:
    token = link.split("token=", 1)[1]
    data = {"token": token, "action": "submit", "relationship": "colleague",
            "years_known": "3", "overall": SECRET}
    for area in AREAS:
        data[f"{area.code}-score"] = "4"
        data[f"{area.code}-comment"] = SECRET
    done = ws.browser().post("/rate", data=data)
    assert done.status_code == 200 and "your rating is submitted" in done.text, done.text


def ratings_items(html: str) -> list[str]:
    """The checklist lines about ratings, as shown."""
    return [line for line in re.findall(r"<li><strong>(?:Met|Not met(?: yet)?):</strong>[^\n]*",
                                        html) if "rat" in line.lower()]


class PortalRatersContract:
    """The raters' journey from the applicant's side, on every backend."""

    def test_named_in_the_portal_rated_through_links_counted_only_once_received(
            self, ws: Workspace) -> None:
        staff = ana_and_sam(ws)
        ana = signed_up(ws, "Ana García", ANA)
        draft_id = start_draft(ana)
        page = ana.get(f"/portal/drafts/{draft_id}").text
        # The applicant gives each rater's address, never a "rated on" date.
        assert 'name="ratings-0-rater_email"' in page and "ratings-0-rated_on" not in page
        assert "ratings-0-waiver_signed" not in page

        # An address that is not one, or missing: said next to the field; the draft keeps it.
        bad = save_form(ana, draft_id, raters_form() | {"ratings-1-rater_email": "lee at home",
                                                   "ratings-2-rater_email": ""})
        assert bad.status_code == 200
        assert re.search(r'id="ratings-1-rater_email"[^>]*aria-describedby="[^"]*'
                         r'ratings-1-rater_email-error', bad.text), bad.text
        assert "Enter one email address, e.g. name@example.org." in bad.text
        assert "Give the rater&#39;s email address" in bad.text
        assert save_form(ana, draft_id, raters_form()).status_code == 200

        # The waiver: unticked is refused next to its box, nothing recorded; then signed.
        unticked = post(ana, f"/portal/drafts/{draft_id}/waiver", f"/portal/drafts/{draft_id}")
        assert unticked.status_code == 422
        assert 'aria-describedby="waiver-agreed-error"' in unticked.text
        assert "Tick the box to say you waive" in unticked.text
        store = ws.node.ratings.store
        assert store.db.query("SELECT COUNT(*) FROM rating_waivers")[0][0] == 0
        signed = post(ana, f"/portal/drafts/{draft_id}/waiver", f"/portal/drafts/{draft_id}",
                      agreed="on")
        assert signed.status_code == 303, signed.text
        page = ana.get(signed.headers["location"]).text
        assert "You signed the waiver on" in page and "Sign the waiver" not in page
        sign_both(ana, draft_id)

        assert confirm_identity(staff, account_id_of(ws, ANA), "AK-P-0042").status_code == 303
        application_id = uuid.UUID(submit(ana, draft_id))
        waiver = store.waiver(application_id)
        assert waiver is not None and waiver.how == PORTAL
        assert (waiver.text_version, waiver.text_sha256) == (WAIVER_VERSION, WAIVER_SHA256)
        assert waiver.signed_by == account_id_of(ws, ANA)
        application = ws.node.service.application(application_id)
        pat = application.evidence.ratings[2].rater_id  # the id the portal gave her
        assert re.fullmatch(r"AR-\d{8}", pat), pat
        assert [(r.rater_id, r.received, r.rated_on, r.waiver_signed)
                for r in application.evidence.ratings] == [
            ("AK-P-0100", False, today(), True), ("X-0001", False, today(), True),
            (pat, False, today(), True)]
        assert "evidence.ratings" in {u.field for u in application.unmet}
        status_url = f"/portal/applications/{application_id}"
        status = ana.get(status_url).text
        assert status.count("the coordinator has not sent the link yet") == 3
        assert all(line.startswith("<li><strong>Not met")
                   for line in ratings_items(status)), ratings_items(status)

        # The coordinator: Sam is endorsed (sent from the ratings page, to the address Ana
        # gave: his record has none); the two others are vetted, which sends theirs.
        assert staff.get(f"/staff/applications/{application_id}").text.count(
            "Not yet (named ") == 3
        ratings_page = f"/staff/applications/{application_id}/ratings"
        shown = staff.get(ratings_page).text
        assert f"{SAM_AT} (given by the applicant)" in shown
        sent = staff.post(f"/staff/applications/{application_id}/rating-requests", data={
            "csrf_token": form_token(shown), "rater_id": "AK-P-0100"})
        assert sent.status_code == 303, sent.text
        assert SAM_AT in staff.get(sent.headers["location"]).text
        for rater_id in ("X-0001", pat):
            page_url = f"/staff/applications/{application_id}"
            vetted = staff.post(f"{page_url}/rater-vettings", data={
                "csrf_token": form_token(staff.get(page_url).text), "rater_id": rater_id,
                "note": "Phoned the programme office"})
            assert vetted.status_code == 303, vetted.text
        links = {who: link_in(ws, at) for who, at in (("sam", SAM_AT), ("lee", LEE_AT),
                                                      ("pat", PAT_AT))}
        status = ana.get(status_url).text
        assert status.count("Link sent on") == 3

        # Two raters rate: their stage says so, the count is still short.
        rate(ws, links["sam"])
        rate(ws, links["lee"])
        application = ws.node.service.application(application_id)
        assert [r.received for r in application.evidence.ratings] == [True, True, False]
        status = ana.get(status_url).text
        assert status.count("Rated on") == 2 and status.count("Link sent on") == 1
        assert SECRET not in status
        assert any("Not met" in line for line in ratings_items(status)), ratings_items(status)
        # The third: every ratings line of the checklist is met.
        rate(ws, links["pat"])
        application = ws.node.service.application(application_id)
        assert all(r.received is True and r.waiver_signed
                   for r in application.evidence.ratings)
        assert not {u.field for u in application.unmet} & {"evidence.ratings"}, \
            application.unmet
        status = ana.get(status_url).text
        assert status.count("Rated on") == 3 and SECRET not in status
        items = ratings_items(status)
        assert items and all(line.startswith("<li><strong>Met:") for line in items), items

    def test_the_waiver_signed_after_submission_reaches_the_evidence(
            self, ws: Workspace) -> None:
        application_id, ana, _ = self._submitted_unsigned(ws, pat="<script>x()</script>Pat")
        shown = ana.get(f"/portal/applications/{application_id}").text
        assert "&lt;script&gt;x()&lt;/script&gt;Pat" in shown and "<script>x()" not in shown
        sam = link_in(ws, SAM_AT)
        rate(ws, sam)
        received = ws.node.service.application(application_id).evidence.ratings[0]
        assert received.received is True and not received.waiver_signed
        status_url = f"/portal/applications/{application_id}"
        assert "Sign the waiver" in ana.get(status_url).text
        refused = post(ana, f"{status_url}/waiver", status_url)
        assert refused.status_code == 422 and "waiver-agreed-error" in refused.text
        signed = post(ana, f"{status_url}/waiver", status_url, agreed="on")
        assert signed.status_code == 303, signed.text
        rating = ws.node.service.application(application_id).evidence.ratings[0]
        assert rating.received is True and rating.waiver_signed
        assert "You signed the waiver on" in ana.get(status_url).text

    def test_another_applicants_application_answers_404_and_writes_nothing(
            self, ws: Workspace) -> None:
        application_id, _, _ = self._submitted_unsigned(ws)
        bea = signed_up(ws, "Bea Other", BEA)
        bea_draft = start_draft(bea)
        missing = bea.get(f"/portal/applications/{uuid.uuid4()}")
        theirs = bea.get(f"/portal/applications/{application_id}")
        assert theirs.status_code == missing.status_code == 404
        csrf = re.compile(r'name="csrf_token" value="[^"]*"')
        assert csrf.sub("", theirs.text) == csrf.sub("", missing.text)
        token = form_token(bea.get("/portal/").text)
        ana_draft = ws.node.accounts.store.db.query(
            "SELECT draft_id FROM portal_drafts WHERE application_id = ?",
            (str(application_id),))[0][0]
        for path in (f"/portal/applications/{application_id}/waiver",
                     f"/portal/drafts/{ana_draft}/waiver"):
            answer = bea.post(path, data={"csrf_token": token, "agreed": "on"})
            assert answer.status_code == 404, (path, answer.text)
        assert ws.node.ratings.store.waiver(application_id) is None
        # Without the CSRF token, even her own draft's waiver is refused.
        forged = bea.post(f"/portal/drafts/{bea_draft}/waiver", data={"agreed": "on"})
        assert forged.status_code == 403
        assert ws.node.ratings.store.db.query("SELECT COUNT(*) FROM rating_waivers")[0][0] == 0

    def test_the_daily_run_reminds_each_rater_who_has_not_rated_once(
            self, ws: Workspace) -> None:
        application_id, _, staff = self._submitted_unsigned(ws)
        page_url = f"/staff/applications/{application_id}"
        vetted = staff.post(f"{page_url}/rater-vettings", data={
            "csrf_token": form_token(staff.get(page_url).text), "rater_id": "X-0001",
            "note": "Phoned the programme office"})
        assert vetted.status_code == 303, vetted.text
        link_in(ws, SAM_AT)
        link_in(ws, LEE_AT)
        store = ws.node.ratings.store
        assert daily_run(ws, "day-0").headers["Rater-Reminders-Queued"] == "0"  # too soon
        with store.db.transaction() as cur:  # the requests went out over a week ago
            cur.execute("UPDATE rating_requests SET last_mailed_at = ? WHERE application_id = ?",
                        (stamp(now() - dt.timedelta(days=8)), str(application_id)))
        first = daily_run(ws, "day-1")
        assert first.headers["Rater-Reminders-Queued"] == "2"
        again = daily_run(ws, "day-1-again")  # the timer fires twice: nothing new
        assert again.headers["Rater-Reminders-Queued"] == "0"
        for address in (SAM_AT, LEE_AT):
            mails = ws.mail_to(address, 2)
            assert str(mails[1].message["Subject"]).startswith("Reminder: a reference rating")
        # The reminder's link is the live one; a rater who rated is not reminded again.
        rate(ws, link_in(ws, SAM_AT, 2))
        assert daily_run(ws, "day-2").headers["Rater-Reminders-Queued"] == "0"
        with store.db.transaction() as cur:
            keys = sorted(r[0].split(":")[0] for r in cur.execute(
                "SELECT dedupe_key FROM mail_outbox WHERE recipient IN (?, ?)",
                (SAM_AT, LEE_AT)).fetchall())
        assert keys == ["rating.reminder", "rating.reminder", "rating.request",
                        "rating.request"]
        with ws.sink.lock:
            assert len([m for m in ws.sink.received if SAM_AT in m.rcpt_tos]) == 2

    @staticmethod
    def _submitted_unsigned(ws: Workspace, pat: str = "Pat Parent"
                            ) -> tuple[uuid.UUID, TestClient, TestClient]:
        """Ana's Level I application, submitted without the waiver; Sam's request sent."""
        staff = ana_and_sam(ws)
        ana = signed_up(ws, "Ana García", ANA)
        draft_id = start_draft(ana)
        assert save_form(ana, draft_id, raters_form(pat)).status_code == 200
        sign_both(ana, draft_id)
        assert confirm_identity(staff, account_id_of(ws, ANA), "AK-P-0042").status_code == 303
        application_id = uuid.UUID(submit(ana, draft_id))
        ratings_page = f"/staff/applications/{application_id}/ratings"
        sent = staff.post(f"/staff/applications/{application_id}/rating-requests", data={
            "csrf_token": form_token(staff.get(ratings_page).text), "rater_id": "AK-P-0100"})
        assert sent.status_code == 303, sent.text
        return application_id, ana, staff


class TestPortalRatersOnSQLite(PortalRatersContract, OnSQLite):
    pass


class TestPortalRatersOnPostgreSQL(PortalRatersContract, OnPostgreSQL):
    pass
