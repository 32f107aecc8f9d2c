"""One application's reference ratings on the staff pages: whom a rating was asked of and
when, what each rater answered (for those who may read it), the applicant's waiver; the
coordinator sends a rater's request (or a new link) and records a waiver signed on paper.

Ratings are private: the coordinator and the committee read them, and a reviewer reads them
only on an application they are assigned to; any other staff account sees that a rating
arrived, not what it says. Nothing here writes the ledger except through the service: a
waiver brings the evidence's ratings up to date with one `submit_evidence` (its commitment is
what the ledger counts). Sending a request and recording a waiver are in the audit log, in
the transaction of the request's email or of the waiver.
"""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from domain.application import Application, ApplicationState
from domain.levels import Level
from domain.requirements import RATINGS_PER_APPLICATION
from federation_api.accounts.roles import AccountRole
from federation_api.clock import now
from federation_api.ratings.areas import SCALE, areas_for
from federation_api.ratings.errors import RequestRefused
from federation_api.ratings.waiver import PAPER, WAIVER_TEXT, WAIVER_VERSION, record_waiver
from federation_api.web.pages.application_raters import raters_of
from federation_api.web.pages.staff_session import (
    StaffGate,
    StaffUser,
    client_address,
    page_context,
)
from federation_api.web.pages.templating import SECURITY_HEADERS, render
from federation_api.web.rating_requests import (
    WHAT_HAPPENED,
    RequestMail,
    applicant_given,
    rater_address,
    record_received,
    send_rating_request,
)
from ledger.errors import NotFound

router = APIRouter(prefix="/staff/applications", include_in_schema=False)
Readers = Annotated[StaffUser, Depends(StaffGate(AccountRole.COORDINATOR, AccountRole.REVIEWER,
                                                 AccountRole.COMMITTEE))]
Coordinator = Annotated[StaffUser, Depends(StaffGate(AccountRole.COORDINATOR))]
_CLOSED = frozenset({ApplicationState.GRANTED, ApplicationState.DENIED,
                     ApplicationState.WITHDRAWN})
_DONE = {"waiver": "The waiver is recorded.",
         "waiver-kept": "A waiver was recorded before; it is kept as it was."}


def _application(request: Request, application_id: str) -> Application | None:
    node = request.app.state.node
    try:
        application: Application = node.service.application(uuid.UUID(application_id))
    except (ValueError, NotFound):
        return None
    return application if application.association == node.association else None


def may_read(staff: StaffUser, application: Application) -> bool:
    """Whether this account reads the ratings' contents: the coordinator and the committee,
    and a reviewer assigned to this application."""
    if staff.has(AccountRole.COORDINATOR, AccountRole.COMMITTEE):
        return True
    return any(seat.reviewer == staff.account_id for seat in application.reviewers)


def _page(request: Request, staff: StaffUser, application_id: str, status: int = 200,
          errors: list[tuple[str, str]] | None = None) -> Response:
    node = request.app.state.node
    application = _application(request, application_id)
    if application is None:
        return render("message.html", 404, **page_context(
            request, title="No such application",
            message="This association has no application with this id."))
    store = node.ratings.store
    requests = {r.rater_id: r for r in store.of_application(application.id)}
    raters = raters_of(application, node.service.lookup)
    people = node.people.many([r.rater_id for r in raters])
    params = request.query_params
    mail = next((m for m in RequestMail if m.value == params.get("mail")), None)
    rater = next((r for r in raters if r.rater_id == params.get("rater")), None)
    message = _DONE.get(params.get("done", ""), "")
    if mail is not None and rater is not None:
        message = WHAT_HAPPENED[mail].format(
            name=rater.rater_name, rater_id=rater.rater_id,
            email=rater_address(node, rater.rater_id, given=applicant_given(
                request.app.state.portal, application.id, rater.rater_id)))
    return render("staff_ratings.html", status, **page_context(
        request, application=application, application_id=str(application.id),
        raters=raters, requests=requests, people=people,
        given={r.rater_id: applicant_given(request.app.state.portal, application.id,
                                           r.rater_id) for r in raters},
        readable=may_read(staff, application), scale=dict(SCALE),
        areas=areas_for(application.level, application.designation),
        summary=store.summary(application.id, needed=RATINGS_PER_APPLICATION),
        waiver=store.waiver(application.id), waiver_text=WAIVER_TEXT,
        waiver_version=WAIVER_VERSION, open_=application.state not in _CLOSED,
        level_one=application.level is Level.IFA, errors=errors or [], message=message))


