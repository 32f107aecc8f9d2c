"""The sign-in pages: password, then the authenticator code (or its enrolment), sign-out,
password reset by emailed link, accepting an invitation, changing one's password.

Each step calls the accounts services (`federation_api.accounts`), which keep the sessions
in the database and audit every step; this module only turns forms into calls and answers
into pages. Every step that admits the person further issues a new session id (the service
revokes the one the browser sent), so an id planted in a browser before sign-in is worthless
after it (session fixation).

CSRF before there is a session (the sign-in, reset and invitation forms): the form page sets
a random pre-session cookie and puts the same value in the form (double submit; SameSite
Strict on top). The code and enrolment steps use the pending session's own CSRF secret, and
every signed-in page the session's secret through the staff gate.

Links in emails carry their token in the query string; these pages answer with
`Referrer-Policy: no-referrer` and `Cache-Control: no-store` (the security headers of every
page), and the request log never records query strings.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from federation_api.accounts.errors import (
    AccountError,
    CsrfRefused,
    LinkInvalid,
    TooManyAttempts,
)
from federation_api.accounts.links import EXPIRED_MESSAGE
from federation_api.accounts.sessions import SessionStage, check_csrf, csrf_token
from federation_api.accounts.signin import SignedIn
from federation_api.clock import now
from federation_api.web.pages.staff_session import (
    COOKIE_PATH,
    HOME_PATH,
    SIGN_IN_PATH,
    StaffGate,
    StaffUser,
    client_address,
    current_staff,
    forget_session_cookie,
    is_secure,
    page_context,
    safe_next,
    session_id_of,
    set_session_cookie,
)
from federation_api.web.pages.templating import SECURITY_HEADERS, render

FORM_COOKIE = "alliance_staff_form"
CODE_PATH = "/staff/login/code"
ENROL_PATH = "/staff/login/enrol"
RESET_PATH = "/staff/password-reset"  # the accounts' emails link here (emails.py)
INVITATION_PATH = "/staff/invitation"
MAX_FIELD = 1000  # longer than any email, password or code a person types

router = APIRouter(prefix="/staff", include_in_schema=False)
SignedInStaff = Annotated[StaffUser, Depends(StaffGate())]
Errors = list[tuple[str, str]]


def sentence(text: str) -> str:
    """A service's message as a sentence on the page."""
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text


def errors_of(error: AccountError, fields: tuple[str, ...], default: str = "") -> Errors:
    """The error as the page shows it: next to its field when the form has that field."""
    return [(error.field if error.field in fields else default, sentence(error.message))]


def _same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303, headers=SECURITY_HEADERS)


def _with_next(path: str, target: str) -> str:
    return path if target == HOME_PATH else f"{path}?{urlencode({'next': target})}"


def _form_page(request: Request, template: str, status: int = 200,
               headers: dict[str, str] | None = None, **values: Any) -> HTMLResponse:
    """A page with a pre-session form: the form token and its cookie."""
    token = secrets.token_urlsafe(32)
    response = render(template, status, headers, **page_context(request, form_token=token,
                                                                **values))
    response.set_cookie(FORM_COOKIE, token, max_age=3600, path=COOKIE_PATH, httponly=True,
                        samesite="strict", secure=is_secure(request))
    return response


def _forget_form_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(FORM_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict",
                           secure=is_secure(request))


def _form_token_ok(request: Request, token: str) -> bool:
    return _same(token, request.cookies.get(FORM_COOKIE, ""))


def _refused(error: TooManyAttempts) -> dict[str, str]:
    return {"Retry-After": str(max(1, round(error.retry_after)))}


# -- step 1: email and password -------------------------------------------------------------


