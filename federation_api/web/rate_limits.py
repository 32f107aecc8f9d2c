"""Per-client rate limits on the public endpoints: token buckets and an ASGI middleware.

Why: public verification needs an endorsement id *and* the matching last name, so guessing is
already hopeless one request at a time; the limit makes it hopeless at scale too, and keeps a
scraper from taking the node's CPU from employers. A person checking a credential makes a
handful of requests a minute; the defaults (300 a minute after a burst of 120) are far above
that and far below what a scraper needs.

The client is the socket's peer address. `X-Forwarded-For` is honoured only when the peer is
one of the configured trusted proxies (otherwise anybody could name a fresh address in each
request and never be limited); then the client is the right-most address in the header that
is not itself a trusted proxy. IPv6 clients are counted by their /64 network.

Memory is bounded: at most `max_clients` buckets are kept. A bucket left alone long enough to
refill completely is the same as a new one, so dropping it loses nothing; when the table is
full anyway, the least recently used bucket goes first.
"""

from __future__ import annotations

import ipaddress
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from federation_api.rate_buckets import TokenBuckets
from federation_api.settings import IpNetwork, RateLimitSettings

# Paths counted against the per-client request budget: the public answers and pages (and the
# staff login form, where guesses would go). A prefix names a whole route family; "/" alone
# is the home page only, so the stylesheet under /static is never refused.
LIMITED_PREFIXES = ("/v1/verify", "/v1/status", "/v1/proofs/status", "/v1/receipts",
                    "/receipts/", "/verify", "/staff/login", "/v1/credentials")
LIMITED_EXACT = frozenset({"/"})


@dataclass
class RateLimits:
    """The node's limits: requests per client address, and bulk rows per caller."""

    settings: RateLimitSettings
    requests: TokenBuckets = field(init=False)
    bulk_rows: TokenBuckets = field(init=False)
    proxies: tuple[IpNetwork, ...] = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.requests = TokenBuckets(capacity=s.burst, per_second=s.requests_per_minute / 60,
                                     max_keys=s.max_clients)
        self.bulk_rows = TokenBuckets(capacity=s.bulk_rows_burst,
                                      per_second=s.bulk_rows_per_hour / 3600,
                                      max_keys=s.max_clients)
        self.proxies = s.networks()

    def client_of(self, scope: Scope) -> str:
        """The client of a request, as a bucket key (see the module docstring for proxies)."""
        peer = scope.get("client")
        address = str(peer[0]) if peer else "unknown"
        if not self.proxies or not self._trusted(address):
            return client_key(address)
        forwarded = [value.decode("latin-1") for name, value in scope.get("headers", ())
                     if name == b"x-forwarded-for"]
        hops = [h.strip() for h in ",".join(forwarded).split(",") if h.strip()]
        for hop in reversed(hops):
            if not _is_address(hop):
                break  # a malformed chain is not evidence of anything: the proxy is the client
            if not self._trusted(hop):
                return client_key(hop)
        return client_key(address)

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.proxies)


def client_key(address: str) -> str:
    """IPv4 addresses as they are; IPv6 by their /64, since one subscriber line usually gets
    a whole /64 and could otherwise take a fresh address (and budget) for every request."""
    if ":" not in address:
        return address
    try:
        ip = ipaddress.IPv6Address(address.split("%")[0])
    except ValueError:
        return address
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((ip, 64), strict=False))


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def retry_after(wait: float) -> str:
    """The Retry-After header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait))) if math.isfinite(wait) else "3600"


def too_many_body(message: str, *, field: str, rule: str) -> dict[str, Any]:
    """The JSON error of a 429 (the shape of `federation_api.web.errors.error_body`)."""
    return {"code": "rate_limited", "message": message, "field": field, "rule": rule,
            "unmet": []}


def row_budget_refusal(request: Request, token_id: str, rows: int) -> JSONResponse | None:
    """Charge `rows` answers to a token's row budget; the 429 to send when it is used up.

    Bulk verification and subscriptions draw on the same per-token budget: each row answers
    "does this id belong to this last name", so a token gets no more guesses by switching
    endpoints. Rows are charged to the token, apart from the per-address request budget:
    one bulk request is one request but thousands of answers."""
    limits: RateLimits | None = getattr(request.app.state, "rate_limits", None)
    if limits is None:
        return None
    wait = limits.bulk_rows.take(f"token:{token_id}", rows, time.monotonic())
    if not wait:
        return None
    seconds = retry_after(wait)
    return JSONResponse(too_many_body(
        f"this token has used its row budget; {rows:,} rows can be checked again in "
        f"{seconds} s", field="rows", rule="rate_limit.bulk_rows"),
        status_code=429, headers={"Retry-After": seconds, "Cache-Control": "no-store"})


def is_limited(path: str, prefixes: Sequence[str] = LIMITED_PREFIXES) -> bool:
    """Whether a request path counts against the public request budget."""
    return path in LIMITED_EXACT or path.startswith(tuple(prefixes))


class RateLimitMiddleware:
    """Pure ASGI middleware (no per-request task or body copy): one token per request to a
    limited path, 429 with Retry-After when the client's bucket is empty."""

    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Admit or refuse one request."""
        if scope["type"] != "http" or not is_limited(scope["path"]):
            await self.app(scope, receive, send)
            return
        wait = self.limits.requests.take(self.limits.client_of(scope), 1, time.monotonic())
        if wait == 0.0:
            await self.app(scope, receive, send)
            return
        seconds = retry_after(wait)
        body = json.dumps(too_many_body(
            f"too many requests from this address; retry after {seconds} s",
            field="client", rule="rate_limit.requests")).encode()
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"retry-after", seconds.encode()), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})


def install_rate_limits(app: FastAPI, settings: RateLimitSettings) -> RateLimits | None:
    """Limit the public paths of `app`; None (and no middleware at all) when disabled."""
    if not settings.enabled:
        return None
    limits = RateLimits(settings)
    app.add_middleware(RateLimitMiddleware, limits=limits)
    return limits
