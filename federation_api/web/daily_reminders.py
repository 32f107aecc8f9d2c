"""The reminders of the daily run, queued beside the day's lapses (`POST /v1/lapses`).

The daily timer (`alliance lapses record`, ops/systemd/) already asks the served node once a
day; the reminders ride on the same request, after the lapses, so that the day's lapse
notices see the lapses just recorded. The node's outbox sender then sends them in the
background, and each is queued once however often the run is repeated (reminders/queue.py).
"""

from __future__ import annotations

import datetime as dt

from federation_api.node.root import Node
from federation_api.reminders.policy import ReminderPolicy
from federation_api.reminders.queue import QueuedReminders, queue_reminders


def queue_due_reminders(node: Node, *, on: dt.date, now: dt.datetime) -> QueuedReminders:
    """Queue every reminder of the node's association due on `on`."""
    return queue_reminders(reader=node.projector, people=node.people, outbox=node.outbox,
                           association=node.association, association_name=node.config.name,
                           on=on, policy=ReminderPolicy(days_before=node.settings.reminder_days),
                           lapse_policy=node.config.policy, now=now)
