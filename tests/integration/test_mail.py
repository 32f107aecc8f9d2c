"""The outbox and its sender against a real SMTP server (aiosmtpd) and real databases.

The contract (`OutboxContract`) runs on a SQLite file and on a PostgreSQL schema
(`tests/backends.py`); the SIGKILL test beyond it kills sender processes over a SQLite file. The
outbox is never mocked: mail is queued in real transactions and handed by smtplib to a real
SMTP server on loopback.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from federation_api.mail.errors import MailRejected
from federation_api.mail.messages import Sender, message_id
from federation_api.mail.outbox import Outbox
from federation_api.mail.sender import OutboxSender, SenderPolicy
from federation_api.mail.smtp import SmtpClient, SmtpUrl
from ledger.storage.database import Database, DatabaseUrl
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.integration.smtp_sink import SmtpSink, free_port

NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
FROM = Sender.parse("Alliance AK <noreply@ak.example.org>")


@pytest.fixture
def db_url(backend: Backend, tmp_path: Path) -> Iterator[str]:
    """The node database on the backend under test: a SQLite file or a fresh schema."""
    with backend.database_url(tmp_path / "node.sqlite") as url:
        assert url is not None
        yield url


@pytest.fixture
def outbox(db_url: str) -> Iterator[Outbox]:
    """An outbox on the node database."""
    db = Database(DatabaseUrl.parse(db_url))
    try:
        yield Outbox(db)
    finally:
        db.close()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    """A real SMTP server on loopback."""
    with SmtpSink() as server:
        yield server


def queue(outbox: Outbox, n: int, *, prefix: str = "notice", html: bool = False,
          now: dt.datetime = NOW) -> None:
    """Queue `n` messages in one transaction."""
    with outbox.db.transaction() as cur:
        for i in range(n):
            assert outbox.enqueue(cur, dedupe_key=f"{prefix}:{i}", recipient=f"p{i}@example.org",
                                  subject=f"Notice {i}", text=f"Body {i}\n", now=now,
                                  html=f"<p>Body {i}</p>" if html else None)


def sender_for(outbox: Outbox, sink_url: str, **policy: object) -> OutboxSender:
    """A sender through the sink, with a fixed clock."""
    return OutboxSender(outbox, SmtpClient(SmtpUrl.parse(sink_url)), FROM,
                        policy=SenderPolicy(**policy),  # type: ignore[arg-type]
                        clock=lambda: NOW)


# -- a sender process killed mid-batch --------------------------------------------------------

SENDER_SCRIPT = """
import sys, datetime as dt
from federation_api.mail.messages import Sender
from federation_api.mail.outbox import Outbox
from federation_api.mail.sender import OutboxSender, SenderPolicy
from federation_api.mail.smtp import SmtpClient, SmtpUrl
from ledger.storage.database import Database, DatabaseUrl
outbox = Outbox(Database(DatabaseUrl.parse(sys.argv[1])))
sender = OutboxSender(outbox, SmtpClient(SmtpUrl.parse(sys.argv[2])),
                      Sender.parse("Alliance AK <noreply@ak.example.org>"),
                      policy=SenderPolicy(batch=25, lease=dt.timedelta(seconds=2),
                                          poll_seconds=0.2))
print("ready", flush=True)
sender.start()
import time
while True:
    time.sleep(1)
