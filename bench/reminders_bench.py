"""10,000 renewal reminders due on one day: queued by the daily pass and handed to a real SMTP
server by the node's outbox sender, against a bare smtplib loop over the same messages.

    .venv/bin/python -m bench.reminders_bench [--count 10000] [--json]

Setup (not timed): a node in a temporary directory (SQLite files), `--count` imported
endorsements whose valid-through is 7 days away, sealed and projected, and a person record
with an email address for each holder. The SMTP server is aiosmtpd's discarding `Sink`
handler in a process of its own (`python -m aiosmtpd`), so the server does not share the
measured process's interpreter.

Phases, in one run:

- queue: `queue_due_reminders` (the daily pass `POST /v1/lapses` runs): the roster read, the
  person records read, `count` messages written to the outbox in batches of 500 with their
  dedupe keys;
- send: the node's `OutboxSender` with the policy `alliance serve` uses (batches of 20, each
  claimed under a lease, one SMTP connection per batch, each message marked sent in its own
  commit), `run_once` until the outbox is empty;
- bare: a plain smtplib loop over one connection handing the same messages (built
  beforehand, with the same headers) to the same server: the floor of any sender.

Printed: messages per second of each phase, and the sender's rate as a ratio to the bare
loop's (the machine largely cancels out of the ratio), and queue + send end to end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.workload import FAMILY, GIVEN, LEVELS
from domain.endorsement import Endorsement
from domain.policy import AssociationPolicy
from federation_api.clock import now, today
from federation_api.mail.messages import Sender, build_message
from federation_api.mail.outbox import OutboxMail
from federation_api.mail.sender import OutboxSender, SenderPolicy
from federation_api.mail.smtp import SmtpClient, SmtpUrl
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.node.root import Node
from federation_api.node.setup import init_node
from federation_api.people.records import PersonDetails
from federation_api.settings import Settings
from federation_api.web.daily_reminders import queue_due_reminders

FROM = "Alliance AK <noreply@ak.example.org>"
DAYS_LEFT = 7
BATCH = 500


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_smtp_server(port: int) -> subprocess.Popen[bytes]:
    """aiosmtpd's discarding Sink handler in its own process, once it accepts connections."""
    server = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l",
                               f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=2) as probe:
                probe.noop()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the SMTP server did not start")


