"""The coordinator roster page: sign in with a staff token, filter the roster, download CSV.

The browser never keeps the token. The sign-in form posts it once; the node checks it with
the TokenStore and answers with a cookie that holds only a random session id (HttpOnly, so no
script can read it; SameSite=Strict, so no other site's page can send it; Path=/staff, so the
public pages never see it). Sessions live in this process's memory: signing out, a restart or
eight hours end them, and every request checks again that the token behind the session is
still live, so revoking the token ends its sessions at once.

Cross-site request forgery: besides SameSite=Strict, each POST must echo a secret form field.
Sign-in compares it with a pre-session cookie set by the sign-in page (double submit); sign-out
compares it with the secret kept in the server-side session. Neither cookie nor token is
logged: the request logger records method, route and status only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import QueryParams

from domain.levels import EndorsementStatus, Level
from federation_api.accounts.tokens import Principal, Role
from federation_api.clock import today
from federation_api.web.csv_files import roster_csv
from federation_api.web.pages.templating import SECURITY_HEADERS, association_name, render
from projections.queries import fold_name
from projections.rows import RosterRow
from projections.standing import standing_on

SESSION_COOKIE = "alliance_staff"
LOGIN_COOKIE = "alliance_staff_login"
COOKIE_PATH = "/staff"
SESSION_SECONDS = 8 * 3600
MAX_SESSIONS = 1000
ROSTER_ROLES = (Role.COORDINATOR, Role.COMMITTEE, Role.AUDITOR)
MAX_DUE_DAYS = 366
MAX_TOKEN = 200


@dataclass(frozen=True)
class StaffSession:
    """A signed-in staff member: who, the form secret for POSTs, and when it ends."""

    token_id: str
    label: str
    role: Role
    csrf: str
    expires_at: float  # time.monotonic()


class StaffSessions:
    """Sessions of this process, keyed by the SHA-256 of their cookie value."""

    def __init__(self, lifetime: float = SESSION_SECONDS, capacity: int = MAX_SESSIONS) -> None:
        self.lifetime = lifetime
        self.capacity = capacity
        self._lock = threading.Lock()
        self._sessions: dict[str, StaffSession] = {}  # oldest first

    def open(self, principal: Principal) -> str:
        """Start a session; returns the cookie value (shown to the browser only)."""
        session_id = secrets.token_urlsafe(32)
        session = StaffSession(token_id=principal.token_id, label=principal.label,
                               role=principal.role, csrf=secrets.token_urlsafe(32),
                               expires_at=time.monotonic() + self.lifetime)
        with self._lock:
            # Bounded memory: the oldest session gives way (its holder signs in again).
            while len(self._sessions) >= self.capacity:
                del self._sessions[next(iter(self._sessions))]
            self._sessions[_digest(session_id)] = session
        return session_id

    def get(self, session_id: str) -> StaffSession | None:
        """The live session with this cookie value, or None."""
        key = _digest(session_id)
        with self._lock:
            session = self._sessions.get(key)
            if session is not None and session.expires_at <= time.monotonic():
                del self._sessions[key]
                return None
            return session

    def close(self, session_id: str) -> None:
        """End a session (sign-out, or its token was revoked)."""
        with self._lock:
            self._sessions.pop(_digest(session_id), None)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


def _forget(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")


def current_session(request: Request) -> StaffSession | None:
    """The request's session, if its cookie names one whose token is still live."""
    session_id = request.cookies.get(SESSION_COOKIE, "")
    sessions: StaffSessions = request.app.state.staff_sessions
    session = sessions.get(session_id) if session_id else None
    if session is None:
        return None
    live = {token_id for token_id, _, _, _, revoked in request.app.state.node.tokens.list()
            if revoked is None}
    if session.token_id not in live:
        sessions.close(session_id)
        return None
    return session


def _context(request: Request, **values: Any) -> dict[str, Any]:
    node = request.app.state.node
    return {"node_name": association_name(request, node.association), "session": None,
            "errors": [], "message": "", **values}


def _to_login() -> RedirectResponse:
    return RedirectResponse("/staff/login", status_code=303, headers=SECURITY_HEADERS)


router = APIRouter(prefix="/staff", include_in_schema=False)


def _login_page(request: Request, status: int = 200, errors: list[tuple[str, str]] | None = None,
                message: str = "") -> HTMLResponse:
    csrf = secrets.token_urlsafe(32)
    response = render("staff_login.html", status,
                      **_context(request, csrf=csrf, errors=errors or [], message=message))
    _cookie(response, request, LOGIN_COOKIE, csrf, max_age=3600)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    """The sign-in form (signed-in staff go straight to the roster)."""
    if current_session(request) is not None:
        return RedirectResponse("/staff/roster", status_code=303, headers=SECURITY_HEADERS)
    signed_out = request.query_params.get("signed_out") == "1"
    return _login_page(request, message="You have signed out." if signed_out else "")


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, token: Annotated[str, Form()] = "",
          csrf: Annotated[str, Form()] = "") -> Response:
    """Check the token; on success start a session and go to the roster."""
    if not _same(csrf, request.cookies.get(LOGIN_COOKIE, "")):
        return _login_page(request, 403, [("token", "This form has expired or did not come "
                                                    "from this site. Please sign in again.")])
    token = token.strip()
    principal = (request.app.state.node.tokens.authenticate(token)
                 if 0 < len(token) <= MAX_TOKEN else None)
    if principal is None:
        return _login_page(request, 401, [("token", "That token is not valid: it is unknown "
                                                    "or has been revoked.")])
    if principal.role not in ROSTER_ROLES:
        allowed = ", ".join(r.value for r in ROSTER_ROLES)
        return _login_page(request, 403, [("token", f"A {principal.role.value} token cannot "
                                                    f"view the roster (it needs the role "
                                                    f"{allowed}).")])
    session_id = request.app.state.staff_sessions.open(principal)
    response = RedirectResponse("/staff/roster", status_code=303, headers=SECURITY_HEADERS)
    _cookie(response, request, SESSION_COOKIE, session_id, max_age=SESSION_SECONDS)
    _forget(response, request, LOGIN_COOKIE)
    return response


