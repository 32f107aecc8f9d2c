"""Sending one rater's rating request from a staff page: the address from the rater's person
record, the link and its email through `node.ratings`, in the caller's transaction.

Shared by the application page's vetting (vetting a rater sends their request in the
vetting's own transaction) and the ratings page's "send the request" (raters who need no
vetting: endorsed ones, and every rater above Level I), so both say the same thing when a
rater has no address on record.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from domain.application import Application
from federation_api.node.root import Node
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


def send_rating_request(node: Node, cur: Cursor, application: Application, rater_id: str, *,
                        requested_by: str, now: dt.datetime) -> RequestMail:
    """Queue the request if the rater has an address on record; what happened."""
    record = node.people.get(rater_id, cur=cur)
    if record is None:
        return RequestMail.NO_RECORD
    if not record.details.email:
        return RequestMail.NO_EMAIL
    earlier = node.ratings.store.get(application.id, rater_id, cur=cur)
    if earlier is not None and earlier.submitted:
        return RequestMail.RATED
    # RequestRefused past this point (a rater the application does not name, a request sent
    # by another process this instant) rolls the caller's transaction back.
    node.ratings.send(cur, application=application, rater_id=rater_id,
                      recipient=record.details.email, requested_by=requested_by, now=now)
    return RequestMail.QUEUED
