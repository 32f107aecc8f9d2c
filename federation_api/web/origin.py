"""The origin a request was made to (scheme and host), and HSTS on every HTTPS answer.

A node serves HTTPS itself (`alliance serve --tls-cert F --tls-key F`: uvicorn then sets the
request's scheme to `https`) or sits behind a reverse proxy that ends TLS and talks plain HTTP
to it. In the second case only the proxy knows the scheme and host the browser used, and it
says so in `Forwarded` (RFC 7239) or `X-Forwarded-Proto` / `X-Forwarded-Host`.

Those headers are honoured only when the socket's peer is one of the trusted proxies
(ALLIANCE_TRUSTED_PROXIES, the same list the rate limits use to read `X-Forwarded-For`):
anybody else could claim `https` over plain HTTP and get `Secure` cookies and HSTS sent over
an unencrypted link, or name a host of their choosing in URLs the node builds. Through a chain
of trusted proxies the element written by the outermost one (the one that met the client)
counts, found the way the rate limiter finds the client: walking from the right while the
hop is itself a trusted proxy.

What follows from the origin: `request.url` (so redirects and the staff pages' `Secure`
cookie flag) and `Strict-Transport-Security`, sent on every answer whose origin is HTTPS and
never on plain HTTP (RFC 6797 8.1: a browser ignores it there, and a proxy's plain-HTTP hop
must not be told to pin HTTPS).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from federation_api.settings import IpNetwork

# Two years. Not includeSubDomains: a node often lives on a name under an association's own
# domain, and pinning every sibling name (an old HTTP-only intranet page) is the domain
# owner's decision, made at the apex, not the node's. Only HTTPS answers carry it, so a node
# reached over plain HTTP on a test machine is never pinned.
HSTS_VALUE = b"max-age=63072000"
_SCHEMES = frozenset({"http", "https"})
# A host as it may appear in a URL's authority: a DNS name or IPv4 address, or a bracketed
# IPv6 address, with an optional port. Anything else (spaces, slashes, '@') is ignored.
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$")
_Trust = Callable[[str], bool]


class ForwardedOrigin:
    """Pure ASGI middleware: apply a trusted proxy's scheme and host to the request, and add
    HSTS to every HTTPS answer (see the module docstring)."""

    def __init__(self, app: ASGIApp, proxies: Sequence[IpNetwork] = ()) -> None:
        self.app = app
        self.proxies = tuple(proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Rewrite the scope's origin if a trusted proxy names it; mark HTTPS answers."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = self.origin_of(scope)
        if scope["scheme"] != "https":
            await self.app(scope, receive, send)
            return

        async def with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ())
                           if k.lower() != b"strict-transport-security"]
                message = {**message, "headers": [*headers,
                                                  (b"strict-transport-security", HSTS_VALUE)]}
            await send(message)

        await self.app(scope, receive, with_hsts)

    def origin_of(self, scope: Scope) -> Scope:
        """The scope with the scheme and host a trusted proxy reports; unchanged otherwise."""
        peer = scope.get("client")
        if not self.proxies or not peer or not self.trusted(str(peer[0])):
            return scope
        headers = _headers(scope["headers"])
        # Forwarded (the standard) wins when it says anything; an empty one does not hide
        # the X-Forwarded-* headers of a proxy that sends both.
        proto, host = (_from_forwarded(headers["forwarded"], self.trusted)
                       if _split(headers.get("forwarded", [])) else
                       _from_x_forwarded(headers, self.trusted))
        changed = dict(scope)
        if proto is not None and proto.lower() in _SCHEMES:
            changed["scheme"] = proto.lower()
        if host is not None and _HOST.match(host):
            changed["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"host"]
            changed["headers"].append((b"host", host.encode("ascii")))
        return changed

    def trusted(self, address: str) -> bool:
        """Whether `address` is one of the trusted proxies."""
        try:
            ip = ipaddress.ip_address(address.strip("[]").split("%")[0])
        except ValueError:
            return False
        return any(ip in network for network in self.proxies)


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in raw:
        out.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return out


def _split(values: list[str]) -> list[str]:
    return [part.strip() for part in ",".join(values).split(",") if part.strip()]


def _from_forwarded(values: list[str], trusted: _Trust) -> tuple[str | None, str | None]:
    """RFC 7239: `Forwarded: for=1.2.3.4;proto=https;host=example.org, for=10.0.0.2`."""
    elements = [_pairs(element) for element in _split(values)]
    chosen: dict[str, str] = {}
    for element in reversed(elements):
        chosen = element
        client = element.get("for", "")
        # An obfuscated or unknown `for` is no trusted proxy: the walk stops there.
        if not trusted(_node_address(client)):
            break
    return chosen.get("proto"), chosen.get("host")


def _pairs(element: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in element.split(";"):
        name, sep, value = pair.partition("=")
        if sep:
            out[name.strip().lower()] = value.strip().strip('"')
    return out


def _node_address(node: str) -> str:
    # `for="[2001:db8::1]:4711"`, `for=192.0.2.60:8080` or `for=192.0.2.60`.
    if node.startswith("["):
        return node[1:node.find("]")] if "]" in node else node
    return node.rsplit(":", 1)[0] if node.count(":") == 1 else node


def _from_x_forwarded(headers: dict[str, list[str]],
                      trusted: _Trust) -> tuple[str | None, str | None]:
    """`X-Forwarded-Proto` / `X-Forwarded-Host`: one value each (a proxy that sets them
    overwrites), or one per hop of `X-Forwarded-For`, counted from the right."""
    hops = _split(headers.get("x-forwarded-for", []))
    steps = 0  # trusted proxies between the peer and the client, the peer not counted
    for hop in reversed(hops):
        if not trusted(hop):
            break
        steps += 1
    return (_pick(_split(headers.get("x-forwarded-proto", [])), steps),
            _pick(_split(headers.get("x-forwarded-host", [])), steps))


def _pick(values: list[str], steps: int) -> str | None:
    if not values:
        return None
    return values[max(0, len(values) - 1 - steps)]



def install_origin(app: FastAPI, proxies: Sequence[IpNetwork]) -> None:
    """Add `ForwardedOrigin` to `app`: called last, so it is the outermost middleware and every
    other one (and the request logger) sees the origin it settles."""
    app.add_middleware(ForwardedOrigin, proxies=tuple(proxies))
