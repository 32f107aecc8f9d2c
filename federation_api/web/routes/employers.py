"""Employer endpoints: subscriptions (one or a CSV), the webhook, deliveries, the change feed.

Every endpoint needs an employer token and acts on that token's own rows only; staff tokens
are refused (403), because an employer's subscriptions are its business, not the
association's workflow. A subscription must match an endorsement id with its holder's last
name exactly as `/v1/verify` does, and a miss is the same 404, so nothing here enumerates.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from domain.levels import Level
from federation_api.accounts.tokens import Principal, Role
from federation_api.clock import now, today
from federation_api.node.root import Node
from federation_api.notifications.change_feed import public_fields
from federation_api.notifications.subscriptions import (
    MAX_CSV_BYTES,
    CsvRejected,
    SubscriptionRequest,
    check,
    parse_csv,
)
from federation_api.notifications.webhooks import WebhookUrlRejected, check_url
from federation_api.web.auth import GatedRoute, require
from federation_api.web.csv_files import write_csv
from federation_api.web.employer_schemas import (
    AttemptOut,
    ChangeOut,
    ChangesOut,
    CsvResultOut,
    DeliveriesOut,
    DeliveryOut,
    RowResult,
    SubscribeIn,
    SubscriptionItem,
    SubscriptionOut,
    SubscriptionsOut,
    WebhookIn,
    WebhookOut,
)
from federation_api.web.errors import error_body
from federation_api.web.rate_limits import row_budget_refusal
from federation_api.web.schemas import MAX_SEQ, errors
from projections.queries import fold_name

router = APIRouter(prefix="/v1", tags=["employers"], route_class=GatedRoute)
Employer = Annotated[Principal, Depends(require(Role.EMPLOYER))]
_NOT_FOUND = "no endorsement matches that id and last name"
_ERRORS: dict[int | str, dict[str, Any]] = errors(401, 403, 422)


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def _matches(node: Node, endorsement_id: str, last_name: str) -> SubscriptionOut | None:
    """The endorsement's public answer if the id and last name match, else None."""
    answer = node.projector.status_as_of(endorsement_id, today())
    if answer is None or fold_name(answer.family_name) != fold_name(last_name):
        return None
    level = Level(answer.level)
    return SubscriptionOut(endorsement_id=answer.endorsement_id,
                           name=f"{answer.given_name} {answer.family_name}", level=level,
                           level_title=level.title, association=answer.association,
                           status=str(answer.standing), valid_through=answer.valid_through,
                           subscribed_at="", created=False)


@router.post("/subscriptions", response_model=SubscriptionOut, status_code=201,
             responses={200: {"model": SubscriptionOut,
                              "description": "already subscribed"},
                        **errors(404, 429), **_ERRORS})
def subscribe(request: Request, body: SubscribeIn, employer: Employer) -> Response:
    """Subscribe to one professional's status changes (201; 200 if already subscribed)."""
    node = _node(request)
    if refusal := row_budget_refusal(request, employer.token_id, 1):
        return refusal
    endorsement_id = body.endorsement_id.upper()
    found = _matches(node, endorsement_id, body.last_name)
    if found is None:
        raise HTTPException(404, _NOT_FOUND)
    with node.notifier.subscribing():
        created = node.subscriptions.subscribe(employer.token_id, [endorsement_id], now())
    stored = node.subscriptions.get(employer.token_id, endorsement_id)
    assert stored is not None
    out = found.model_copy(update={"subscribed_at": stored.subscribed_at,
                                   "created": created[endorsement_id]})
    return JSONResponse(out.model_dump(mode="json"),
                        status_code=201 if created[endorsement_id] else 200)


_CSV_BODY = {"content": {"text/csv": {"schema": {"type": "string"}, "example":
                                      "endorsement_id,last_name\nAK-7Q4M2XKD,Doe\n"}},
             "required": True}


@router.post("/subscriptions/csv", response_class=Response,
             openapi_extra={"requestBody": _CSV_BODY},
             responses={200: {"model": CsvResultOut,
                              "description": "per-row results: JSON, or CSV (columns line, "
                                             "endorsement_id, result) with `format=csv` or "
                                             "`Accept: text/csv`",
                              "content": {"text/csv": {"schema": {"type": "string"}}}},
                        **errors(413, 415, 429), **_ERRORS})
