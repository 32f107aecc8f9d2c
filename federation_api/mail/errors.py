"""The mail package's errors."""

from __future__ import annotations

from federation_api.errors import EdgeError


class MailError(EdgeError):
    """Root of the mail errors."""


class MailRejected(MailError, ValueError):
    """A message cannot be queued: a malformed recipient, a header with a line break, an empty
    body. Callers validate their input first; this is the last guard against header
    injection."""


class SmtpUrlInvalid(MailError, ValueError):
    """ALLIANCE_SMTP_URL (or ALLIANCE_MAIL_FROM) cannot be used; the message says why and never
    repeats a password."""


class DeliveryFailed(MailError):
    """The SMTP server did not take a message. `permanent` when it refused it for good (a 5xx
    reply to the recipient or the content); otherwise it is tried again later. `connection`
    when the connection itself is gone, so the rest of a batch waits for the next pass."""

    def __init__(self, message: str, *, code: int | None = None, permanent: bool = False,
                 connection: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.permanent = permanent
        self.connection = connection
