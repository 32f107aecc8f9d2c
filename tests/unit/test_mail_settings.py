"""ALLIANCE_SMTP_URL and ALLIANCE_MAIL_FROM parsing, and the message an outbox row becomes."""

from __future__ import annotations

import datetime as dt

import pytest

from federation_api.mail.errors import SmtpUrlInvalid
from federation_api.mail.messages import Sender, build_message, message_id
from federation_api.mail.outbox import OutboxMail
from federation_api.mail.smtp import SmtpUrl
from federation_api.settings import Settings


def test_smtp_url_forms() -> None:
    plain = SmtpUrl.parse("smtp://127.0.0.1")
    assert (plain.host, plain.port, plain.implicit_tls, plain.starttls) == ("127.0.0.1", 25,
                                                                          False, False)
    tls = SmtpUrl.parse("smtps://relay.example.org")
    assert (tls.port, tls.implicit_tls) == (465, True)
    sub = SmtpUrl.parse("smtp://us%40er:p%3Ass@relay.example.org:587?starttls=1&timeout=5")
    assert (sub.port, sub.starttls, sub.username, sub.password, sub.timeout) == (
        587, True, "us@er", "p:ss", 5.0)


@pytest.mark.parametrize("url", [
    "http://relay.example.org",
    "smtp://",
    "smtp://user:pw@relay.example.org",  # a password in clear over the network
    "smtps://relay.example.org?starttls=1",
    "smtp://relay.example.org?tls=1",
    "smtp://relay.example.org?timeout=soon",
    "smtp://relay.example.org:99999",
])
def test_unusable_smtp_urls_are_refused_without_repeating_the_password(url: str) -> None:
    with pytest.raises(SmtpUrlInvalid) as caught:
        SmtpUrl.parse(url)
    assert "pw" not in str(caught.value)


def test_credentials_in_clear_are_allowed_only_to_a_relay_on_loopback() -> None:
    assert SmtpUrl.parse("smtp://user:pw@127.0.0.1:2525").username == "user"
    assert SmtpUrl.parse("smtp://user:pw@localhost:2525").loopback


def test_the_password_never_shows_in_the_url_or_the_settings_repr() -> None:
    url = SmtpUrl.parse("smtps://mailer:hunter2-secret@relay.example.org")
    assert "hunter2" not in repr(url) and "hunter2" not in url.redacted()
    assert url.redacted() == "smtps://mailer@relay.example.org:465"
    settings = Settings.from_env({"ALLIANCE_SMTP_URL": "smtps://mailer:hunter2-secret@r.org",
                                  "ALLIANCE_MAIL_FROM": "AK <noreply@ak.example.org>",
                                  "ALLIANCE_PUBLIC_URL": "https://ak.example.org",
                                  "ALLIANCE_SESSION_IDLE_MINUTES": "20",
                                  "ALLIANCE_SESSION_HOURS": "10"})
    assert settings.smtp_url is not None and "hunter2" not in repr(settings)
    assert (settings.mail_from, settings.public_url) == ("AK <noreply@ak.example.org>",
                                                         "https://ak.example.org")
    assert (settings.session_idle_minutes, settings.session_hours) == (20.0, 10.0)
    with pytest.raises(ValueError, match="SESSION_HOURS"):
        Settings.from_env({"ALLIANCE_SESSION_HOURS": "-1"})


@pytest.mark.parametrize("text", ["not an address", "a@example.org\nBcc: b@example.org",
                                  "A <a@b>"])
def test_a_bad_from_address_is_refused(text: str) -> None:
    with pytest.raises(SmtpUrlInvalid):
        Sender.parse(text)


def test_the_message_is_the_same_on_every_attempt() -> None:
    sender = Sender.parse("Alliance AK <noreply@AK.example.org>")
    mail = OutboxMail(mail_id="0123abcd", recipient="jane@example.org", subject="Renewal due",
                      text_body="Please renew.\n", html_body=None,
                      created_at=dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC), attempts=0)
    first, second = build_message(mail, sender), build_message(mail, sender)
    assert first.as_bytes() == second.as_bytes()
    assert first["Message-ID"] == message_id("0123abcd", sender) == "<0123abcd@ak.example.org>"
    assert first["Date"] == "Sun, 01 Mar 2026 09:00:00 +0000"
    assert first["To"] == "jane@example.org"
