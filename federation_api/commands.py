"""Running a staff command over HTTP: idempotency keys, optimistic versions, metrics.

A command with an `Idempotency-Key` header is answered from the stored response when retried;
`If-Match: <version>` makes a command fail with 409 if the record changed since it was read.
"""

from __future__ import annotations

import contextlib
import re
import threading
import uuid
from collections.abc import Callable

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

from domain.errors import InvalidCommand
from federation_api.clock import now
from federation_api.tokens import Principal

_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
_IDEMPOTENCY_NAMESPACE = uuid.UUID("0b7f3c52-3f6e-4a0e-9a3e-5b1f2d9c8e41")
# Serialises keyed commands so two concurrent retries of one key cannot both execute.
_lock = threading.Lock()


def expected_version(request: Request) -> int | None:
    """The version named by an `If-Match` header, if any."""
    value = request.headers.get("if-match")
    if value is None:
        return None
    value = value.strip().strip('"')
    if not value.isdigit():
        raise InvalidCommand("If-Match must be an aggregate version number", field="If-Match",
                             rule="header.if_match")
    return int(value)


def idempotency_key(request: Request) -> str | None:
    """The `Idempotency-Key` header, validated."""
    key = request.headers.get("idempotency-key")
    if key is not None and not _KEY.match(key):
        raise InvalidCommand("Idempotency-Key must be 1-200 printable ASCII characters",
                             field="Idempotency-Key", rule="header.idempotency_key")
    return key


def derived_id(principal: Principal, key: str | None) -> uuid.UUID:
    """A new aggregate's id: from the idempotency key when given, so a retry cannot create two."""
    if key is None:
        return uuid.uuid4()
    return uuid.uuid5(_IDEMPOTENCY_NAMESPACE, seed(principal, key) or "")


def seed(principal: Principal, key: str | None) -> str | None:
    """What ids of things a keyed command creates are derived from (None without a key)."""
    return None if key is None else f"{principal.token_id}:{key}"


def run(request: Request, principal: Principal, command: str, payload: BaseModel | None,
        produce: Callable[[], BaseModel], status: int = 200) -> Response:
    """Execute `produce` once per idempotency key and answer with its JSON."""
    node = request.app.state.node
    metrics = request.app.state.metrics
    key = idempotency_key(request)
    body = payload.model_dump_json().encode() if payload is not None else b""
    fingerprint = node.idempotency.fingerprint(request.method, request.url.path, body)
    with _lock if key else contextlib.nullcontext():
        if key is not None:
            recalled = node.idempotency.recall(principal.token_id, key, fingerprint)
            if recalled is not None:
                return Response(recalled[1], status_code=recalled[0],
                                media_type="application/json",
                                headers={"Idempotent-Replayed": "true"})
        try:
            result = produce()
        except Exception:
            metrics.commands.labels(command, "rejected").inc()
            raise
        metrics.commands.labels(command, "ok").inc()
        out = result.model_dump_json().encode()
        if key is not None:
            node.idempotency.remember(principal.token_id, key, fingerprint, status, out, now())
    return Response(out, status_code=status, media_type="application/json")