@router.get("/{application_id}/ratings", response_class=HTMLResponse)
def ratings_page(request: Request, staff: Readers, application_id: str) -> Response:
    """The application's rating requests, ratings and waiver."""
    return _page(request, staff, application_id)


@router.post("/{application_id}/rating-requests", response_class=HTMLResponse)
def send_request(request: Request, staff: Coordinator, application_id: str,
                 rater_id: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Email one rater their link (a new one if a link was sent before). At Level I a rater
    who holds no endorsement is vetted first: vetting sends the request itself."""
    node = request.app.state.node
    application = _application(request, application_id)
    if application is None:
        return _page(request, staff, application_id)
    if application.state in _CLOSED:
        return _page(request, staff, application_id, 409, [(
            "", "The application is closed; no rating is asked for any more.")])
    rater = next((r for r in raters_of(application, node.service.lookup)
                  if r.rater_id == rater_id.strip()), None)
    if rater is None:
        return _page(request, staff, application_id, 422, [(
            "send-rater", "Choose one of the application's raters.")])
    if application.level is Level.IFA and not rater.endorsed_as and not rater.vetted:
        return _page(request, staff, application_id, 422, [(
            "send-rater", f"Vet {rater.rater_name} on the application page first: Level I "
                          f"needs a rater endorsed or vetted by the coordinator.")])
    at = now()
    try:
        with node.ratings.store.db.transaction() as cur:
            mail = send_rating_request(node, cur, application, rater.rater_id,
                                       requested_by=staff.account_id, now=at,
                                       given=applicant_given(request.app.state.portal,
                                                             application.id, rater.rater_id))
            node.accounts.audit.record(cur, actor=staff.signed.actor, action="rating.request",
                                       target=f"{application.id}:{rater.rater_id}",
                                       detail=mail.value, client=client_address(request),
                                       now=at)
    except RequestRefused as e:
        return _page(request, staff, application_id, 409, [("send-rater", str(e).capitalize()
                                                            + ".")])
    if mail is RequestMail.QUEUED:
        node.outbox.notify()
    query = urlencode({"mail": mail.value, "rater": rater.rater_id})
    return RedirectResponse(f"/staff/applications/{application.id}/ratings?{query}",
                            status_code=303, headers=SECURITY_HEADERS)


@router.post("/{application_id}/rating-waiver", response_class=HTMLResponse)
def paper_waiver(request: Request, staff: Coordinator, application_id: str,
                 confirm: Annotated[str, Form(max_length=10)] = "") -> Response:
    """Record the waiver the applicant signed on paper (the portal records its own)."""
    node = request.app.state.node
    application = _application(request, application_id)
    if application is None:
        return _page(request, staff, application_id)
    if confirm != "yes":
        return _page(request, staff, application_id, 422, [(
            "waiver-confirm", "Confirm that you hold the waiver the applicant signed.")])
    at = now()
    with node.ratings.store.db.transaction() as cur:
        _, added = record_waiver(cur, node.ratings.store, application_id=application.id,
                                 signed_by=application.person_id, how=PAPER,
                                 recorded_by=staff.account_id, now=at)
        node.accounts.audit.record(cur, actor=staff.signed.actor, action="rating.waiver",
                                   target=str(application.id),
                                   detail="recorded" if added else "kept",
                                   client=client_address(request), now=at)
    if added:
        outcome = record_received(node, application.id, actor=staff.signed.actor,
                                  client=client_address(request), now=now())
        if outcome is not None and outcome.refusal is not None:
            return _page(request, staff, application_id, 409, [("", outcome.refusal.message)])
    done = "waiver" if added else "waiver-kept"
    return RedirectResponse(f"/staff/applications/{application.id}/ratings?done={done}",
                            status_code=303, headers=SECURITY_HEADERS)
