"""Running a staff command over HTTP: idempotency keys, optimistic versions, metrics.

A command with an `Idempotency-Key` header is answered from the stored response when retried;
`If-Match: <version>` makes a command fail with 409 if the record changed since it was read.

A retry gets the first attempt's answer whatever point that attempt died at. Before a keyed
command stores its events, the events it is about to store are recorded with the key (see
`federation_api.node.idempotency`); the answer is stored after the commit. A retry then finds:
- the stored answer: replayed;
- an intent whose events are all in the event store: the attempt committed but its answer
  was lost (a crash after the save and before the answer was stored, e.g. while sealing,
  projecting or answering). Whatever is not sealed yet is sealed, and the answer is built
  from the aggregates at the versions that attempt produced, so it names the same ids, is
  2xx, and nothing runs twice (no 409 from a version the attempt itself moved on, no
  "already granted", no second renewal);
- an intent whose events are not there, or nothing: the attempt never committed; it runs.
Ids that a keyed command creates are derived from the key besides, so even two attempts can
never create two different records.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Sequence

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

from domain.errors import InvalidCommand
from federation_api.accounts.audit_log import Actor
from federation_api.accounts.tokens import Principal
from federation_api.clock import now
from federation_api.web.audited import AuditedAction, client_of
from federation_api.web.observability import Metrics
from ledger.service import StoredMark

_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
_IDEMPOTENCY_NAMESPACE = uuid.UUID("0b7f3c52-3f6e-4a0e-9a3e-5b1f2d9c8e41")
# Serialises keyed commands so two concurrent retries of one key cannot both execute.
_lock = threading.Lock()

Answer = BaseModel | Sequence[BaseModel]
Versions = dict[uuid.UUID, int]  # aggregate id -> the version a command left it at


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
        produce: Callable[[], Answer], replay: Callable[[Versions], Answer],
        status: int = 200) -> Response:
    """Execute `produce` once per idempotency key and answer with its JSON.

    `replay` builds the same answer from the aggregates at the versions an attempt whose
    answer was lost left them at (for a retry after a crash).
    """
    node = request.app.state.node
    key = idempotency_key(request)
    # The actor is the token; one issued in the browser is entered under its issuer too.
    audited = AuditedAction(node, actor=Actor.token(principal.token_id, principal.issued_by),
                            action=command, target=request.url.path,
                            detail=f"{principal.role.value} token {principal.label!r}",
                            client=client_of(request))
    try:
        response = _execute(request, principal, command, payload, produce, replay, status, key)
    except Exception as e:
        audited.refused(e)
        raise
    replayed = response.headers.get("Idempotent-Replayed") == "true"
    audited.done("replayed the first attempt's answer" if replayed else None)
    return response


def _execute(request: Request, principal: Principal, command: str, payload: BaseModel | None,
             produce: Callable[[], Answer], replay: Callable[[Versions], Answer], status: int,
             key: str | None) -> Response:
    node = request.app.state.node
    metrics = request.app.state.metrics
    body = payload.model_dump_json().encode() if payload is not None else b""
    fingerprint = node.idempotency.fingerprint(request.method, request.url.path, body)
    if key is None:
        out = _run(metrics, command, produce)
        return Response(out, status_code=status, media_type="application/json")
    with _lock:
        recalled = node.idempotency.recall(principal.token_id, key, fingerprint)
        if recalled is not None and recalled.answered:
            return _replayed(recalled.status, recalled.body)
        if recalled is not None and node.service.landed(recalled.marks):
            node.service.settle()
            out = _json(replay(_versions(recalled.marks)))
            node.idempotency.remember(principal.token_id, key, fingerprint, status, out, now())
            metrics.commands.labels(command, "ok").inc()
            return _replayed(status, out)

        def intend(marks: tuple[StoredMark, ...]) -> None:
            node.idempotency.intend(principal.token_id, key, fingerprint, marks, now())

        try:
            with node.service.announcing(intend):
                out = _run(metrics, command, produce)
        except Exception:
            # Refused before its events were stored (or stored nothing): no intent to keep.
            # One whose events did land keeps it, so that a retry gets its answer.
            pending = node.idempotency.recall(principal.token_id, key, fingerprint)
            if pending is not None and not node.service.landed(pending.marks):
                node.idempotency.forget(principal.token_id, key)
            raise
        node.idempotency.remember(principal.token_id, key, fingerprint, status, out, now())
    return Response(out, status_code=status, media_type="application/json")


def _run(metrics: Metrics, command: str, produce: Callable[[], Answer]) -> bytes:
    try:
        result = produce()
    except Exception:
        metrics.commands.labels(command, "rejected").inc()
        raise
    metrics.commands.labels(command, "ok").inc()
    return _json(result)


def _json(answer: Answer) -> bytes:
    if isinstance(answer, BaseModel):
        return answer.model_dump_json().encode()
    return b"[" + b",".join(a.model_dump_json().encode() for a in answer) + b"]"


def _versions(marks: Sequence[StoredMark]) -> Versions:
    versions: Versions = {}
    for mark in marks:
        versions[mark.aggregate_id] = max(mark.version, versions.get(mark.aggregate_id, 0))
    return versions


def _replayed(status: int, body: bytes) -> Response:
    return Response(body, status_code=status, media_type="application/json",
                    headers={"Idempotent-Replayed": "true"})
