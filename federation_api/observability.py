"""Structured JSON logs and Prometheus metrics.

Log records carry method, route, status and duration, never headers, query strings or bodies:
tokens, names and evidence therefore cannot reach a log line through the request logger.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the `extra` fields."""

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
        return json.dumps(out, default=str)


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


def install_request_logging(app: FastAPI, metrics: Metrics) -> None:
    """Log and count every request by its route template (never the raw path)."""
    log = logging.getLogger("alliance.access")

    @app.middleware("http")
    async def _observe(request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        elapsed = time.perf_counter() - started
        metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        metrics.latency.labels(route).observe(elapsed)
        log.info("request", extra={"method": request.method, "route": route,
                                   "status": response.status_code,
                                   "ms": round(elapsed * 1000, 2)})
        return response
