"""The webhook dispatcher: a background task that runs the notifier and delivers the outbox.

Each pass first brings the notifier up to the projections (so changes replicated from peers
are noticed even though no command ran here), then sends every due outbox row to its
employer's registered URL, signed, and records the attempt. The outbox is in the database, so
a restart resumes where the last recorded attempt left off; an attempt in flight when the
process died is sent again, with the same delivery id, for the receiver to dedupe.

Requests have bounded timeouts, never follow redirects (a 3xx is a failed attempt: a
redirect could point anywhere) and, unless the node allows private destinations, go only to
hosts whose every address is public; the connection itself dials only addresses its own
resolution judged public (webhook_transport), so a name that answers differently the second
time (DNS rebinding) cannot reach an internal host. Retries back off exponentially with
jitter up to a cap, for a bounded number of attempts. Errors are logged by kind, never with
the URL, the secret or the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
from urllib.parse import urlsplit

import httpx

from federation_api.clock import now
from federation_api.notifications.change_feed import Change, ChangeFeed, public_fields
from federation_api.notifications.notifier import Notifier
from federation_api.notifications.transport import (
    CheckedBackend,
    CheckedTransport,
    DestinationRefused,
    Resolver,
    system_resolve,
)
from federation_api.notifications.webhooks import (
    DELIVERED,
    DELIVERY_HEADER,
    EVENT,
    EVENT_HEADER,
    FAILED,
    PENDING,
    SIGNATURE_HEADER,
    Due,
    WebhookStore,
    public_address,
    public_host,
    sign,
)
from federation_api.settings import Settings
from ledger.codec import encode_json

log = logging.getLogger("alliance.webhooks")

PASS_SIZE = 100  # deliveries per pass
CONCURRENCY = 8  # requests in flight at once


def payload(change: Change, delivery_id: str) -> bytes:
    """The JSON body of a delivery: public fields of the change only."""
    return encode_json({"type": EVENT, "delivery_id": delivery_id,
                        "change": public_fields(change)})


def backoff_seconds(settings: Settings, attempt: int) -> float:
    """Delay after failed attempt number `attempt` (1-based): exponential, capped, jittered.

    The jitter (50-100% of the delay) spreads the retries of many deliveries that failed
    together (a receiver outage), so they do not all come back at once.
    """
    delay: float = min(settings.webhook_backoff_cap_seconds,
                       settings.webhook_backoff_seconds * 2.0 ** min(attempt - 1, 30))
    return delay * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret


class WebhookDispatcher:
    """Runs the notifier and delivers due webhooks until stopped."""

    def __init__(self, notifier: Notifier, webhooks: WebhookStore, feed: ChangeFeed,
                 settings: Settings, *, poll_seconds: float = 1.0,
                 user_agent: str = "alliance-node",
                 resolve: Resolver = system_resolve) -> None:
        self.notifier = notifier
        self.webhooks = webhooks
        self.feed = feed
        self.settings = settings
        self.poll_seconds = poll_seconds
        self.user_agent = user_agent
        self.resolve = resolve  # the system resolver; tests pass one that rebinds
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self.passes = 0
        self._last_pass_failed = False

    async def start(self) -> None:
        """Start the background task on the running loop."""
        self._loop = asyncio.get_running_loop()
        # httpx logs every request's full URL at INFO; a webhook URL may carry the receiver's
        # own token in its query, so those lines must never reach the node's log.
        httpx_log = logging.getLogger("httpx")
        httpx_log.setLevel(max(httpx_log.getEffectiveLevel(), logging.WARNING))
        timeout = self.settings.webhook_timeout_seconds
        # trust_env=False: no proxy or netrc from the environment decides where employer
        # data goes; follow_redirects=False: only the registered URL is ever called.
        # The transport resolves each host itself and connects only to the addresses it
        # checked (read from the settings per connection, like the check below).
        backend = CheckedBackend(lambda: self.settings.webhook_allow_private,
                                 resolve=self.resolve)
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False,
                                         trust_env=False,
                                         transport=CheckedTransport(
                                             backend, max_connections=CONCURRENCY))
        self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    def wake(self) -> None:
        """Thread-safe: new entries were committed; look for changes now."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self) -> None:
        """Stop the task (an attempt in flight is abandoned and retried after a restart)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # keep running; the outbox keeps what was not sent
                log.warning("webhook pass failed", extra={"error": type(e).__name__})
                self._last_pass_failed = True
            self._wake.clear()
            # After a failed pass the rows it could not record are still due now: waiting the
            # poll interval (not 0) keeps a fault that repeats from spinning the loop.
            timeout = self.poll_seconds if self._last_pass_failed else await self._sleep_for()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    async def _sleep_for(self) -> float:
        due = await asyncio.to_thread(self.webhooks.next_due_ms)
        if due is None:
            return self.poll_seconds
        return max(0.0, min(self.poll_seconds, due / 1000 - now().timestamp()))

    async def run_once(self) -> int:
        """One pass: notice changes, then deliver what is due; returns attempts made."""
        await asyncio.to_thread(self.notifier.catch_up)
        due = await asyncio.to_thread(self.webhooks.due, int(now().timestamp() * 1000), PASS_SIZE)
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(row: Due) -> None:
            async with limit:
                await self._deliver(row)

        # return_exceptions: one delivery's unexpected fault must not abandon the others of
        # the pass mid-flight (they would be sent again next pass: duplicates).
        results = await asyncio.gather(*(one(row) for row in due), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for error in errors:
            if isinstance(error, asyncio.CancelledError):
                raise error
            log.warning("webhook delivery not recorded", extra={"error": type(error).__name__})
        self._last_pass_failed = bool(errors)
        self.passes += 1
        return len(due)

    async def _deliver(self, due: Due) -> None:
        destination = await asyncio.to_thread(self.webhooks.destination, due.employer)
        change = await asyncio.to_thread(self.feed.get, due.change_id)
        status: int | None = None
        error: str | None
        if destination is None:
            error = "no webhook registered (removed, or the employer's token revoked)"
        elif change is None:
            error = "change not found"
        else:
            url, secret = destination
            try:
                status, error = await self._post(url, secret, payload(change, due.delivery_id),
                                                 due.delivery_id)
            except Exception as e:
                # Anything the resolver or the HTTP client raises for this URL (a host name
                # IDNA cannot encode, one httpx finds invalid...) is a failed attempt like
                # any other, so backoff and giving up apply; by kind only, never the URL.
                status, error = None, f"request failed ({type(e).__name__})"
        attempt = due.attempts + 1
        at = now()
        if error is None:
            state, next_ms = DELIVERED, int(at.timestamp() * 1000)
        elif destination is None or attempt >= self.settings.webhook_max_attempts:
            # No webhook any more: the employer removed it; retrying cannot help.
            state, next_ms = FAILED, int(at.timestamp() * 1000)
        else:
            state = PENDING
            next_ms = int((at + dt.timedelta(seconds=backoff_seconds(self.settings, attempt))
                           ).timestamp() * 1000)
        await asyncio.to_thread(self.webhooks.record, due, at=at, status_code=status,
                                error=error, state=state, next_attempt_ms=next_ms)
        if error is not None:
            log.info("webhook attempt failed", extra={"delivery_id": due.delivery_id,
                                                      "attempt": attempt, "error": error})

    async def _post(self, url: str, secret: str, body: bytes,
                    delivery_id: str) -> tuple[int | None, str | None]:
        """(status code, error); error None means delivered (2xx)."""
        assert self._client is not None
        refused = await self._refused_destination(url)
        if refused is not None:
            return None, refused
        headers = {"Content-Type": "application/json", "User-Agent": self.user_agent,
                   DELIVERY_HEADER: delivery_id, EVENT_HEADER: EVENT,
                   SIGNATURE_HEADER: sign(secret, int(now().timestamp()), body)}
        try:
            # The overall bound covers a receiver that trickles its answer byte by byte.
            async with asyncio.timeout(self.settings.webhook_timeout_seconds * 2):
                async with self._client.stream("POST", url, content=body,
                                               headers=headers) as response:
                    status = response.status_code  # the body is never read
        except DestinationRefused as e:
            return None, str(e)  # says why, never which host
        except (TimeoutError, httpx.TimeoutException):
            return None, "timed out"
        except httpx.ConnectError:
            return None, "connection failed"
        except httpx.HTTPError as e:
            return None, f"request failed ({type(e).__name__})"
        if 200 <= status < 300:
            return status, None
        if 300 <= status < 400:
            return status, f"HTTP {status}: redirects are not followed"
        return status, f"HTTP {status}"

    async def _refused_destination(self, url: str) -> str | None:
        """Why the URL's host may not be called now, or None (DNS is checked per attempt)."""
        if self.settings.webhook_allow_private:
            return None
        parts = urlsplit(url)
        host = parts.hostname or ""
        if not public_host(host):
            return "destination is not a public host"
        try:
            addresses = set(await self.resolve(host, parts.port or 443))
        except OSError:
            return "host name does not resolve"
        # Mixed answers are refused outright; the transport resolves again to connect and
        # dials only public addresses of that answer, so a rebinding name gets nowhere.
        if not addresses or not all(public_address(a) for a in addresses):
            return "destination resolves to a non-public address"
        return None
