"""Fees and payments over a served node (SQLite and PostgreSQL): the coordinator's schedule as
versions, a payment through the fake provider (a real HTTP service) confirmed by its signed
callback, the hostile callbacks (altered, replayed, foreign, wrong amount, wrong secret) all
refused with nothing written, a repeated genuine callback harmless, the late fee, and the
"paid by cheque" page with its errors next to the fields."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from federation_api.clock import now
from federation_api.fees.errors import FeesNotSet, PaymentClosed
from federation_api.fees.payments import application_due, renewal_due
from federation_api.fees.schedule import FeeSchedule
from federation_api.fees.store import PaymentState, Purpose
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.fake_payments import signature_for
from tests.integration.fees_world import SECRET, FeesWorld, days_from_today, fees_world
from tests.integration.staff_browser import add_staff, form_token, sign_in

SCHEDULE = {"currency": "USD", "application": "75", "processing": "25.50",
            "renewal": "60", "late": "15"}


@pytest.fixture
def world(backend: Backend, tmp_path: Path) -> Iterator[FeesWorld]:
    with backend.database_url() as url, fees_world(tmp_path, url) as made:
        add_staff(made.node, "cora@ak.example.org", "coordinator", name="Cora")
        add_staff(made.node, "rex@ak.example.org", "reviewer", name="Rex")
        yield made


@pytest.fixture
def cora(world: FeesWorld) -> Iterator[httpx.Client]:
    with world.browser() as browser:
        sign_in(browser, "cora@ak.example.org")  # type: ignore[arg-type]
        yield browser


def set_fees(cora: httpx.Client, **changes: str) -> httpx.Response:
    token = form_token(cora.get("/staff/fees").text)
    return cora.post("/staff/fees", data={"csrf_token": token, **SCHEDULE, **changes})


def pay(world: FeesWorld, checkout_url: str, outcome: str = "paid") -> httpx.Response:
    """The payer on the provider's page: open the checkout, press Pay (or Decline)."""
    page = httpx.get(checkout_url, timeout=10)
    assert page.status_code == 200, page.text
    reference = json.loads(json.dumps(dict(httpx.URL(checkout_url).params)))["reference"]
    return httpx.post(f"{world.provider.url}/pay", data={"reference": reference,
                                                         "outcome": outcome}, timeout=10)


