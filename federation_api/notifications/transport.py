"""The HTTP transport of webhook deliveries: it connects only to addresses it has checked.

Checking a host's addresses and then letting the HTTP client resolve the name again to
connect leaves a gap (DNS rebinding): a name can answer a public address to the check and
127.0.0.1 or 169.254.169.254 to the connection. Here the network backend resolves the name
itself, drops every non-public address (unless the node allows private destinations) and dials
an IP literal from what is left, so the address connected to is always one that was judged.
TLS still verifies the original host name: httpcore passes it to `start_tls` as the server
name separately from the host given to `connect_tcp`, and the Host header comes from the URL.

The transport is a small `httpx.AsyncBaseTransport` around `httpcore.AsyncConnectionPool`
(httpx's own transport does not take a network backend), mapping httpcore's errors to
httpx's so callers handle one family.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

from federation_api.notifications.webhooks import public_address

Resolver = Callable[[str, int], Awaitable[list[str]]]

REFUSED = "destination resolves to a non-public address"
UNRESOLVED = "host name does not resolve"


class NoAllowedAddress(httpcore.ConnectError):
    """The network backend found no address of the host it may dial (the message names no
    host). Raised inside httpcore's connection pool, which is why it is an httpcore error."""


class DestinationRefused(httpx.ConnectError):
    """What the transport raises to its httpx caller (the dispatcher) for NoAllowedAddress:
    the delivery was refused before connecting; the message is safe to record."""


async def system_resolve(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver, in its order (OSError if none)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, filters, then dials only IP literals through the inner backend."""

    def __init__(self, allow_private: Callable[[], bool], *,
                 resolve: Resolver = system_resolve,
                 inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.allow_private = allow_private
        self.resolve = resolve
        self.inner = inner if inner is not None else httpcore.AnyIOBackend()

    async def allowed_addresses(self, host: str, port: int) -> list[str]:
        """The host's addresses the node may connect to, in resolver order (refusal if none)."""
        try:
            addresses = await self.resolve(host, port)
        except (OSError, UnicodeError) as e:
            raise NoAllowedAddress(UNRESOLVED) from e
        allowed = addresses if self.allow_private() else [a for a in addresses if _public(a)]
        if not allowed:
            raise NoAllowedAddress(REFUSED if addresses else UNRESOLVED)
        return allowed

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        last: Exception | None = None
        for address in await self.allowed_addresses(host, port):
            try:
                return await self.inner.connect_tcp(address.split("%", 1)[0], port,
                                                    timeout=timeout,
                                                    local_address=local_address,
                                                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                last = e  # try the next checked address, as a resolver-driven client would
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise NoAllowedAddress("unix sockets are not webhook destinations")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def _public(address: str) -> bool:
    try:
        return public_address(address)
    except ValueError:
        return False


# httpcore's errors, most specific first, and the httpx error each becomes.
_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProxyError, httpx.ProxyError),
)


def _as_httpx(error: Exception) -> Exception:
    if isinstance(error, NoAllowedAddress):
        return DestinationRefused(str(error))
    for core, mapped in _ERRORS:
        if isinstance(error, core):
            return mapped(str(error))
    return error


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._stream:
                yield part
        except Exception as e:
            raise _as_httpx(e) from e

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            await self._stream.aclose()


class CheckedTransport(httpx.AsyncBaseTransport):
    """An httpx transport whose connections go only to checked addresses."""

    def __init__(self, backend: CheckedBackend, *, max_connections: int) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections, network_backend=backend)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                             port=request.url.port, target=request.url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions)
        try:
            response = await self._pool.handle_async_request(core)
        except Exception as e:
            raise _as_httpx(e) from e
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_Body(response.stream), extensions=response.extensions)

    async def aclose(self) -> None:
        await self._pool.aclose()
