"""The webhook dispatcher against real local HTTP servers that misbehave: redirects, slow
answers, private destinations, attempts running out (and an operator's retry).

The node is real (SQLite files); the dispatcher runs as the app runs it, as a background
task, and the tests wait on what the delivery log records.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpcore
import pytest

from domain.levels import Level
from domain.policy import AssociationPolicy
from federation_api.accounts.tokens import Role
from federation_api.cli.main import main
from federation_api.node.root import Node
from federation_api.node.setup import init_node
from federation_api.notifications.dispatcher import WebhookDispatcher
from federation_api.notifications.transport import (
    REFUSED,
    CheckedBackend,
    NoAllowedAddress,
    Resolver,
)
from federation_api.notifications.webhooks import (
    Delivery,
    WebhookUrlRejected,
    check_url,
    public_address,
)
from federation_api.replication.nats_process import free_port
from federation_api.settings import Settings
from tests.backends import Backend, OnPostgreSQL, OnSQLite
from tests.e2e.webhook_receiver import Receiver

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
EMPLOYER = "emp"  # the tests act as one employer id directly on the stores
GOOD = "good"  # a second employer, following the same professional
REMOVED = "no webhook registered (removed, or the employer's token revoked)"


class Misbehaving:
    """A loopback server that answers every POST with a redirect, or very slowly."""

    def __init__(self, *, redirect_to: str | None = None, sleep: float = 0.0) -> None:
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.hits += 1
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if sleep:
                    time.sleep(sleep)
                try:
                    self.send_response(302 if redirect_to else 204)
                    if redirect_to:
                        self.send_header("Location", redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass

            def log_message(self, *_: object) -> None:
                pass

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def node(backend: Backend, tmp_path: Path) -> Iterator[Node]:
    """A node (SQLite files or a PostgreSQL schema) whose one professional EMPLOYER follows."""
    with backend.database_url() as url:
        yield from _node(tmp_path, url)


def _node(tmp_path: Path, database_url: str | None) -> Iterator[Node]:
    settings = Settings(data_dir=tmp_path / "ak", database_url=database_url,
                        webhook_allow_private=True,
                        webhook_backoff_seconds=0.05, webhook_backoff_cap_seconds=0.1,
                        webhook_max_attempts=2, webhook_timeout_seconds=0.5)
    init_node(settings, association="AK", name="Alaska", policy=AssociationPolicy(), now=NOW)
    node = Node(settings)
    node.service.record_existing(endorsement_id="AK-HOOK0001", person_id="p1",
                                 family_name="Doe", given_name="Jane", level=Level.IFS,
                                 designation=None, granted_on=dt.date(2020, 1, 1),
                                 valid_through=dt.date(2030, 12, 31), legacy_reference="r",
                                 now=NOW)
    node.notifier.catch_up()
    node.subscriptions.subscribe(EMPLOYER, ["AK-HOOK0001"], NOW)
    try:
        yield node
    finally:
        node.close()
        for db in (node.ledger.db, node.projector.db, node.tokens.db):
            db.close()


def _one_change(node: Node, url: str) -> None:
    node.webhooks.register(EMPLOYER, url, NOW)
    node.service.suspend("AK-HOOK0001", effective_on=dt.date(2026, 3, 1), reason="x", now=NOW)


def _run_until(node: Node, done: str, timeout: float = 20.0,
               employer: str = EMPLOYER, resolve: Resolver | None = None) -> Delivery:
    """Run the dispatcher until the employer's one delivery reaches state `done`."""

    async def scenario() -> Delivery:
        extra = {} if resolve is None else {"resolve": resolve}
        dispatcher = WebhookDispatcher(node.notifier, node.webhooks, node.changes, node.settings,
                                       poll_seconds=0.05, **extra)
        await dispatcher.start()
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                found = await asyncio.to_thread(node.webhooks.deliveries, employer)
                if found and found[0].state == done:
                    return found[0]
                await asyncio.sleep(0.05)
            raise AssertionError(f"delivery never reached {done}: {found}")
        finally:
            await dispatcher.stop()

    return asyncio.run(scenario())


def _run_for(node: Node, seconds: float, poll: float) -> int:
    """Run the dispatcher for a while; how many passes it made."""

    async def scenario() -> int:
        dispatcher = WebhookDispatcher(node.notifier, node.webhooks, node.changes, node.settings,
                                       poll_seconds=poll)
        await dispatcher.start()
        try:
            await asyncio.sleep(seconds)
        finally:
            await dispatcher.stop()
        return dispatcher.passes

    return asyncio.run(scenario())