class FeesContract:
    """Fees and payments on every backend."""

    def test_the_schedule_is_saved_as_versions_and_bad_input_writes_nothing(
            self, world: FeesWorld, cora: httpx.Client) -> None:
        assert world.node.fees.current() is None
        with pytest.raises(FeesNotSet):
            application_due(world.node.fees)
        assert "has not set its fees yet" in cora.get("/staff/fees").text
        r = set_fees(cora, currency="dollars", processing="25,50", late="-1")
        assert r.status_code == 422
        assert world.node.fees.current() is None
        for field in ("currency", "processing", "late"):
            assert f'id="{field}-error"' in r.text  # the error is next to its field
        assert 'id="application-error"' not in r.text
        assert set_fees(cora).status_code == 303
        stored = world.node.fees.current()
        assert stored is not None and stored.version == 1
        assert stored.schedule == FeeSchedule("USD", 7500, 2550, 6000, 1500)
        assert set_fees(cora, application="80").status_code == 303
        assert world.node.fees.current().version == 2  # type: ignore[union-attr]
        page = cora.get("/staff/fees").text
        assert "version 2" in page and "80.00 USD" in page
        actions = [r[0] for r in world.node.fees.db.query(
            "SELECT action FROM staff_audit WHERE action = 'fees.schedule'")]
        assert len(actions) == 2

    def test_only_coordinators_reach_the_fee_pages(self, world: FeesWorld) -> None:
        application_id = world.start_application()
        with world.browser() as rex:
            sign_in(rex, "rex@ak.example.org")  # type: ignore[arg-type]
            assert rex.get("/staff/fees").status_code == 403
            assert rex.get(f"/staff/applications/{application_id}/payment").status_code == 403
        with world.browser() as anonymous:
            assert anonymous.get("/staff/fees").status_code == 303  # to sign-in

    def test_an_application_paid_through_the_provider_is_paid_once_its_callback_checks(
            self, world: FeesWorld, cora: httpx.Client) -> None:
        set_fees(cora)
        application_id = world.start_application()
        url = world.node.payments.start_application_payment(
            application_id, by="account-of-applicant", return_url="http://testserver/portal",
            now=now())
        assert url.startswith(world.provider.url)
        pending = world.node.payments.status(Purpose.APPLICATION, application_id)
        assert pending is not None and pending.state is PaymentState.PENDING
        assert (pending.amount_cents, pending.schedule_version) == (10050, 1)
        # An amount edited in the address bar: the provider refuses the checkout.
        assert httpx.get(url.replace("amount_cents=10050", "amount_cents=1"),
                         timeout=10).status_code == 400
        back = pay(world, url)
        assert back.status_code == 303 and back.headers["location"] == "http://testserver/portal"
        assert world.provider.sent[-1].status == 200
        paid = world.node.payments.status(Purpose.APPLICATION, application_id)
        assert paid is not None and paid.state is PaymentState.PAID
        assert paid.paid_cents == 10050 and paid.method == "provider"
        assert paid.provider_reference.startswith("fake-")
        with pytest.raises(PaymentClosed):
            world.node.payments.start_application_payment(
                application_id, by="x", return_url="http://testserver/portal", now=now())
        page = cora.get(f"/staff/applications/{application_id}/payment").text
        assert "paid" in page and "Record the cheque" not in page

    def test_hostile_callbacks_are_refused_and_a_repeated_genuine_one_changes_nothing(
            self, world: FeesWorld, cora: httpx.Client) -> None:
        set_fees(cora)
        application_id = world.start_application()
        url = world.node.payments.start_application_payment(
            application_id, by="applicant", return_url="http://testserver/", now=now())
        world.provider.amount_offset = -10050  # reports 0.00 paid: refused, nothing written
        pay(world, url)
        assert world.provider.sent[-1].status == 422
        assert world.node.fees.callbacks() == 0
        world.provider.amount_offset = 0
        world.provider.clock_skew = -3600  # a callback signed an hour ago: a replay
        world.provider.callback(json.loads(world.provider.sent[-1].body)["reference"], "paid")
        assert world.provider.sent[-1].status == 422
        world.provider.clock_skew = 0
        state = world.node.payments.status(Purpose.APPLICATION, application_id)
        assert state is not None and state.state is PaymentState.PENDING
        genuine = world.provider.callback(state.payment_id, "paid")
        assert genuine.status == 200
        callbacks = world.node.fees.callbacks()
        paid = world.node.payments.status(Purpose.APPLICATION, application_id)
        body = json.loads(genuine.body)
        stamp = int(time.time())
        hostile = [
            # altered after signing: the amount, then the reference
            (genuine.body.replace(b'"amount_cents": 10050', b'"amount_cents": 1'),
             genuine.signature),
            (genuine.body.replace(state.payment_id.encode(), b"pay_someone_else"),
             genuine.signature),
            # signed with another secret
            (genuine.body, signature_for(b"not the node's secret at all", genuine.body, stamp)),
            # no signature, a malformed one
            (genuine.body, ""), (genuine.body, "t=abc,v1=00"),
            # well signed, but for no payment of this node, or with unknown fields
            *[(b, signature_for(SECRET, b, stamp)) for b in (
                json.dumps({**body, "event_id": "evt_x", "reference": "pay_nope"}).encode(),
                json.dumps({**body, "event_id": "evt_y", "admin": True}).encode(),
                b"not json")],
        ]
        for hostile_body, signature in hostile:
            assert world.provider.post(hostile_body, signature).status == 422, hostile_body
        # The genuine callback again (a provider retry): 200, nothing changes.
        again = world.provider.post(genuine.body, genuine.signature)
        assert again.status == 200
        assert json.loads(httpx.post(world.provider.callback_url, content=genuine.body,
                                     headers={"Alliance-Payment-Signature": genuine.signature}
                                     ).text)["applied"] is False
        # A later genuine "failed" cannot reopen a paid payment.
        assert world.provider.callback(state.payment_id, "failed").status == 200
        assert world.node.fees.callbacks() == callbacks + 1
        assert world.node.payments.status(Purpose.APPLICATION, application_id) == paid

    def test_a_renewal_paid_after_valid_through_carries_the_late_fee(
            self, world: FeesWorld, cora: httpx.Client) -> None:
        set_fees(cora)
        on_time = renewal_due(world.node.fees, valid_through=days_from_today(10),
                              on=days_from_today(0))
        late = renewal_due(world.node.fees, valid_through=days_from_today(-1),
                           on=days_from_today(0))
        assert (on_time.amount_cents, on_time.late) == (6000, False)
        assert (late.amount_cents, late.late) == (7500, True)
        url = world.node.payments.start_renewal_payment(
            "AK-E-1", valid_through=days_from_today(-1), by="professional",
            return_url="http://testserver/", now=now())
        assert "amount_cents=7500" in url
        pay(world, url)
        paid = world.node.payments.status(Purpose.RENEWAL, "AK-E-1",
                                          days_from_today(-1).isoformat())
        assert paid is not None and paid.state is PaymentState.PAID and paid.late

    def test_a_declined_payment_can_be_tried_again(self, world: FeesWorld,
                                                   cora: httpx.Client) -> None:
        set_fees(cora)
        application_id = world.start_application()
        start = world.node.payments.start_application_payment
        pay(world, start(application_id, by="a", return_url="http://testserver/", now=now()),
            "failed")
        failed = world.node.payments.status(Purpose.APPLICATION, application_id)
        assert failed is not None and failed.state is PaymentState.FAILED
        pay(world, start(application_id, by="a", return_url="http://testserver/", now=now()))
        paid = world.node.payments.status(Purpose.APPLICATION, application_id)
        assert paid is not None and paid.state is PaymentState.PAID
        assert paid.payment_id == failed.payment_id  # one payment record per application

    def test_a_cheque_is_recorded_on_the_application_page_with_who_entered_it(
            self, world: FeesWorld, cora: httpx.Client) -> None:
        application_id = world.start_application()
        path = f"/staff/applications/{application_id}/payment"
        assert "has not set its fees yet" in cora.get(path).text
        set_fees(cora)
        page = cora.get(path)
        assert page.status_code == 200 and "100.50 USD" in page.text
        token = form_token(page.text)
        bad = cora.post(path, data={"csrf_token": token, "cheque_number": "<b>1</b>",
                                    "amount": "100", "paid_on": days_from_today(1).isoformat()})
        assert bad.status_code == 422
        for field in ("cheque_number", "amount", "paid_on"):
            assert f'id="{field}-error"' in bad.text
        assert "<b>1</b>" not in bad.text  # the typed value is escaped, never markup
        assert world.node.payments.status(Purpose.APPLICATION, application_id) is None
        assert cora.post(path, data={"cheque_number": "1042", "amount": "100.50",
                                     "paid_on": days_from_today(0).isoformat()}
                         ).status_code == 403  # no CSRF token: refused
        assert world.node.payments.status(Purpose.APPLICATION, application_id) is None
        ok = cora.post(path, data={"csrf_token": token, "cheque_number": "1042",
                                   "amount": "100.50",
                                   "paid_on": days_from_today(-2).isoformat()})
        assert ok.status_code == 303
        paid = world.node.payments.status(Purpose.APPLICATION, application_id)
        assert paid is not None and paid.state is PaymentState.PAID
        assert (paid.method, paid.cheque_number, paid.paid_cents) == ("cheque", "1042", 10050)
        assert paid.paid_on == days_from_today(-2)
        with world.node.fees.db.transaction() as cur:
            account = world.node.accounts.store.by_email(cur, "cora@ak.example.org")
        assert account is not None and paid.recorded_by == account.account_id
        audit = world.node.fees.db.query(
            "SELECT account_id, target, detail FROM staff_audit WHERE action = 'payment.cheque'")
        assert audit == [(paid.recorded_by, application_id,
                          f"{paid.payment_id}: cheque 1042, 100.50 USD")]
        again = cora.post(path, data={"csrf_token": token, "cheque_number": "1043",
                                      "amount": "100.50",
                                      "paid_on": days_from_today(0).isoformat()})
        assert again.status_code == 409
        assert cora.get("/staff/applications/not-an-id/payment").status_code == 404


class TestFeesOnSQLite(FeesContract, OnSQLite):
    """On SQLite files."""


class TestFeesOnPostgreSQL(FeesContract, OnPostgreSQL):
    """On a real PostgreSQL, in a fresh schema."""
