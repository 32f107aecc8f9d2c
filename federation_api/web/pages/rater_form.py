"""The rating form a reference rater opens from their email: no account, the link's token
is the rater's only credential.

GET /rate?token=... shows the form of the applicant's level with the draft saved so far, or
a plain page saying why the link does not work (already used on a date, expired on a date,
replaced by a newer email, or not a link this node sent). POST /rate saves the draft or
submits the rating; the token travels in the form's body, not the URL of the post.

A CSRF token bound to a session is not needed: the form's authority is the link's token,
which a forging site cannot know; the post is also refused when the browser says it comes
from another site (`Origin`, `Sec-Fetch-Site`). Every answer is plain text, escaped when
shown; the pages carry the usual headers (no script, no referrer, no caching), so the token
in the address bar is sent nowhere.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from domain.application import Application
from federation_api.accounts.audit_log import Actor
from federation_api.clock import now
from federation_api.ratings.areas import (
    RELATIONSHIPS,
    SCALE,
    RatingAnswers,
    areas_for,
    parse_answers,
)
from federation_api.ratings.errors import InvalidRating, LinkRefused, LinkState
from federation_api.ratings.store import OpenLink
from federation_api.web.audited import client_of
from federation_api.web.pages.templating import (
    SECURITY_HEADERS,
    association_name,
    long_date,
    render,
)
from federation_api.web.rating_requests import record_received
from ledger.errors import NotFound
from ledger.storage.database import Cursor

router = APIRouter(include_in_schema=False)
MAX_TOKEN = 200
MAX_FIELD = 5000


def _day(at: dt.datetime | None) -> str:
    return long_date(at.astimezone(dt.UTC).date()) if at is not None else ""


def _refused_page(request: Request, refused: LinkRefused) -> HTMLResponse:
    node = request.app.state.node
    name = association_name(request, node.association)
    when = _day(refused.at)
    title, message, status = {
        LinkState.UNKNOWN: ("This link does not work",
                            "This is not a rating link this association sent, or it was "
                            "changed or cut short on the way. Open the link from the email "
                            "again, or ask the Endorsement Coordinator for a new one.", 404),
        LinkState.USED: ("This link was already used",
                         f"This link was already used on {when}: the rating was submitted "
                         f"then, and a rating cannot be changed afterwards. If something in "
                         f"it is wrong, write to the Endorsement Coordinator.", 410),
        LinkState.EXPIRED: ("This link has expired",
                            f"This link expired on {when}; ask the coordinator for a new "
                            f"one. What you saved is kept and will be in the new link's "
                            f"form.", 410),
        LinkState.SUPERSEDED: ("A newer link was sent",
                               f"A newer link for this rating was emailed on {when}, and only "
                               f"the most recent email's link works. Use that one; what you "
                               f"saved is kept.", 410),
    }[refused.state]
    return render("rating_message.html", status, node_name=name, title=title,
                  message=message)


def _application(request: Request, link: OpenLink) -> Application | None:
    node = request.app.state.node
    try:
        application: Application = node.service.application(link.request.application_id)
    except NotFound:
        return None
    return application


def _form_page(request: Request, token: str, link: OpenLink, application: Application, *,
               status: int = 200, errors: list[tuple[str, str]] | None = None,
               values: dict[str, str] | None = None, message: str = "") -> HTMLResponse:
    node = request.app.state.node
    areas = areas_for(application.level, application.designation)
    if values is None:
        values = _values_of(link.request.answers)
    return render("rating_form.html", status, node_name=association_name(
        request, node.association), token=token, link=link, application=application,
        areas=areas, scale=SCALE, relationships=RELATIONSHIPS, errors=errors or [],
        values=values, message=message, expires=_day(link.expires_at),
        saved=_day(link.request.saved_at))


def _values_of(answers: RatingAnswers | None) -> dict[str, str]:
    if answers is None:
        return {}
    values = {"relationship": answers.relationship, "overall": answers.overall,
              "years_known": "" if answers.years_known is None else str(answers.years_known)}
    for code, answer in answers.areas.items():
        values[f"{code}-score"] = answer.score
        values[f"{code}-comment"] = answer.comment
    return values


@router.get("/rate", response_class=HTMLResponse)
def rating_form(request: Request, token: str = "") -> Response:
    """The form of a live link (with the draft so far), or why the link does not work."""
    node = request.app.state.node
    try:
        link = node.ratings.store.open(token[:MAX_TOKEN], now=now())
    except LinkRefused as refused:
        return _refused_page(request, refused)
    application = _application(request, link)
    if application is None:
        return _refused_page(request, LinkRefused(LinkState.UNKNOWN))
    saved = "Your answers are saved. Come back through the same link to finish." \
        if request.query_params.get("saved") else ""
    return _form_page(request, token, link, application, message=saved)


def _cross_site(request: Request) -> bool:
    """Whether the browser says the post comes from another site. Browsers send
    `Sec-Fetch-Site`; an `Origin` is compared when it names one (under the pages'
    no-referrer policy a browser sends `Origin: null` for the form's own post)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin", "null")
    return origin != "null" and urlsplit(origin).netloc != request.url.netloc


@router.post("/rate", response_class=HTMLResponse)
async def save_or_submit(request: Request) -> Response:
    """Save the draft (the link stays live) or submit the rating (the link is spent)."""
    form = await request.form()
    fields = {k: v[:MAX_FIELD] for k, v in form.items() if isinstance(v, str)}
    token = fields.get("token", "")[:MAX_TOKEN]
    node = request.app.state.node
    if _cross_site(request):
        return render("rating_message.html", 403, node_name=association_name(
            request, node.association), title="Form refused",
            message="This form did not come from this site. Open the link from the email "
                    "and send the form from there.")

    def handle() -> Response:
        try:
            link = node.ratings.store.open(token, now=now())
        except LinkRefused as refused:
            return _refused_page(request, refused)
        application = _application(request, link)
        if application is None:
            return _refused_page(request, LinkRefused(LinkState.UNKNOWN))
        final = fields.get("action") == "submit"
        areas = areas_for(application.level, application.designation)
        try:
            answers = parse_answers(fields, areas, final=final)
        except InvalidRating as e:
            return _form_page(request, token, link, application, status=422, errors=e.errors,
                              values=fields)
        store = node.ratings.store
        try:
            with store.db.transaction() as cur:
                _write(cur, final, token, answers)
        except LinkRefused as refused:
            return _refused_page(request, refused)
        if not final:
            return RedirectResponse(f"/rate?{urlencode({'token': token, 'saved': '1'})}",
                                    status_code=303, headers=SECURITY_HEADERS)
        # A refusal is in the audit log; the rating stays stored either way.
        record_received(node, application.id, actor=Actor("system"),
                        client=client_of(request), now=now())
        return render("rating_message.html", 200, node_name=association_name(
            request, node.association), title="Thank you: your rating is submitted",
            message=f"Your rating of {application.given_name} {application.family_name} is "
                    f"with {association_name(request, node.association)}. The link in your "
                    f"email no longer opens the form.")

    def _write(cur: Cursor, final: bool, token: str, answers: RatingAnswers) -> None:
        if final:
            node.ratings.store.submit(cur, token, answers, now=now())
        else:
            node.ratings.store.save_draft(cur, token, answers, now=now())

    return await run_in_threadpool(handle)
