"""Structured JSON logs and Prometheus metrics.

Log records carry method, route, status and duration, never headers, query strings or bodies:
tokens, names and evidence therefore cannot reach a log line through the request logger.

Exceptions are the other way a request's contents could reach a log: the message of a
`ValueError` raised while handling `?status=...` carries the value, a database driver's error
carries the row it refused, an HTTP parser's error the header line it could not read. So no
log line ever holds an exception's message: `JsonFormatter` renders any exception (the node's,
uvicorn's "Exception in ASGI application", asyncio's) as its type and the places it passed
through (file, line, function) only, and `RequestObserver` answers an exception that escaped
every handler with a JSON 500 and logs it that way, instead of letting it reach uvicorn.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import time
import traceback
from types import TracebackType

from fastapi import FastAPI, Response
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from federation_api.web.errors import error_body
from federation_api.web.node_gauges import NodeGauges
from ledger.codec import encode_json_line

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the `extra` fields."""

    _second = -1
    _stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        """Local time to the second, formatted once per second (one line per request)."""
        second = int(record.created)
        if second != self._second:
            self._stamp = super().formatTime(record, datefmt)
            self._second = second  # after the stamp: a racing thread never pairs them wrongly
        return self._stamp

    def format(self, record: logging.LogRecord) -> str:
        """Render a record."""
        out: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD:
                out[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            out["exception"] = outline(record.exc_info[1])
        # msgspec: several times faster than json.dumps, and one line is logged per request.
        return encode_json_line(out).decode()


def outline(error: BaseException) -> str:
    """An exception as its type and the frames it was raised through, for each exception of
    its chain, without any message (messages can carry request values; see the module)."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__module__}.{type(current).__qualname__}"
                     f"{_frames(current.__traceback__)}")
        current = current.__cause__ or (None if current.__suppress_context__
                                        else current.__context__)
    return " <- ".join(parts)


def _frames(tb: TracebackType | None) -> str:
    frames = traceback.extract_tb(tb)
    if not frames:
        return ""
    return " at " + " > ".join(f"{_short(f.filename)}:{f.lineno} {f.name}" for f in frames)


def _short(path: str) -> str:
    # From the package directory on (site-packages/... or the project's own), not the machine's.
    parts = path.split(os.sep)
    for anchor in ("site-packages", "federation_api", "ledger", "domain", "projections"):
        if anchor in parts:
            index = parts.index(anchor)
            return "/".join(parts[index + (anchor == "site-packages"):])
    return parts[-1]


def configure_logging(level: str = "INFO") -> None:
    """Send every log record to stderr as JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = name != "uvicorn.access"


class Metrics:
    """The node's metrics, in a registry of its own (one per app, so tests do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("alliance_http_requests_total", "HTTP requests",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("alliance_http_request_seconds", "HTTP request latency",
                                 ["route"], registry=self.registry)
        self.commands = Counter("alliance_commands_total", "Commands by outcome",
                                ["command", "outcome"], registry=self.registry)
        self.ledger_head = Gauge("alliance_ledger_head_seq", "Last seq of each ledger",
                                 ["association"], registry=self.registry)
        self.quarantined = Gauge("alliance_quarantined_entries", "Peer entries refused",
                                 registry=self.registry)
        self.forked = Gauge("alliance_forked_associations", "Associations flagged for a fork",
                            registry=self.registry)
        self.projected = Gauge("alliance_projection_seq", "Last projected seq",
                               ["association"], registry=self.registry)
        # What the alerts of ops/prometheus/alerts.yml watch (issue 13); see NodeGauges.
        self.lapse_run = Gauge("alliance_lapse_run_last_success_timestamp_seconds",
                               "When the daily lapse run (POST /v1/lapses) last succeeded",
                               ["association"], registry=self.registry)
        self.gauges = NodeGauges(self.registry)
        # The collector's passes by generation (python_gc_*), and how much of the heap
        # `web.heap.settle` put out of its sight at start: a served node whose full
        # collections come every few seconds, or that froze nothing, answers late.
        GCCollector(registry=self.registry)
        Gauge("alliance_heap_frozen_objects", "Objects frozen at start (web/heap.py), never "
              "walked by the collector", registry=self.registry).set_function(
                  gc.get_freeze_count)

    def render(self) -> Response:
        """Prometheus text exposition."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class RequestObserver:
    """Pure ASGI middleware: log and count every request by its route template (never the raw
    path). Starlette's `BaseHTTPMiddleware` would run each request in an extra task with a
    streamed copy of the response, which measured about 200 us of a ~330 us verification."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = logging.getLogger("alliance.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request through, noting the status the app sends."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before it answers
        answered = False

        async def observed_send(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = message["status"]
                answered = True
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        except Exception as error:
            # Logged here without its message and not re-raised: the server's own error log
            # would print the message, which can hold a query value, a header or a body.
            self.log.error("unhandled error", extra={
                "method": scope["method"], "route": getattr(scope.get("route"), "path",
                                                            "unmatched"),
                "exception": outline(error)})
            if not answered:
                status = 500
                await _internal_error(send)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            elapsed = time.perf_counter() - started
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            self.log.info("request", extra={"method": method, "route": route,
                                            "status": status, "ms": round(elapsed * 1000, 2)})


async def _internal_error(send: Send) -> None:
    body = encode_json_line(error_body(
        "internal_error", "the node could not answer this request; the error is logged "
        "(without the request's contents)"))
    await send({"type": "http.response.start", "status": 500, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def install_request_logging(app: FastAPI, metrics: Metrics) -> None:
    """Log and count every request (see RequestObserver)."""
    app.add_middleware(RequestObserver, metrics=metrics)
