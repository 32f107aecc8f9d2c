"""The staff pages' gate: who is signed in, with which roles, and the CSRF check of a POST.

Every staff page names the roles it admits with a `StaffGate(*roles)` dependency (no roles:
any signed-in staff account). The gate reads the session cookie, looks the session up in the
database (`accounts.sign_in.current`, full sessions only), and answers for the page when it
refuses: a GET without a session goes to the sign-in page with `next=` set to where the
person was going; a POST without one goes to the sign-in page; an account without the role
gets a 403 page that says which role the page needs. For a POST the gate also checks the
form's `csrf_token` against the session's own CSRF secret before the page runs, so no page
can forget it. Pages call `current_staff(request)` for the account, and templates get
`csrf_field` (the hidden input) from `page_context`.

The session cookie holds only the random session id: HttpOnly (no script reads it),
SameSite=Strict (no other site's page sends it), Path=/staff (the public pages never see it),
and Secure whenever the browser's connection is HTTPS (`web.urls.request_scheme`, the one
function that knows the scheme).

The gate is the only thing a staff page needs from here; `tests/integration/
test_staff_access.py` enumerates the app's /staff routes and fails on one that has no gate
and is not on its list of sign-in pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from federation_api.accounts.errors import CsrfRefused
from federation_api.accounts.roles import AccountRole
from federation_api.accounts.sessions import Session, check_csrf
from federation_api.accounts.signin import SignedIn
from federation_api.clock import now
from federation_api.errors import EdgeError
from federation_api.web.audited import client_of
from federation_api.web.pages import templating
from federation_api.web.pages.templating import (
    SECURITY_HEADERS,
    csrf_input,
    form_token_ok,
    render,
    signed_in_context,
)
from federation_api.web.urls import request_scheme

SESSION_COOKIE = "alliance_staff"
COOKIE_PATH = "/staff"
SIGN_IN_PATH = "/staff/login"
HOME_PATH = "/staff/"
_SIGNED_IN = "alliance.staff"  # request scope key: the account the gate admitted


@dataclass(frozen=True)
class StaffUser:
    """The signed-in staff account a page acts as (never a password hash or TOTP seed)."""

    account_id: str
    email: str
    display_name: str
    roles: frozenset[AccountRole]
    second_factor: bool
    signed: SignedIn  # for the accounts services, which take the session itself

    @property
    def session(self) -> Session:
        """The database session (its CSRF secret, expiry)."""
        return self.signed.session

    @property
    def csrf_secret(self) -> str:
        """The session's CSRF secret; forms carry masked tokens of it (`csrf_field`)."""
        return self.signed.session.csrf_secret

    def has(self, *roles: AccountRole) -> bool:
        """Whether the account holds one of `roles`."""
        return any(role in self.roles for role in roles)


class StaffPageRefused(EdgeError):
    """A staff page refused the request; `response` is what the browser gets instead (the
    sign-in page, or a 403 page naming the role)."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"staff page refused ({response.status_code})")
        self.response = response


def client_address(request: Request) -> str:
    """The client's address as the rate limits see it (a trusted proxy's X-Forwarded-For)."""
    return client_of(request) or "unknown"


def is_secure(request: Request) -> bool:
    """Whether cookies set in answer to `request` must be Secure."""
    return request_scheme(request) == "https"


def set_session_cookie(response: Response, request: Request, session_id: str) -> None:
    """Give the browser a new session id (after every sign-in step: the old one is revoked)."""
    templating.set_session_cookie(response, request, name=SESSION_COOKIE, path=COOKIE_PATH,
                                  session_id=session_id)


def forget_session_cookie(response: Response, request: Request) -> None:
    """Remove the session cookie (sign-out)."""
    templating.forget_session_cookie(response, request, name=SESSION_COOKIE,
                                     path=COOKIE_PATH)


def session_id_of(request: Request) -> str:
    """The session id the browser sent, or ""."""
    return request.cookies.get(SESSION_COOKIE, "")


def signed_in(request: Request) -> SignedIn | None:
    """The request's full session and its enabled account (a database read), or None."""
    found = request.scope.get(_SIGNED_IN)
    if isinstance(found, StaffUser):
        return found.signed
    signed: SignedIn | None = request.app.state.node.accounts.sign_in.current(
        session_id_of(request), now=now())
    return signed


