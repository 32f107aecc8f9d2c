"""The daily reminder pass: every reminder due on a day, queued in the mail outbox once.

Each reminder's dedupe key names the kind, the endorsement, the cycle (its valid-through)
and, for a renewal reminder, the threshold (60, 30, 7 days...): `reminder:renewal-due:
<endorsement>:<valid-through>:<days>d`, `reminder:lapsed:<endorsement>:<valid-through>`. The
outbox's UNIQUE key makes the queueing itself idempotent, so the pass can run any number of
times on a day (a timer that fires twice, a retry after a crash, a restarted node) and each
reminder is queued once; a renewal moves valid-through on, so the next cycle's reminders are
new keys. Rows are queued `BATCH` per transaction: a crash mid-pass keeps the batches that
committed, and the next run queues the rest.

The professional's address is the email of their person record (`people/`); an endorsement
whose person has no record or no address is counted in `QueuedReminders.no_email` (the staff
renewals page shows whom to tell another way), never guessed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from domain.policy import AssociationPolicy
from federation_api.mail.errors import MailRejected
from federation_api.mail.outbox import Outbox
from federation_api.people.store import PeopleStore
from federation_api.reminders.messages import lapsed_text, renewal_due_text
from federation_api.reminders.policy import LAPSE_NOTICE_DAYS, ReminderKind, ReminderPolicy
from ledger.storage.database import Cursor
from projections.queries import ProjectionReader
from projections.rows import RosterRow

BATCH = 500


@dataclass(frozen=True)
class DueReminder:
    """One reminder due on the day: the endorsement, the kind, and its dedupe key."""

    row: RosterRow
    kind: ReminderKind
    days_left: int | None  # renewal reminders: the days to valid-through
    threshold: int | None = None  # renewal reminders: the policy threshold crossed

    @property
    def dedupe_key(self) -> str:
        """The outbox key that makes this reminder once-only."""
        key = (f"reminder:{self.kind.value}:{self.row.endorsement_id}:"
               f"{self.row.valid_through.isoformat()}")
        if self.kind is ReminderKind.BEFORE_VALID_THROUGH:
            return f"{key}:{self.threshold}d"
        return key


@dataclass(frozen=True)
class QueuedReminders:
    """What one pass did."""

    due: int
    queued: int  # new in the outbox
    already: int  # queued by an earlier pass
    no_email: int  # no person record, or no address on it


@dataclass
class Tally:
    """The counts of a pass while it runs. Every pass (these renewal reminders, the
    waiting ones of `reminders/waiting.py`) queues and counts a reminder the same way, so
    the counting is written once, here."""

    due: int = 0
    queued: int = 0
    already: int = 0
    no_email: int = 0

    def enqueue(self, outbox: Outbox, cur: Cursor, *, dedupe_key: str, recipient: str,
                subject: str, text: str, now: dt.datetime) -> None:
        """Queue one reminder under its once-only key and count what became of it: new,
        queued by an earlier pass, or an address the outbox refuses (it checks before
        anything is written, so the transaction stays usable)."""
        try:
            fresh = outbox.enqueue(cur, dedupe_key=dedupe_key, recipient=recipient,
                                   subject=subject, text=text, now=now)
        except MailRejected:
            self.no_email += 1
            return
        if fresh:
            self.queued += 1
        else:
            self.already += 1

    def result(self) -> QueuedReminders:
        """What the pass did."""
        return QueuedReminders(due=self.due, queued=self.queued, already=self.already,
                               no_email=self.no_email)


def due_reminders(reader: ProjectionReader, *, association: str, on: dt.date,
                  policy: ReminderPolicy, lapse_policy: AssociationPolicy
                  ) -> Iterator[DueReminder]:
    """Every reminder due on `on`: a renewal reminder for each active endorsement past a
    threshold, a lapse notice for each endorsement whose lapse took effect lately."""
    due, _ = reader.renewals(association, on, policy.horizon)
    for row in due:
        days_left = (row.valid_through - on).days
        threshold = policy.threshold(days_left)
        if threshold is not None:
            yield DueReminder(row, ReminderKind.BEFORE_VALID_THROUGH, days_left, threshold)
    oldest = on - dt.timedelta(days=LAPSE_NOTICE_DAYS)
    for row in reader.roster(association, status="lapsed"):
        if oldest <= lapse_policy.lapses_on(row.valid_through) <= on:
            yield DueReminder(row, ReminderKind.LAPSED, None)


def _batches(items: Iterator[DueReminder]) -> Iterator[list[DueReminder]]:
    batch: list[DueReminder] = []
    for item in items:
        batch.append(item)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def queue_reminders(*, reader: ProjectionReader, people: PeopleStore, outbox: Outbox,
                    association: str, association_name: str, on: dt.date,
                    policy: ReminderPolicy, lapse_policy: AssociationPolicy,
                    now: dt.datetime) -> QueuedReminders:
    """Queue every reminder due on `on` that no earlier pass queued."""
    tally = Tally()
    for batch in _batches(due_reminders(reader, association=association, on=on,
                                        policy=policy, lapse_policy=lapse_policy)):
        records = people.many(sorted({r.row.person_id for r in batch}))
        with outbox.db.transaction() as cur:
            for reminder in batch:
                tally.due += 1
                record = records.get(reminder.row.person_id)
                if record is None or not record.details.email:
                    tally.no_email += 1
                    continue
                given = record.details.given_name
                if reminder.kind is ReminderKind.LAPSED:
                    subject, text = lapsed_text(reminder.row, given_name=given,
                                                association_name=association_name)
                else:
                    assert reminder.days_left is not None
                    subject, text = renewal_due_text(
                        reminder.row, given_name=given, association_name=association_name,
                        days_left=reminder.days_left, policy=lapse_policy)
                tally.enqueue(outbox, cur, dedupe_key=reminder.dedupe_key,
                              recipient=record.details.email, subject=subject, text=text,
                              now=now)
        outbox.notify()
    return tally.result()