BAD_HOSTS = {"label-too-long": "http://" + "a" * 64 + ".com/hook",  # IDNA cannot encode it
             "not-idna-2008": "http://\u2603.example/hook"}  # httpx finds the URL invalid


def _assert_failed_with_backoff(node: Node, error: str) -> None:
    bad = node.webhooks.deliveries(EMPLOYER)[0]
    assert bad.state == "failed" and bad.attempts == 2, bad
    assert [(a.status_code, a.error) for a in bad.log] == [(None, error)] * 2
    first, second = (dt.datetime.fromisoformat(a.attempted_at) for a in bad.log)
    assert second - first >= dt.timedelta(seconds=0.05 * 0.5)  # it backed off in between


@pytest.mark.parametrize("bad_url", BAD_HOSTS.values(), ids=BAD_HOSTS.keys())
def test_registration_refuses_hosts_the_resolver_or_client_cannot_handle(bad_url: str) -> None:
    with pytest.raises(WebhookUrlRejected, match="not a valid host name"):
        check_url(bad_url, allow_private=True)


def test_webhook_settings_from_the_environment() -> None:
    settings = Settings.from_env({"ALLIANCE_WEBHOOK_MAX_ATTEMPTS": "4",
                                  "ALLIANCE_WEBHOOK_BACKOFF_SECONDS": "0.5",
                                  "ALLIANCE_WEBHOOK_BACKOFF_CAP_SECONDS": "30",
                                  "ALLIANCE_WEBHOOK_TIMEOUT_SECONDS": "2",
                                  "ALLIANCE_WEBHOOK_ALLOW_PRIVATE": "true"})
    assert (settings.webhook_max_attempts, settings.webhook_backoff_seconds,
            settings.webhook_backoff_cap_seconds, settings.webhook_timeout_seconds,
            settings.webhook_allow_private) == (4, 0.5, 30.0, 2.0, True)
    assert Settings.from_env({}).webhook_allow_private is False
    for bad in ("0", "-1", "soon", "nan"):
        with pytest.raises(ValueError, match="ALLIANCE_WEBHOOK_TIMEOUT_SECONDS"):
            Settings.from_env({"ALLIANCE_WEBHOOK_TIMEOUT_SECONDS": bad})


# -- DNS rebinding: the connection dials only addresses that were checked ----------------------

PUBLIC = "1.1.1.1"  # a global address; never actually dialled by these tests


class Listener:
    """A bare loopback TCP listener that counts the connections that reach it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def stop(self) -> None:
        self.sock.close()


class Rebinding:
    """A resolver outside the project (fake): every other answer is public, then loopback."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        return [PUBLIC] if len(self.calls) % 2 == 1 else ["127.0.0.1"]


class OnlyLoopbackDials(httpcore.AnyIOBackend):
    """httpcore's backend, recording every dial; only loopback is really connected to."""

    def __init__(self) -> None:
        self.dialled: list[str] = []

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: object = None) -> httpcore.AsyncNetworkStream:
        self.dialled.append(host)
        if host != "127.0.0.1":
            raise httpcore.ConnectError("no network for this test")
        return await super().connect_tcp(host, port, timeout=timeout)


@pytest.mark.parametrize("allow_private", [False, True])
def test_the_backend_never_dials_a_private_address_unless_allowed(allow_private: bool) -> None:
    listener = Listener()
    inner = OnlyLoopbackDials()

    async def resolve(host: str, port: int) -> list[str]:
        return [PUBLIC, "127.0.0.1"]

    backend = CheckedBackend(lambda: allow_private, resolve=resolve, inner=inner)

    async def dial() -> None:
        stream = await backend.connect_tcp("mixed.example", listener.port, timeout=2)
        await stream.aclose()

    try:
        if allow_private:
            asyncio.run(dial())  # the public address fails here, the loopback one is next
            assert inner.dialled == [PUBLIC, "127.0.0.1"]
            deadline = time.monotonic() + 5
            while listener.connections == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert listener.connections == 1
        else:
            with pytest.raises(httpcore.ConnectError):
                asyncio.run(dial())
            assert inner.dialled == [PUBLIC]  # only the checked public address, never loopback
            assert listener.connections == 0
    finally:
        listener.stop()


