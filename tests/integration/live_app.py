"""A node's real app served by a real uvicorn server on a loopback port, in a thread.

The public-endpoint tests (bulk, rate limits, privacy) need real sockets: the rate limiter
keys clients by the socket's peer address, and `X-Forwarded-For` only counts from a trusted
proxy's address. A node seeded with the demo history answers.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import uvicorn

from federation_api.accounts.tokens import Role
from federation_api.clock import now, today
from federation_api.demo.seed import seed
from federation_api.node.local_alliance import found_alliance
from federation_api.node.root import Node
from federation_api.replication.nats_process import free_port
from federation_api.settings import RateLimitSettings
from federation_api.web.app import create_app
from federation_api.web.tls import TlsFiles
from ledger.signing import Signer


@dataclass
class LiveNode:
    """A seeded node, its server's base URL and the ids of the seeded endorsements."""

    node: Node
    url: str
    ids: dict[str, str]

    def client(self, **headers: str) -> httpx.Client:
        """An HTTP client for the server."""
        return httpx.Client(base_url=self.url, timeout=30, headers=headers)

    def token(self, role: Role) -> dict[str, str]:
        """The Authorization header of a new token with `role`."""
        _, secret = self.node.tokens.issue(label=f"test {role.value}", role=role, now=now())
        return {"Authorization": f"Bearer {secret}"}


@contextmanager
def live_node(tmp_path: Path, limits: RateLimitSettings | None = None,
              host: str = "127.0.0.1",
              tls: tuple[Path, Path] | None = None) -> Iterator[LiveNode]:
    """An initialised, seeded node served on `host` until the block ends; over HTTPS with
    `tls` (a certificate and key file)."""
    # A one-association Alliance (registry, admitted node), so receipts and proofs can answer.
    founded = found_alliance(tmp_path, {"AK": "Alaska"}, Signer.generate(), alliance="Test",
                             created=now() - dt.timedelta(days=1))
    settings = replace(founded["AK"], rate_limits=limits or RateLimitSettings())
    node = Node(settings)
    ids = seed(node, today())
    port = free_port(host)
    files = TlsFiles.checked(*tls) if tls else None
    server = uvicorn.Server(uvicorn.Config(create_app(node, tls=files), host=host, port=port,
                                           log_config=None, access_log=False,
                                           proxy_headers=False,
                                           ssl_certfile=str(tls[0]) if tls else None,
                                           ssl_keyfile=str(tls[1]) if tls else None))
    thread = threading.Thread(target=server.run, name="live-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield LiveNode(node=node, url=f"{'https' if tls else 'http'}://{host}:{port}", ids=ids)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        node.close()
