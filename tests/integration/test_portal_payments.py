"""Paying fees in the portal over a served node (SQLite files and PostgreSQL), signed in by
the link read from a real SMTP server, through the fake provider (a real HTTP service on
loopback) whose signed callback reaches the node's callback route over a real socket:

- the applicant pays the application fee from the draft page: the checkout URL followed, the
  provider's page answered, the callback applied, the checklist's fee item met and the
  submitted evidence carrying `fee_paid`;
- the return page reads the node's record only: a forged "paid" in its query, or a callback
  the applicant made up, changes nothing; a declined payment is said so and can be retried;
- another applicant's application (or none, or not an id) answers 404 and writes nothing;
  a forged form is refused;
- without a provider the page says how to pay by cheque and "Pay" writes nothing;
- the professional pays the renewal fee from the renewal page, and its requirement is met.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from domain.levels import Level
from federation_api.accounts.roles import AccountRole
from federation_api.clock import now, today
from federation_api.demo.seed import seed
from federation_api.fees.schedule import FeeSchedule
from federation_api.fees.store import PaymentState, Purpose
from federation_api.node.root import Node
from federation_api.people.records import PersonDetails
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.fake_payments import signature_for
from tests.integration.fees_world import FeesWorld, fees_world
from tests.integration.portal_browser import draft_id_of, form_version, post, signed_up
from tests.integration.smtp_sink import Received
from tests.integration.staff_browser import form_token
from tests.integration.staff_workspace import Workspace, workspace

ANA = "ana@example.org"
BOB = "bob@example.org"
SAM = "sam.okafor@example.org"  # the demo's Sam Okafor (AK-P-0002), valid through 31 Dec
MARIA = "maria.rivera@example.org"  # the demo's Maria Rivera (AK-P-0001)
FEE_ITEM = "The processing fee is paid."


@dataclass
class PayWorld:
    """The served node with its provider, driven like the portal tests' workspace (the
    portal helpers need `node`, `browser()` and `mail_to`)."""

    world: FeesWorld

    @property
    def node(self) -> Node:
        return self.world.node

    def browser(self) -> httpx.Client:
        return self.world.browser()

    def mail_to(self, recipient: str, count: int = 1, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.world.sink.lock:
                found = [m for m in self.world.sink.received if recipient in m.rcpt_tos]
            if len(found) >= count:
                return found
            time.sleep(0.01)
        raise AssertionError(f"{count} messages to {recipient} did not arrive in {timeout} s")


@pytest.fixture
def pw(backend: Backend, tmp_path: Path) -> Iterator[PayWorld]:
    with backend.database_url() as url, fees_world(tmp_path, url) as made:
        set_fees(made.node)
        yield PayWorld(made)


def set_fees(node: Node) -> None:
    """The coordinator's schedule (the staff page is tested in test_fees.py)."""
    with node.fees.db.transaction() as cur:
        node.fees.set_schedule(cur, FeeSchedule("USD", 7500, 2550, 6000, 1500), by="test",
                               now=now())


def payment_rows(node: Node) -> list[tuple[object, ...]]:
    return list(node.fees.db.query("SELECT purpose, subject_id, cycle, state FROM payments"))


def start_draft(browser: httpx.Client) -> tuple[str, str]:
    """A new Level I draft: (draft id, the id its application will have, which the draft
    page's fee form names)."""
    answer = post(browser, "/portal/drafts", "/portal/drafts/new", level="IFA")  # type: ignore[arg-type]
    assert answer.status_code == 303, answer.text
    draft_id = draft_id_of(answer)
    page = browser.get(f"/portal/drafts/{draft_id}").text
    marker = 'action="/portal/payments/application/'
    assert marker in page, page
    return draft_id, page.split(marker, 1)[1].split('"', 1)[0]


def press_pay(browser: httpx.Client, page: str, action: str) -> httpx.Response:
    """Press "Pay" on `page` (its form's CSRF token)."""
    token = form_token(browser.get(page).text)
    return browser.post(action, data={"csrf_token": token})


def at_provider(pw: PayWorld, checkout: str, outcome: str = "paid") -> str:
    """The payer on the provider's page: open the checkout, press Pay (or Decline); the
    address the provider sends them back to."""
    page = httpx.get(checkout, timeout=10)
    assert page.status_code == 200, page.text
    reference = dict(httpx.URL(checkout).params)["reference"]
    back = httpx.post(f"{pw.world.provider.url}/pay", timeout=10,
                      data={"reference": reference, "outcome": outcome})
    assert back.status_code == 303
    return str(back.headers["location"])


