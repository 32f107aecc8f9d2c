"""The applicant's reference raters in the portal: the draft page's "ratings" panel (the
waiver to sign), the evidence filler that tells the checklist which ratings have arrived,
signing the waiver, and each rater's stage on the application's status page.

Not a route module: `portal_evidence` lists the panel and the filler among its hooks, and
the draft and application pages post the waiver through `sign_waiver`, so no page module
imports another.

The waiver is the ratings' own (`ratings/waiver.py`, signed once, its version and SHA-256
recorded; `how="portal"`). Signed after submission it reaches the evidence at once
(`record_received`, after the waiver's transaction, as docs/ratings.md says); signed on the
draft it is in the evidence the applicant submits. The applicant sees who has rated and
when, never what a rating says.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from domain.application import Application
from domain.evidence import ApplicationEvidence
from federation_api.clock import now
from federation_api.portal import raters
from federation_api.portal.drafts import Draft
from federation_api.ratings.waiver import (
    PORTAL,
    WAIVER_SHA256,
    WAIVER_TEXT,
    WAIVER_VERSION,
    record_waiver,
)
from federation_api.web.pages.portal_session import PortalMember
from federation_api.web.pages.staff_session import client_address
from federation_api.web.rating_requests import record_received

WAIVER_FIELD = "waiver-agreed"
NOT_TICKED = ("Tick the box to say you waive your right to see the ratings; they count "
              "towards your endorsement only then.")


def panel_context(request: Request, draft: Draft) -> dict[str, Any]:
    """What `portal_ratings_panel.html` shows: the waiver, signed or to sign."""
    store = request.app.state.node.ratings.store
    return {"waiver": store.waiver(draft.application_id), "waiver_text": WAIVER_TEXT,
            "waiver_version": WAIVER_VERSION, "waiver_sha256": WAIVER_SHA256,
            "action": f"/portal/drafts/{draft.draft_id}/waiver", "field": WAIVER_FIELD,
            "submitted": draft.submitted}


def fill_ratings(request: Request, draft: Draft,
                 evidence: ApplicationEvidence) -> ApplicationEvidence:
    """The raters the applicant named, awaited until their ratings arrive through their
    links, and the waiver as recorded: only ratings received count."""
    store = request.app.state.node.ratings.store
    return raters.with_ratings_known(
        raters.awaited(evidence), store.of_application(draft.application_id),
        waiver_signed=store.waiver(draft.application_id) is not None)


def sign_waiver(request: Request, member: PortalMember, draft: Draft) -> bool:
    """Record the applicant's waiver of the application's ratings (audited, in one
    transaction); whether this call recorded it (a second signing keeps the first). After
    submission the evidence then counts the ratings received with it."""
    node = request.app.state.node
    at = now()
    with node.ratings.store.db.transaction() as cur:
        _, added = record_waiver(cur, node.ratings.store, application_id=draft.application_id,
                                 signed_by=member.account_id, how=PORTAL,
                                 recorded_by=member.account_id, now=at)
        node.accounts.audit.record(cur, actor=member.signed.actor, action="portal.rating_waiver",
                                   target=str(draft.application_id),
                                   detail=("signed " + WAIVER_VERSION) if added else "kept",
                                   client=client_address(request), now=at)
    if added and draft.submitted:
        record_received(node, draft.application_id, actor=member.signed.actor,
                        client=client_address(request), now=now())
    return added


def status_context(request: Request, draft: Draft, application: Application) -> dict[str, Any]:
    """The raters' stages and the waiver, for the application's status page."""
    store = request.app.state.node.ratings.store
    context = panel_context(request, draft)
    context["action"] = f"/portal/applications/{application.id}/waiver"
    context["raters"] = raters.statuses(application.evidence,
                                        store.of_application(application.id))
    return context