def _login_page(request: Request, status: int = 200, errors: Errors | None = None, *,
                email: str = "", target: str = HOME_PATH, message: str = "",
                headers: dict[str, str] | None = None) -> HTMLResponse:
    return _form_page(request, "staff_login.html", status, headers, errors=errors or [],
                      email=email, next=target, message=message)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    """The sign-in form (a signed-in person goes straight on)."""
    target = safe_next(request.query_params.get("next"))
    if current_staff(request) is not None:
        return _redirect(target)
    said = {"signed_out": "You have signed out.",
            "password_set": "Your password is saved. Sign in with it now.",
            "expired": "Your sign-in has ended. Sign in again to continue."}
    message = next((text for key, text in said.items() if request.query_params.get(key)), "")
    return _login_page(request, target=target, message=message)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, email: Annotated[str, Form(max_length=MAX_FIELD)] = "",
          password: Annotated[str, Form(max_length=MAX_FIELD)] = "",
          csrf_token: Annotated[str, Form(max_length=MAX_FIELD)] = "",
          next: Annotated[str, Form(max_length=MAX_FIELD)] = "") -> Response:
    """Check email and password; then the code, the enrolment, or straight in."""
    target = safe_next(next)
    if not _form_token_ok(request, csrf_token):
        return _login_page(request, 403, [("", "This form has expired or did not come from "
                                               "this site. Please sign in again.")],
                           email=email, target=target)
    errors: Errors = []
    if not email.strip():
        errors.append(("email", "Enter your email address."))
    if not password:
        errors.append(("password", "Enter your password."))
    if errors:
        return _login_page(request, 422, errors, email=email, target=target)
    sign_in = request.app.state.node.accounts.sign_in
    try:
        signed: SignedIn = sign_in.sign_in(email, password, now=now(),
                                           client=client_address(request),
                                           replaces=session_id_of(request) or None)
    except TooManyAttempts as e:
        return _login_page(request, 429, errors_of(e, ()), email=email, target=target,
                           headers=_refused(e))
    except AccountError as e:
        return _login_page(request, 401, [("password", sentence(e.message))], email=email,
                           target=target)
    if not signed.account.is_staff:  # an applicant's account (issue 12) is no staff account
        sign_in.sign_out(signed.session_id, now=now(), client=client_address(request))
        return _login_page(request, 401, [("password", "This account has no access to the "
                                                       "staff pages.")], email=email,
                           target=target)
    step = {SessionStage.SECOND_FACTOR: _with_next(CODE_PATH, target),
            SessionStage.ENROL_SECOND_FACTOR: _with_next(ENROL_PATH, target)}
    response = _redirect(step.get(signed.stage, target))
    set_session_cookie(response, request, signed.session_id)
    _forget_form_cookie(response, request)
    return response


# -- step 2: the code, or setting up the app ------------------------------------------------


def _pending(request: Request, stage: SessionStage) -> SignedIn | None:
    signed: SignedIn | None = request.app.state.node.accounts.sign_in.current(
        session_id_of(request), now=now(), stage=stage)
    return signed


def _expired() -> RedirectResponse:
    return _redirect(f"{SIGN_IN_PATH}?expired=1")


def _code_page(request: Request, pending: SignedIn, target: str, status: int = 200,
               errors: Errors | None = None,
               headers: dict[str, str] | None = None) -> HTMLResponse:
    return render("staff_code.html", status, headers, **page_context(
        request, form_token=csrf_token(pending.session), next=target, errors=errors or []))


@router.get("/login/code", response_class=HTMLResponse)
def code_page(request: Request) -> Response:
    """The authenticator code form, after the password."""
    pending = _pending(request, SessionStage.SECOND_FACTOR)
    if pending is None:
        return _expired()
    return _code_page(request, pending, safe_next(request.query_params.get("next")))


@router.post("/login/code", response_class=HTMLResponse)
def code(request: Request, code: Annotated[str, Form(max_length=MAX_FIELD)] = "",
         csrf_token: Annotated[str, Form(max_length=MAX_FIELD)] = "",
         next: Annotated[str, Form(max_length=MAX_FIELD)] = "") -> Response:
    """Check the code; a new full session."""
    target = safe_next(next)
    pending = _pending(request, SessionStage.SECOND_FACTOR)
    if pending is None:
        return _expired()
    try:
        check_csrf(pending.session, csrf_token)
    except CsrfRefused as e:
        return _code_page(request, pending, target, 403, errors_of(e, ()))
    if not code.strip():
        return _code_page(request, pending, target, 422, [("code", "Enter the code.")])
    try:
        signed = request.app.state.node.accounts.sign_in.second_factor(
            pending.session_id, code, now=now(), client=client_address(request))
    except TooManyAttempts as e:
        return _code_page(request, pending, target, 429, errors_of(e, ()),
                          headers=_refused(e))
    except AccountError as e:
        if _pending(request, SessionStage.SECOND_FACTOR) is None:  # locked: start again
            return _login_page(request, 401, [("password", sentence(e.message))],
                               target=target)
        return _code_page(request, pending, target, 401, errors_of(e, ("code",), "code"))
    response = _redirect(target)
    set_session_cookie(response, request, signed.session_id)
    return response


