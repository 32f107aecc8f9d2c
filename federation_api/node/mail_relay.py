"""The node's outgoing mail: which relay the outbox sender uses, from the settings.

Without ALLIANCE_SMTP_URL a node still queues mail (the outbox is part of every account
action's transaction), but sends none; `alliance serve` says so when it starts, and the mail
goes out once a relay is configured. With a relay, ALLIANCE_MAIL_FROM is required: a default
From address would be a made-up domain that receiving servers reject or file as spam.
"""

from __future__ import annotations

import datetime as dt

from federation_api.mail.messages import Sender
from federation_api.mail.outbox import Outbox
from federation_api.mail.sender import OutboxSender, SenderPolicy
from federation_api.mail.smtp import SmtpClient, SmtpUrl
from federation_api.node.setup import NodeError
from federation_api.settings import Settings


def outbox_sender(settings: Settings, outbox: Outbox,
                  policy: SenderPolicy | None = None) -> OutboxSender | None:
    """The sender of `outbox` through the configured relay, or None when there is none."""
    if settings.smtp_url is None:
        return None
    if not settings.mail_from:
        raise NodeError("ALLIANCE_SMTP_URL is set but ALLIANCE_MAIL_FROM is not: set the From "
                        "address of the node's mail, e.g. 'Alliance AK <noreply@example.org>'")
    sender = Sender.parse(settings.mail_from)
    client = SmtpClient(SmtpUrl.parse(settings.smtp_url),
                        helo=sender.address.rpartition("@")[2])
    lease = dt.timedelta(seconds=settings.mail_lease_seconds)
    return OutboxSender(outbox, client, sender, policy=policy or SenderPolicy(
        lease=lease, batch=settings.mail_batch))
