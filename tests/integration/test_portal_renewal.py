"""An endorsed professional renews in the portal, over a real node on SQLite files and on
PostgreSQL, signed in by the link read from a real SMTP server: hours logged in the log,
the cycle and what it lacks in the domain's words, the renewal through the same audited
command as staff (and its refusal, which writes nothing), the own certificate and signed
receipt; and the attacks: another professional's hours, renewal, certificate and receipt by
id, forged forms, bad hours.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.levels import EndorsementStatus
from federation_api.accounts.audit_log import Actor
from federation_api.accounts.links import LinkPurpose
from federation_api.accounts.roles import AccountRole
from federation_api.clock import now, today
from federation_api.demo.seed import seed
from federation_api.portal.renewal import CODE_OF_ETHICS
from federation_api.proofs.receipts import check_own
from ledger.proofs.receipts import decode_receipt
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.portal_browser import open_link, post, signed_up
from tests.integration.staff_browser import form_token
from tests.integration.staff_workspace import Workspace, workspace

SAM = "sam.okafor@example.org"  # Sam Okafor, Level IV-C (AK-P-0002), valid through 31 Dec
MARIA = "maria.rivera@example.org"  # Maria Rivera, Level III (AK-P-0001)
HOURS = "/portal/hours"


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    with backend.database_url() as url, workspace(tmp_path, url, registered=True) as made:
        yield made


@pytest.fixture
def ids(ws: Workspace) -> dict[str, str]:
    """The demo history: endorsement ids by holder."""
    return seed(ws.node, today())


def professional(ws: Workspace, name: str, email: str, person_id: str | None) -> TestClient:
    """A browser signed in (by the emailed link) as a portal account the coordinator tied to
    the person record `person_id` (the linking itself is the portal base's job)."""
    browser = signed_up(ws, name, email)
    store = ws.node.accounts.store
    account = next(a for a in store.all() if a.email == email)
    if person_id is not None:
        with store.db.transaction() as cur:
            store.link_person(cur, account.account_id, person_id, now=now())
            store.set_roles(cur, account.account_id, [AccountRole.PROFESSIONAL], now=now())
    return browser


def next_session(ws: Workspace, email: str) -> TestClient:
    """A new browser signed in again later. The emailed link is sent at most once a quarter
    hour (the portal base's tests cover that), so the test issues the second one-time link
    with the accounts' own link service and opens it on the real link page."""
    accounts = ws.node.accounts
    account = next(a for a in accounts.store.all() if a.email == email)
    with accounts.store.db.transaction() as cur:
        token = accounts.links.issue(cur, account_id=account.account_id,
                                     purpose=LinkPurpose.SIGN_IN,
                                     issued_by=Actor.account(account.account_id).label,
                                     now=now(), lifetime=dt.timedelta(minutes=15))
    browser = ws.browser()
    assert open_link(browser, token).status_code == 303
    return browser


def log(browser: TestClient, kind: str, hours: str, *, on: dt.date | None = None,
        provider: str = "AK-AIMH", **more: str) -> tuple[int, str]:
    answer = post(browser, HOURS, HOURS, kind=kind, hours=hours, provider=provider,
                  done_on=(on or today()).isoformat(), **more)
    return answer.status_code, answer.text


def renewal_form(**changes: str) -> dict[str, str]:
    form = {"membership_association": "AK",
            "membership_valid_through": f"{today().year + 1}-12-31",
            "membership_confirmed": "on", "ethics_version": CODE_OF_ETHICS.version,
            "ethics_signed": "on", "signed_name": "Sam Okafor"}
    return {k: v for k, v in (form | changes).items() if v is not None}


def hours_rows(ws: Workspace) -> int:
    return int(ws.node.accounts.store.db.query("SELECT COUNT(*) FROM portal_hours")[0][0])


def renewal_rows(ws: Workspace) -> list[tuple[object, ...]]:
    return list(ws.node.accounts.store.db.query(
        "SELECT endorsement_id, text_version, text_sha256, signed_name, seq "
        "FROM portal_renewals"))


class PortalRenewalContract:
    """The professional's pages on every backend."""

    def test_hours_logged_in_two_sessions_count_and_the_renewal_is_written(
            self, ws: Workspace, ids: dict[str, str]) -> None:
        okafor = ids["okafor"]
        page = f"/portal/renewal/{okafor}"
        first = professional(ws, "Sam Okafor", SAM, "AK-P-0002")
        assert log(first, "training", "9", description="Attachment course")[0] == 303
        assert log(first, "rsc", "2", provider="Dana Mentor")[0] == 303
        # A new session (a second sign-in) finds the hours there and adds to them.
        assert post(first, "/portal/sign-out", "/portal/").status_code == 303
        second = next_session(ws, SAM)
        listed = second.get(HOURS).text
        assert "Attachment course" in listed and "Dana Mentor" in listed
        year = today().year
        shown = second.get(page).text
        assert f"1 January {year}" in shown and f"31 December {year}" in shown
        assert "9 clock hours of relationship-based training completed within the cycle " \
               f"{year}-01-01 to {year}-12-31; renewal needs at least 15." in shown
        # The last year's hours are shown as not counted.
        assert log(second, "training", "30", on=dt.date(year - 1, 6, 1))[0] == 303
        assert "1 of your logged entries fall outside the cycle" in second.get(page).text
        assert log(second, "training", "6.5", rsc_topic="on")[0] == 303
        shown = second.get(page).text
        assert "Your logged hours meet the cycle's requirements." in shown
        assert CODE_OF_ETHICS.sha256 in shown
        assert "Renewal fee: the association has not set its fees yet." in shown
        head = ws.head()
        done = second.post(page, data={"csrf_token": form_token(shown), **renewal_form()})
        assert done.status_code == 303, done.text
        after = ws.head()
        assert after is not None and after != head
        renewed = second.get(done.headers["location"]).text
        assert "Your endorsement is renewed." in renewed and f"entry {after[0]}" in renewed
        row = ws.node.projector.endorsement(okafor)
        assert row is not None and row.valid_through == dt.date(year + 1, 12, 31)
        # The portal's record: the Code of Ethics re-signed (version, hash) and the entry.
        assert renewal_rows(ws) == [(okafor, CODE_OF_ETHICS.version, CODE_OF_ETHICS.sha256,
                                     "Sam Okafor", after[0])]
        audit = ws.node.accounts.store.db.query(
            "SELECT outcome, ledger_seq FROM staff_audit WHERE action = 'portal.renew'")
        assert [(str(a), int(s)) for a, s in audit] == [("ok", after[0])]
        # The form sent again (a double click) would renew the next cycle, which this
        # year's hours do not reach: refused with that cycle's dates, nothing written.
        again = second.post(page, data={"csrf_token": form_token(shown), **renewal_form()})
        assert again.status_code == 422
        assert f"cycle {year + 1}-01-01 to {year + 1}-12-31 are unmet" in again.text
        assert ws.head() == after and len(renewal_rows(ws)) == 1

    def test_a_refused_renewal_shows_the_rule_and_the_cycle_and_writes_nothing(
            self, ws: Workspace, ids: dict[str, str]) -> None:
        okafor = ids["okafor"]
        page = f"/portal/renewal/{okafor}"
        sam = professional(ws, "Sam Okafor", SAM, "AK-P-0002")
        assert log(sam, "training", "4")[0] == 303
        year = today().year
        head = ws.head()
        shown = sam.get(page).text
        short = sam.post(page, data={"csrf_token": form_token(shown), **renewal_form()})
        assert short.status_code == 422
        assert f"Renewal requirements of the cycle {year}-01-01 to {year}-12-31 are unmet." \
            in short.text
        assert "<strong>Not met:</strong> 4 clock hours" in short.text
        # The membership that ends before the cycle: the domain's words again.
        ends = sam.post(page, data={"csrf_token": form_token(shown), **renewal_form(
            membership_valid_through=today().isoformat())})
        assert ends.status_code == 422 and "runs to the end of the cycle" in ends.text
        # The form's own checks: each next to its field.
        for changes, field in (({"membership_confirmed": ""}, "membership_confirmed"),
                               ({"ethics_signed": ""}, "ethics_signed"),
                               ({"ethics_version": "1999-1"}, "ethics_signed"),
                               ({"signed_name": " "}, "signed_name"),
                               ({"membership_valid_through": "soon"},
                                "membership_valid_through"),
                               ({"membership_association": "<b>"}, "membership_association")):
            bad = sam.post(page, data={"csrf_token": form_token(shown),
                                       **renewal_form(**changes)})
            assert bad.status_code == 422 and f'id="{field}-error"' in bad.text, changes
        assert ws.head() == head and renewal_rows(ws) == []
        refused = ws.node.accounts.store.db.query(
            "SELECT outcome FROM staff_audit WHERE action = 'portal.renew'")
        assert [str(r[0]) for r in refused] == ["refused", "refused"]

    def test_bad_hours_are_refused_next_to_their_field_and_nothing_is_stored(
            self, ws: Workspace, ids: dict[str, str]) -> None:
        sam = professional(ws, "Sam Okafor", SAM, "AK-P-0002")
        tomorrow = today() + dt.timedelta(days=1)
        for hours, on, field, words in (
                ("-2", today(), "hours", "Enter more than 0 hours."),
                ("0", today(), "hours", "Enter more than 0 hours."),
                ("many", today(), "hours", "Enter the clock hours as a number"),
                ("nan", today(), "hours", "Enter the clock hours as a number"),
                ("1e9", today(), "hours", "Enter at most 200 hours"),
                ("2", tomorrow, "done_on", "The date cannot be in the future")):
            status, text = log(sam, "training", hours, on=on)
            assert status == 422 and f'id="{field}-error"' in text, (hours, on)
            assert words in text
            assert f'value="{hours}"' in text  # the form comes back as sent
        for data, field in (({"done_on": "3 May"}, "done_on"), ({"kind": "sleep"}, "kind"),
                            ({"provider": ""}, "provider"),
                            ({"provider": "x" * 201}, "provider")):
            answer = post(sam, HOURS, HOURS, **({"kind": "training", "hours": "1",
                                                "done_on": today().isoformat(),
                                                "provider": "AK"} | data))
            assert answer.status_code == 422 and f'id="{field}-error"' in answer.text, data
        assert hours_rows(ws) == 0

    def test_another_professionals_records_answer_404_and_nothing_is_written(
            self, ws: Workspace, ids: dict[str, str]) -> None:
        okafor = ids["okafor"]
        sam = professional(ws, "Sam Okafor", SAM, "AK-P-0002")
        assert log(sam, "training", "20")[0] == 303
        entry_id = str(ws.node.accounts.store.db.query("SELECT entry_id FROM portal_hours")[0][0])
        maria = professional(ws, "Maria Rivera", MARIA, "AK-P-0001")
        assert "Attachment" not in maria.get(HOURS).text and entry_id not in maria.get(HOURS).text
        head = ws.head()
        for path in (f"/portal/renewal/{okafor}", f"/portal/renewal/{okafor}/certificate.pdf",
                     f"/portal/renewal/{okafor}/receipt",
                     f"/portal/renewal/{okafor}/receipt.json",
                     f"/portal/renewal/{okafor.lower()}", "/portal/renewal/AK-NOSUCH1"):
            answer = maria.get(path)
            assert answer.status_code == 404 and "nothing here for your account" in answer.text
        page = maria.get(HOURS).text
        taken = maria.post(f"/portal/renewal/{okafor}", data={"csrf_token": form_token(page),
                                                              **renewal_form()})
        assert taken.status_code == 404
        gone = maria.post(f"{HOURS}/{entry_id}/delete", data={"csrf_token": form_token(page)})
        assert gone.status_code == 404
        assert ws.head() == head and hours_rows(ws) == 1 and renewal_rows(ws) == []
        # An account not yet tied to a person record has no endorsements at all.
        ana = professional(ws, "Ana García", "ana@example.org", None)
        assert ana.get(f"/portal/renewal/{okafor}").status_code == 404
        assert "once the association has confirmed" in ana.get("/portal/renewal").text
        # Nor does Sam see Maria's.
        assert sam.get(f"/portal/renewal/{ids['rivera']}").status_code == 404
        # Sam removes his own entry.
        page = sam.get(HOURS).text
        assert sam.post(f"{HOURS}/{entry_id}/delete",
                        data={"csrf_token": form_token(page)}).status_code == 303
        assert hours_rows(ws) == 0

    def test_markup_in_the_hours_is_shown_as_text(self, ws: Workspace,
                                                  ids: dict[str, str]) -> None:
        sam = professional(ws, "Sam Okafor", SAM, "AK-P-0002")
        assert log(sam, "training", "3", provider="<script>alert(1)</script>",
                   description='<img src=x onerror="alert(2)">')[0] == 303
        listed = sam.get(HOURS).text
        assert "<script>alert(1)" not in listed and "<img src=x" not in listed
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listed

    def test_forged_forms_are_refused(self, ws: Workspace, ids: dict[str, str]) -> None:
        okafor = ids["okafor"]
        sam = professional(ws, "Sam Okafor", SAM, "AK-P-0002")
        assert log(sam, "training", "20")[0] == 303
        entry_id = str(ws.node.accounts.store.db.query("SELECT entry_id FROM portal_hours")[0][0])
        head = ws.head()
        for token in ({}, {"csrf_token": "forged"}):
            assert sam.post(HOURS, data={**token, "kind": "training", "hours": "3",
                                         "done_on": today().isoformat(),
                                         "provider": "AK"}).status_code == 403
            assert sam.post(f"/portal/renewal/{okafor}",
                            data={**token, **renewal_form()}).status_code == 403
            assert sam.post(f"{HOURS}/{entry_id}/delete", data=token).status_code == 403
        assert ws.head() == head and hours_rows(ws) == 1 and renewal_rows(ws) == []

    def test_the_own_certificate_and_signed_receipt(self, ws: Workspace,
                                                   ids: dict[str, str]) -> None:
        okafor = ids["okafor"]
        sam = professional(ws, "Sam Okafor", SAM, "AK-P-0002")
        assert log(sam, "training", "15")[0] == 303
        shown = sam.get(f"/portal/renewal/{okafor}").text
        assert sam.post(f"/portal/renewal/{okafor}", data={
            "csrf_token": form_token(shown), **renewal_form()}).status_code == 303
        pdf = sam.get(f"/portal/renewal/{okafor}/certificate.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert pdf.headers["content-type"] == "application/pdf"
        view = sam.get(f"/portal/renewal/{okafor}/receipt")
        assert view.status_code == 200 and okafor in view.text
        assert "EndorsementRenewed" in view.text
        download = sam.get(f"/portal/renewal/{okafor}/receipt.json")
        assert download.status_code == 200
        assert "attachment" in download.headers["content-disposition"]
        receipt = decode_receipt(download.content)
        assert receipt.answer.claim.endorsement_id == okafor
        assert receipt.answer.claim.valid_through == dt.date(today().year + 1, 12, 31)
        report = check_own(receipt)  # the offline verifier's checks
        assert report.ok and report.proof is not None
        assert any(e.body.event_type.endswith("EndorsementRenewed")
                   for e in report.proof.entries)
        printed = ws.node.accounts.store.db.query(
            "SELECT target FROM staff_audit WHERE action = 'certificate.print'")
        assert [str(r[0]) for r in printed] == [okafor]

    def test_no_certificate_or_renewal_for_an_endorsement_not_in_good_standing(
            self, ws: Workspace, ids: dict[str, str]) -> None:
        morgan = ids["morgan"]  # Pat Morgan, Level I, suspended
        pat = professional(ws, "Pat Morgan", "pat@example.org", "AK-P-0004")
        row = ws.node.projector.endorsement(morgan)
        assert row is not None and row.status is EndorsementStatus.SUSPENDED
        answer = pat.get(f"/portal/renewal/{morgan}/certificate.pdf")
        assert answer.status_code == 409 and "suspended today" in answer.text
        page = pat.get(f"/portal/renewal/{morgan}").text
        assert "it cannot be renewed here" in page and "certificate.pdf" not in page
        head = ws.head()
        refused = pat.post(f"/portal/renewal/{morgan}", data={"csrf_token": form_token(page),
                                                              **renewal_form()})
        assert refused.status_code == 422 and ws.head() == head


class TestPortalRenewalOnSQLite(PortalRenewalContract, OnSQLite):
    """SQLite files."""


class TestPortalRenewalOnPostgreSQL(PortalRenewalContract, OnPostgreSQL):
    """A PostgreSQL schema."""
