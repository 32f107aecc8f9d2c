"""An employer's webhook receiver for tests: a real HTTP server on a loopback port, in a thread.

It does what the README tells receivers to do, written here independently of the node's code:
verify `Alliance-Signature` (HMAC-SHA256 over "<t>." + body with the secret), then process
each delivery id once. It can be stopped and started again on the same port (an outage),
answer errors for a while, or answer slowly after processing (so a node can die before it
hears that a delivery landed, and must send it again).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from federation_api.replication.nats_process import free_port


class Receiver:
    """Records every request, processes each delivery id once."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/alliance?via=test"
        self.secret = ""
        self.delay = 0.0
        self.fail_remaining = 0
        self.fail_status = 503
        self.requests = 0
        self.bad_signatures = 0
        self.processed: dict[str, dict[str, Any]] = {}  # delivery id -> change (first seen)
        self.processed_changes: Counter[int] = Counter()  # change id -> times processed
        self.duplicates = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Receiver:
        """Listen (again) on the same port."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, *_: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port: the node's attempts now fail to connect."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length", "0"))
        body = request.rfile.read(length)
        with self._lock:
            self.requests += 1
            failing = self.fail_remaining > 0
            if failing:
                self.fail_remaining -= 1
        if failing:
            self._answer(request, self.fail_status)
            return
        if not self._signed(request.headers.get("Alliance-Signature", ""), body):
            with self._lock:
                self.bad_signatures += 1
            self._answer(request, 401)
            return
        delivery_id = request.headers.get("Alliance-Delivery-Id", "")
        payload = json.loads(body)
        with self._lock:
            if delivery_id in self.processed:
                self.duplicates += 1  # seen before: acknowledge, do not process again
            else:
                self.processed[delivery_id] = payload["change"]
                self.processed_changes[payload["change"]["change_id"]] += 1
        if self.delay:  # processed, but the sender hears of it only later (or never)
            time.sleep(self.delay)
        self._answer(request, 204)

    def _signed(self, header: str, body: bytes) -> bool:
        fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        timestamp = fields.get("t", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return False
        expected = hmac.new(self.secret.encode(), timestamp.encode() + b"." + body,
                            hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, fields.get("v1", ""))

    @staticmethod
    def _answer(request: BaseHTTPRequestHandler, status: int) -> None:
        try:
            request.send_response(status)
            request.send_header("Content-Length", "0")
            request.end_headers()
        except OSError:
            pass  # the sender died waiting (a node killed mid-request): nobody to answer

    def changes(self) -> list[dict[str, Any]]:
        """Processed changes in change-id order."""
        with self._lock:
            return sorted(self.processed.values(), key=lambda c: c["change_id"])
