"""The reminders of the daily run, queued beside the day's lapses (`POST /v1/lapses`).

The daily timer (`alliance lapses record`, ops/systemd/) already asks the served node once a
day; the reminders ride on the same request, after the lapses, so that the day's lapse
notices see the lapses just recorded. The node's outbox sender then sends them in the
background, and each is queued once however often the run is repeated (reminders/queue.py).
Each pass is a call in `queue_due_reminders`; their counts add up in the one answer.
The raters' reminders (`queue_rater_reminders`, ratings/requests.py) ride on it too.
"""

from __future__ import annotations

import datetime as dt
import uuid

from domain.application import Application, ApplicationState
from federation_api.node.root import Node
from federation_api.portal.drafts import DraftStore
from federation_api.portal.links import status_url
from federation_api.reminders.policy import ReminderPolicy
from federation_api.reminders.queue import QueuedReminders, queue_reminders
from federation_api.reminders.waiting import queue_waiting_reminders
from federation_api.web.urls import node_base_url
from ledger.errors import NotFound
from ledger.storage.database import Cursor


def queue_due_reminders(node: Node, *, on: dt.date, now: dt.datetime) -> QueuedReminders:
    """Queue every reminder of the node's association due on `on`."""
    passes = [queue_reminders(reader=node.projector, people=node.people, outbox=node.outbox,
                              association=node.association, association_name=node.config.name,
                              on=on, policy=ReminderPolicy(days_before=node.settings.reminder_days),
                              lapse_policy=node.config.policy, now=now)]
    passes.append(queue_waiting(node, on=on, now=now))  # returned, waiting on the applicant
    return QueuedReminders(**{f: sum(getattr(p, f) for p in passes)
                              for f in ("due", "queued", "already", "no_email")})


def queue_waiting(node: Node, *, on: dt.date, now: dt.datetime) -> QueuedReminders:
    """The reminders of returned applications still waiting for the applicant's answer,
    each pointing to the application's portal page where the applicant can open it."""
    drafts, base = DraftStore(node.accounts.store.db), node_base_url(node.settings)

    def link(cur: Cursor, application: Application) -> str | None:
        return status_url(cur, accounts=node.accounts.store, drafts=drafts,
                          application_id=str(application.id),
                          person_id=application.person_id, base_url=base)

    return queue_waiting_reminders(reader=node.projector, service=node.service,
                                   people=node.people, outbox=node.outbox,
                                   association=node.association,
                                   association_name=node.config.name, on=on, now=now,
                                   status_link=link)


# Raters are not reminded about an application that was decided or withdrawn.
_CLOSED = frozenset({ApplicationState.GRANTED, ApplicationState.DENIED,
                     ApplicationState.WITHDRAWN})


def queue_rater_reminders(node: Node, *, now: dt.datetime) -> int:
    """Remind every rater mailed more than 7 days ago who has not rated (at most twice each,
    each reminder keyed once in the outbox, so a repeated or restarted run queues none
    twice); how many were queued. Raters of closed applications are left alone."""
    def application_of(application_id: str) -> Application | None:
        try:
            application: Application = node.service.application(uuid.UUID(application_id))
        except (ValueError, NotFound):
            return None
        return None if application.state in _CLOSED else application
    return node.ratings.queue_reminders(application_of=application_of, now=now)