def test_a_host_with_only_private_addresses_is_refused_before_any_dial() -> None:
    inner = OnlyLoopbackDials()

    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1", "169.254.169.254", "::ffff:10.0.0.1"]

    backend = CheckedBackend(lambda: False, resolve=resolve, inner=inner)
    with pytest.raises(NoAllowedAddress, match=REFUSED):
        asyncio.run(backend.connect_tcp("internal.example", 80))
    assert inner.dialled == []


@pytest.mark.parametrize(("address", "public"), [
    ("::ffff:127.0.0.1", False), ("::ffff:169.254.169.254", False), ("::ffff:8.8.8.8", True),
    ("::127.0.0.1", False), ("::10.0.0.1", False), ("::8.8.8.8", True),
    ("64:ff9b::7f00:1", False), ("64:ff9b::a9fe:a9fe", False), ("64:ff9b::808:808", True),
    ("2002:7f00:1::", False), ("2002:a9fe:a9fe::1", False), ("2002:c0a8:101::1", False),
    ("2002:808:808::1", True), ("::1", False), ("::", False), ("2606:4700::1111", True),
    ("fe80::1%eth0", False), ("127.0.0.1", False), ("8.8.8.8", True)])
def test_public_address_judges_the_ipv4_inside_ipv6_forms(address: str, public: bool) -> None:
    assert public_address(address) is public


# -- the contract, and the backends it runs on ---------------------------------------------


