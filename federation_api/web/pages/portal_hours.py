"""The professional's hours log in the portal: training and RS/C received, entered as they
happen, so the renewal finds the year's hours already there (`portal.hours_log`).

Behind the portal gate; every read and write names the signed-in account, so an entry id of
another account answers 404 exactly like one that does not exist, and nothing is removed.
Bad input is written next to its field and nothing is stored. `install` opens the log and
the portal's renewal records on the node database.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from federation_api.clock import now, today
from federation_api.portal.errors import NotYours, PortalError
from federation_api.portal.hours_log import HoursKind, HoursLog, parse_entry
from federation_api.portal.renewal import RenewalRecords
from federation_api.web.pages.portal_session import Member, PortalMember, not_found, page_context
from federation_api.web.pages.templating import SECURITY_HEADERS, render

router = APIRouter(prefix="/portal", include_in_schema=False)
HOURS_PATH = "/portal/hours"
_FIELDS = ("kind", "done_on", "hours", "provider", "description", "rsc_topic")


def install(app: FastAPI) -> None:
    """Open the hours log and the renewal records on the node database (the accounts' and
    the outbox's), so an action's rows and its audit entry commit together."""
    db = app.state.node.accounts.store.db
    app.state.hours_log = HoursLog(db)
    app.state.renewal_records = RenewalRecords(db)


def _page(request: Request, member: PortalMember, status: int = 200,
          errors: list[tuple[str, str]] | None = None, values: dict[str, str] | None = None,
          message: str = "") -> Response:
    log: HoursLog = request.app.state.hours_log
    return render("portal_hours.html", status, **page_context(
        request, entries=log.of_account(member.account_id), kinds=list(HoursKind),
        values=values or {"kind": HoursKind.TRAINING.value}, errors=errors or [],
        message=message, today=today()))


@router.get("/hours", response_class=HTMLResponse)
async def hours_page(request: Request, member: Member) -> Response:
    """The account's logged hours and the form to log more."""
    message = {"added": "The hours are logged.", "removed": "The entry is removed."}.get(
        request.query_params.get("done", ""), "")
    return await run_in_threadpool(_page, request, member, message=message)


@router.post("/hours", response_class=HTMLResponse)
async def log_hours(request: Request, member: Member) -> Response:
    """Log one entry; each bad input is named next to its field and nothing is stored."""
    form = await request.form()
    values = {k: v[:500] for k in _FIELDS if isinstance(v := form.get(k, ""), str)}

    def run() -> Response:
        entry, errors = parse_entry(values, today=today())
        if entry is None:
            return _page(request, member, 422, errors, values)
        log: HoursLog = request.app.state.hours_log
        node = request.app.state.node
        try:
            with log.db.transaction() as cur:
                log.add(cur, member.account_id, entry, now=now())
                node.accounts.audit.record(cur, actor=member.signed.actor,
                                           action="portal.hours.log", detail=entry.kind.value,
                                           now=now())
        except PortalError as e:
            return _page(request, member, 422, [(e.field, e.message)], values)
        return RedirectResponse(f"{HOURS_PATH}?done=added", status_code=303,
                                headers=SECURITY_HEADERS)

    return await run_in_threadpool(run)


@router.post("/hours/{entry_id}/delete", response_class=HTMLResponse)
def remove_hours(request: Request, member: Member, entry_id: str) -> Response:
    """Remove one of the account's own entries (404 for any other id, nothing removed)."""
    log: HoursLog = request.app.state.hours_log
    node = request.app.state.node
    try:
        with log.db.transaction() as cur:
            log.remove(cur, member.account_id, entry_id)
            node.accounts.audit.record(cur, actor=member.signed.actor,
                                       action="portal.hours.remove", now=now())
    except NotYours:
        return not_found(request)
    return RedirectResponse(f"{HOURS_PATH}?done=removed", status_code=303,
                            headers=SECURITY_HEADERS)
