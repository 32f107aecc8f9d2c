"""The email that tells an applicant their application was returned, and with which comments.

A return (the coordinator's, or the reviewers' decisions concluding "return for more") is
mailed to the email address of the applicant's person record, queued in the outbox inside
the transaction that records the action's outcome in the audit log (`web.audited`): the audit
entry says "ok" if and only if the mail is queued. The dedupe key names the application and
its aggregate version, so a return is mailed once however often the queueing runs, and a
second return after a resubmission is a new mail.

The comments are private (never on the ledger) and travel only in this mail. Reviewers are
named by role, not by name: the applicant learns what to change, not who asked. Plain text
only, so nothing a staff member typed can become markup.

An applicant who applied through the portal (the caller passes `status_url`, see
`portal/links.py`) is sent to their application's page there to answer; anyone else is asked
to send the association what it needs, as before the portal. The page's address is all the
mail adds: the link carries no token, the portal's own sign-in stands in front of it.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from domain.application import Application, ApplicationState
from domain.review import CommentAuthor
from federation_api.mail.outbox import Outbox
from federation_api.people.store import PeopleStore
from ledger.storage.database import Cursor


class ReturnMail(StrEnum):
    """What became of the applicant's email about a return (the page says it)."""

    QUEUED = "queued"
    NO_RECORD = "no-record"  # no person record has the application's professional id
    NO_EMAIL = "no-email"  # the person record has no email address


WHAT_HAPPENED = {
    ReturnMail.QUEUED: "The comments are emailed to the applicant at {email}.",
    ReturnMail.NO_RECORD: "The applicant was not emailed: there is no person record with "
                          "the id {person_id}. Add one with an email address, then tell "
                          "them another way.",
    ReturnMail.NO_EMAIL: "The applicant was not emailed: their person record has no email "
                         "address. Tell them another way, and add the address to the record.",
}


def comments_text(application: Application) -> str:
    """The comments sent with the return, each under who wrote it (by role)."""
    parts = []
    reviewer = 0
    for comment in application.comments:
        if comment.role is CommentAuthor.REVIEWER:
            reviewer += 1
            who = f"Reviewer {reviewer}"
        else:
            who = "The coordinator"
        parts.append(f"{who} wrote:\n{comment.comments.strip()}\n")
    return "\n".join(parts)


def how_to_answer(status_url: str | None) -> str:
    """Where the applicant answers: their application's portal page, or the association."""
    if status_url is None:
        return ("When you have what is asked for, send it to the association and they will "
                "pass your application back to its reviewers.\n")
    return (f"Answer the comments on your application's page in the portal (sign in with "
            f"your portal account's email address): change what is asked for and send your "
            f"answer there, and your application goes back to its reviewers.\n\n"
            f"{status_url}\n")


def return_mail_text(application: Application, *, given_name: str,
                     association_name: str, status_url: str | None = None) -> str:
    """The body: the comments for the applicant, each under who wrote it (by role), and
    where to answer them."""
    level = application.level
    return (f"Hello {given_name},\n\n"
            f"{association_name} has returned your application for {level.title} "
            f"({level.value}) so that you can add to it. Please answer these comments:\n\n"
            + comments_text(application) + "\n" + how_to_answer(status_url))


def queue_return_mail(cur: Cursor, *, outbox: Outbox, people: PeopleStore,
                      application: Application, association_name: str,
                      now: dt.datetime, status_url: str | None = None) -> ReturnMail | None:
    """Queue the mail if `application` stands returned; None if it does not. `status_url`:
    the application's portal page, when its applicant can open it there."""
    if application.state is not ApplicationState.RETURNED:
        return None
    record = people.get(application.person_id, cur=cur)
    if record is None:
        return ReturnMail.NO_RECORD
    if not record.details.email:
        return ReturnMail.NO_EMAIL
    outbox.enqueue(cur, dedupe_key=f"application.returned:{application.id}:"
                                   f"{application.version}",
                   recipient=record.details.email,
                   subject=f"Your application to {association_name} is returned with comments",
                   text=return_mail_text(application, given_name=record.details.given_name,
                                         association_name=association_name,
                                         status_url=status_url), now=now)
    return ReturnMail.QUEUED
