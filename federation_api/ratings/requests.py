"""Asking a rater for a rating, by email, and reminding them: the link, the mail, the keys.

`RatingRequests.send` issues a new link for one rater of one application and queues its
email in the caller's transaction (the coordinator's action and its mail commit together).
The first request's dedupe key is `rating.request:<application>:<rater>`: queued once
however often the code runs. A new link the coordinator sends later (the first expired, or
the address changed) is the request's n-th link, keyed `...:<n>`; a reminder is keyed
`rating.reminder:<application>:<rater>:<n>`, so each reminder is queued once, also when the
daily job runs twice or restarts halfway.

A reminder carries a new link (the store keeps only hashes, so the old link cannot be
mailed again); the old one is superseded, and the draft carries over.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from urllib.parse import urlencode

from domain.application import Application
from federation_api.mail.outbox import Outbox
from federation_api.ratings.errors import RequestRefused
from federation_api.ratings.store import LINK_LIFETIME, RatingRequest, RatingStore
from ledger.storage.database import Cursor

RATE_PATH = "/rate"
REMIND_AFTER = dt.timedelta(days=7)
MAX_REMINDERS = 2


def _day(at: dt.datetime) -> str:
    utc = at.astimezone(dt.UTC)
    return f"{utc.day} {utc:%B %Y}"


class RatingRequests:
    """The rating requests of one node: its store, its outbox, the URL its links start with."""

    def __init__(self, store: RatingStore, *, outbox: Outbox, public_url: str,
                 association_name: str, lifetime: dt.timedelta = LINK_LIFETIME) -> None:
        if outbox.db is not store.db:
            raise ValueError("the outbox and the rating store must share the node database")
        self.store = store
        self.outbox = outbox
        self.public_url = public_url.rstrip("/")
        self.association_name = association_name
        self.lifetime = lifetime

    def link(self, token: str) -> str:
        """The URL the email holds."""
        return f"{self.public_url}{RATE_PATH}?{urlencode({'token': token})}"

    def send(self, cur: Cursor, *, application: Application, rater_id: str, recipient: str,
             requested_by: str, now: dt.datetime, reminder: bool = False) -> RatingRequest:
        """Issue a link for this rater and queue its email; RequestRefused if the rater is
        not one the application names, or has rated already."""
        named = next((r for r in application.evidence.ratings if r.rater_id == rater_id), None)
        if named is None:
            raise RequestRefused("the application names no such rater")
        earlier = self.store.get(application.id, rater_id, cur=cur)
        if earlier is not None and earlier.submitted:
            raise RequestRefused("this rater has rated already")
        request, token = self.store.issue(
            cur, application_id=application.id, rater_id=rater_id,
            rater_name=named.rater_name, recipient=recipient, requested_by=requested_by,
            now=now, lifetime=self.lifetime, reminder=reminder)
        base = f"{application.id}:{rater_id}"
        if reminder:
            key = f"rating.reminder:{base}:{request.reminders}"
        else:
            key = f"rating.request:{base}" + ("" if request.links_sent == 1 else
                                              f":{request.links_sent}")
        subject = (f"Reminder: a reference rating for {self.association_name}" if reminder
                   else f"A reference rating for {self.association_name}")
        if not self.outbox.enqueue(cur, dedupe_key=key, recipient=recipient, subject=subject,
                                   text=self._text(application, request, token, now=now,
                                                   reminder=reminder), now=now):
            # Another process sent this very request a moment ago: roll this one back, so
            # the link that was mailed stays the live one.
            raise RequestRefused("this request was sent a moment ago")
        return request

    def _text(self, application: Application, request: RatingRequest, token: str, *,
              now: dt.datetime, reminder: bool) -> str:
        level = application.level
        opening = (f"{self.association_name} asked you on {_day(request.requested_at)} for a "
                   f"reference rating, and has not received it yet. " if reminder else "")
        return (f"Hello {request.rater_name},\n\n{opening}"
                f"{application.given_name} {application.family_name} has applied to "
                f"{self.association_name} for endorsement as {level.title} ({level.value}) "
                f"and named you as a reference rater. Please rate their knowledge and skill "
                f"in the competency areas on this page:\n\n{self.link(token)}\n\n"
                f"You need no account. You can save the form and come back to it through "
                f"this link; it works until you submit the rating, and at the latest until "
                f"{_day(now + self.lifetime)}. Only the most recent email's link works.\n\n"
                f"The applicant never sees your rating; only the association's staff and "
                f"the application's reviewers read it.\n\nIf you did not expect this email, "
                f"you can ignore it.\n")

    def queue_reminders(self, *, application_of: Callable[[str], Application | None],
                        now: dt.datetime, after: dt.timedelta = REMIND_AFTER,
                        max_reminders: int = MAX_REMINDERS) -> int:
        """Queue a reminder to each rater mailed more than `after` ago who has not rated
        (at most `max_reminders` each); how many were queued. Each in its own transaction,
        so one refused request (rated meanwhile, a closed application) stops no other."""
        queued = 0
        for due in self.store.awaiting(mailed_before=now - after, max_reminders=max_reminders):
            application = application_of(str(due.application_id))
            if application is None:
                continue
            try:
                with self.store.db.transaction() as cur:
                    self.send(cur, application=application, rater_id=due.rater_id,
                              recipient=due.recipient, requested_by="reminder", now=now,
                              reminder=True)
            except RequestRefused:
                continue
            queued += 1
        if queued:
            self.outbox.notify()
        return queued