async def subscribe_csv(request: Request, employer: Employer,
                        format: Annotated[Literal["json", "csv"] | None, Query(
                            description="Result format; default: from Accept, else json")
                        ] = None) -> Response:
    """Subscribe from a CSV (`endorsement_id,last_name` header, up to 5,000 rows).

    A malformed file is refused as a whole (422 naming the line and the field) and nothing
    is written; otherwise each row is subscribed, already subscribed, or not found.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("text/csv", "application/csv"):
        return JSONResponse(error_body("unsupported_media_type", "send the file as text/csv",
                                       field="Content-Type", rule="csv.media_type"), 415)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_CSV_BYTES:
        return _too_large()
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > MAX_CSV_BYTES:
            return _too_large()
    try:
        rows = parse_csv(bytes(data))
    except CsvRejected as e:
        body = error_body("invalid_csv", f"line {e.line}: {e.message}" if e.line else e.message,
                          field=e.field, rule=f"csv.{e.field}")
        body["line"] = e.line
        return JSONResponse(body, 422)
    if refusal := row_budget_refusal(request, employer.token_id, len(rows)):
        return refusal
    result = await run_in_threadpool(_subscribe_rows, _node(request), employer.token_id, rows)
    wants_csv = format == "csv" or (format is None and "text/csv" in
                                    request.headers.get("accept", ""))
    if wants_csv:
        text = write_csv(("line", "endorsement_id", "result"),
                         ((row.line, row.endorsement_id, row.result) for row in result.rows))
        return Response(text, media_type="text/csv; charset=utf-8")
    return JSONResponse(result.model_dump(mode="json"))


def _too_large() -> JSONResponse:
    return JSONResponse(error_body("too_large", f"the file is larger than {MAX_CSV_BYTES} bytes",
                                   field="body", rule="csv.size"), 413)


def _subscribe_rows(node: Node, employer: str, rows: list[SubscriptionRequest]) -> CsvResultOut:
    matched: list[tuple[SubscriptionRequest, str]] = []
    results: list[RowResult] = []
    for row in rows:
        endorsement_id = row.endorsement_id.upper()
        if _matches(node, endorsement_id, row.last_name) is not None:
            matched.append((row, endorsement_id))
    with node.notifier.subscribing():
        created = node.subscriptions.subscribe(employer, [e for _, e in matched], now())
    seen: set[str] = set()
    matched_lines = {row.line: endorsement_id for row, endorsement_id in matched}
    for row in rows:
        found = matched_lines.get(row.line)
        if found is None:
            results.append(RowResult(line=row.line, endorsement_id=row.endorsement_id,
                                     result="not_found"))
            continue
        new = created[found] and found not in seen
        seen.add(found)
        results.append(RowResult(line=row.line, endorsement_id=found,
                                 result="subscribed" if new else "already_subscribed"))
    return CsvResultOut(rows=results,
                        subscribed=sum(r.result == "subscribed" for r in results),
                        already_subscribed=sum(r.result == "already_subscribed" for r in results),
                        not_found=sum(r.result == "not_found" for r in results))


@router.get("/subscriptions", response_model=SubscriptionsOut, responses=_ERRORS)
def list_subscriptions(request: Request, employer: Employer,
                       after: Annotated[str, Query(max_length=40)] = "",
                       limit: Annotated[int, Query(ge=1, le=5000)] = 1000) -> SubscriptionsOut:
    """This employer's subscriptions, in endorsement-id order."""
    found = _node(request).subscriptions.list(employer.token_id, after=after.upper(),
                                              limit=limit)
    items = [SubscriptionItem(endorsement_id=s.endorsement_id, subscribed_at=s.subscribed_at)
             for s in found]
    return SubscriptionsOut(subscriptions=items,
                            next_after=items[-1].endorsement_id if len(items) == limit else None)


@router.delete("/subscriptions/{endorsement_id}", status_code=204,
               responses={**errors(404), **_ERRORS})