@router.post("/logout", response_class=HTMLResponse)
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    """End the session (the form must carry the session's secret)."""
    session = current_session(request)
    if session is None:
        return _to_login()
    if not _same(csrf, session.csrf):
        return render("message.html", 403, **_context(
            request, session=session, title="Sign-out refused",
            message="That sign-out request did not come from this site's page. Use the Sign "
                    "out button."))
    request.app.state.staff_sessions.close(request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/staff/login?signed_out=1", status_code=303,
                                headers=SECURITY_HEADERS)
    _forget(response, request, SESSION_COOKIE)
    return response


# -- the roster ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterFilter:
    """What the coordinator asked to see (empty means no filter)."""

    status: EndorsementStatus | None = None
    level: Level | None = None
    due_within: int | None = None
    name: str = ""

    def query(self) -> str:
        """The filter as a query string (for the CSV link)."""
        values = {"status": self.status.value if self.status else "",
                  "level": self.level.value if self.level else "",
                  "due_within": "" if self.due_within is None else str(self.due_within),
                  "name": self.name}
        return urlencode({k: v for k, v in values.items() if v})


def parse_filter(params: QueryParams) -> tuple[RosterFilter, list[tuple[str, str]]]:
    """A filter from query parameters, and an error per parameter it could not use."""
    errors: list[tuple[str, str]] = []
    status = level = None
    due_within: int | None = None
    if raw := params.get("status", ""):
        try:
            status = EndorsementStatus(raw)
        except ValueError:
            errors.append(("status", "Choose a status from the list."))
    if raw := params.get("level", ""):
        try:
            level = Level(raw)
        except ValueError:
            errors.append(("level", "Choose a level from the list."))
    if raw := params.get("due_within", "").strip():
        if raw.isdigit() and int(raw) <= MAX_DUE_DAYS:
            due_within = int(raw)
        else:
            errors.append(("due_within", f"Enter a whole number of days from 0 to "
                                         f"{MAX_DUE_DAYS}."))
    name = params.get("name", "").strip()
    if len(name) > 100:
        errors.append(("name", "Enter at most 100 characters."))
        name = ""
    return RosterFilter(status=status, level=level, due_within=due_within, name=name), errors


def filtered_roster(request: Request, wanted: RosterFilter) -> list[RosterRow]:
    """This association's roster rows that pass the filter, in endorsement id order."""
    node = request.app.state.node
    rows: list[RosterRow] = node.projector.roster(
        node.association, wanted.status.value if wanted.status else None)
    if wanted.level is not None:
        rows = [r for r in rows if r.level is wanted.level]
    if wanted.due_within is not None:
        # Renewal due: active and ending within N days, or already past its end (in grace).
        due, overdue = node.projector.renewals(node.association, today(), wanted.due_within)
        ids = {r.endorsement_id for r in (*due, *overdue)}
        rows = [r for r in rows if r.endorsement_id in ids]
    if wanted.name:
        folded = fold_name(wanted.name)
        rows = [r for r in rows if folded in fold_name(f"{r.given_name} {r.family_name}")]
    return rows


@dataclass(frozen=True)
class RosterLine:
    """A roster row as the page shows it, with today's standing."""

    row: RosterRow
    standing: str


@router.get("/roster", response_class=HTMLResponse)
def roster_page(request: Request) -> Response:
    """The roster with filters (staff with a roster role only)."""
    session = current_session(request)
    if session is None:
        return _to_login()
    wanted, errors = parse_filter(request.query_params)
    on = today()
    lines = [] if errors else [RosterLine(r, standing_on(r.status, r.valid_through, on).value)
                               for r in filtered_roster(request, wanted)]
    return render("staff_roster.html", 422 if errors else 200, **_context(
        request, session=session, errors=errors, wanted=wanted, lines=lines, on=on,
        statuses=list(EndorsementStatus), levels=list(Level),
        csv_url=f"/staff/roster.csv?{wanted.query()}".rstrip("?"),
        association=request.app.state.node.association))


@router.get("/roster.csv")
def roster_download(request: Request) -> Response:
    """The filtered roster as CSV, the same columns as `GET /v1/roster?format=csv`."""
    session = current_session(request)
    if session is None:
        return _to_login()
    wanted, errors = parse_filter(request.query_params)
    if errors:
        return render("message.html", 422, **_context(
            request, session=session, title="Check the filters",
            message=" ".join(message for _, message in errors)))
    rows = [msgspec.to_builtins(r) for r in filtered_roster(request, wanted)]
    body = roster_csv(rows)  # an empty selection is its header line alone
    association = request.app.state.node.association
    return Response(body, media_type="text/csv", headers={
        **SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="roster-{association}-'
                               f'{today().isoformat()}.csv"'})