"""


def _self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1 and the CA file a client must trust for it."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test relay")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
            .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "relay.pem", tmp_path / "relay.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


# -- the contract, and the backends it runs on ---------------------------------------------


class OutboxContract:
    """The mail outbox and its sender in the node's tables, on every backend."""

    # -- queueing ----------------------------------------------------------------------------------

    def test_mail_is_queued_only_if_the_callers_transaction_commits(self, outbox: Outbox) -> None:
        class Refused(Exception):
            pass

        with pytest.raises(Refused), outbox.db.transaction() as cur:
            outbox.enqueue(cur, dedupe_key="reset:1", recipient="a@example.org", subject="Reset",
                           text="link", now=NOW)
            raise Refused
        assert outbox.status("reset:1") is None
        queue(outbox, 1)
        assert outbox.counts() == {"pending": 1, "sent": 0, "failed": 0}

    def test_a_dedupe_key_queues_one_message_however_often_it_is_enqueued(
            self, outbox: Outbox) -> None:
        for _ in range(3):
            with outbox.db.transaction() as cur:
                first = outbox.enqueue(cur, dedupe_key="renewal:AK-1:60d",
                                       recipient="a@example.org", subject="Renewal due",
                                       text="Renew soon", now=NOW)
        assert first is False
        assert outbox.counts()["pending"] == 1

    @pytest.mark.parametrize(("field", "value"), [
        ("subject", "Hello\r\nBcc: victim@example.org"),
        ("recipient", "a@example.org\nBcc: victim@example.org"),
        ("recipient", "Name <a@example.org>"),
        ("recipient", "a@example.org, b@example.org"),
        ("text", "   "),
    ])
    def test_header_injection_and_empty_bodies_are_refused_and_write_nothing(
            self, outbox: Outbox, field: str, value: str) -> None:
        values = {"recipient": "a@example.org", "subject": "Hello", "text": "Body"}
        values[field] = value
        with pytest.raises(MailRejected), outbox.db.transaction() as cur:
            outbox.enqueue(cur, dedupe_key="x", now=NOW, **values)
        assert outbox.status("x") is None

    # -- delivery ----------------------------------------------------------------------------------

    def test_queued_mail_is_delivered_with_a_message_id_derived_from_the_outbox_id(
            self, outbox: Outbox, sink: SmtpSink) -> None:
        queue(outbox, 3, html=True)
        result = sender_for(outbox, sink.url).run_once()
        assert result.sent == 3
        received = sink.wait_for(3)
        by_subject = {r.message["Subject"]: r for r in received}
        status = outbox.status("notice:1")
        assert status is not None and status.sent_at == NOW and status.attempts == 1
        got = by_subject["Notice 1"]
        assert got.message_id == message_id(status.mail_id, FROM)
        assert got.rcpt_tos == ("p1@example.org",) and got.mail_from == "noreply@ak.example.org"
        assert got.message["From"] == "Alliance AK <noreply@ak.example.org>"
        assert got.message["Auto-Submitted"] == "auto-generated"
        assert got.text().strip() == "Body 1"
        html = got.message.get_body(preferencelist=("html",))
        assert html is not None and "<p>Body 1</p>" in str(html.get_content())
        assert sender_for(outbox, sink.url).run_once().attempted == 0  # nothing is sent twice
        assert outbox.counts() == {"pending": 0, "sent": 3, "failed": 0}
        assert outbox.purge(now=NOW + dt.timedelta(days=89)) == 0
        assert outbox.purge(now=NOW + dt.timedelta(days=91)) == 3

    def test_a_temporary_refusal_is_retried_with_backoff_then_delivered(
            self, outbox: Outbox, sink: SmtpSink) -> None:
        replies = iter(["451 4.3.0 try again later", "451 4.3.0 try again later"])
        sink.refuse = lambda envelope: next(replies, None)
        queue(outbox, 1)
        sender = sender_for(outbox, sink.url)
        assert sender.run_once(NOW).retried == 1
        status = outbox.status("notice:0")
        assert status is not None and status.attempts == 1 and status.sent_at is None
        assert status.next_attempt_at == NOW + dt.timedelta(minutes=1)
        assert status.last_error is not None and "451" in status.last_error
        assert sender.run_once(NOW + dt.timedelta(seconds=59)).attempted == 0  # not due yet
        assert sender.run_once(NOW + dt.timedelta(minutes=1)).retried == 1
        status = outbox.status("notice:0")
        assert status is not None and status.next_attempt_at == NOW + dt.timedelta(minutes=3)
        assert sender.run_once(NOW + dt.timedelta(minutes=3)).sent == 1
        assert len(sink.wait_for(1)) == 1 and sink.refused == 2
        status = outbox.status("notice:0")
        assert status is not None and status.attempts == 3 and status.last_error is None

    def test_a_permanent_refusal_is_given_up_at_once_and_kept(
            self, outbox: Outbox, sink: SmtpSink) -> None:
        sink.refuse = lambda envelope: "550 5.1.1 no such mailbox"
        queue(outbox, 1)
        assert sender_for(outbox, sink.url).run_once(NOW).failed == 1
        status = outbox.status("notice:0")
        assert status is not None and status.failed_at == NOW and "550" in (status.last_error or "")
        sink.refuse = None
        assert sender_for(outbox, sink.url).run_once(NOW + dt.timedelta(days=1)).attempted == 0
        assert sink.received == []

    def test_an_address_the_relay_cannot_carry_is_given_up_and_the_rest_delivered(
            self, outbox: Outbox, sink: SmtpSink) -> None:
        for key in ("utf8:1", "utf8:2"):
            with outbox.db.transaction() as cur:
                outbox.enqueue(cur, dedupe_key=key, recipient="josé@example.org", subject="Hi",
                               text="Body", now=NOW if key == "utf8:1" else NOW
                               + dt.timedelta(seconds=1))
        assert sender_for(outbox, sink.url, batch=1).run_once(NOW).sent == 1  # SMTPUTF8 offered
        assert sink.wait_for(1)[0].rcpt_tos == ("josé@example.org",)
        queue(outbox, 1, now=NOW + dt.timedelta(seconds=1))
        with SmtpSink(utf8=False) as ascii_only:
            result = sender_for(outbox, ascii_only.url).run_once(NOW + dt.timedelta(seconds=1))
            assert (result.failed, result.sent) == (1, 1)
            assert len(ascii_only.wait_for(1)) == 1
        status = outbox.status("utf8:2")
        assert status is not None and status.failed_at is not None

    def test_attempts_run_out_after_the_policy_limit(self, outbox: Outbox, sink: SmtpSink) -> None:
        sink.refuse = lambda envelope: "421 4.7.0 busy"
        queue(outbox, 1)
        sender = sender_for(outbox, sink.url, max_attempts=3)  # the default allows about a day
        at = NOW
        for _ in range(3):
            sender.run_once(at)
            at += dt.timedelta(hours=2)
        status = outbox.status("notice:0")
        assert status is not None and status.attempts == 3 and status.failed_at is not None

    def test_an_unreachable_relay_makes_the_batch_wait_its_backoff(
            self, outbox: Outbox, sink: SmtpSink) -> None:
        queue(outbox, 5)
        down = sender_for(outbox, f"smtp://127.0.0.1:{free_port()}")
        result = down.run_once(NOW)
        assert (result.retried, result.released, result.sent) == (5, 0, 0)
        statuses = [s for s in (outbox.status(f"notice:{i}") for i in range(5)) if s]
        assert {(s.attempts, s.next_attempt_at, s.claimed) for s in statuses} == {
            (1, NOW + dt.timedelta(minutes=1), False)}
        assert all("cannot connect" in (s.last_error or "") for s in statuses)
        assert down.run_once(NOW + dt.timedelta(seconds=30)).attempted == 0  # no pass burns more
        assert sender_for(outbox, sink.url).run_once(NOW + dt.timedelta(minutes=1)).sent == 5

    def test_a_restarted_sender_sends_what_a_crashed_one_had_claimed_after_the_lease(
            self, outbox: Outbox, sink: SmtpSink) -> None:
        queue(outbox, 4)
        lease = dt.timedelta(minutes=10)
        _, claimed = outbox.claim(now=NOW, limit=2, lease=lease)  # a sender that died here
        assert len(claimed) == 2
        restarted = sender_for(outbox, sink.url, lease=lease)
        assert restarted.run_once(NOW + dt.timedelta(minutes=1)).sent == 2  # the unclaimed two
        assert restarted.run_once(NOW + dt.timedelta(minutes=5)).attempted == 0  # lease still held
        assert restarted.run_once(NOW + lease + dt.timedelta(seconds=1)).sent == 2
        received = sink.wait_for(4)
        assert len({r.message_id for r in received}) == 4 and len(received) == 4

    def test_the_background_thread_sends_when_woken_and_stops(
            self, outbox: Outbox, sink: SmtpSink) -> None:
        sender = OutboxSender(outbox, SmtpClient(SmtpUrl.parse(sink.url)), FROM,
                              policy=SenderPolicy(poll_seconds=60))
        sender.start()
        try:
            queue(outbox, 2, now=dt.datetime.now(dt.UTC))
            outbox.notify()  # what a caller does after its transaction commits
            assert len(sink.wait_for(2, timeout=10)) == 2
        finally:
            sender.stop()
        assert outbox.counts()["sent"] == 2

    def test_login_over_loopback_and_nothing_secret_is_logged(
            self, outbox: Outbox, caplog: pytest.LogCaptureFixture) -> None:
        with pytest.warns(UserWarning, match="AUTH"), \
                SmtpSink(credentials=("relay-user", "s3cret-relay-pw")) as server:  # loopback
            queue(outbox, 1)
            url = f"smtp://relay-user:s3cret-relay-pw@127.0.0.1:{server.port}?timeout=2"
            with caplog.at_level(logging.DEBUG):
                wrong = sender_for(outbox, url.replace("s3cret-relay-pw", "wrong-pw-xyz"))
                assert wrong.run_once(NOW).retried == 1
                status = outbox.status("notice:0")  # refused at login: tried again later
                assert status is not None and status.sent_at is None and status.last_error
                assert sender_for(outbox, url).run_once(NOW + dt.timedelta(hours=1)).sent == 1
            assert server.logins == ["relay-user"]
            assert len(server.wait_for(1)) == 1
        ours = [r for r in caplog.records if r.name.startswith("alliance")]
        assert ours  # the sender did log its attempts
        logged = "\n".join(r.getMessage() for r in ours)
        for secret in ("s3cret-relay-pw", "wrong-pw-xyz", "p0@example.org", "Body 0"):
            assert secret not in logged
        assert "s3cret" not in repr(SmtpUrl.parse(url))

    def test_two_senders_on_one_database_send_each_message_once(
            self, db_url: str, sink: SmtpSink) -> None:
        """Two processes' senders (two connections) share the outbox without double sending."""
        dbs = [Database(DatabaseUrl.parse(db_url)) for _ in range(2)]
        try:
            outboxes = [Outbox(db) for db in dbs]
            queue(outboxes[0], 60)
            senders = [sender_for(o, sink.url, batch=5) for o in outboxes]

            def drain(sender: OutboxSender) -> None:
                while sender.run_once().attempted:
                    pass

            threads = [threading.Thread(target=drain, args=(s,)) for s in senders]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            received = sink.wait_for(60)
            ids = [r.message_id for r in received]
            assert len(ids) == 60 and len(set(ids)) == 60
        finally:
            for db in dbs:
                db.close()

    def test_starttls_with_login_to_a_relay_with_a_private_ca(
            self, outbox: Outbox, tmp_path: Path) -> None:
        context, ca = _self_signed(tmp_path)
        with SmtpSink(credentials=("mailer", "pw-over-tls"), tls_context=context) as server:
            queue(outbox, 1)
            base = f"smtp://mailer:pw-over-tls@127.0.0.1:{server.port}?starttls=1&timeout=5"
            untrusted = sender_for(outbox, base)  # the system CAs do not know this relay
            assert untrusted.run_once(NOW).retried == 1
            status = outbox.status("notice:0")
            assert status is not None and "TLS" in (status.last_error or "")
            trusted = sender_for(outbox, f"{base}&cafile={ca}")
            assert trusted.run_once(NOW + dt.timedelta(hours=1)).sent == 1
            assert server.logins == ["mailer"] and len(server.wait_for(1)) == 1