def unsubscribe(request: Request, endorsement_id: str, employer: Employer) -> Response:
    """Stop following one professional."""
    try:
        check(SubscriptionRequest(endorsement_id=endorsement_id, last_name="-"))
    except CsvRejected as e:
        raise HTTPException(404, "this employer has no subscription to that endorsement") from e
    if not _node(request).subscriptions.unsubscribe(employer.token_id, endorsement_id.upper()):
        raise HTTPException(404, "this employer has no subscription to that endorsement")
    return Response(status_code=204)


@router.put("/webhook", response_model=WebhookOut, status_code=200,
            responses={201: {"model": WebhookOut, "description": "registered, with the "
                                                                 "signing secret (shown once)"},
                       **_ERRORS})
def register_webhook(request: Request, body: WebhookIn, employer: Employer) -> Response:
    """Register (201, with the signing secret, shown once) or change the webhook URL.

    Deliveries are POSTed as JSON with `Alliance-Signature: t=<unix>,v1=<hex>` where v1 is
    HMAC-SHA256(secret, "<t>." + body), and `Alliance-Delivery-Id` to dedupe on.
    """
    node = _node(request)
    try:
        url = check_url(body.url.strip(), allow_private=node.settings.webhook_allow_private)
    except WebhookUrlRejected as e:
        return JSONResponse(error_body("invalid_request", str(e), field="url",
                                       rule="webhook.url"), 422)
    existed = node.webhooks.get(employer.token_id) is not None
    hook, secret = node.webhooks.register(employer.token_id, url, now(),
                                          rotate_secret=body.rotate_secret)
    out = WebhookOut(url=hook.url, created_at=hook.created_at, updated_at=hook.updated_at,
                     secret=secret)
    return JSONResponse(out.model_dump(mode="json"), status_code=200 if existed else 201,
                        headers={"Cache-Control": "no-store"})


@router.get("/webhook", response_model=WebhookOut, responses={**errors(404), **_ERRORS})
def get_webhook(request: Request, employer: Employer) -> WebhookOut:
    """The registered webhook (never the secret)."""
    hook = _node(request).webhooks.get(employer.token_id)
    if hook is None:
        raise HTTPException(404, "no webhook is registered")
    return WebhookOut(url=hook.url, created_at=hook.created_at, updated_at=hook.updated_at)


@router.delete("/webhook", status_code=204, responses={**errors(404), **_ERRORS})
def delete_webhook(request: Request, employer: Employer) -> Response:
    """Remove the webhook; the feed keeps working, pending deliveries fail."""
    if not _node(request).webhooks.remove(employer.token_id):
        raise HTTPException(404, "no webhook is registered")
    return Response(status_code=204)


@router.get("/deliveries", response_model=DeliveriesOut, responses=_ERRORS)
def deliveries(request: Request, employer: Employer,
               state: Annotated[Literal["pending", "delivered", "failed"] | None,
                                Query()] = None,
               after: Annotated[int, Query(ge=0, le=MAX_SEQ, description="A change id")] = 0,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> DeliveriesOut:
    """This employer's webhook deliveries with every attempt (status codes, errors)."""
    found = _node(request).webhooks.deliveries(employer.token_id, state=state, after=after,
                                               limit=limit)
    items = [DeliveryOut(delivery_id=d.delivery_id, change_id=d.change_id, state=d.state,
                         attempts=d.attempts, next_attempt_at=d.next_attempt_at,
                         created_at=d.created_at, finished_at=d.finished_at,
                         log=[AttemptOut(attempt=a.attempt, attempted_at=a.attempted_at,
                                         status_code=a.status_code, error=a.error)
                              for a in d.log]) for d in found]
    return DeliveriesOut(deliveries=items,
                         next_after=items[-1].change_id if len(items) == limit else None)


@router.get("/changes", response_model=ChangesOut, responses=_ERRORS)
def changes(request: Request, employer: Employer,
            cursor: Annotated[int, Query(ge=0, le=MAX_SEQ,
                                         description="next_cursor of the last answer; "
                                                     "0 for everything")] = 0,
            limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> ChangesOut:
    """Status changes of this employer's subscriptions after the cursor, oldest first."""
    found, next_cursor = _node(request).changes.since(employer.token_id, cursor, limit)
    return ChangesOut(changes=[ChangeOut.model_validate(public_fields(c)) for c in found],
                      next_cursor=next_cursor)
