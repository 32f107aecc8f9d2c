"""The fee schedule's amounts in cents, the provider adapter's signatures, and the settings
that name the provider and the reminder days."""

from __future__ import annotations

import datetime as dt

import pytest

from federation_api.fees.errors import CallbackRefused, InvalidFees
from federation_api.fees.provider import HostedCheckout, check_signature, provider_from, sign
from federation_api.fees.schedule import FeeSchedule, money, parse_amount, parse_schedule
from federation_api.settings import Settings

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
SECRET = b"sixteen bytes or more, test only"


@pytest.mark.parametrize(("text", "cents"), [("0", 0), ("125", 12500), ("125.50", 12550),
                                             (" 7.05 ", 705), ("100000.00", 10_000_000)])
def test_amounts_are_exact_cents(text: str, cents: int) -> None:
    assert parse_amount(text) == cents


@pytest.mark.parametrize("text", ["", "12,50", "1.5", "-1", "$5", "1e3", "100000.01",
                                  "12.505", "١٢"])
def test_an_amount_not_written_as_plain_money_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="amount"):
        parse_amount(text)


def test_a_schedule_names_every_wrong_field_and_sums_what_is_due() -> None:
    with pytest.raises(InvalidFees) as refused:
        parse_schedule({"currency": "usd1", "application": "x", "processing": "1",
                        "renewal": "", "late": "2"})
    assert [f for f, _ in refused.value.errors] == ["currency", "application", "renewal"]
    schedule = parse_schedule({"currency": "eur", "application": "75", "processing": "25.50",
                               "renewal": "60", "late": "15"})
    assert schedule == FeeSchedule("EUR", 7500, 2550, 6000, 1500)
    assert (schedule.application_due(), schedule.renewal_due(late=False),
            schedule.renewal_due(late=True)) == (10050, 6000, 7500)
    assert money(10050, "EUR") == "100.50 EUR"


def test_a_callback_signature_must_match_and_be_recent() -> None:
    body = b'{"x": 1}'
    stamp = int(NOW.timestamp())
    check_signature(SECRET, sign(SECRET, stamp, body), body, now=NOW)
    for header, why in [
        (sign(SECRET, stamp, body + b" "), "does not match"),
        (sign(b"another secret, sixteen bytes", stamp, body), "does not match"),
        (sign(SECRET, stamp - 301, body), "too old"),
        (sign(SECRET, stamp + 301, body), "too old"),
        ("", "no timestamp"), (f"t={stamp}", "does not match")]:
        with pytest.raises(CallbackRefused, match=why):
            check_signature(SECRET, header, body, now=NOW)


def test_the_provider_needs_both_settings_and_never_shows_its_secret() -> None:
    assert provider_from(Settings()) is None
    with pytest.raises(ValueError, match="both"):
        provider_from(Settings(payment_url="https://pay.example.org"))
    provider = provider_from(Settings(payment_url="https://pay.example.org/",
                                      payment_secret=SECRET.decode()))
    assert isinstance(provider, HostedCheckout)
    assert SECRET.decode() not in repr(provider)
    assert SECRET.decode() not in repr(Settings(payment_secret=SECRET.decode()))
    with pytest.raises(ValueError, match="16 bytes"):
        HostedCheckout("https://pay.example.org", b"short")


def test_reminder_days_and_the_mail_lease_from_the_environment() -> None:
    settings = Settings.from_env({"ALLIANCE_REMINDER_DAYS": "7, 60,30",
                                  "ALLIANCE_MAIL_LEASE_SECONDS": "5",
                                  "ALLIANCE_MAIL_BATCH": "200",
                                  "ALLIANCE_PAYMENT_URL": "https://pay.example.org",
                                  "ALLIANCE_PAYMENT_SECRET": SECRET.decode()})
    assert settings.reminder_days == (60, 30, 7) and settings.mail_lease_seconds == 5.0
    assert settings.mail_batch == 200
    assert settings.payment_url == "https://pay.example.org"
    assert Settings.from_env({}).reminder_days == (60, 30, 7)
    with pytest.raises(ValueError, match="REMINDER_DAYS"):
        Settings.from_env({"ALLIANCE_REMINDER_DAYS": "sixty"})
    with pytest.raises(ValueError, match="MAIL_BATCH"):
        Settings.from_env({"ALLIANCE_MAIL_BATCH": "0"})
