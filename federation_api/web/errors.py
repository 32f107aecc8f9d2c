"""The one place that maps errors to HTTP status codes and JSON bodies: a table.

`ANSWERS` maps each exception class to the answer it gets (status, `{code, message, field,
rule, unmet}` body, headers); one handler looks an error up by its class's method resolution
order, so a subclass is answered by its own entry before its parent's. Bad input is 4xx with
a body naming the field and the rule; a rejected command wrote nothing (domain methods raise
before any event is triggered, and nothing is saved on error).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import DomainError, InvalidCommand, InvalidTransition, RequirementsUnmet
from domain.unmet import Unmet
from federation_api.node.idempotency import KeyReused
from ledger.errors import ConcurrencyConflict, LedgerBehind, LostToRestore, NotFound, StorageError

log = logging.getLogger("alliance.http")


def error_body(code: str, message: str, *, field: str = "", rule: str = "",
               unmet: tuple[Unmet, ...] = ()) -> dict[str, object]:
    """The JSON shape of every error (see schemas.ErrorOut)."""
    return {"code": code, "message": message, "field": field, "rule": rule,
            "unmet": [{"code": u.code, "field": u.field, "reason": u.reason} for u in unmet]}


@dataclass(frozen=True, slots=True)
class Answer:
    """The HTTP answer to one error: status, JSON body and any extra headers."""

    status: int
    body: dict[str, object]
    headers: dict[str, str] | None = None


def _validation(exc: Exception) -> Answer:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(p) for p in first.get("loc", ()) if p != "body"]
    return Answer(422, error_body("invalid_request", str(first.get("msg", "invalid request")),
                                  field=".".join(location), rule=str(first.get("type", ""))))


def _msgspec(exc: Exception) -> Answer:
    message = str(exc)
    field = message.rsplit("at `$.", 1)[-1].rstrip("`") if "at `$." in message else ""
    return Answer(422, error_body("invalid_request", message, field=field, rule="type"))


def _unmet(exc: Exception) -> Answer:
    assert isinstance(exc, RequirementsUnmet)
    unmet = tuple(u for u in exc.unmet if isinstance(u, Unmet))
    return Answer(422, error_body("requirements_unmet", exc.message, field=exc.field,
                                  rule=exc.rule, unmet=unmet))


def _domain(status: int, code: str) -> Callable[[Exception], Answer]:
    def answer(exc: Exception) -> Answer:
        assert isinstance(exc, DomainError)
        return Answer(status, error_body(code, exc.message, field=exc.field, rule=exc.rule))
    return answer


def _conflict(exc: Exception) -> Answer:
    return Answer(409, error_body("conflict", str(exc), field="If-Match",
                                  rule="version.conflict"))


def _lost_to_restore(exc: Exception) -> Answer:
    # A record changed after the backup the node was restored from: its entries are back,
    # its private events are not, so it is not changed again from the older version.
    return Answer(409, error_body("lost_to_restore", str(exc), rule="restore.events_lost"))


def _not_found(exc: Exception) -> Answer:
    return Answer(404, error_body("not_found", str(exc)))


def _reused(exc: Exception) -> Answer:
    return Answer(422, error_body("idempotency_key_reused", "this Idempotency-Key was used for a "
                                  "different request", field="Idempotency-Key",
                                  rule="idempotency.reused"))


def _behind(exc: Exception) -> Answer:
    # Not the caller's fault and nothing was written: the node lost entries of its own
    # ledger (or has not yet asked its peers) and must get them back before it signs.
    assert isinstance(exc, LedgerBehind)
    log.error("ledger behind", extra={"error": str(exc)})
    return Answer(503, error_body("ledger_behind", f"{exc}. {exc.recovery}",
                                  rule="ledger.behind"), headers={"Retry-After": "30"})


def _storage(exc: Exception) -> Answer:
    # The type only: a driver's message can quote the values of the refused row.
    log.error("storage error", extra={"error": type(exc).__name__})
    return Answer(503, error_body("unavailable", "storage is unavailable; retry later"),
                  headers={"Retry-After": "5"})


_HTTP_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed"}


def _http(exc: Exception) -> Answer:
    assert isinstance(exc, StarletteHTTPException)
    return Answer(exc.status_code, error_body(_HTTP_CODES.get(exc.status_code, "error"),
                                              str(exc.detail)),
                  headers=getattr(exc, "headers", None))


# Exception class -> its answer. An error is answered by the entry of its nearest class in
# its method resolution order (so RequirementsUnmet before DomainError, LedgerBehind before
# the storage and chain errors), exactly as Starlette chooses among registered handlers.
ANSWERS: dict[type[Exception], Callable[[Exception], Answer]] = {
    RequestValidationError: _validation,
    msgspec.ValidationError: _msgspec,
    RequirementsUnmet: _unmet,
    InvalidCommand: _domain(422, "invalid_command"),
    InvalidTransition: _domain(409, "invalid_transition"),
    DomainError: _domain(422, "domain_rule"),
    LostToRestore: _lost_to_restore,
    ConcurrencyConflict: _conflict,
    NotFound: _not_found,
    KeyReused: _reused,
    LedgerBehind: _behind,
    StorageError: _storage,
    StarletteHTTPException: _http,
}


def answer_for(exc: Exception) -> Answer:
    """The answer of the table entry nearest to the error's class (KeyError if none)."""
    for cls in type(exc).__mro__:
        rule = ANSWERS.get(cls)
        if rule is not None:
            return rule(exc)
    raise KeyError(type(exc).__name__)


async def _handle(_: Request, exc: Exception) -> JSONResponse:
    found = answer_for(exc)
    return JSONResponse(status_code=found.status, content=found.body, headers=found.headers)


def install(app: FastAPI) -> None:
    """Answer every error class of the table on `app`."""
    for cls in ANSWERS:
        app.add_exception_handler(cls, _handle)
