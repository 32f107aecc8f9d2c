"""The one place that maps errors to HTTP status codes and JSON bodies.

Bad input is 4xx with a body naming the field and the rule; a rejected command wrote nothing
(domain methods raise before any event is triggered, and nothing is saved on error).
"""

from __future__ import annotations

import logging

import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import DomainError, InvalidCommand, InvalidTransition, RequirementsUnmet
from domain.unmet import Unmet
from federation_api.node.idempotency import KeyReused
from ledger.errors import ConcurrencyConflict, LedgerBehind, NotFound, StorageError

log = logging.getLogger("alliance.http")


def error_body(code: str, message: str, *, field: str = "", rule: str = "",
               unmet: tuple[Unmet, ...] = ()) -> dict[str, object]:
    """The JSON shape of every error (see schemas.ErrorOut)."""
    return {"code": code, "message": message, "field": field, "rule": rule,
            "unmet": [{"code": u.code, "field": u.field, "reason": u.reason} for u in unmet]}


def _json(status: int, body: dict[str, object], headers: dict[str, str] | None = None
          ) -> JSONResponse:
    return JSONResponse(status_code=status, content=body, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        location = [str(p) for p in first.get("loc", ()) if p != "body"]
        return _json(422, error_body("invalid_request", str(first.get("msg", "invalid request")),
                                     field=".".join(location), rule=str(first.get("type", ""))))

    @app.exception_handler(msgspec.ValidationError)
    async def _msgspec(_: Request, exc: msgspec.ValidationError) -> JSONResponse:
        message = str(exc)
        field = message.rsplit("at `$.", 1)[-1].rstrip("`") if "at `$." in message else ""
        return _json(422, error_body("invalid_request", message, field=field, rule="type"))

    @app.exception_handler(RequirementsUnmet)
    async def _unmet(_: Request, exc: RequirementsUnmet) -> JSONResponse:
        unmet = tuple(u for u in exc.unmet if isinstance(u, Unmet))
        return _json(422, error_body("requirements_unmet", exc.message, field=exc.field,
                                     rule=exc.rule, unmet=unmet))

    @app.exception_handler(InvalidCommand)
    async def _invalid(_: Request, exc: InvalidCommand) -> JSONResponse:
        return _json(422, error_body("invalid_command", exc.message, field=exc.field,
                                     rule=exc.rule))

    @app.exception_handler(InvalidTransition)
    async def _transition(_: Request, exc: InvalidTransition) -> JSONResponse:
        return _json(409, error_body("invalid_transition", exc.message, field=exc.field,
                                     rule=exc.rule))

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return _json(422, error_body("domain_rule", exc.message, field=exc.field, rule=exc.rule))

    @app.exception_handler(ConcurrencyConflict)
    async def _conflict(_: Request, exc: ConcurrencyConflict) -> JSONResponse:
        return _json(409, error_body("conflict", str(exc), field="If-Match",
                                     rule="version.conflict"))

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _json(404, error_body("not_found", str(exc)))

    @app.exception_handler(KeyReused)
    async def _reused(_: Request, exc: KeyReused) -> JSONResponse:
        return _json(422, error_body("idempotency_key_reused", "this Idempotency-Key was used "
                                     "for a different request", field="Idempotency-Key",
                                     rule="idempotency.reused"))

    @app.exception_handler(LedgerBehind)
    async def _behind(_: Request, exc: LedgerBehind) -> JSONResponse:
        # Not the caller's fault and nothing was written: the node lost entries of its own
        # ledger (or has not yet asked its peers) and must get them back before it signs.
        log.error("ledger behind", extra={"error": str(exc)})
        return _json(503, error_body("ledger_behind", f"{exc}. {exc.recovery}",
                                     rule="ledger.behind"), headers={"Retry-After": "30"})

    @app.exception_handler(StorageError)
    async def _storage(_: Request, exc: StorageError) -> JSONResponse:
        # The type only: a driver's message can quote the values of the refused row.
        log.error("storage error", extra={"error": type(exc).__name__})
        return _json(503, error_body("unavailable", "storage is unavailable; retry later"),
                     headers={"Retry-After": "5"})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: "unauthenticated", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed"}.get(exc.status_code, "error")
        return _json(exc.status_code, error_body(code, str(exc.detail)),
                     headers=getattr(exc, "headers", None))
