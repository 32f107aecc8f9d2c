"""A fake payment provider: a real small HTTP service on loopback, standing in for the outside
payment service (a fixtures module).

It speaks the hosted-checkout protocol of `federation_api.fees.provider` from the other side,
with its own HMAC code (so the node's signing is not tested against itself):

- `GET /checkout?...&signature=...`: checks the node's signature over the request (400 if it
  fails: an amount edited in the address bar), and shows a page with "Pay" and "Decline".
- `POST /pay` (reference, outcome): "takes the money" and posts a signed callback to the
  node's `callback_url`, then sends the payer back to the checkout's return URL (303).

Every callback it sent is kept (`sent`: body, signature header, the node's status), so a test
can replay or alter one. `amount_offset` makes it report a different amount (a provider bug
or a tampered checkout), `clock_skew` signs with a shifted time.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

SIGNATURE_HEADER = "Alliance-Payment-Signature"


@dataclass(frozen=True)
class SentCallback:
    """One callback the provider posted, and what the node answered."""

    body: bytes
    signature: str
    status: int


def signature_for(secret: bytes, body: bytes, timestamp: int) -> str:
    """The header a provider sends with `body` at `timestamp`."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class FakeProvider:
    """Start with `with FakeProvider(secret) as provider:`; set `callback_url` before use."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.callback_url = ""
        self.checkouts: dict[str, dict[str, str]] = {}
        self.sent: list[SentCallback] = []
        self.refused_checkouts = 0
        self.amount_offset = 0
        self.clock_skew = 0
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeProvider:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def checkout_valid(self, query: str) -> dict[str, str] | None:
        """The checkout's fields if the node signed them, else None."""
        fields = dict(parse_qsl(query, keep_blank_values=True))
        signature = fields.pop("signature", "")
        canonical = urlencode(sorted(fields.items()))
        expected = hmac.new(self.secret, canonical.encode(), hashlib.sha256).hexdigest()
        return fields if hmac.compare_digest(expected, signature) else None

    def callback(self, reference: str, outcome: str) -> SentCallback:
        """Post the signed callback of a checkout's outcome to the node."""
        checkout = self.checkouts[reference]
        body = json.dumps({
            "event_id": f"evt_{uuid.uuid4().hex}", "reference": reference,
            "provider_reference": f"fake-{uuid.uuid4().hex[:12]}",
            "amount_cents": int(checkout["amount_cents"]) + self.amount_offset,
            "currency": checkout["currency"], "outcome": outcome}).encode()
        return self.post(body, signature_for(self.secret, body,
                                             int(time.time()) + self.clock_skew))

    def post(self, body: bytes, signature: str) -> SentCallback:
        """Post a callback body with a signature header as given (replays, alterations)."""
        answer = httpx.post(self.callback_url, content=body, timeout=10,
                            headers={SIGNATURE_HEADER: signature,
                                     "Content-Type": "application/json"})
        sent = SentCallback(body, signature, answer.status_code)
        with self.lock:
            self.sent.append(sent)
        return sent


def _handler(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def _answer(self, status: int, text: str, headers: dict[str, str] | None = None
                    ) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/checkout":
                return self._answer(404, "no such page")
            fields = provider.checkout_valid(parts.query)
            if fields is None:
                provider.refused_checkouts += 1
                return self._answer(400, "<p>This checkout's signature does not match.</p>")
            provider.checkouts[fields["reference"]] = fields
            amount = int(fields["amount_cents"])
            ref = html.escape(fields["reference"])
            return self._answer(200, f"""<!doctype html><html lang="en"><head>
<title>Fake payments: checkout</title></head><body><main>
<h1>Pay {amount // 100}.{amount % 100:02d} {html.escape(fields["currency"])}</h1>
<p>{html.escape(fields["description"])}</p>
<form method="post" action="/pay"><input type="hidden" name="reference" value="{ref}">
<button type="submit" name="outcome" value="paid">Pay</button>
<button type="submit" name="outcome" value="failed">Decline</button></form>
</main></body></html>""")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            reference = form.get("reference", "")
            if urlsplit(self.path).path != "/pay" or reference not in provider.checkouts:
                return self._answer(404, "no such checkout")
            provider.callback(reference, "paid" if form.get("outcome") == "paid" else "failed")
            return self._answer(303, "", {
                "Location": provider.checkouts[reference]["return_url"]})

    return Handler
