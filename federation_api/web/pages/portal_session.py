"""The portal pages' gate: the signed-in applicant or professional, and the CSRF check.

Every portal page behind sign-in takes a `PortalGate()` dependency. The gate reads the
portal's own session cookie (`alliance_portal`, Path=/portal, HttpOnly, SameSite=Strict,
Secure on HTTPS), looks the session up in the database like the staff gate does, and
admits only a full session of an enabled account that holds a self-service role
(`applicant` or `professional`) and **no** staff role: a staff account never uses the
portal, and a portal account never passes a `StaffGate` (that gate admits staff roles only,
and reads another cookie on another path). For a POST the gate checks the form's
`csrf_token` against the session's CSRF secret before the page runs.

Pages call `current_member(request)` for the account and put `page_context(request, ...)`
into their templates (the CSRF field included). "Own records only" is the pages' job: every
query they make names `member.account_id`; see `federation_api.portal.drafts`.

Other portal pages (renewal, documents, raters, fees) build on this module and on
`portal_base.html`: depend on `Member`, render with `page_context`, post forms carrying
`{{ csrf_field }}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from federation_api.accounts.errors import CsrfRefused
from federation_api.accounts.roles import SELF_SERVICE_ROLES, AccountRole
from federation_api.accounts.sessions import Session, check_csrf
from federation_api.accounts.signin import SignedIn
from federation_api.clock import now
from federation_api.errors import EdgeError
from federation_api.portal.desk import Portal
from federation_api.web.pages import templating
from federation_api.web.pages.templating import (
    SECURITY_HEADERS,
    csrf_input,
    form_token_ok,
    render,
    signed_in_context,
)

SESSION_COOKIE = "alliance_portal"
COOKIE_PATH = "/portal"
SIGN_IN_PATH = "/portal/sign-in"
HOME_PATH = "/portal/"
_ADMITTED = "alliance.portal"  # request scope key: the account the gate admitted


@dataclass(frozen=True)
class PortalMember:
    """The signed-in applicant or professional a portal page acts as."""

    account_id: str
    email: str
    display_name: str
    roles: frozenset[AccountRole]
    person_id: str | None  # set once the coordinator confirmed identity
    signed: SignedIn

    @property
    def session(self) -> Session:
        """The database session (its CSRF secret, expiry)."""
        return self.signed.session

    @property
    def identity_confirmed(self) -> bool:
        """Whether the coordinator tied the account to a person record (submitting needs it)."""
        return self.person_id is not None


class PortalPageRefused(EdgeError):
    """A portal page refused the request; `response` is what the browser gets instead."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"portal page refused ({response.status_code})")
        self.response = response


def set_session_cookie(response: Response, request: Request, session_id: str) -> None:
    """Give the browser its new portal session id (the previous one is revoked)."""
    templating.set_session_cookie(response, request, name=SESSION_COOKIE, path=COOKIE_PATH,
                                  session_id=session_id)


def forget_session_cookie(response: Response, request: Request) -> None:
    """Remove the portal session cookie (sign-out)."""
    templating.forget_session_cookie(response, request, name=SESSION_COOKIE,
                                     path=COOKIE_PATH)


def session_id_of(request: Request) -> str:
    """The portal session id the browser sent, or ""."""
    return request.cookies.get(SESSION_COOKIE, "")


def admissible(signed: SignedIn | None) -> bool:
    """Whether a session may use the portal: full, self-service role, no staff role."""
    if signed is None or signed.account.is_staff:
        return False
    return bool(signed.account.roles & SELF_SERVICE_ROLES)


def current_member(request: Request) -> PortalMember | None:
    """The signed-in portal account of this request (the gate's, when it ran), or None."""
    found = request.scope.get(_ADMITTED)
    if isinstance(found, PortalMember):
        return found
    signed = request.app.state.node.accounts.sign_in.current(session_id_of(request), now=now())
    if not admissible(signed):
        return None
    assert signed is not None
    a = signed.account
    member = PortalMember(account_id=a.account_id, email=a.email, display_name=a.display_name,
                          roles=a.roles, person_id=a.person_id, signed=signed)
    request.scope[_ADMITTED] = member
    return member


def csrf_field(request: Request) -> Markup:
    """The hidden form field every POST form of a signed-in portal page carries."""
    member = current_member(request)
    return csrf_input(None if member is None else member.session)


def page_context(request: Request, **values: Any) -> dict[str, Any]:
    """What every portal template gets: the association's name, the account (`member`), the
    CSRF field, no errors and no message unless given."""
    return signed_in_context(request, csrf_field(request),
                             **({"member": current_member(request)} | values))


def message_page(request: Request, status: int, title: str, message: str) -> Response:
    """A short page with one message (not found, refused, expired ...)."""
    return render("portal_message.html", status, **page_context(request, title=title,
                                                                 message=message))


def not_found(request: Request) -> Response:
    """The one answer for a record that does not exist or is someone else's."""
    return message_page(request, 404, "Not found",
                        "There is nothing here for your account. Check the link, or go back "
                        "to your applications.")


def csrf_refused_page(request: Request) -> Response:
    """The answer to a form without this session's CSRF token."""
    return message_page(request, 403, "Form refused",
                        "This form has expired or did not come from this site. Reload the "
                        "page and send it again.")


class PortalGate:
    """A dependency admitting a signed-in applicant or professional; for a POST, only with
    the session's CSRF token. A GET without a session goes to the sign-in page.

    `streamed=True` is for a file upload only (as `StaffGate(streamed=True)`): the gate does
    not read the body, which would receive the whole file before any check; the page reads
    it with `web.documents_http.read_upload`, passing `check_form_token`, which checks the
    token the form sends before its file and refuses as the gate does."""

    def __init__(self, *, streamed: bool = False) -> None:
        self.streamed = streamed

    async def __call__(self, request: Request) -> PortalMember:
        """The admitted account, or PortalPageRefused carrying the page to show."""
        member = await run_in_threadpool(current_member, request)
        if member is None:
            raise PortalPageRefused(RedirectResponse(SIGN_IN_PATH, status_code=303,
                                                     headers=SECURITY_HEADERS))
        if (request.method not in ("GET", "HEAD", "OPTIONS") and not self.streamed
                and not await form_token_ok(request, member.session)):
            raise PortalPageRefused(csrf_refused_page(request))
        return member


def check_form_token(request: Request, member: PortalMember, token: str | None) -> None:
    """The gate's CSRF check for a page that reads its own (streamed) body."""
    try:
        check_csrf(member.session, token)
    except CsrfRefused as e:
        raise PortalPageRefused(csrf_refused_page(request)) from e


Member = Annotated[PortalMember, Depends(PortalGate())]


async def _refused(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, PortalPageRefused)
    return exc.response


def install(app: FastAPI) -> None:
    """Open the node's `Portal` (as `app.state.portal`) and answer a refused portal page
    with the page the gate chose."""
    node = app.state.node
    app.state.portal = Portal.open(node.accounts.store.db, accounts=node.accounts,
                                   people=node.people, outbox=node.outbox)
    app.add_exception_handler(PortalPageRefused, _refused)