def path_of(url: str) -> str:
    """The node-relative part of an address (the node's public URL is not its test port)."""
    parsed = httpx.URL(url)
    return parsed.raw_path.decode()


def add_person(node: Node, person_id: str, given: str, family: str, email: str) -> None:
    """A person record, as a coordinator makes it on the people pages."""
    with node.people.db.transaction() as cur:
        node.people.create(cur, PersonDetails(person_id=person_id, given_name=given,
                                              family_name=family, email=email,
                                              birth_date=dt.date(1990, 4, 30)),
                           by="test", now=now())


def link_person(node: Node, email: str, person_id: str,
                role: AccountRole = AccountRole.APPLICANT) -> None:
    """Tie the account to a person record (the coordinator's identity page, tested in the
    portal's own tests)."""
    store = node.accounts.store
    account = next(a for a in store.all() if a.email == email)
    with store.db.transaction() as cur:
        store.link_person(cur, account.account_id, person_id, now=now())
        store.set_roles(cur, account.account_id, [role], now=now())


def submit(pw: PayWorld, browser: httpx.Client, draft_id: str) -> None:
    """Fill in a little of the draft, sign both texts, have the identity confirmed, submit."""
    draft_page = f"/portal/drafts/{draft_id}"
    shown = browser.get(draft_page).text
    saved = browser.post(draft_page, data={
        "csrf_token": form_token(shown), "version": form_version(shown),
        "degrees-0-kind": "bachelor", "degrees-0-field_of_study": "Psychology",
        "degrees-0-awarded_on": "2015-06-01"})
    assert saved.status_code == 200, saved.text
    for document in ("code_of_ethics", "endorsement_agreement"):
        signed = post(browser, f"{draft_page}/sign", draft_page, document=document,  # type: ignore[arg-type]
                      signed_name="Ana García", agreed="on")
        assert signed.status_code == 303, signed.text
    add_person(pw.node, "AK-P-0042", "Ana", "García", ANA)
    link_person(pw.node, ANA, "AK-P-0042")
    submitted = post(browser, f"{draft_page}/submit", draft_page)  # type: ignore[arg-type]
    assert submitted.status_code == 303, submitted.text