class TestOutboxOnSQLite(OutboxContract, OnSQLite):
    """The contract on SQLite files."""


class TestOutboxOnPostgreSQL(OutboxContract, OnPostgreSQL):
    """The contract on a real PostgreSQL (a fresh schema per test)."""


@pytest.mark.slow
def test_sigkill_of_a_sender_process_mid_batch_loses_nothing(tmp_path: Path,
                                                              sink: SmtpSink) -> None:
    """A sender process is SIGKILLed three times while sending 150 messages from a SQLite
    file, then restarted. Every message arrives, and is marked sent. A message arrives twice
    only when a kill landed between the server's acceptance and the sender's commit of it (at
    most one per kill), and then as the same message (Message-ID, Date, body), which mail
    stores recognise as one."""
    url = f"sqlite:///{tmp_path / 'node.sqlite'}"
    db = Database(DatabaseUrl.parse(url))
    outbox = Outbox(db)
    total = 150
    queue(outbox, total, now=dt.datetime.now(dt.UTC))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    kills = 0
    for threshold in (20, 60, 100, None):
        process = subprocess.Popen([sys.executable, "-c", SENDER_SCRIPT, url, sink.url],
                                   stdout=subprocess.PIPE, env=env)
        try:
            assert process.stdout is not None and process.stdout.readline() == b"ready\n"
            if threshold is None:
                sink.wait_for(total, timeout=60)
                deadline = time.monotonic() + 20
                while outbox.counts()["sent"] < total and time.monotonic() < deadline:
                    time.sleep(0.05)
            else:
                sink.wait_for(threshold, timeout=60)
                process.send_signal(signal.SIGKILL)
                kills += 1
        finally:
            process.kill()
            process.wait(10)
    received = sink.received
    ids = [r.message_id for r in received]
    expected = {message_id(s.mail_id, FROM) for s in
                (outbox.status(f"notice:{i}") for i in range(total)) if s is not None}
    assert set(ids) == expected  # nothing lost
    # The kills land right after the server took a message, the worst moment: the sender
    # may not have committed `sent` yet. Such a message is sent again, as the same message.
    assert len(ids) - len(set(ids)) <= kills
    for mid in {i for i in ids if ids.count(i) > 1}:
        copies = [r.message for r in received if r.message_id == mid]
        assert len({(str(m["Date"]), str(m["Subject"]), m.get_content()) for m in copies}) == 1
    assert outbox.counts() == {"pending": 0, "sent": total, "failed": 0}
    db.close()