class DeliveryOutboxContract:
    """Webhook deliveries through the node's outbox tables: one contract, on every backend."""

    def test_a_redirect_is_not_followed(self, node: Node) -> None:
        elsewhere = Receiver().start()
        redirecting = Misbehaving(redirect_to=elsewhere.url)
        try:
            _one_change(node, redirecting.url)
            delivery = _run_until(node, "failed")
            assert [(a.status_code, a.error) for a in delivery.log] == [
                (302, "HTTP 302: redirects are not followed")] * 2
            assert redirecting.hits == 2 and elsewhere.requests == 0
        finally:
            redirecting.stop()
            elsewhere.stop()

    def test_a_slow_receiver_times_out_and_attempts_run_out_then_an_operator_retries(self,
            node: Node) -> None:
        slow = Misbehaving(sleep=3.0)
        try:
            _one_change(node, slow.url)
            delivery = _run_until(node, "failed")
            assert [(a.status_code, a.error) for a in delivery.log] == [(None, "timed out")] * 2
            assert delivery.attempts == 2 and delivery.finished_at is not None
        finally:
            slow.stop()
        receiver = Receiver().start()
        try:
            secret = node.webhooks.register(EMPLOYER, receiver.url, NOW, rotate_secret=True)[1]
            assert secret is not None
            receiver.secret = secret
            args = ["employers", "retry", delivery.delivery_id, "--data-dir",
                    str(node.settings.data_dir)]
            if node.settings.database_url:
                args += ["--database-url", node.settings.database_url]
            assert main(args) == 0
            assert main(args) == 1  # pending now, not failed: nothing to retry
            retried = _run_until(node, "delivered")
            assert [a.status_code for a in retried.log] == [None, None, 204]
            assert list(receiver.processed) == [delivery.delivery_id]
        finally:
            receiver.stop()

    def test_private_destinations_are_refused_at_delivery_unless_allowed(self, node: Node) -> None:
        receiver = Receiver().start()
        try:
            _one_change(node, receiver.url)  # registered while the node allowed it
            node.settings = replace(node.settings, webhook_allow_private=False)
            delivery = _run_until(node, "failed")
            assert {a.error for a in delivery.log} == {"destination is not a public host"}
            assert receiver.requests == 0
        finally:
            receiver.stop()

    def test_a_removed_webhook_fails_its_pending_deliveries_at_once(self, node: Node) -> None:
        _one_change(node, "http://127.0.0.1:9/never")
        node.notifier.catch_up()  # the outbox row exists, then the employer removes the webhook
        assert node.webhooks.remove(EMPLOYER)
        delivery = _run_until(node, "failed")
        assert [(a.status_code, a.error) for a in delivery.log] == [(None, REMOVED)]

    def test_an_invalid_host_fails_its_attempts_and_jams_nothing(self, node: Node) -> None:
        good = Receiver().start()
        try:
            node.subscriptions.subscribe(GOOD, ["AK-HOOK0001"], NOW)
            secret = node.webhooks.register(GOOD, good.url, NOW)[1]
            assert secret is not None
            good.secret = secret
            # Stored through the store, as a URL registered before the check existed would be.
            _one_change(node, BAD_HOSTS["not-idna-2008"])
            # Both deliveries are due in the same pass. Before the fix the bad one raised, was
            # never recorded and stayed due at once: the loop spun and re-sent the good one.
            passes = _run_for(node, 2.0, poll=0.25)
            _assert_failed_with_backoff(node, "request failed (InvalidURL)")
            assert node.webhooks.deliveries(GOOD)[0].state == "delivered"
            assert good.requests == 1 and good.duplicates == 0
            assert list(good.processed_changes.values()) == [1]
            assert passes < 40, passes  # ~2 s at a 0.25 s poll plus retries; a spin makes 1000s
        finally:
            good.stop()

    def test_a_host_the_resolver_cannot_encode_fails_its_attempts(self, node: Node) -> None:
        _one_change(node, BAD_HOSTS["label-too-long"])
        node.settings = replace(node.settings, webhook_allow_private=False)  # resolve before POST
        passes = _run_for(node, 2.0, poll=0.25)
        _assert_failed_with_backoff(node, "request failed (UnicodeError)")
        assert passes < 40, passes

    def test_a_revoked_employer_token_stops_its_webhooks(self, node: Node) -> None:
        receiver = Receiver().start()
        try:
            token_id, _ = node.tokens.issue(label="Acme", role=Role.EMPLOYER, now=NOW)
            node.subscriptions.subscribe(token_id, ["AK-HOOK0001"], NOW)
            secret = node.webhooks.register(token_id, receiver.url, NOW)[1]
            assert secret is not None
            receiver.secret = secret
            node.service.suspend("AK-HOOK0001", effective_on=dt.date(2026, 3, 1), reason="x",
                                 now=NOW)
            node.notifier.catch_up()  # the outbox row exists, then the token is revoked
            assert [d.state for d in node.webhooks.deliveries(token_id)] == ["pending"]
            assert node.tokens.revoke(token_id, now=NOW)
            before = node.changes.count()
            node.service.revoke("AK-HOOK0001", effective_on=dt.date(2026, 3, 2), reason="y",
                                now=NOW)
            node.notifier.catch_up()
            assert node.changes.count() == before + 1  # the change itself is recorded
            delivery = _run_until(node, "failed", employer=token_id)
            assert [(a.status_code, a.error) for a in delivery.log] == [(None, REMOVED)]
            assert len(node.webhooks.deliveries(token_id)) == 1  # no row for the new change
            assert receiver.requests == 0
        finally:
            receiver.stop()

    def test_a_rebinding_name_is_refused_and_reaches_nothing(self, node: Node) -> None:
        listener = Listener()
        resolver = Rebinding()
        try:
            # The check sees the public answer; the connection's own resolution sees loopback.
            _one_change(node, f"http://rebind.example:{listener.port}/hook")
            node.settings = replace(node.settings, webhook_allow_private=False)
            delivery = _run_until(node, "failed", resolve=resolver)
            assert [(a.status_code, a.error) for a in delivery.log] == [(None, REFUSED)] * 2
            assert len(resolver.calls) == 4  # check then connect, for each of the two attempts
            assert listener.connections == 0
        finally:
            listener.stop()

    def test_the_connection_uses_the_resolved_address_and_keeps_the_host_name(
            self, node: Node) -> None:
        receiver = Receiver().start()

        async def resolve(host: str, port: int) -> list[str]:
            assert host == "hooks.example"  # a name nothing else could resolve
            return ["127.0.0.1"]

        try:
            url = receiver.url.replace("127.0.0.1", "hooks.example")
            secret = node.webhooks.register(EMPLOYER, url, NOW)[1]
            assert secret is not None
            receiver.secret = secret
            node.service.suspend("AK-HOOK0001", effective_on=dt.date(2026, 3, 1), reason="x",
                                 now=NOW)
            delivery = _run_until(node, "delivered", resolve=resolve)  # private allowed here
            assert [a.status_code for a in delivery.log] == [204]
            assert list(receiver.processed) == [delivery.delivery_id]
        finally:
            receiver.stop()


class TestDeliveryOutboxOnSQLite(DeliveryOutboxContract, OnSQLite):
    """The contract on SQLite files."""


class TestDeliveryOutboxOnPostgreSQL(DeliveryOutboxContract, OnPostgreSQL):
    """The contract on a real PostgreSQL (a fresh schema per test)."""