class PortalPaymentsContract:
    """Paying in the portal, on every backend."""

    def test_the_applicant_pays_through_the_provider_and_the_fee_is_met(
            self, pw: PayWorld) -> None:
        ana = signed_up(pw, "Ana García", ANA)  # type: ignore[arg-type]
        draft_id, application_id = start_draft(ana)
        draft_page = f"/portal/drafts/{draft_id}"
        drafted = ana.get(draft_page)
        shown = drafted.text
        assert "Due: 100.50 USD. Not paid yet." in shown
        # The page's forms may lead to the provider (Pay redirects there), nowhere else.
        assert f"form-action 'self' {pw.world.provider.url};" in \
            drafted.headers["content-security-policy"]
        assert f"Not met yet:</strong> {FEE_ITEM}" in shown
        assert "Pay 100.50 USD online" in shown
        assert payment_rows(pw.node) == []  # looking writes nothing

        answer = press_pay(ana, draft_page, f"/portal/payments/application/{application_id}")
        assert answer.status_code == 303, answer.text
        checkout = answer.headers["location"]
        assert checkout.startswith(f"{pw.world.provider.url}/checkout?")
        pending = pw.node.payments.status(Purpose.APPLICATION, application_id)
        assert pending is not None and pending.state is PaymentState.PENDING
        ana_id = next(a.account_id for a in pw.node.accounts.store.all() if a.email == ANA)
        assert (pending.recorded_by, pending.amount_cents) == (ana_id, 10050)
        back = at_provider(pw, checkout)
        assert back == f"http://testserver/portal/payments/application/{application_id}/return"
        assert pw.world.provider.sent[-1].status == 200  # the node took the signed callback
        returned = ana.get(path_of(back))
        assert returned.status_code == 200
        assert "Your fee is paid" in returned.text
        assert "Paid: 100.50 USD through the payment provider" in returned.text
        paid = pw.node.payments.status(Purpose.APPLICATION, application_id)
        assert paid is not None and paid.state is PaymentState.PAID
        assert paid.recorded_by == "provider" and paid.paid_cents == 10050

        shown = ana.get(draft_page).text
        assert f"Met:</strong> {FEE_ITEM}" in shown and "online</button>" not in shown
        # Pressing Pay again (a stale tab) starts nothing: the page says it is paid.
        again = press_pay(ana, draft_page, f"/portal/payments/application/{application_id}")
        assert again.status_code == 303 and again.headers["location"].endswith("/return")
        assert len(pw.world.provider.checkouts) == 1

        # Submitted, the evidence carries the fee from the record.
        submit(pw, ana, draft_id)
        application = pw.node.service.application(uuid.UUID(application_id))
        assert application.evidence.fee_paid
        assert "evidence.fee_paid" not in {u.field for u in application.unmet}
        status = ana.get(f"/portal/applications/{application_id}").text
        assert "Paid: 100.50 USD through the payment provider" in status
        assert "Pay 100.50 USD online" not in status

    def test_the_return_page_reads_the_record_and_a_forged_paid_changes_nothing(
            self, pw: PayWorld) -> None:
        ana = signed_up(pw, "Ana García", ANA)  # type: ignore[arg-type]
        draft_id, application_id = start_draft(ana)
        draft_page = f"/portal/drafts/{draft_id}"
        action = f"/portal/payments/application/{application_id}"
        checkout = press_pay(ana, draft_page, action).headers["location"]
        # Back without paying, the address edited to claim a payment.
        forged = ana.get(f"{action}/return?outcome=paid&status=paid&paid=1&reference="
                         f"{dict(httpx.URL(checkout).params)['reference']}")
        assert forged.status_code == 200
        assert "Your payment is not confirmed yet" in forged.text
        assert "Your fee is paid" not in forged.text
        record = pw.node.payments.status(Purpose.APPLICATION, application_id)
        assert record is not None and record.state is PaymentState.PENDING
        assert f"Not met yet:</strong> {FEE_ITEM}" in ana.get(draft_page).text
        # A callback the applicant made up (no secret) is refused and writes nothing.
        body = json.dumps({"event_id": "evt_mine", "reference": record.payment_id,
                           "provider_reference": "mine", "amount_cents": 10050,
                           "currency": "USD", "outcome": "paid"}).encode()
        made_up = ana.post("/v1/payments/callback", content=body, headers={
            "Alliance-Payment-Signature": signature_for(b"a guess at the secret!!",
                                                        body, int(time.time())),
            "Content-Type": "application/json"})
        assert made_up.status_code == 422
        assert pw.node.payments.status(Purpose.APPLICATION, application_id) == record
        assert pw.node.fees.callbacks() == 0
        # Declined at the provider: said so, nothing taken, and it can be tried again.
        back = at_provider(pw, checkout, "failed")
        declined = ana.get(path_of(back))
        assert "Your payment was declined" in declined.text
        assert "nothing was taken" in declined.text and "Pay 100.50 USD online" in declined.text
        failed = pw.node.payments.status(Purpose.APPLICATION, application_id)
        assert failed is not None and failed.state is PaymentState.FAILED
        retry = press_pay(ana, path_of(back), action)
        assert retry.status_code == 303
        at_provider(pw, retry.headers["location"])
        assert "Your fee is paid" in ana.get(path_of(back)).text
        assert [r[3] for r in payment_rows(pw.node)] == ["paid"]  # one record throughout

    def test_a_fee_paid_after_submission_goes_into_the_ledgers_evidence_once(
            self, pw: PayWorld) -> None:
        ana = signed_up(pw, "Ana García", ANA)  # type: ignore[arg-type]
        draft_id, application_id = start_draft(ana)
        submit(pw, ana, draft_id)
        application = pw.node.service.application(uuid.UUID(application_id))
        assert not application.evidence.fee_paid
        assert "evidence.fee_paid" in {u.field for u in application.unmet}
        status_page = f"/portal/applications/{application_id}"
        answer = press_pay(ana, status_page, f"/portal/payments/application/{application_id}")
        assert answer.status_code == 303, answer.text
        at_provider(pw, answer.headers["location"])
        assert pw.world.provider.sent[-1].status == 200
        application = pw.node.service.application(uuid.UUID(application_id))
        assert application.evidence.fee_paid  # the provider's callback wrote it
        assert "evidence.fee_paid" not in {u.field for u in application.unmet}
        entries = pw.node.accounts.audit.entries(action="application.fee_paid")
        assert [(e.target, e.actor, str(e.outcome)) for e in entries] == [
            (application_id, "system", "ok")]
        # The provider retries the same callback (it missed the answer): nothing more.
        head = pw.node.ledger.head(pw.node.association)
        last = pw.world.provider.sent[-1]
        assert pw.world.provider.post(last.body, last.signature).status == 200
        assert pw.node.ledger.head(pw.node.association) == head
        assert len(pw.node.accounts.audit.entries(action="application.fee_paid")) == 1

    def test_a_withdrawn_application_asks_for_no_fee(self, pw: PayWorld) -> None:
        ana = signed_up(pw, "Ana García", ANA)  # type: ignore[arg-type]
        draft_id, application_id = start_draft(ana)
        submit(pw, ana, draft_id)
        status_page = f"/portal/applications/{application_id}"
        assert "Pay 100.50 USD online" in ana.get(status_page).text  # may pay after submitting
        gone = post(ana, f"{status_page}/withdraw", status_page, confirm="on")  # type: ignore[arg-type]
        assert gone.status_code == 303
        shown = ana.get(status_page).text
        assert "its fee is no longer asked for" in shown and "online</button>" not in shown
        refused = press_pay(ana, status_page, f"/portal/payments/application/{application_id}")
        assert refused.status_code == 409 and "no longer asked for" in refused.text
        assert payment_rows(pw.node) == [] and pw.world.provider.checkouts == {}

    def test_another_applicants_application_answers_404_and_writes_nothing(
            self, pw: PayWorld) -> None:
        ana = signed_up(pw, "Ana García", ANA)  # type: ignore[arg-type]
        _, application_id = start_draft(ana)
        bob = signed_up(pw, "Bob Other", BOB)  # type: ignore[arg-type]
        token = form_token(bob.get("/portal/").text)
        for subject in (application_id, str(uuid.uuid4()), "not-an-id", "%3Cscript%3E"):
            action = f"/portal/payments/application/{subject}"
            assert bob.post(action, data={"csrf_token": token}).status_code == 404, subject
            assert bob.get(f"{action}/return").status_code == 404, subject
        assert bob.post("/portal/payments/renewal/AK-0001",
                        data={"csrf_token": token}).status_code == 404
        # Ana's own form without its CSRF token (a forged cross-site post) is refused.
        forged = ana.post(f"/portal/payments/application/{application_id}",
                          data={"csrf_token": "forged"})
        assert forged.status_code == 403
        # Signed out: to the sign-in page.
        anonymous = pw.browser()
        signed_out = anonymous.post(f"/portal/payments/application/{application_id}")
        assert signed_out.status_code == 303
        assert signed_out.headers["location"] == "/portal/sign-in"
        assert payment_rows(pw.node) == [] and pw.world.provider.checkouts == {}

    def test_the_professional_pays_the_renewal_fee_and_its_requirement_is_met(
            self, pw: PayWorld) -> None:
        ids = seed(pw.node, today())
        okafor = ids["okafor"]
        renewal_page = f"/portal/renewal/{okafor}"
        sam = signed_up(pw, "Sam Okafor", SAM)  # type: ignore[arg-type]
        link_person(pw.node, SAM, "AK-P-0002", AccountRole.PROFESSIONAL)
        shown = sam.get(renewal_page).text
        assert "Due: 60.00 USD. Not paid yet." in shown
        assert "Not met yet:</strong> The renewal fee is paid." in shown
        assert "Renewal fee: 60.00 USD due, not paid yet" in shown
        answer = press_pay(sam, renewal_page, f"/portal/payments/renewal/{okafor}")
        assert answer.status_code == 303, answer.text
        back = at_provider(pw, answer.headers["location"])
        assert back == f"http://testserver/portal/payments/renewal/{okafor}/return"
        assert "Your fee is paid" in sam.get(path_of(back)).text
        cycle_end = pw.node.service.endorsement(okafor).renewal_cycle()[1]
        paid = pw.node.payments.status(Purpose.RENEWAL, okafor, cycle_end.isoformat())
        assert paid is not None and paid.state is PaymentState.PAID
        assert (paid.amount_cents, paid.late) == (6000, False)
        shown = sam.get(renewal_page).text
        assert "Met:</strong> The renewal fee is paid." in shown
        assert "Renewal fee: paid (60.00 USD)." in shown and "online</button>" not in shown
        # Another professional cannot pay (or read) Sam's renewal.
        maria = signed_up(pw, "Maria Rivera", MARIA)  # type: ignore[arg-type]
        link_person(pw.node, MARIA, "AK-P-0001", AccountRole.PROFESSIONAL)
        token = form_token(maria.get("/portal/").text)
        assert maria.post(f"/portal/payments/renewal/{okafor}",
                          data={"csrf_token": token}).status_code == 404
        assert maria.get(f"/portal/payments/renewal/{okafor}/return").status_code == 404
        assert len(payment_rows(pw.node)) == 1

    def test_a_renewal_paid_after_valid_through_carries_the_late_fee(
            self, pw: PayWorld) -> None:
        ended = today() - dt.timedelta(days=10)  # within the 60 days' grace: not lapsed
        pw.node.service.record_existing(
            endorsement_id="AK-0300", person_id="AK-P-0300", family_name="Late",
            given_name="Lou", level=Level.IFS, designation=None,
            granted_on=dt.date(2020, 1, 1), valid_through=ended,
            legacy_reference="legacy AK-P-0300", now=now())
        pw.node.project()
        lou = signed_up(pw, "Lou Late", "lou@example.org")  # type: ignore[arg-type]
        link_person(pw.node, "lou@example.org", "AK-P-0300", AccountRole.PROFESSIONAL)
        shown = lou.get("/portal/renewal/AK-0300").text
        assert "Due: 75.00 USD. It includes the late fee" in shown
        answer = press_pay(lou, "/portal/renewal/AK-0300", "/portal/payments/renewal/AK-0300")
        assert answer.status_code == 303, answer.text
        assert "amount_cents=7500" in answer.headers["location"]
        at_provider(pw, answer.headers["location"])
        paid = pw.node.payments.status(Purpose.RENEWAL, "AK-0300", ended.isoformat())
        assert paid is not None and paid.state is PaymentState.PAID and paid.late


