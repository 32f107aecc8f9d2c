"""Fixtures of the interop tests: the npm verifier and a loopback HTTP server for the node's
documents (DID document, status lists)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.interop.js_stack import StackMissing, install


@dataclass(frozen=True)
class JsVerifier:
    """The node binary and the installed verifier script."""

    node: str
    script: Path


@pytest.fixture(scope="session")
def js_verifier() -> JsVerifier:
    """The installed verifier. Without node/npm the tests are skipped, visibly, except under
    CI, where the third-party check must run."""
    try:
        script = install() / "verify.mjs"
        return JsVerifier(node=str(shutil.which("node")), script=script)
    except StackMissing as missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing} (CI must run the interop tests)")
        pytest.skip(f"{missing}: interop tests not run")


class Site:
    """Documents served at paths; tests change them between verifications."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.documents: dict[str, bytes] = {}
        self.requests: list[str] = []


@pytest.fixture
def site() -> Iterator[Site]:
    """A loopback HTTP server on a free port, serving `Site.documents` as JSON."""
    served: dict[str, bytes] = {}
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            seen.append(self.path)
            body = served.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    result = Site(server.server_address[1])
    result.documents = served
    result.requests = seen
    try:
        yield result
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
