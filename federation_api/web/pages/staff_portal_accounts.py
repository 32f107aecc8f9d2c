"""The coordinator's side of the portal: the applicants' accounts, and confirming who each is.

A portal account proves an email address, nothing more; a coordinator ties it to the
person record of the association (after whatever check the association makes, e.g. a call),
seeing the records that match the account's address or name and each one's possible
duplicates. Until then the applicant may draft but not submit. Coordinators only: person
records are private contact data (as on the people pages).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from federation_api.accounts.roles import AccountRole
from federation_api.clock import now
from federation_api.portal.errors import NotYours, PortalError
from federation_api.portal.identity import (
    candidates,
    confirm_identity,
    portal_account,
    portal_accounts,
)
from federation_api.web.pages.staff_session import (
    StaffGate,
    StaffUser,
    client_address,
    page_context,
)
from federation_api.web.pages.templating import SECURITY_HEADERS, render

router = APIRouter(prefix="/staff/portal-accounts", include_in_schema=False)
Coordinator = Annotated[StaffUser, Depends(StaffGate(AccountRole.COORDINATOR))]


def _sentence(text: str) -> str:
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


@router.get("", response_class=HTMLResponse)
def accounts_page(request: Request, staff: Coordinator) -> Response:
    """Every applicant's and professional's account, those awaiting confirmation first."""
    return render("staff_portal_accounts.html", **page_context(
        request, accounts=portal_accounts(request.app.state.portal)))


def _account_page(request: Request, account_id: str, status: int = 200,
                  errors: list[tuple[str, str]] | None = None, person_id: str = "") -> Response:
    node = request.app.state.node
    portal = request.app.state.portal
    try:
        account = portal_account(portal, account_id)
    except NotYours:
        return render("message.html", 404, **page_context(
            request, title="No such account",
            message="There is no applicant's or professional's account with this id."))
    return render("staff_portal_account.html", status, **page_context(
        request, account=account, errors=errors or [], person_id=person_id,
        confirmed=request.query_params.get("done") == "confirmed",
        candidates=candidates(portal, account, projector=node.projector,
                              association=node.association)))


@router.get("/{account_id}", response_class=HTMLResponse)
def account_page(request: Request, staff: Coordinator, account_id: str) -> Response:
    """One account: the person records that may be theirs, and the confirmation form."""
    return _account_page(request, account_id)


@router.post("/{account_id}/identity", response_class=HTMLResponse)
def confirm(request: Request, staff: Coordinator, account_id: str,
            person_id: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Tie the account to a person record; the applicant is told by email."""
    node = request.app.state.node
    try:
        confirm_identity(request.app.state.portal, account_id=account_id, person_id=person_id,
                         by=staff.signed.actor, association_name=node.config.name, now=now(),
                         client=client_address(request), projector=node.projector)
    except NotYours:
        return _account_page(request, account_id)
    except PortalError as e:
        return _account_page(request, account_id, 422, [("person_id", _sentence(e.message))],
                             person_id)
    return RedirectResponse(f"/staff/portal-accounts/{account_id}?done=confirmed",
                            status_code=303, headers=SECURITY_HEADERS)
