"""The portal's home page: the signed-in person's drafts, applications and endorsements.

Only the account's own: drafts by its account id, applications by the drafts it submitted,
endorsements by the person record the coordinator tied the account to (none before that).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from domain.progress import STAGE_OF_STATE
from federation_api.clock import today
from federation_api.web.pages.level_titles import level_title
from federation_api.web.pages.portal_session import Member, PortalMember, page_context
from federation_api.web.pages.templating import render
from ledger.errors import NotFound

router = APIRouter(prefix="/portal", include_in_schema=False)


def _home(request: Request, member: PortalMember) -> Response:
    node = request.app.state.node
    portal = request.app.state.portal
    drafts, applications = [], []
    for draft in portal.drafts.of_account(member.account_id):
        if not draft.submitted:
            drafts.append(draft)
            continue
        try:
            state = node.service.application(draft.application_id).state
        except NotFound:  # submitted, and the ledger's copy not readable yet: say so
            state = None
        applications.append((draft, STAGE_OF_STATE[state].title if state else "Submitted"))
    endorsements = (node.projector.recorded_for(member.person_id, today())
                    if member.person_id else ())
    done = {"discarded": "The draft is thrown away."}
    return render("portal_home.html", **page_context(
        request, message=done.get(request.query_params.get("done", ""), ""), drafts=drafts,
        applications=applications, endorsements=endorsements, level_title=level_title))


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, member: Member) -> Response:
    """What the account has here, and the way to start an application."""
    return await run_in_threadpool(_home, request, member)