def current_staff(request: Request) -> StaffUser | None:
    """The signed-in staff account of this request (the gate's, when it ran), or None."""
    found = request.scope.get(_SIGNED_IN)
    if isinstance(found, StaffUser):
        return found
    signed = signed_in(request)
    if signed is None or not signed.account.is_staff:
        return None
    user = StaffUser(account_id=signed.account.account_id, email=signed.account.email,
                     display_name=signed.account.display_name, roles=signed.account.roles,
                     second_factor=signed.account.second_factor, signed=signed)
    request.scope[_SIGNED_IN] = user
    return user


def csrf_field(request: Request) -> Markup:
    """The hidden form field every POST form of a signed-in page carries."""
    user = current_staff(request)
    return csrf_input(None if user is None else user.session)


def page_context(request: Request, **values: Any) -> dict[str, Any]:
    """What every staff template gets: the association's name, the account (`staff`), the
    CSRF field, no errors and no message unless given."""
    return signed_in_context(request, csrf_field(request), **(
        {"staff": current_staff(request), "roles": AccountRole} | values))


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of the staff pages on this node, never another
    site (`//evil.example`, `/\\evil.example`, `https://...`) and never the sign-in steps."""
    if not value or len(value) > 500 or any(ord(ch) < 0x21 or ch == "\\" for ch in value):
        return HOME_PATH
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/staff/") or value.startswith("//"):
        return HOME_PATH
    if parts.path in (SIGN_IN_PATH, "/staff/logout") or parts.path.startswith("/staff/login/"):
        return HOME_PATH
    return value


def to_sign_in(request: Request) -> RedirectResponse:
    """The sign-in page, coming back here afterwards (for a GET)."""
    target = SIGN_IN_PATH
    if request.method == "GET":
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if safe_next(here) != HOME_PATH:
            target += f"?next={quote(here, safe='')}"
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


def forbidden_page(request: Request, roles: tuple[AccountRole, ...]) -> Response:
    """The 403 page: which role this page needs."""
    names = " or ".join(sorted(r.value for r in roles))
    return render("message.html", 403, **page_context(
        request, title="Not available to your account",
        message=f"This page needs the {names} role. Ask a coordinator if you need it."))


def csrf_refused_page(request: Request) -> Response:
    """The 403 page of a forged or stale form."""
    return render("message.html", 403, **page_context(
        request, title="Form refused",
        message="This form has expired or did not come from this site. Reload the page and "
                "send it again."))


class StaffGate:
    """A dependency admitting a signed-in staff account holding one of `roles` (any staff
    role when none are named); for a POST, only with the session's CSRF token. Comparable by
    its roles, so the access test can read every route's roles back.

    `streamed=True` is for a file upload only: the gate does not read the body (which would
    receive the whole file before any check), and the page reads it with
    `web.documents_http.read_upload`, passing `check_form_token`, which checks the token the
    form sends before its file and refuses as the gate does."""

    def __init__(self, *roles: AccountRole, streamed: bool = False) -> None:
        self.roles = tuple(roles)
        self.streamed = streamed

    async def __call__(self, request: Request) -> StaffUser:
        """The admitted account, or StaffPageRefused carrying the page to show."""
        user = await run_in_threadpool(current_staff, request)
        if user is None:
            raise StaffPageRefused(to_sign_in(request))
        if self.roles and not user.has(*self.roles):
            raise StaffPageRefused(forbidden_page(request, self.roles))
        if (request.method not in ("GET", "HEAD", "OPTIONS") and not self.streamed
                and not await form_token_ok(request, user.session)):
            raise StaffPageRefused(csrf_refused_page(request))
        return user


def check_form_token(request: Request, user: StaffUser, token: str | None) -> None:
    """The gate's CSRF check for a page that reads its own (streamed) body."""
    try:
        check_csrf(user.session, token)
    except CsrfRefused as e:
        raise StaffPageRefused(csrf_refused_page(request)) from e


def gate_of(dependant: Dependant) -> StaffGate | None:
    """The staff gate among a route's dependencies (depth first), if any."""
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, StaffGate):
            return dependency.call
        found = gate_of(dependency)
        if found is not None:
            return found
    return None


async def _refused(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StaffPageRefused)
    return exc.response


def install(app: FastAPI) -> None:
    """Answer a refused staff page with the page the gate chose."""
    app.add_exception_handler(StaffPageRefused, _refused)
