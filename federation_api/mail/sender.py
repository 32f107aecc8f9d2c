"""The outbox sender: delivers queued mail in a background thread.

Each pass claims a batch of due messages (a lease), opens one SMTP connection, and for each
message: sends it with its deterministic Message-ID, then at once records the outcome in its
own transaction. A temporary refusal (4xx, a lost connection, a timeout) is tried again with
exponential backoff (1 minute doubling up to 1 hour, 30 attempts: about a day); a
permanent refusal (5xx to the recipient or the content) is given up at once and kept, with
the server's reply, for staff to see.

What a crash does. Queued mail is in the database, so a crash loses none. A message claimed
but not marked sent when its sender died is claimable again when the lease (10 minutes) has
passed, and is then sent again with the same Message-ID. The one message for which that is a
duplicate is the one whose server reply "250 accepted" arrived and whose `mark_sent` commit had
not yet finished at the instant of the crash: a window of one local commit (milliseconds) per
crash, at most one message per sending process. Nothing can close that window from our side
(the SMTP server cannot be asked afterwards whether it has a message); it is why every attempt
carries the same Message-ID, by which receiving mail stores recognise the copy. A sender also
stops using a claim once half its lease has passed (a slow relay), handing the rest back, so a
second process never takes over messages the first is still sending.

Several senders (several `alliance serve` processes on one PostgreSQL database) claim
disjoint batches (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: one writer at a time).

Logging names message ids, attempt numbers and reply codes only: never the relay password,
the recipient or the body.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from federation_api.clock import now as clock_now
from federation_api.mail.errors import DeliveryFailed
from federation_api.mail.messages import Sender, build_message
from federation_api.mail.outbox import Outbox, OutboxMail
from federation_api.mail.smtp import SmtpClient, SmtpConnection

log = logging.getLogger("alliance.mail")


@dataclass(frozen=True)
class SenderPolicy:
    """Batch size, lease, retries and polling of the sender."""

    batch: int = 20
    lease: dt.timedelta = dt.timedelta(minutes=10)
    backoff: dt.timedelta = dt.timedelta(minutes=1)
    backoff_cap: dt.timedelta = dt.timedelta(hours=1)
    max_attempts: int = 30  # with the backoff: about a day of relay trouble
    poll_seconds: float = 5.0

    def delay(self, attempts: int) -> dt.timedelta:
        """The wait after the `attempts`-th failed attempt."""
        factor: int = 2 ** max(0, min(attempts - 1, 30))
        return min(self.backoff * factor, self.backoff_cap)


@dataclass(frozen=True)
class PassResult:
    """What one pass did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0

    @property
    def attempted(self) -> int:
        """Messages handed to the relay or refused by it in this pass."""
        return self.sent + self.retried + self.failed


class OutboxSender:
    """Sends the outbox through an SMTP relay; `run_once` for one pass, `start` for a thread."""

    def __init__(self, outbox: Outbox, client: SmtpClient, sender: Sender, *,
                 policy: SenderPolicy | None = None,
                 clock: Callable[[], dt.datetime] = clock_now) -> None:
        self.outbox = outbox
        self.client = client
        self.sender = sender
        self.policy = policy or SenderPolicy()
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        outbox.listeners.append(self.wake)

    def run_once(self, now: dt.datetime | None = None) -> PassResult:
        """Claim one batch and send it; what happened."""
        at = now or self.clock()
        token, mails = self.outbox.claim(now=at, limit=self.policy.batch,
                                         lease=self.policy.lease)
        if not mails:
            return PassResult()
        claimed = time.monotonic()
        sent = retried = failed = 0
        done: set[str] = set()
        try:
            with self.client.connect() as connection:
                for mail in mails:
                    if self._stop.is_set() or (time.monotonic() - claimed
                                               > self.policy.lease.total_seconds() / 2):
                        break
                    outcome = self._send(connection, mail, now)
                    done.add(mail.mail_id)
                    sent += outcome == "sent"
                    retried += outcome == "retried"
                    failed += outcome == "failed"
        except DeliveryFailed as e:
            # The relay is unreachable or dropped us: every message of the batch not yet done
            # waits its backoff, as a mail queue does, rather than one message's attempts
            # being spent on each pass while the relay is down.
            for mail in mails:
                if mail.mail_id not in done:
                    outcome = self._failed(mail, e, now)
                    done.add(mail.mail_id)
                    retried += outcome == "retried"
                    failed += outcome == "failed"
        rest = [m.mail_id for m in mails if m.mail_id not in done]
        if rest:
            self.outbox.release(rest, claim_token=token)
        return PassResult(sent=sent, retried=retried, failed=failed, released=len(rest))

    def _send(self, connection: SmtpConnection, mail: OutboxMail,
              now: dt.datetime | None) -> str:
        message = build_message(mail, self.sender)
        try:
            connection.send(message, envelope_from=self.sender.address,
                            recipient=mail.recipient)
        except DeliveryFailed as e:
            if e.connection:
                raise
            return self._failed(mail, e, now)
        self.outbox.mark_sent(mail.mail_id, now=now or self.clock())
        log.info("mail %s sent (attempt %d)", mail.mail_id, mail.attempts + 1)
        return "sent"

    def _failed(self, mail: OutboxMail, error: DeliveryFailed, now: dt.datetime | None) -> str:
        at = now or self.clock()
        attempts = mail.attempts + 1
        code = error.code if error.code is not None else "-"
        if error.permanent or attempts >= self.policy.max_attempts:
            self.outbox.give_up(mail.mail_id, error=str(error), now=at)
            log.warning("mail %s not delivered, given up after attempt %d (reply %s)",
                        mail.mail_id, attempts, code)
            return "failed"
        self.outbox.retry_later(mail.mail_id, error=str(error),
                                at=at + self.policy.delay(attempts))
        log.info("mail %s attempt %d failed (reply %s); will try again", mail.mail_id,
                 attempts, code)
        return "retried"

    # -- the background thread ------------------------------------------------------------

    def wake(self) -> None:
        """Run a pass now (mail was just queued)."""
        self._wake.set()

    def start(self) -> None:
        """Send in a daemon thread until `stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="alliance-mail", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the message in hand, hand the rest of the batch back, and end the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                result = self.run_once()
            except Exception as e:  # a database hiccup must not end the sender for good
                log.warning("mail pass failed: %s", type(e).__name__)
                result = PassResult()
            if result.sent and not self._stop.is_set():
                continue  # the relay is taking mail and there may be more due right now
            self._wake.wait(self.policy.poll_seconds)
            self._wake.clear()
