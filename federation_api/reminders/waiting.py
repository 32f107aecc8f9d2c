"""Reminders while the coordinator waits on an applicant: a returned application unanswered.

An application returned with comments (by the coordinator, or by its reviewers' "return for
more") waits for the applicant's answer. `WAITING_DAYS` after the return (7 and 21, see
`reminders/policy.py`) the daily run mails the applicant a reminder with the comments and
where to answer them, once each. An answer (a resubmission, new evidence) moves the
application out of "returned", so no reminder follows it; a second return later is a new
cycle with reminders of its own.

The dedupe key names the application, the version of the aggregate the return produced, and
the threshold: `reminder:returned-waiting:<application>:v<version>:<days>d`. The version is
read back from the event history (the first version of the current "returned" stretch), so
a later change that leaves the application returned (a rater vetted meanwhile) does not make
the same return look new. The outbox's UNIQUE key makes the queueing idempotent: the run
can repeat, the node restart, and each reminder is queued once.

The address is the person record's email, as for the return mail; a record without one is
counted in `no_email`, never guessed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from domain.application import Application, ApplicationState
from federation_api.mail.outbox import Outbox
from federation_api.people.store import PeopleStore
from federation_api.reminders.messages import returned_waiting_text
from federation_api.reminders.policy import WAITING_DAYS, ReminderKind, waiting_threshold
from federation_api.reminders.queue import BATCH, QueuedReminders, Tally
from ledger.service import AssociationService
from ledger.storage.database import Cursor
from projections.queries import ProjectionReader

StatusLink = Callable[[Cursor, Application], str | None]


@dataclass(frozen=True)
class DueWaiting:
    """One waiting reminder due on the day."""

    application: Application
    return_version: int
    returned_on: dt.date
    days: int  # the threshold crossed (7, 21 ...)

    @property
    def dedupe_key(self) -> str:
        """The outbox key that makes this reminder once-only."""
        return (f"reminder:{ReminderKind.RETURNED_WAITING.value}:{self.application.id}:"
                f"v{self.return_version}:{self.days}d")


def return_of(service: AssociationService, application: Application) -> tuple[int, dt.date]:
    """(version, day) of the return the application stands in: the first version of its
    current "returned" stretch, and the day the comments sent with it were written (the
    day of the return, or of the reviewers' concluding decision)."""
    version = application.version
    while version > 1:
        before = service.application(application.id, version=version - 1)
        if before.state is not ApplicationState.RETURNED:
            break
        version -= 1
    at = service.application(application.id, version=version)
    written = [c.written_on for c in at.comments]
    return version, max(written) if written else at.modified_on.date()


def due_waiting(reader: ProjectionReader, service: AssociationService, *, association: str,
                on: dt.date, days: tuple[int, ...] = WAITING_DAYS) -> Iterator[DueWaiting]:
    """Every waiting reminder due on `on`: each returned application of `association`
    whose return crossed a threshold lately."""
    for row in reader.pipeline(association):
        if row.state is not ApplicationState.RETURNED:
            continue
        application = service.application(uuid.UUID(row.application_id))
        if application.state is not ApplicationState.RETURNED:
            continue  # answered since the projection was read
        version, returned_on = return_of(service, application)
        threshold = waiting_threshold((on - returned_on).days, days)
        if threshold is not None:
            yield DueWaiting(application, version, returned_on, threshold)


def queue_waiting_reminders(*, reader: ProjectionReader, service: AssociationService,
                            people: PeopleStore, outbox: Outbox, association: str,
                            association_name: str, on: dt.date, now: dt.datetime,
                            status_link: StatusLink) -> QueuedReminders:
    """Queue every waiting reminder due on `on` that no earlier pass queued. `status_link`
    gives the application's portal page (in the pass's transaction) or None."""
    tally = Tally()
    pending = list(due_waiting(reader, service, association=association, on=on))
    for start in range(0, len(pending), BATCH):
        with outbox.db.transaction() as cur:
            for reminder in pending[start:start + BATCH]:
                tally.due += 1
                application = reminder.application
                record = people.get(application.person_id, cur=cur)
                if record is None or not record.details.email:
                    tally.no_email += 1
                    continue
                subject, text = returned_waiting_text(
                    application, given_name=record.details.given_name,
                    association_name=association_name, returned_on=reminder.returned_on,
                    days=reminder.days, status_url=status_link(cur, application))
                tally.enqueue(outbox, cur, dedupe_key=reminder.dedupe_key,
                              recipient=record.details.email, subject=subject, text=text,
                              now=now)
        outbox.notify()
    return tally.result()