def _enrolment_page(request: Request, pending: SignedIn, target: str, status: int = 200,
                    errors: Errors | None = None) -> Response:
    enrolment = request.app.state.node.accounts.sign_in.begin_enrolment(
        pending.session_id, now=now())
    return render("staff_enrol.html", status, **page_context(
        request, form_token=csrf_token(pending.session), next=target, errors=errors or [],
        enrolment=enrolment))


@router.get("/login/enrol", response_class=HTMLResponse)
def enrol_page(request: Request) -> Response:
    """A new authenticator seed as a QR code and as text, and the form for its first code."""
    pending = _pending(request, SessionStage.ENROL_SECOND_FACTOR)
    if pending is None:
        return _expired()
    return _enrolment_page(request, pending, safe_next(request.query_params.get("next")))


@router.post("/login/enrol", response_class=HTMLResponse)
def enrol(request: Request, code: Annotated[str, Form(max_length=MAX_FIELD)] = "",
          csrf_token: Annotated[str, Form(max_length=MAX_FIELD)] = "",
          next: Annotated[str, Form(max_length=MAX_FIELD)] = "") -> Response:
    """Check the first code of the new seed; the recovery codes, once, and a full session."""
    target = safe_next(next)
    pending = _pending(request, SessionStage.ENROL_SECOND_FACTOR)
    if pending is None:
        return _expired()
    try:
        check_csrf(pending.session, csrf_token)
        signed, codes = request.app.state.node.accounts.sign_in.confirm_enrolment(
            pending.session_id, code, now=now(), client=client_address(request))
    except CsrfRefused as e:
        return _enrolment_page(request, pending, target, 403, errors_of(e, ()))
    except TooManyAttempts as e:
        return _enrolment_page(request, pending, target, 429, errors_of(e, ()))
    except AccountError as e:
        # A failed first code shows a fresh seed: the pending one stays unconfirmed.
        return _enrolment_page(request, pending, target, 422, errors_of(e, ("code",), "code"))
    response = render("staff_recovery_codes.html", 200, **page_context(
        request, codes=codes, next=target))
    set_session_cookie(response, request, signed.session_id)
    return response


# -- sign-out and password change (signed in) -----------------------------------------------


@router.post("/logout", response_class=HTMLResponse)
def logout(request: Request, staff: SignedInStaff) -> Response:
    """End the session (the gate checked the form's CSRF token)."""
    request.app.state.node.accounts.sign_in.sign_out(staff.signed.session_id, now=now(),
                                                     client=client_address(request))
    response = _redirect(f"{SIGN_IN_PATH}?signed_out=1")
    forget_session_cookie(response, request)
    return response


@router.get("/password", response_class=HTMLResponse)
def password_page(request: Request, staff: SignedInStaff) -> Response:
    """The change-password form."""
    return render("staff_password.html", **page_context(request))


@router.post("/password", response_class=HTMLResponse)
def change_password(request: Request, staff: SignedInStaff,
                    current_password: Annotated[str, Form(max_length=MAX_FIELD)] = "",
                    password: Annotated[str, Form(max_length=MAX_FIELD)] = "",
                    confirm: Annotated[str, Form(max_length=MAX_FIELD)] = "") -> Response:
    """Change one's own password; every other session ends; this one gets a new id."""
    fields = ("current_password", "password", "confirm")
    if password != confirm:
        return render("staff_password.html", 422, **page_context(request, errors=[
            ("confirm", "The two new passwords are not the same.")]))
    try:
        signed = request.app.state.node.accounts.sign_in.change_password(
            staff.signed.session_id, current_password, password, now=now(),
            client=client_address(request))
    except AccountError as e:
        status = 429 if isinstance(e, TooManyAttempts) else 422
        return render("staff_password.html", status, **page_context(
            request, errors=errors_of(e, fields)))
    response = _redirect(f"{HOME_PATH}?password_changed=1")
    set_session_cookie(response, request, signed.session_id)
    return response


# -- password reset and invitations (emailed links) -----------------------------------------

_REQUESTED = ("If this address has an account, we have sent it a link to choose a new "
              "password. It works once, for an hour. Check your inbox (and spam folder).")