def prepare(root: Path, count: int, smtp_url: str) -> Node:
    """A node with `count` endorsements ending in DAYS_LEFT days, each holder with an email."""
    settings = Settings(data_dir=root / "ak", smtp_url=smtp_url, mail_from=FROM)
    init_node(settings, association="AK", name="Alaska (bench)", policy=AssociationPolicy(),
              now=now())
    node = Node(settings)
    through = today() + dt.timedelta(days=DAYS_LEFT)
    at = now()
    for start in range(0, count, BATCH):
        batch = range(start, min(count, start + BATCH))
        aggregates = []
        for i in batch:
            level, designation = LEVELS[i % len(LEVELS)]
            aggregates.append(Endorsement.record_existing(
                endorsement_id=new_endorsement_id("AK", f"reminders:{i}"), association="AK",
                person_id=f"AK-P-R{i:06d}", family_name=FAMILY[i % 10],
                given_name=GIVEN[(i // 10) % 10], level=level, designation=designation,
                granted_on=dt.date(2015 + i % 9, 1 + i % 12, 1 + i % 28),
                valid_through=through, legacy_reference=f"paper-r{i:06d}",
                now=at + dt.timedelta(milliseconds=i)))
        node.writer.seal_recorded(node.events.save(*aggregates))
        with node.people.db.transaction() as cur:
            for i in batch:
                node.people.create(cur, PersonDetails(
                    person_id=f"AK-P-R{i:06d}", given_name=GIVEN[(i // 10) % 10],
                    family_name=FAMILY[i % 10], email=f"holder{i}@example.org"),
                    by="bench", now=at)
    node.project()
    return node


def bare_loop(port: int, messages: list[Any]) -> float:
    """Seconds for one smtplib connection to hand every message to the server."""
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("ak.example.org")
        for message, recipient in messages:
            smtp.send_message(message, from_addr="noreply@ak.example.org",
                              to_addrs=[recipient])
    return time.perf_counter() - started


def run(count: int, batch: int = SenderPolicy().batch) -> dict[str, Any]:
    """Set up, then time the queue, the sender and the bare loop."""
    port = free_port()
    server = start_smtp_server(port)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            node = prepare(Path(tmp), count, f"smtp://127.0.0.1:{port}")
            setup_seconds = time.perf_counter() - started
            try:
                started = time.perf_counter()
                queued = queue_due_reminders(node, on=today(), now=now())
                queue_seconds = time.perf_counter() - started
                if queued.queued != count:
                    raise SystemExit(f"queued {queued.queued} reminders, expected {count}")
                sender = OutboxSender(node.outbox, SmtpClient(SmtpUrl.parse(
                    f"smtp://127.0.0.1:{port}"), helo="ak.example.org"), Sender.parse(FROM),
                    policy=SenderPolicy(batch=batch))
                started = time.perf_counter()
                while sender.run_once().attempted:
                    pass
                send_seconds = time.perf_counter() - started
                counts = node.outbox.counts()
                if counts["sent"] != count:
                    raise SystemExit(f"the sender sent {counts}, expected {count}")
                rows = node.outbox.db.query(
                    "SELECT mail_id, recipient, subject, text_body, created_at FROM "
                    "mail_outbox ORDER BY mail_id")
                sender_of = Sender.parse(FROM)
                messages = [(build_message(OutboxMail(
                    mail_id=str(m), recipient=str(r), subject=str(s), text_body=str(t),
                    html_body=None, created_at=dt.datetime.fromisoformat(str(c)), attempts=0),
                    sender_of), str(r)) for m, r, s, t, c in rows]
                bare_seconds = bare_loop(port, messages)
            finally:
                node.close()
    finally:
        server.terminate()
        server.wait(10)
    return {
        "count": count, "sender_batch": batch, "cpus": os.cpu_count(),
        "setup_seconds": round(setup_seconds, 2),
        "queue_seconds": round(queue_seconds, 3),
        "queue_per_second": round(count / queue_seconds),
        "send_seconds": round(send_seconds, 3), "send_per_second": round(count / send_seconds),
        "bare_seconds": round(bare_seconds, 3), "bare_per_second": round(count / bare_seconds),
        "send_to_bare_ratio": round(bare_seconds / send_seconds, 3),
        "end_to_end_seconds": round(queue_seconds + send_seconds, 3),
        "end_to_end_per_second": round(count / (queue_seconds + send_seconds)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reminders_bench",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000, help="reminders due on the day")
    parser.add_argument("--batch", type=int, default=SenderPolicy().batch,
                        help="messages the sender claims per pass (default: the node's)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    result = run(args.count, args.batch)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['count']} renewal reminders due on one day (sender batches of "
          f"{result['sender_batch']}; {result['cpus']} CPUs; setup "
          f"{result['setup_seconds']} s, not timed)")
    print(f"  queue (daily pass)     {result['queue_seconds']:>8} s  "
          f"{result['queue_per_second']:>7} msg/s")
    print(f"  send (outbox sender)   {result['send_seconds']:>8} s  "
          f"{result['send_per_second']:>7} msg/s")
    print(f"  bare smtplib loop      {result['bare_seconds']:>8} s  "
          f"{result['bare_per_second']:>7} msg/s")
    print(f"  sender / bare          {result['send_to_bare_ratio']:>8}")
    print(f"  queue + send           {result['end_to_end_seconds']:>8} s  "
          f"{result['end_to_end_per_second']:>7} msg/s")


if __name__ == "__main__":
    main()
