"""A real SMTP server in-process (aiosmtpd) on a free loopback port, recording what it takes.

It stands in for the association's mail relay, which is outside the project. `refuse` lets a
test make it answer DATA with a reply of its choice (e.g. 451, then accept).
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        """The Message-ID header."""
        return str(self.message["Message-ID"])

    def text(self) -> str:
        """The plain text part."""
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        reply = self.sink.refuse(envelope) if self.sink.refuse else None
        if reply:
            self.sink.refused += 1
            return reply
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.sink.lock:
            self.sink.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos),
                                               parsed))
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpSink:
    """Start with `with SmtpSink() as sink:`; `sink.url` is the ALLIANCE_SMTP_URL to use."""

    def __init__(self, *, credentials: tuple[str, str] | None = None,
                 tls_context: ssl.SSLContext | None = None, utf8: bool = True) -> None:
        self.received: list[Received] = []
        self.refused = 0
        self.logins: list[str] = []
        self.lock = threading.Lock()
        self.refuse: Callable[[Any], str | None] | None = None
        self.port = free_port()
        kwargs: dict[str, Any] = {"enable_SMTPUTF8": utf8}
        if credentials is not None:
            def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                             data: Any) -> AuthResult:
                ok = (isinstance(data, LoginPassword) and data.login.decode() == credentials[0]
                      and data.password.decode() == credentials[1])
                if ok:
                    self.logins.append(data.login.decode())
                return AuthResult(success=ok)

            kwargs.update(authenticator=authenticate, auth_required=True,
                          auth_require_tls=tls_context is not None)
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                     **kwargs)

    @property
    def url(self) -> str:
        """Plain SMTP to this server."""
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Wait until `count` messages arrived; all received so far."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        raise AssertionError(f"{len(self.received)} of {count} messages arrived in {timeout} s")
