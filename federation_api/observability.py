"""Structured JSON logs and Prometheus metrics.

Log records carry method, route, status and duration, never headers, query strings or bodies:
tokens, names and evidence therefore cannot reach a log line through the request logger.
"""

from __future__ import annotations

import logging
import sys
import time

from fastapi import FastAPI, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        # msgspec: several times faster than json.dumps, and one line is logged per request.
        return encode_json_line(out).decode()


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

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            elapsed = time.perf_counter() - started
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            self.log.info("request", extra={"method": method, "route": route,
                                            "status": status, "ms": round(elapsed * 1000, 2)})


def install_request_logging(app: FastAPI, metrics: Metrics) -> None:
    """Log and count every request (see RequestObserver)."""
    app.add_middleware(RequestObserver, metrics=metrics)
