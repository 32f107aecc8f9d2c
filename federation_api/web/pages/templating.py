"""Rendering of the HTML pages: one Jinja environment with autoescaping, one set of headers.

Autoescaping is on for every template, so a name is always text, never markup; the
Content-Security-Policy forbids scripts altogether as a second line of defence.

The staff pages and the portal pages have gates of their own (`staff_session`,
`portal_session`: other cookies, other roles), but their forms and templates work alike:
the hidden CSRF field of a session (`csrf_input`), the gate's check of a posted form
(`form_token_ok`), what every signed-in template gets (`signed_in_context`), and the session
cookie's attributes (`set_session_cookie`, `forget_session_cookie`). They are here once, so
the two sets of pages cannot drift apart in how a form or a session is protected.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from markupsafe import Markup

from federation_api.accounts.errors import CsrfRefused
from federation_api.accounts.sessions import Session, check_csrf, csrf_token
from federation_api.web.urls import request_scheme

HERE = Path(__file__).parent
# auto_reload off: the templates are the package's files and change only with a new release
# (a restart); with it on, every render stat()ed the page and each template it extends or
# imports - 4.5 % of the board report page's work under 20 concurrent staff.
TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                               autoescape=True, undefined=jinja2.StrictUndefined,
                               trim_blocks=True, lstrip_blocks=True, auto_reload=False)
STATIC_DIR = HERE / "static"
STYLESHEET = "/static/pages.css"
CSRF_FIELD = "csrf_token"  # the form field of every POST form's CSRF token


def long_date(day: dt.date) -> str:
    """E.g. "31 December 2026": unambiguous in every country, unlike 12/31/2026."""
    return f"{day.day} {day:%B %Y}"


def long_time(at: dt.datetime) -> str:
    """E.g. "22 November 2026, 15:04:05 UTC"."""
    utc = at.astimezone(dt.UTC)
    return f"{long_date(utc.date())}, {utc:%H:%M:%S} UTC"


TEMPLATES.filters["long_date"] = long_date
TEMPLATES.filters["long_time"] = long_time
TEMPLATES.globals["stylesheet"] = STYLESHEET

# Pages load only our stylesheet; no script, no frame, forms post only to this node.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # search URLs carry names; never send them onwards
    "Cache-Control": "no-store",  # an answer is as of its time; a shared cache must not keep it
}


def render(name: str, status: int = 200, headers: dict[str, str] | None = None,
           **context: Any) -> HTMLResponse:
    """A template rendered with the security headers every page carries."""
    html = TEMPLATES.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS,
                                                           **(headers or {})})


def association_name(request: Request, association: str) -> str:
    """The full name of an association: from the trust registry, else this node's own name."""
    node = request.app.state.node
    if node.registry is not None:
        record = node.registry.association(association)
        if record is not None:
            return str(record.name)
    if association == node.association:
        return str(node.config.name)
    return association


def csrf_input(session: Session | None) -> Markup:
    """The hidden form field every POST form of a signed-in page carries: a masked token of
    the session's CSRF secret (nothing without a session)."""
    if session is None:
        return Markup("")
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, csrf_token(session))


async def form_token_ok(request: Request, session: Session) -> bool:
    """Whether the posted form carries a CSRF token of `session` (the gates' check)."""
    token = (await request.form()).get(CSRF_FIELD)
    try:
        check_csrf(session, token if isinstance(token, str) else None)
    except CsrfRefused:
        return False
    return True


def signed_in_context(request: Request, csrf_field: Markup, **values: Any) -> dict[str, Any]:
    """What every signed-in page's template gets: the association's name, the CSRF field,
    no errors and no message unless given; the gate's own names (`staff`, `member`) come
    in `values`."""
    node = request.app.state.node
    return {"node_name": association_name(request, node.association),
            "csrf_field": csrf_field, "errors": [], "message": "", **values}


def set_session_cookie(response: Response, request: Request, *, name: str, path: str,
                       session_id: str) -> None:
    """Give the browser a session id under the gate's cookie `name` on `path`: HttpOnly (no
    script reads it), SameSite=Strict (no other site's page sends it), Secure whenever the
    browser's connection is HTTPS, for the sessions' absolute lifetime."""
    policy = request.app.state.node.accounts.sessions.policy
    response.set_cookie(name, session_id, max_age=int(policy.absolute.total_seconds()),
                        path=path, httponly=True, samesite="strict",
                        secure=request_scheme(request) == "https")


def forget_session_cookie(response: Response, request: Request, *, name: str,
                          path: str) -> None:
    """Remove the gate's session cookie (sign-out), with the attributes it was set with."""
    response.delete_cookie(name, path=path, httponly=True, samesite="strict",
                           secure=request_scheme(request) == "https")


def install_static(app: FastAPI) -> None:
    """Serve the pages' stylesheet (and the API docs' starter script) under /static."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