class TestPortalPaymentsOnSQLite(PortalPaymentsContract, OnSQLite):
    """On SQLite files."""


class TestPortalPaymentsOnPostgreSQL(PortalPaymentsContract, OnPostgreSQL):
    """On a real PostgreSQL, in a fresh schema."""


# -- without a provider: cheques only -------------------------------------------------------


@pytest.fixture
def ws(backend: Backend, tmp_path: Path) -> Iterator[Workspace]:
    """A node with no payment provider configured (the staff workspace's settings)."""
    with backend.database_url() as url, workspace(tmp_path, url) as made:
        yield made


class ChequeOnlyContract:
    """No provider: the page says how to pay by cheque, and Pay writes nothing."""

    def test_without_a_provider_the_page_says_cheque_and_pay_writes_nothing(
            self, ws: Workspace) -> None:
        ana = signed_up(ws, "Ana García", ANA)
        answer = post(ana, "/portal/drafts", "/portal/drafts/new", level="IFA")
        draft_page = f"/portal/drafts/{draft_id_of(answer)}"
        shown = ana.get(draft_page).text
        assert "has not set its fees yet" in shown and "online</button>" not in shown
        set_fees(ws.node)
        shown = ana.get(draft_page).text
        assert "takes the application fee by cheque" in shown
        assert "for 100.50 USD, write your application id" in shown
        assert "online</button>" not in shown
        assert "form-action 'self';" in ana.get(draft_page).headers["content-security-policy"]
        draft = ws.main.app.state.portal.drafts.get(
            next(a.account_id for a in ws.node.accounts.store.all() if a.email == ANA),
            draft_page.rsplit("/", 1)[1])
        refused = press_pay(ana, draft_page,
                            f"/portal/payments/application/{draft.application_id}")
        assert refused.status_code == 409
        assert "takes the application fee by cheque" in refused.text
        assert payment_rows(ws.node) == []
        # The cheque arrives; the coordinator records it (the staff payment page's call,
        # tested with that page in test_fees.py): the draft's fee item is met from it.
        with ws.node.fees.db.transaction() as cur:
            ws.node.payments.record_cheque(
                cur, {"cheque_number": "1042", "amount": "100.50",
                      "paid_on": today().isoformat()},
                application_id=str(draft.application_id), by="coordinator", today=today(),
                now=now())
        shown = ana.get(draft_page).text
        assert f"Met:</strong> {FEE_ITEM}" in shown
        assert "Paid: 100.50 USD by cheque number 1042" in shown
        assert "takes the application fee by cheque" not in shown


class TestChequeOnlyOnSQLite(ChequeOnlyContract, OnSQLite):
    """On SQLite files."""


class TestChequeOnlyOnPostgreSQL(ChequeOnlyContract, OnPostgreSQL):
    """On a real PostgreSQL, in a fresh schema."""
