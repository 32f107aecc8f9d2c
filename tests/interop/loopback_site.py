"""A small HTTP server on 127.0.0.1 serving JSON documents at paths, as a node would serve its
DID document and status lists; tests change the documents between verifications."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Site:
    """The documents served (path -> bytes) and the paths requested so far."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.documents: dict[str, bytes] = {}
        self.requests: list[str] = []


@contextmanager
def running_site() -> Iterator[Site]:
    """Serve a new Site on a free loopback port until the block ends."""
    site = Site(0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            site.requests.append(self.path)
            body = site.documents.get(self.path)
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
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
