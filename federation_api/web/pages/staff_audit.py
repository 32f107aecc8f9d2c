"""The audit log page: every staff action with the account that did it, newest first,
filtered by account, action and dates, a page of 100 at a time ("Older entries").

Coordinators and auditors read it; nobody can change it from the pages. An API call made with
a token a coordinator issued in the browser is listed under that coordinator's account.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from federation_api.accounts.audit_log import AuditEntry
from federation_api.accounts.roles import AccountRole
from federation_api.web.pages.staff_session import StaffGate, StaffUser, page_context
from federation_api.web.pages.templating import render

router = APIRouter(prefix="/staff/audit", include_in_schema=False)
AuditReader = Annotated[StaffUser, Depends(StaffGate(AccountRole.COORDINATOR,
                                                     AccountRole.AUDITOR))]
PAGE = 100


def _day(raw: str, field: str, errors: list[tuple[str, str]]) -> dt.date | None:
    if not raw.strip():
        return None
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        errors.append((field, "Enter a date such as 2026-03-31."))
        return None


@router.get("", response_class=HTMLResponse)
def audit_page(request: Request, staff: AuditReader) -> Response:
    """The log, filtered by `account`, `action`, `from` and `to` (dates, UTC, inclusive)."""
    params = request.query_params
    errors: list[tuple[str, str]] = []
    accounts = request.app.state.node.accounts
    known = {a.account_id: a for a in accounts.store.all()}
    account = params.get("account", "").strip()
    if account and account not in known:
        errors.append(("audit-account", "Choose an account from the list."))
    action = params.get("action", "").strip()[:100]
    since = _day(params.get("from", ""), "audit-from", errors)
    until = _day(params.get("to", ""), "audit-to", errors)
    if since and until and until < since:
        errors.append(("audit-to", "The last day is before the first day."))
    before_raw = params.get("before", "")
    before = int(before_raw) if before_raw.isdigit() else None
    entries: list[AuditEntry] = [] if errors else accounts.audit.entries(
        account_id=account or None, action=action or None, before=before, limit=PAGE + 1,
        since=None if since is None else dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC),
        until=None if until is None else dt.datetime.combine(
            until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC))
    older = ""
    if len(entries) > PAGE:
        entries = entries[:PAGE]
        kept = {k: v for k, v in params.items() if k != "before" and v}
        older = f"/staff/audit?{urlencode({**kept, 'before': entries[-1].audit_id})}"
    names = {f"account:{a.account_id}": a.display_name for a in known.values()}
    return render("staff_audit.html", 422 if errors else 200, **page_context(
        request, errors=errors, entries=entries, older=older, names=names,
        accounts=sorted(known.values(), key=lambda a: a.display_name.casefold()),
        wanted={"account": account, "action": action, "from": params.get("from", ""),
                "to": params.get("to", "")}))
