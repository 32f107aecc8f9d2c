"""The coordinators' accounts pages: the list with the invitation form, and one account's
page with its roles, disable/enable, unlock and "remove a lost authenticator".

Every change goes through `accounts.invitations` or `accounts.admin`, which audit it in the
change's own transaction and end the account's sessions where the change needs it (roles,
disable, a removed authenticator). A refused change shows its reason next to the field and
writes nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from federation_api.accounts.errors import AccountError, AccountNotFound
from federation_api.accounts.roles import STAFF_ROLES, AccountRole
from federation_api.accounts.store import Account
from federation_api.clock import now
from federation_api.web.pages.staff_session import (
    StaffGate,
    StaffUser,
    client_address,
    page_context,
)
from federation_api.web.pages.templating import SECURITY_HEADERS, render

router = APIRouter(prefix="/staff/accounts", include_in_schema=False)
Coordinator = Annotated[StaffUser, Depends(StaffGate(AccountRole.COORDINATOR))]
MAX_FIELD = 1000
Errors = list[tuple[str, str]]


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text


def _errors(error: AccountError, fields: dict[str, str]) -> Errors:
    """The error next to its form field (`fields` maps the service's names to the form's)."""
    return [(fields.get(error.field, ""), _sentence(error.message))]


def _staff_accounts(request: Request) -> list[Account]:
    return [a for a in request.app.state.node.accounts.store.all() if a.is_staff]


def _list_page(request: Request, status: int = 200, errors: Errors | None = None,
               **values: Any) -> HTMLResponse:
    form = {"email": "", "display_name": "", "roles": ()} | values.pop("form", {})
    return render("staff_accounts.html", status, **page_context(
        request, accounts=_staff_accounts(request), errors=errors or [], form=form,
        now=now(), **values))


@router.get("", response_class=HTMLResponse)
def accounts_page(request: Request, staff: Coordinator) -> Response:
    """Every staff account, and the form to invite one."""
    said = {"invited": "The invitation is on its way: the link works once, for seven days."}
    message = next((t for k, t in said.items() if request.query_params.get(k)), "")
    return _list_page(request, message=message)


@router.post("/invite", response_class=HTMLResponse)
def invite(request: Request, staff: Coordinator,
           email: Annotated[str, Form(max_length=MAX_FIELD)] = "",
           display_name: Annotated[str, Form(max_length=MAX_FIELD)] = "",
           roles: Annotated[list[str] | None, Form()] = None) -> Response:
    """Invite a person by email with their roles (an emailed one-time link)."""
    chosen = tuple(roles or ())
    form = {"email": email, "display_name": display_name, "roles": chosen}
    try:
        request.app.state.node.accounts.invitations.invite(
            staff.signed, email=email, display_name=display_name, roles=chosen, now=now(),
            client=client_address(request))
    except AccountError as e:
        return _list_page(request, 409 if e.code == "email_taken" else 422,
                          _errors(e, {"email": "invite-email",
                                      "display_name": "invite-display_name",
                                      "roles": "invite-roles"}), form=form)
    return RedirectResponse("/staff/accounts?invited=1", status_code=303,
                            headers=SECURITY_HEADERS)


# -- one account ----------------------------------------------------------------------------


def _account_page(request: Request, account_id: str, status: int = 200,
                  errors: Errors | None = None, message: str = "") -> Response:
    account = request.app.state.node.accounts.store.find(account_id)
    if account is None or not account.is_staff:
        return render("message.html", 404, **page_context(
            request, title="No such account",
            message="This association has no staff account with this id."))
    entries = request.app.state.node.accounts.audit.entries(account_id=account_id, limit=20)
    return render("staff_account.html", status, **page_context(
        request, account=account, errors=errors or [], message=message, now=now(),
        staff_roles=sorted(STAFF_ROLES), entries=entries))


_DONE = {"roles": "The roles are changed; the account's sessions ended.",
         "disabled": "The account is disabled; its sessions ended.",
         "enabled": "The account is enabled again.",
         "unlocked": "The account is unlocked.",
         "second_factor": "The authenticator is removed. The person sets up a new one at "
                          "their next sign-in, and we emailed them."}


@router.get("/{account_id}", response_class=HTMLResponse)
def account_page(request: Request, staff: Coordinator, account_id: str) -> Response:
    """One account: roles, state, recent audit entries, and the forms that change them."""
    done = request.query_params.get("done", "")
    return _account_page(request, account_id, message=_DONE.get(done, ""))


def _change(request: Request, staff: StaffUser, account_id: str, done: str,
            action: str, **kwargs: Any) -> Response:
    admin = request.app.state.node.accounts.admin
    try:
        getattr(admin, action)(staff.signed, account_id, now=now(),
                               client=client_address(request), **kwargs)
    except AccountNotFound:
        return _account_page(request, account_id)  # the 404 page
    except AccountError as e:
        return _account_page(request, account_id, 409 if e.code == "last_coordinator" else 422,
                             _errors(e, {"roles": "roles"}))
    return RedirectResponse(f"/staff/accounts/{account_id}?done={done}", status_code=303,
                            headers=SECURITY_HEADERS)


@router.post("/{account_id}/roles", response_class=HTMLResponse)
def change_roles(request: Request, staff: Coordinator, account_id: str,
                 roles: Annotated[list[str] | None, Form()] = None) -> Response:
    """Replace the account's staff roles; its sessions end."""
    return _change(request, staff, account_id, "roles", "set_roles", roles=tuple(roles or ()))


@router.post("/{account_id}/disable", response_class=HTMLResponse)
def disable(request: Request, staff: Coordinator, account_id: str) -> Response:
    """Disable the account; its sessions and open links end."""
    return _change(request, staff, account_id, "disabled", "disable")


@router.post("/{account_id}/enable", response_class=HTMLResponse)
def enable(request: Request, staff: Coordinator, account_id: str) -> Response:
    """Enable a disabled account."""
    return _change(request, staff, account_id, "enabled", "enable")


@router.post("/{account_id}/unlock", response_class=HTMLResponse)
def unlock(request: Request, staff: Coordinator, account_id: str) -> Response:
    """Lift a lock-out before it runs out."""
    return _change(request, staff, account_id, "unlocked", "unlock")


@router.post("/{account_id}/second-factor/remove", response_class=HTMLResponse)
def remove_second_factor(request: Request, staff: Coordinator, account_id: str) -> Response:
    """Remove a lost authenticator; the owner sets up a new one at the next sign-in."""
    return _change(request, staff, account_id, "second_factor", "reset_second_factor")