@router.get("/password-reset", response_class=HTMLResponse)
def reset_page(request: Request) -> Response:
    """The reset request form, or with `?token=` from the email, the new-password form."""
    token = request.query_params.get("token", "")
    if not token:
        return _form_page(request, "staff_reset_request.html", email="")
    return _link_form(request, token, purpose="reset")


@router.post("/password-reset", response_class=HTMLResponse)
def reset(request: Request, csrf_token: Annotated[str, Form(max_length=MAX_FIELD)] = "",
          email: Annotated[str, Form(max_length=MAX_FIELD)] = "",
          token: Annotated[str, Form(max_length=MAX_FIELD)] = "",
          password: Annotated[str, Form(max_length=MAX_FIELD)] = "",
          confirm: Annotated[str, Form(max_length=MAX_FIELD)] = "") -> Response:
    """Ask for a link (the same answer for every address), or set the new password."""
    if token:
        return _link_post(request, csrf_token, token, password, confirm, purpose="reset")
    if not _form_token_ok(request, csrf_token):
        return _form_page(request, "staff_reset_request.html", 403, email=email, errors=[
            ("", "This form has expired or did not come from this site. Please try again.")])
    if not email.strip():
        return _form_page(request, "staff_reset_request.html", 422, email=email,
                          errors=[("email", "Enter your email address.")])
    try:
        request.app.state.node.accounts.resets.request(email, now=now(),
                                                       client=client_address(request))
    except TooManyAttempts as e:
        return _form_page(request, "staff_reset_request.html", 429, _refused(e), email=email,
                          errors=errors_of(e, ()))
    return _form_page(request, "staff_reset_request.html", email="", message=_REQUESTED)


@router.get("/invitation", response_class=HTMLResponse)
def invitation_page(request: Request) -> Response:
    """Accept an invitation: choose the first password."""
    return _link_form(request, request.query_params.get("token", ""), purpose="invitation")


@router.post("/invitation", response_class=HTMLResponse)
def accept_invitation(request: Request,
                      csrf_token: Annotated[str, Form(max_length=MAX_FIELD)] = "",
                      token: Annotated[str, Form(max_length=MAX_FIELD)] = "",
                      password: Annotated[str, Form(max_length=MAX_FIELD)] = "",
                      confirm: Annotated[str, Form(max_length=MAX_FIELD)] = "") -> Response:
    """Set the first password through the invitation link."""
    return _link_post(request, csrf_token, token, password, confirm, purpose="invitation")


_LINK_PAGES = {"reset": ("Choose a new password", RESET_PATH),
               "invitation": ("Welcome: choose your password", INVITATION_PATH)}


def _link_form(request: Request, token: str, *, purpose: str, status: int = 200,
               errors: Errors | None = None) -> Response:
    accounts = request.app.state.node.accounts
    title, action = _LINK_PAGES[purpose]
    service = accounts.resets if purpose == "reset" else accounts.invitations
    try:
        info = service.check(token, now=now()) if token else None
    except LinkInvalid:
        info = None
    account = accounts.store.find(info.account_id) if info is not None else None
    if account is None:
        return _form_page(request, "staff_set_password.html", 410, title=title, action=action,
                          invalid=EXPIRED_MESSAGE, token="", email="")
    return _form_page(request, "staff_set_password.html", status, title=title, action=action,
                      invalid="", token=token, email=account.email, errors=errors or [])


def _link_post(request: Request, form_token: str, token: str, password: str, confirm: str, *,
               purpose: str) -> Response:
    if not _form_token_ok(request, form_token):
        return _link_form(request, token, purpose=purpose, status=403, errors=[
            ("", "This form has expired or did not come from this site. Please try again.")])
    if password != confirm:
        return _link_form(request, token, purpose=purpose, status=422,
                          errors=[("confirm", "The two passwords are not the same.")])
    accounts = request.app.state.node.accounts
    client = client_address(request)
    try:
        if purpose == "reset":
            accounts.resets.complete(token, password, now=now(), client=client)
        else:
            accounts.invitations.accept(token, password, now=now(), client=client)
    except LinkInvalid:
        return _link_form(request, "", purpose=purpose)
    except AccountError as e:
        status = 429 if isinstance(e, TooManyAttempts) else 422
        return _link_form(request, token, purpose=purpose, status=status,
                          errors=errors_of(e, ("password", "confirm")))
    response = _redirect(f"{SIGN_IN_PATH}?password_set=1")
    _forget_form_cookie(response, request)
    return response
