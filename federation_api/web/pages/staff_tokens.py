"""The coordinators' API token page: issue a token with a role and an expiry (its secret is
shown on the page that answers the form, once, and never again), list tokens, revoke one.

The tokens are the bearer tokens the JSON API authenticates (`accounts/tokens.py`); issued
here they carry the issuing account, which the audit log names for every API call made with
them. Issue and revocation are audited in the token row's own transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from federation_api.accounts.browser_tokens import DEFAULT_LIFETIME, MAX_LIFETIME
from federation_api.accounts.errors import AccountError, AccountNotFound
from federation_api.accounts.roles import AccountRole
from federation_api.accounts.tokens import Role
from federation_api.clock import now, today
from federation_api.web.pages.staff_session import (
    StaffGate,
    StaffUser,
    client_address,
    page_context,
)
from federation_api.web.pages.templating import SECURITY_HEADERS, render

router = APIRouter(prefix="/staff/tokens", include_in_schema=False)
Coordinator = Annotated[StaffUser, Depends(StaffGate(AccountRole.COORDINATOR))]
Errors = list[tuple[str, str]]


def _page(request: Request, staff: StaffUser, status: int = 200, errors: Errors | None = None,
          **values: Any) -> HTMLResponse:
    tokens = [(t, _last_day(t.expires_at))
              for t in request.app.state.node.accounts.tokens.list(staff.signed)]
    names = {f"account:{a.account_id}": a.display_name
             for a in request.app.state.node.accounts.store.all()}
    form = {"label": "", "role": Role.REVIEWER.value,
            "expires_on": (today() + DEFAULT_LIFETIME).isoformat()} | values.pop("form", {})
    return render("staff_tokens.html", status, **page_context(
        request, tokens=tokens, names=names, errors=errors or [], form=form,
        token_roles=list(Role), latest=(today() + MAX_LIFETIME - dt.timedelta(days=1)),
        now_text=now().isoformat(), **({"issued": None} | values)))


def _last_day(expires_at: str | None) -> dt.date | None:
    """The last day a token works (it stops at the instant `expires_at`)."""
    if expires_at is None:
        return None
    return (dt.datetime.fromisoformat(expires_at) - dt.timedelta(microseconds=1)).date()


@router.get("", response_class=HTMLResponse)
def tokens_page(request: Request, staff: Coordinator) -> Response:
    """Every token (never a secret) and the form to issue one."""
    message = "The token is revoked." if request.query_params.get("revoked") else ""
    return _page(request, staff, message=message)


@router.post("", response_class=HTMLResponse)
def issue(request: Request, staff: Coordinator,
          label: Annotated[str, Form(max_length=1000)] = "",
          role: Annotated[str, Form(max_length=100)] = "",
          expires_on: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Issue a token; the answer shows its secret once."""
    form = {"label": label, "role": role, "expires_on": expires_on}
    errors: Errors = []
    try:
        chosen = Role(role)
    except ValueError:
        errors.append(("token-role", "Choose a role from the list."))
    try:
        day = dt.date.fromisoformat(expires_on.strip())
    except ValueError:
        errors.append(("token-expires_on", "Enter the last day as a date, e.g. "
                                           f"{(today() + DEFAULT_LIFETIME).isoformat()}."))
    if errors:
        return _page(request, staff, 422, errors, form=form)
    # The token works through the whole of its last day (UTC).
    expires_at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    try:
        token_id, secret = request.app.state.node.accounts.tokens.issue(
            staff.signed, label=label, role=chosen, expires_at=expires_at, now=now(),
            client=client_address(request))
    except AccountError as e:
        field = {"label": "token-label", "expires_at": "token-expires_on"}.get(e.field, "")
        message = e.message[:1].upper() + e.message[1:].rstrip(".") + "."
        return _page(request, staff, 422, [(field, message)], form=form)
    return _page(request, staff, 201, issued={"token_id": token_id, "secret": secret,
                                              "label": " ".join(label.split()),
                                              "role": chosen.value, "until": day})


@router.post("/{token_id}/revoke", response_class=HTMLResponse)
def revoke(request: Request, staff: Coordinator, token_id: str) -> Response:
    """Revoke a live token (at once: the API refuses it from the next request on)."""
    try:
        request.app.state.node.accounts.tokens.revoke(staff.signed, token_id, now=now(),
                                                      client=client_address(request))
    except AccountNotFound:
        return _page(request, staff, 404, [("", "No live token has this id; it may have "
                                                "been revoked already.")])
    return RedirectResponse("/staff/tokens?revoked=1", status_code=303,
                            headers=SECURITY_HEADERS)
