"""The portal's way in: sign up, ask for a sign-in link, open it, sign out.

Sign-up and sign-in both end in an emailed one-time link (`accounts.email_sign_in`): the
page after either says the same thing whether or not the address has an account. The link
opens a page with one button, and only the POST of that button spends the link and starts
the session, so a mail scanner that fetches every link in a message never signs anyone in
or uses their link up.

CSRF before there is a session: the form page sets a random pre-session cookie (Path
/portal) and puts the same value in the form (double submit, SameSite=Strict on top). After
sign-in every form carries the session's own token, checked by the `PortalGate`.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from federation_api.accounts.emails import SIGN_IN_LINK_PATH
from federation_api.accounts.errors import AccountError, LinkInvalid, TooManyAttempts
from federation_api.accounts.links import EXPIRED_MESSAGE
from federation_api.accounts.store import check_display_name, normalise_email
from federation_api.clock import now
from federation_api.portal.sign_up import sign_up
from federation_api.web.pages.portal_session import (
    COOKIE_PATH,
    HOME_PATH,
    SIGN_IN_PATH,
    Member,
    current_member,
    forget_session_cookie,
    page_context,
    session_id_of,
    set_session_cookie,
)
from federation_api.web.pages.staff_session import client_address, is_secure
from federation_api.web.pages.templating import SECURITY_HEADERS, render

FORM_COOKIE = "alliance_portal_form"
SIGN_UP_PATH = "/portal/sign-up"
MAX_FIELD = 1000
SENT = ("If the address can use the portal, a sign-in link is on its way to it. Open the "
        "email and follow the link within 15 minutes. Nothing arrived? Check the spam folder, "
        "or ask for a new link in a quarter of an hour.")
FORGED = "This form has expired or did not come from this site. Please send it again."

router = APIRouter(prefix="/portal", include_in_schema=False)
Errors = list[tuple[str, str]]


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303, headers=SECURITY_HEADERS)


def _form_page(request: Request, template: str, status: int = 200,
               headers: dict[str, str] | None = None, **values: Any) -> HTMLResponse:
    """A page with a pre-session form: the form token and its cookie."""
    token = secrets.token_urlsafe(32)
    response = render(template, status, headers, **page_context(
        request, form_token=token, **({"errors": []} | values)))
    response.set_cookie(FORM_COOKIE, token, max_age=3600, path=COOKIE_PATH, httponly=True,
                        samesite="strict", secure=is_secure(request))
    return response


def _form_token_ok(request: Request, token: str) -> bool:
    cookie = request.cookies.get(FORM_COOKIE, "")
    return bool(token) and bool(cookie) and hmac.compare_digest(token.encode(), cookie.encode())


def _retry(error: TooManyAttempts) -> dict[str, str]:
    return {"Retry-After": str(max(1, round(error.retry_after)))}


@router.get("/sign-up", response_class=HTMLResponse)
def sign_up_page(request: Request) -> Response:
    """The sign-up form: a name and an email address."""
    if current_member(request) is not None:
        return _redirect(HOME_PATH)
    return _form_page(request, "portal_sign_up.html", form={"display_name": "", "email": ""})


@router.post("/sign-up", response_class=HTMLResponse)
def sign_up_post(request: Request, display_name: Annotated[str, Form(max_length=MAX_FIELD)] = "",
                 email: Annotated[str, Form(max_length=MAX_FIELD)] = "",
                 csrf_token: Annotated[str, Form(max_length=MAX_FIELD)] = "") -> Response:
    """Make the account (if the address has none) and email a sign-in link."""
    form = {"display_name": display_name, "email": email}
    if not _form_token_ok(request, csrf_token):
        return _form_page(request, "portal_sign_up.html", 403, errors=[("", FORGED)], form=form)
    errors: Errors = []
    for field, check in (("display_name", check_display_name), ("email", normalise_email)):
        try:
            check(form[field])
        except AccountError as e:
            errors.append((field, _sentence(e.message)))
    if errors:
        return _form_page(request, "portal_sign_up.html", 422, form=form, errors=errors)
    try:
        sign_up(request.app.state.node.accounts, email=email, display_name=display_name,
                now=now(), client=client_address(request))
    except TooManyAttempts as e:
        return _form_page(request, "portal_sign_up.html", 429, _retry(e), form=form,
                          errors=[("", _sentence(e.message))])
    except AccountError as e:
        field = e.field if e.field in form else ""
        return _form_page(request, "portal_sign_up.html", 422, form=form,
                          errors=[(field, _sentence(e.message))])
    return render("portal_sent.html", **page_context(request, message=SENT))


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request) -> Response:
    """The form asking for a sign-in link."""
    if current_member(request) is not None:
        return _redirect(HOME_PATH)
    said = {"signed_out": "You have signed out."}
    message = next((t for k, t in said.items() if request.query_params.get(k)), "")
    return _form_page(request, "portal_sign_in.html", email="", message=message)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in_post(request: Request, email: Annotated[str, Form(max_length=MAX_FIELD)] = "",
                 csrf_token: Annotated[str, Form(max_length=MAX_FIELD)] = "") -> Response:
    """Email a sign-in link if the address has a portal account (the answer is the same)."""
    if not _form_token_ok(request, csrf_token):
        return _form_page(request, "portal_sign_in.html", 403, email=email,
                          errors=[("", FORGED)])
    if not email.strip():
        return _form_page(request, "portal_sign_in.html", 422, email=email,
                          errors=[("email", "Enter your email address.")])
    try:
        request.app.state.node.accounts.email_sign_in.request(
            email, now=now(), client=client_address(request))
    except TooManyAttempts as e:
        return _form_page(request, "portal_sign_in.html", 429, _retry(e), email=email,
                          errors=[("", _sentence(e.message))])
    return render("portal_sent.html", **page_context(request, message=SENT))


@router.get(SIGN_IN_LINK_PATH.removeprefix("/portal"), response_class=HTMLResponse)
def link_page(request: Request) -> Response:
    """The emailed link: one button that signs in (a GET never spends the link)."""
    token = request.query_params.get("token", "")[:MAX_FIELD]
    if not token:
        return render("portal_message.html", 400, **page_context(
            request, title="Link not valid", message=EXPIRED_MESSAGE))
    return _form_page(request, "portal_link.html", token=token)


@router.post(SIGN_IN_LINK_PATH.removeprefix("/portal"), response_class=HTMLResponse)
def link_post(request: Request, token: Annotated[str, Form(max_length=MAX_FIELD)] = "",
              csrf_token: Annotated[str, Form(max_length=MAX_FIELD)] = "") -> Response:
    """Spend the link; a new session (any session the browser had is revoked)."""
    if not _form_token_ok(request, csrf_token):
        return _form_page(request, "portal_link.html", 403, token=token, errors=[("", FORGED)])
    try:
        signed = request.app.state.node.accounts.email_sign_in.complete(
            token, now=now(), client=client_address(request),
            replaces=session_id_of(request) or None)
    except TooManyAttempts as e:
        return _form_page(request, "portal_link.html", 429, _retry(e), token=token,
                          errors=[("", _sentence(e.message))])
    except LinkInvalid:
        return render("portal_message.html", 400, **page_context(
            request, title="Link not valid", message=EXPIRED_MESSAGE))
    response = _redirect(HOME_PATH)
    set_session_cookie(response, request, signed.session_id)
    response.delete_cookie(FORM_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict",
                           secure=is_secure(request))
    return response


@router.post("/sign-out", response_class=HTMLResponse)
def sign_out(request: Request, member: Member) -> Response:
    """End the session (the gate checked the form's CSRF token)."""
    request.app.state.node.accounts.sign_in.sign_out(member.signed.session_id, now=now(),
                                                     client=client_address(request))
    response = _redirect(f"{SIGN_IN_PATH}?signed_out=1")
    forget_session_cookie(response, request)
    return response
