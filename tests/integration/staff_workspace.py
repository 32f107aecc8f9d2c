"""A node with its staff workspace and a real SMTP server, for the staff page tests (a
fixtures module).

The node is real (signing key, SQLite files or a PostgreSQL schema), its app runs with its
lifespan (so the outbox sender thread delivers to the in-process SMTP server), and the
browser is Starlette's test client, which keeps cookies as a browser does.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fastapi.testclient import TestClient

from domain.policy import AssociationPolicy
from federation_api.clock import now
from federation_api.node.local_alliance import admit, distribute
from federation_api.node.root import Node
from federation_api.node.setup import NodePaths, init_node
from federation_api.settings import Settings
from federation_api.web.app import create_app
from ledger.signing import Signer
from ledger.trust.registry import Action, Genesis
from ledger.trust.registry_files import RegistryDir
from tests.integration.smtp_sink import Received, SmtpSink

PUBLIC_URL = "http://testserver"
NAMES = {"AK": "Alaska Association for Infant and Early Childhood Mental Health",
         "MI": "Michigan Association for Infant Mental Health"}


@dataclass
class Workspace:
    """A served node, its SMTP server, and browsers (test clients) opened on its app."""

    node: Node
    sink: SmtpSink
    stack: contextlib.ExitStack
    browsers: list[TestClient] = field(default_factory=list)
    main: TestClient = field(init=False)

    def browser(self, *, https: bool = False) -> TestClient:
        """A new browser (its own cookie jar) on the node's app."""
        client = TestClient(self.main.app, base_url="https://testserver" if https
                            else "http://testserver", follow_redirects=False)
        self.browsers.append(client)
        return client

    def mail_to(self, recipient: str, count: int = 1, timeout: float = 20.0) -> list[Received]:
        """The messages the SMTP server took for `recipient`, once `count` have arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.sink.lock:
                found = [m for m in self.sink.received if recipient in m.rcpt_tos]
            if len(found) >= count:
                return found
            time.sleep(0.01)
        raise AssertionError(f"{count} messages to {recipient} did not arrive in {timeout} s")

    def head(self) -> tuple[int, bytes] | None:
        """The node's own ledger head (refused posts must not move it)."""
        return self.node.ledger.head(self.node.association)


@contextlib.contextmanager
def workspace(root: Path, database_url: str | None, association: str = "AK", *,
              registered: bool = False) -> Iterator[Workspace]:
    """An initialised node served by its app (with its lifespan) until the block ends;
    `registered`: admitted to a one-node Alliance trust registry (receipts need one)."""
    with contextlib.ExitStack() as stack:
        sink = stack.enter_context(SmtpSink())
        settings = Settings(data_dir=root / association.lower(), database_url=database_url,
                            smtp_url=sink.url, mail_from=f"Alliance {association} "
                                                         f"<noreply@{association.lower()}."
                                                         f"example.org>",
                            public_url=PUBLIC_URL)
        init_node(settings, association=association, name=NAMES[association],
                  policy=AssociationPolicy(), now=now())
        if registered:
            _register(root, settings, association)
        node = Node(settings)
        stack.callback(node.close)
        ws = Workspace(node=node, sink=sink, stack=stack)
        ws.main = stack.enter_context(TestClient(create_app(node), follow_redirects=False))
        if node.status_lists is not None:
            # These tests read the ledger head around each post; the status-list publisher's
            # versions are ledger entries of their own, recorded a moment after a command in
            # the background, so they would land between two readings. Its behaviour is
            # tested in tests/integration/test_credentials.py.
            node.status_lists.stop()
        yield ws


def _register(root: Path, settings: Settings, association: str) -> None:
    """A one-node Alliance registry (its own governance key) admitting the node's key."""
    registry = RegistryDir(root / "registry")
    governance, founded = Signer.generate(), now() - dt.timedelta(days=1)
    registry.create(Genesis(alliance="Test Alliance", governance_keys=(governance.public_key,),
                            threshold=1, created_at=founded))
    public = Signer.load(NodePaths(settings.data_dir).signing_key).public_key
    admit(registry, governance, Action.ADMIT, issued_at=founded, association=association,
          name=NAMES[association], public_key=public, effective_at=founded)
    distribute(registry, [settings.data_dir])
