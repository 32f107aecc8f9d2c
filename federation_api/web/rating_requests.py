"""What the pages share about ratings: sending one rater's request, and bringing the
application's evidence up to date with the ratings received and the waiver.

`send_rating_request` takes the address from the rater's person record, or, when no record of
theirs holds one, the address the applicant gave for them in the portal (`applicant_given`:
kept in the submitted draft, never in the evidence), and sends the link and its email through
`node.ratings`, in the caller's transaction. `rater_address` is that one rule, so the page
names the address the mail went to. It serves the application
page's vetting (vetting a rater sends their request in the vetting's own transaction) and the
ratings page's "send the request" (raters who need no vetting: endorsed ones, and every rater
above Level I), so both say the same thing when a rater has no address on record.

`record_received` is called after a rating is submitted and after a waiver is recorded (the
rater's page, the staff page, and the portal when the applicant signs the waiver).
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from domain.application import Application, ApplicationState
from federation_api.accounts.audit_log import Actor
from federation_api.clock import today
from federation_api.node.root import Node
from federation_api.portal.desk import Portal
from federation_api.portal.raters import given_address
from federation_api.ratings.evidence import evidence_with_received
from federation_api.web.audited import Attempt, attempt
from ledger.storage.database import Cursor


class RequestMail(StrEnum):
    """What became of a rater's request email (the page says it)."""

    QUEUED = "queued"
    NO_RECORD = "no-record"  # no person record has the rater's id
    NO_EMAIL = "no-email"  # the rater's person record has no email address
    RATED = "rated"  # the rater has submitted: no new link


WHAT_HAPPENED = {
    RequestMail.QUEUED: "The rating request is emailed to {name} at {email}, with a link that "
                        "works once.",
    RequestMail.NO_RECORD: "{name} was not emailed: no person record has the id {rater_id}. "
                           "Add one with their email address, then send the request.",
    RequestMail.NO_EMAIL: "{name} was not emailed: their person record has no email address. "
                          "Add it, then send the request.",
    RequestMail.RATED: "{name} has submitted their rating already; no new link was sent.",
}


def applicant_given(portal: Portal, application_id: uuid.UUID, rater_id: str) -> str | None:
    """The address the applicant gave for this rater in the portal, if they applied there."""
    draft = portal.drafts.of_application(str(application_id))
    return None if draft is None else given_address(draft.values, rater_id)


def rater_address(node: Node, rater_id: str, *, given: str | None,
                  cur: Cursor | None = None) -> str:
    """Where a rater's request goes: their person record's address (the coordinator keeps
    it), else the one the applicant gave; "" if neither."""
    record = node.people.get(rater_id, cur=cur)
    if record is not None and record.details.email:
        return str(record.details.email)
    return given or ""


def send_rating_request(node: Node, cur: Cursor, application: Application, rater_id: str, *,
                        requested_by: str, now: dt.datetime,
                        given: str | None = None) -> RequestMail:
    """Queue the request if the rater has an address (on record, or `given` by the applicant
    in the portal); what happened."""
    recipient = rater_address(node, rater_id, given=given, cur=cur)
    if not recipient:
        return (RequestMail.NO_RECORD if node.people.get(rater_id, cur=cur) is None
                else RequestMail.NO_EMAIL)
    earlier = node.ratings.store.get(application.id, rater_id, cur=cur)
    if earlier is not None and earlier.submitted:
        return RequestMail.RATED
    # RequestRefused past this point (a rater the application does not name, a request sent
    # by another process this instant) rolls the caller's transaction back.
    node.ratings.send(cur, application=application, rater_id=rater_id,
                      recipient=recipient, requested_by=requested_by, now=now)
    return RequestMail.QUEUED


def record_received(node: Node, application_id: uuid.UUID, *, actor: Actor, client: str,
                    now: dt.datetime) -> Attempt | None:
    """Bring the application's evidence up to date with the ratings received through their
    links and the waiver (one audited `submit_evidence`: the ledger's commitment is what
    counts them); None when nothing changes or the application is not open (evidence
    changed in review would start a new round). A refusal is in the audit log and returned;
    the ratings stay stored, and the next receipt or waiver brings the evidence up to date."""
    application = node.service.application(application_id)
    if application.state is not ApplicationState.OPEN:
        return None
    store = node.ratings.store
    evidence = evidence_with_received(application, store.of_application(application_id),
                                      waiver_signed=store.waiver(application_id) is not None)
    if evidence is None:
        return None
    return attempt(node, actor=actor, action="application.ratings_received",
                   target=str(application_id), client=client,
                   run=lambda: node.service.submit_evidence(application_id, evidence,
                                                            submitted_on=today(), now=now))
