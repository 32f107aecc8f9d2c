"""Rate limits: the token buckets (with explicit times), the client address behind trusted
proxies, the settings, and 429 + Retry-After from a real server on the public paths only."""

from __future__ import annotations

import math
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from federation_api.accounts.tokens import Role
from federation_api.rate_buckets import TokenBuckets
from federation_api.replication.nats_process import free_port
from federation_api.settings import RateLimitSettings, Settings
from federation_api.web.rate_limits import RateLimits, is_limited
from tests.e2e.harness import NodeDir, alliance_executable, child_env, init_node
from tests.integration.live_app import live_node

# -- buckets -------------------------------------------------------------------------------


def test_a_bucket_grants_its_burst_then_refills_at_its_rate() -> None:
    buckets = TokenBuckets(capacity=3, per_second=0.5, max_keys=10)
    assert [buckets.take("a", 1, 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", 1, 100.0) == pytest.approx(2.0)  # one token every 2 s
    assert buckets.take("b", 1, 100.0) == 0.0  # other clients are not affected
    assert buckets.take("a", 1, 101.0) == pytest.approx(1.0)  # refused: nothing taken
    assert buckets.take("a", 1, 102.0) == 0.0
    assert buckets.take("a", 1, 102.0) > 0
    assert buckets.take("a", 3, 1000.0) == 0.0  # refills to the capacity, no further
    assert buckets.take("a", 1, 1000.0) > 0
    assert buckets.take("a", 4, 2000.0) == math.inf  # more than a bucket holds: never


def test_memory_is_bounded_and_full_buckets_are_dropped() -> None:
    buckets = TokenBuckets(capacity=2, per_second=1, max_keys=100)
    for i in range(1000):
        buckets.take(f"10.0.{i // 256}.{i % 256}", 1, 50.0)
    assert len(buckets) == 100  # the least recently used went first
    assert buckets.take("10.0.3.231", 2, 50.0) > 0  # a recent client kept its state
    buckets.take("late", 1, 60.0)  # ten seconds later every old bucket has refilled
    assert len(buckets) == 1


# -- client address ------------------------------------------------------------------------


def _scope(peer: str, *forwarded: str) -> dict[str, object]:
    return {"type": "http", "client": (peer, 40000),
            "headers": [(b"x-forwarded-for", f.encode()) for f in forwarded]}


def test_forwarded_for_counts_only_from_a_trusted_proxy() -> None:
    plain = RateLimits(RateLimitSettings())
    assert plain.client_of(_scope("203.0.113.9", "198.51.100.1")) == "203.0.113.9"
    proxied = RateLimits(RateLimitSettings(trusted_proxies=("10.0.0.0/8", "::1")))
    assert proxied.client_of(_scope("10.1.2.3", "198.51.100.1")) == "198.51.100.1"
    # The client may send its own header: the proxy appends the real peer on the right.
    assert proxied.client_of(_scope("10.1.2.3", "1.2.3.4, 198.51.100.1")) == "198.51.100.1"
    assert proxied.client_of(_scope("10.1.2.3", "198.51.100.1, 10.9.9.9")) == "198.51.100.1"
    assert proxied.client_of(_scope("10.1.2.3", "1.2.3.4", "198.51.100.7")) == "198.51.100.7"
    assert proxied.client_of(_scope("::1", "2001:db8::5")) == "2001:db8::/64"
    assert proxied.client_of(_scope("10.1.2.3", "not-an-address")) == "10.1.2.3"
    assert proxied.client_of(_scope("10.1.2.3")) == "10.1.2.3"
    assert proxied.client_of(_scope("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() -> None:
    limits = RateLimits(RateLimitSettings())
    first = limits.client_of(_scope("2001:db8:1:2:aaaa::1"))
    assert first == limits.client_of(_scope("2001:db8:1:2:ffff::9")) == "2001:db8:1:2::/64"
    assert limits.client_of(_scope("2001:db8:1:3::1")) != first
    assert limits.client_of(_scope("::ffff:203.0.113.9")) == "203.0.113.9"
    assert limits.client_of(_scope("203.0.113.9")) == "203.0.113.9"


def test_settings_from_the_environment() -> None:
    default = Settings.from_env({}).rate_limits
    assert default.enabled and default.requests_per_minute == 300 and default.burst == 120
    s = Settings.from_env({"ALLIANCE_RATE_LIMIT": "off", "ALLIANCE_RATE_LIMIT_PER_MINUTE": "30",
                           "ALLIANCE_RATE_LIMIT_BURST": "5",
                           "ALLIANCE_RATE_LIMIT_BULK_ROWS_PER_HOUR": "9000",
                           "ALLIANCE_RATE_LIMIT_BULK_ROWS_BURST": "6000",
                           "ALLIANCE_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16"}).rate_limits
    assert (s.enabled, s.requests_per_minute, s.burst, s.bulk_rows_per_hour,
            s.bulk_rows_burst) == (False, 30, 5, 9000, 6000)
    assert s.trusted_proxies == ("10.0.0.1", "192.168.0.0/16")
    for bad in ({"ALLIANCE_RATE_LIMIT": "maybe"}, {"ALLIANCE_RATE_LIMIT_BURST": "ten"},
                {"ALLIANCE_RATE_LIMIT_BURST": "0"}, {"ALLIANCE_TRUSTED_PROXIES": "10.0.0.300"}):
        with pytest.raises(ValueError, match=r"ALLIANCE_|rate limit"):
            Settings.from_env(bad)


def test_limited_paths() -> None:
    for path in ("/", "/verify", "/staff/login", "/v1/verify", "/v1/verify/bulk", "/v1/status",
                 "/v1/proofs/status", "/v1/receipts", "/v1/receipts/abc", "/receipts/view"):
        assert is_limited(path), path
    for path in ("/healthz", "/readyz", "/metrics", "/docs", "/v1/roster", "/v1/applications",
                 "/v1/ledger/AK/entries", "/static/site.css", "/staff/roster"):
        assert not is_limited(path), path


# -- a real server ---------------------------------------------------------------------------


def _verify(client: httpx.Client, endorsement_id: str, **headers: str) -> httpx.Response:
    return client.get("/v1/verify", params={"endorsement_id": endorsement_id,
                                            "last_name": "Rivera"}, headers=headers)


def test_public_paths_answer_429_with_retry_after_once_the_burst_is_spent(
        tmp_path: Path) -> None:
    with live_node(tmp_path, RateLimitSettings(burst=4, requests_per_minute=1)) as live:
        rivera = live.ids["rivera"]
        with live.client() as client:
            assert [_verify(client, rivera).status_code for _ in range(2)] == [200, 200]
            assert client.get("/v1/status", params={"endorsement_id": rivera,
                                                    "last_name": "Rivera",
                                                    "on": "2025-01-01"}).status_code == 200
            assert _verify(client, "AK-ZZZZZZZZ").status_code == 404  # misses cost too
            refused = _verify(client, rivera)
            assert refused.status_code == 429
            assert refused.headers["retry-after"].isdigit()
            assert 1 <= int(refused.headers["retry-after"]) <= 60
            body = refused.json()
            assert body["code"] == "rate_limited" and body["rule"] == "rate_limit.requests"
            assert "retry after" in body["message"]
            assert "Maria" not in refused.text
            for path in ("/", "/verify", "/v1/status", "/v1/receipts", "/receipts/view",
                         "/v1/proofs/status", "/staff/login"):
                assert client.get(path).status_code == 429, path
            assert client.post("/v1/verify/bulk", content="endorsement_id,last_name\n",
                               headers={"Content-Type": "text/csv"}).status_code == 429
            # Operations, docs and staff endpoints are not on the public budget.
            assert client.get("/healthz").status_code == 200
            assert client.get("/openapi.json").status_code == 200
            assert client.get("/v1/roster", headers=live.token(Role.COORDINATOR)
                              ).status_code == 200
            # A forged X-Forwarded-For from an untrusted peer does not buy a fresh budget.
            assert _verify(client, rivera, **{"X-Forwarded-For": "198.51.100.1"}
                           ).status_code == 429


def test_clients_behind_a_trusted_proxy_are_limited_one_by_one(tmp_path: Path) -> None:
    limits = RateLimitSettings(burst=2, requests_per_minute=1, trusted_proxies=("127.0.0.1",))
    with live_node(tmp_path, limits) as live, live.client() as proxy:
        rivera = live.ids["rivera"]
        first = {"X-Forwarded-For": "198.51.100.1"}
        second = {"X-Forwarded-For": "198.51.100.2"}
        assert [_verify(proxy, rivera, **first).status_code for _ in range(3)] == [200, 200, 429]
        assert [_verify(proxy, rivera, **second).status_code for _ in range(3)] == [200, 200,
                                                                                     429]
        # The proxy's own requests (no header) are a third client.
        assert _verify(proxy, rivera).status_code == 200


def test_defaults_leave_a_busy_person_alone_and_off_means_off(tmp_path: Path) -> None:
    with live_node(tmp_path / "default") as live, live.client() as client:
        assert {_verify(client, live.ids["rivera"]).status_code for _ in range(100)} == {200}
    with live_node(tmp_path / "off", RateLimitSettings(enabled=False, burst=1)) as live, \
            live.client() as client:
        assert {_verify(client, live.ids["rivera"]).status_code for _ in range(20)} == {200}


@contextmanager
def _alliance_serve(tmp_path: Path, node: NodeDir, env: dict[str, str],
                    *flags: str) -> Iterator[httpx.Client]:
    """The real `alliance serve` with `env` and `flags`; stopped by its PID."""
    port = free_port()
    log_path = tmp_path / f"serve-{port}.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen([alliance_executable(), "serve", *node.store_args(),
                                   "--listen", f"127.0.0.1:{port}", *flags], stdout=log,
                                  stderr=subprocess.STDOUT, env={**child_env(), **env})
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 30
            while True:
                assert server.poll() is None, log_path.read_text()
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "alliance serve did not start"
                    time.sleep(0.1)
            yield client
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def test_alliance_serve_takes_its_limits_from_the_environment_and_flags(
        tmp_path: Path) -> None:
    """The real command: ALLIANCE_RATE_LIMIT_* and the serve flags reach the app, and uvicorn
    does not take X-Forwarded-For from a loopback peer behind the limiter's back."""
    node = init_node(tmp_path / "ak", roles=())
    tight = {"ALLIANCE_RATE_LIMIT_BURST": "3", "ALLIANCE_RATE_LIMIT_PER_MINUTE": "1"}
    with _alliance_serve(tmp_path, node, tight) as client:
        answers = [_verify(client, f"AK-{i:08d}").status_code for i in range(4)]
        assert answers == [404, 404, 404, 429]
        spoofed = _verify(client, "AK-00000009", **{"X-Forwarded-For": "198.51.100.1"})
        assert spoofed.status_code == 429
    with _alliance_serve(tmp_path, node, tight, "--trusted-proxies", "127.0.0.1") as client:
        for client_address in ("198.51.100.1", "198.51.100.2"):
            forwarded = {"X-Forwarded-For": client_address}
            answers = [_verify(client, f"AK-{i:08d}", **forwarded).status_code
                       for i in range(4)]
            assert answers == [404, 404, 404, 429]
    with _alliance_serve(tmp_path, node, tight, "--rate-limit", "off") as client:
        assert {_verify(client, f"AK-{i:08d}").status_code for i in range(8)} == {404}
