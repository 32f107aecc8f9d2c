"""A served node with a payment provider and a mail server, for the fees and reminders tests
(a fixtures module).

The node is real (SQLite files or a PostgreSQL schema), served by a real uvicorn server on a
loopback port in a thread, with its lifespan (the outbox sender delivers to the in-process
SMTP server). The provider is `FakeProvider`, a real HTTP service on another loopback port
that posts its signed callbacks to the node's callback route over a real socket.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from domain.levels import Level
from domain.policy import AssociationPolicy
from federation_api.clock import now, today
from federation_api.node.root import Node
from federation_api.node.setup import init_node
from federation_api.replication.nats_process import free_port
from federation_api.settings import Settings
from federation_api.web.app import create_app
from tests.integration.fake_payments import FakeProvider
from tests.integration.smtp_sink import SmtpSink

SECRET = b"fake provider secret, test only"
NAME = "Alaska Association for Infant and Early Childhood Mental Health"


@dataclass
class FeesWorld:
    """The served node, its URL, its mail server and its payment provider."""

    node: Node
    url: str
    sink: SmtpSink
    provider: FakeProvider

    def browser(self) -> httpx.Client:
        """A browser (its own cookie jar) on the served node."""
        return httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)

    def start_application(self, person_id: str = "AK-P-0701") -> str:
        """A new Level II application of this association; its id."""
        application_id = uuid.uuid4()
        self.node.service.start_application(
            application_id=application_id, person_id=person_id, family_name="Doe",
            given_name="Jane", level=Level.IFS, designation=None, started_on=today(),
            now=now())
        return str(application_id)


def _serve(node: Node) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port("127.0.0.1")
    server = uvicorn.Server(uvicorn.Config(create_app(node), host="127.0.0.1", port=port,
                                           log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, name="fees-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("uvicorn did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def fees_world(root: Path, database_url: str | None, *,
               reminder_days: tuple[int, ...] = (60, 30, 7),
               policy: AssociationPolicy | None = None) -> Iterator[FeesWorld]:
    """An initialised node served with a provider and a mail server until the block ends."""
    with SmtpSink() as sink, FakeProvider(SECRET) as provider:
        settings = Settings(data_dir=root / "ak", database_url=database_url,
                            smtp_url=sink.url, mail_from="Alliance AK <noreply@ak.example.org>",
                            public_url="http://testserver", payment_url=provider.url,
                            payment_secret=SECRET.decode(), reminder_days=reminder_days)
        init_node(settings, association="AK", name=NAME,
                  policy=policy or AssociationPolicy(), now=now())
        node = Node(settings)
        if node.status_lists is not None:
            node.status_lists.stop()  # its ledger entries are not what these tests are about
        server, thread, url = _serve(node)
        provider.callback_url = f"{url}/v1/payments/callback"
        try:
            yield FeesWorld(node=node, url=url, sink=sink, provider=provider)
        finally:
            server.should_exit = True
            thread.join(timeout=15)
            node.close()


def days_from_today(days: int) -> dt.date:
    """A date `days` from the server's today (negative: before)."""
    return today() + dt.timedelta(days=days)
