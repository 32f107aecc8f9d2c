"""The SMTP client: the stdlib's smtplib, configured by ALLIANCE_SMTP_URL.

Why smtplib rather than aiosmtplib: the sender runs in its own thread (it must keep going
while the event loop serves pages, and one message at a time is all an association sends),
so a blocking client is the simpler one, and it adds no dependency.

URL forms:

    smtp://host[:port]                 plain SMTP (port 25); only for a relay on loopback
    smtp://host:587?starttls=1         STARTTLS required (refuses a server that lacks it)
    smtps://host[:port]                TLS from the first byte (port 465)
    smtps://user:password@host         with AUTH LOGIN/PLAIN after TLS (user and password
                                       URL-encoded)

Options: `timeout=` seconds (30), `cafile=` a CA bundle for a relay with a private CA,
`helo=` the name to greet with (default: the domain of the From address). Certificates are
always verified. Credentials are sent only over TLS, except to a relay on loopback (a local
MTA), so a typo that drops `starttls=1` cannot put the password on the network in clear.

Nothing here logs: the sender logs message ids and reply codes, never the URL's password,
the recipients or the bodies. `SmtpUrl`'s repr is the redacted form.
"""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from federation_api.mail.errors import DeliveryFailed, SmtpUrlInvalid

_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class SmtpUrl:
    """A parsed ALLIANCE_SMTP_URL."""

    host: str
    port: int
    implicit_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    cafile: str | None = None
    helo: str | None = None

    @classmethod
    def parse(cls, url: str) -> SmtpUrl:
        """Parse and check a URL; SmtpUrlInvalid (never quoting the password) otherwise."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as e:
            raise SmtpUrlInvalid("ALLIANCE_SMTP_URL is not a valid URL") from e
        if parts.scheme not in ("smtp", "smtps"):
            raise SmtpUrlInvalid("ALLIANCE_SMTP_URL must start with smtp:// or smtps://")
        if not parts.hostname:
            raise SmtpUrlInvalid("ALLIANCE_SMTP_URL needs a host")
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(options) - {"starttls", "timeout", "cafile", "helo"}
        if unknown:
            raise SmtpUrlInvalid(f"ALLIANCE_SMTP_URL has unknown options: {sorted(unknown)}")
        implicit = parts.scheme == "smtps"
        starttls = options.get("starttls", "").lower() in _TRUE
        if implicit and starttls:
            raise SmtpUrlInvalid("smtps:// is TLS already; starttls=1 is for smtp://")
        try:
            timeout = float(options.get("timeout", "30"))
        except ValueError as e:
            raise SmtpUrlInvalid("ALLIANCE_SMTP_URL timeout must be a number of seconds") from e
        if not 0 < timeout <= 600:
            raise SmtpUrlInvalid("ALLIANCE_SMTP_URL timeout must be in (0, 600] seconds")
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        smtp = cls(host=parts.hostname, port=port or (465 if implicit else 25),
                   implicit_tls=implicit, starttls=starttls, username=username,
                   password=password, timeout=timeout, cafile=options.get("cafile"),
                   helo=options.get("helo"))
        if username and not (implicit or starttls or smtp.loopback):
            raise SmtpUrlInvalid("ALLIANCE_SMTP_URL has a user name but no TLS: add "
                                 "starttls=1 or use smtps:// so the password is not sent in "
                                 "clear")
        return smtp

    @property
    def loopback(self) -> bool:
        """Whether the relay is on this machine."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host.strip("[]")).is_loopback
        except ValueError:
            return False

    def redacted(self) -> str:
        """A description safe to log and show (no password)."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{self.username}@" if self.username else ""
        tls = " (starttls)" if self.starttls else ""
        return f"{scheme}://{user}{self.host}:{self.port}{tls}"

    def __repr__(self) -> str:
        return f"SmtpUrl({self.redacted()})"


class SmtpClient:
    """Opens connections to the configured relay."""

    def __init__(self, url: SmtpUrl, *, helo: str | None = None) -> None:
        self.url = url
        self.helo = url.helo or helo or "localhost"

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.url.cafile)

    @contextmanager
    def connect(self) -> Iterator[SmtpConnection]:
        """A connection, greeted, upgraded to TLS and logged in as configured; closed after.
        DeliveryFailed(connection=True) when the relay cannot be reached or refuses us."""
        url = self.url
        try:
            smtp: smtplib.SMTP
            if url.implicit_tls:
                smtp = smtplib.SMTP_SSL(url.host, url.port, local_hostname=self.helo,
                                        timeout=url.timeout, context=self._tls())
            else:
                smtp = smtplib.SMTP(url.host, url.port, local_hostname=self.helo,
                                    timeout=url.timeout)
        except (OSError, smtplib.SMTPException) as e:
            raise DeliveryFailed(f"cannot connect to {url.redacted()}: {_kind(e)}",
                                 connection=True) from e
        try:
            try:
                smtp.ehlo()
                if url.starttls:
                    if not smtp.has_extn("starttls"):
                        raise DeliveryFailed(f"{url.redacted()} does not offer STARTTLS",
                                             connection=True)
                    smtp.starttls(context=self._tls())
                    smtp.ehlo()
                if url.username:
                    smtp.login(url.username, url.password or "")
            except smtplib.SMTPAuthenticationError as e:
                raise DeliveryFailed(f"{url.redacted()} refused the user name or password "
                                     f"({e.smtp_code})", code=e.smtp_code,
                                     connection=True) from e
            except (OSError, smtplib.SMTPException) as e:
                raise DeliveryFailed(f"cannot start a session with {url.redacted()}: "
                                     f"{_kind(e)}", connection=True) from e
            yield SmtpConnection(smtp)
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


class SmtpConnection:
    """One open, greeted session with the relay."""

    def __init__(self, smtp: smtplib.SMTP) -> None:
        self._smtp = smtp

    def send(self, message: EmailMessage, *, envelope_from: str, recipient: str) -> None:
        """Hand one message to the relay; DeliveryFailed saying whether to try again."""
        try:
            self._smtp.send_message(message, from_addr=envelope_from, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as e:
            code, reply = next(iter(e.recipients.values()), (0, b""))
            raise DeliveryFailed(f"recipient refused: {code} {_reply(reply)}", code=code,
                                 permanent=500 <= code < 600) from e
        except smtplib.SMTPDataError as e:
            raise DeliveryFailed(f"message refused: {e.smtp_code} {_reply(e.smtp_error)}",
                                 code=e.smtp_code, permanent=500 <= e.smtp_code < 600) from e
        except smtplib.SMTPSenderRefused as e:
            # Our own From address refused: configuration, not this message; try again later.
            raise DeliveryFailed(f"sender address refused: {e.smtp_code} "
                                 f"{_reply(e.smtp_error)}", code=e.smtp_code) from e
        except smtplib.SMTPResponseException as e:
            raise DeliveryFailed(f"relay answered {e.smtp_code} {_reply(e.smtp_error)}",
                                 code=e.smtp_code) from e
        except (smtplib.SMTPNotSupportedError, UnicodeError) as e:
            # e.g. a non-ASCII address and a relay without SMTPUTF8: this message, for good.
            raise DeliveryFailed(f"the relay cannot take this message: {_kind(e)}",
                                 permanent=True) from e
        except (OSError, smtplib.SMTPException) as e:
            raise DeliveryFailed(f"connection lost: {_kind(e)}", connection=True) from e


def _reply(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())[:200]


def _kind(e: BaseException) -> str:
    if isinstance(e, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(e, ssl.SSLError):
        return f"TLS error ({e.reason or type(e).__name__})"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return type(e).__name__
