"""Employers' webhooks: the registered URL and signing secret, the signature scheme, and the
outbox of deliveries with its log of attempts.

Signature (Stripe-style, so receivers can reuse what they know): each delivery carries

    Alliance-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>
    Alliance-Delivery-Id: dlv_<change id>_<employer id>

A receiver recomputes the HMAC over the timestamp, a dot and the exact body bytes with the
secret it was given when it registered, compares in constant time, refuses a timestamp more
than five minutes from its clock (replays), and dedupes on the delivery id (a delivery may
arrive more than once: after a timeout or a node crash the node cannot know it landed).

The secret must be usable to sign, so the node keeps it (in its node database, like the token
hashes); it is shown to the employer once, never logged, never listed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

import httpx
import msgspec

from federation_api.errors import EdgeError
from federation_api.notifications import employer_tables
from ledger.storage.database import Database

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix that makes leaked secrets greppable
SIGNATURE_HEADER = "Alliance-Signature"
DELIVERY_HEADER = "Alliance-Delivery-Id"
EVENT_HEADER = "Alliance-Event"
EVENT = "endorsement.status_changed"
TOLERANCE_SECONDS = 300
MAX_URL = 2048


class WebhookUrlRejected(EdgeError, ValueError):
    """The URL cannot be a webhook destination."""


def check_url(url: str, *, allow_private: bool) -> str:
    """The URL if it may receive deliveries; WebhookUrlRejected saying why otherwise.

    Only http(s), no credentials in the URL (they would be stored and shown back), no
    fragment. Unless the node allows private destinations, names and literal addresses of
    loopback, private and link-local networks are refused, so an employer token cannot make
    the node call into the network it runs in (checked again at each delivery, after DNS).
    """
    if len(url) > MAX_URL:
        raise WebhookUrlRejected(f"the URL is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise WebhookUrlRejected(f"not a valid URL: {e}") from e
    if parts.scheme not in ("http", "https"):
        raise WebhookUrlRejected("the URL must start with https:// or http://")
    if not parts.hostname:
        raise WebhookUrlRejected("the URL needs a host")
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlRejected("the URL must not contain a user name or password")
    if parts.fragment:
        raise WebhookUrlRejected("the URL must not contain a fragment (#...)")
    if port == 0:
        raise WebhookUrlRejected("the URL's port must not be 0")
    # A host the resolver or the HTTP client cannot handle would only ever fail at delivery.
    try:
        parts.hostname.encode("idna")
    except UnicodeError as e:
        raise WebhookUrlRejected("the URL's host is not a valid host name (each dot-separated "
                                 "part at most 63 characters, letters usable in IDNA)") from e
    try:
        httpx.URL(url)
    except httpx.InvalidURL as e:
        raise WebhookUrlRejected("the URL's host is not a valid host name for HTTP "
                                 "(IDNA 2008)") from e
    if not allow_private and not public_host(parts.hostname):
        raise WebhookUrlRejected("the URL must name a public host, not a loopback, private "
                                 "or link-local one")
    return url


def public_host(host: str) -> bool:
    """False for localhost names and for literal addresses that are not global."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return False
    try:
        return public_address(name)
    except ValueError:
        return True  # a DNS name: its addresses are checked when delivering


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known prefix, RFC 6052
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d, RFC 4291


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries to an IPv4 host, if it is such a form.

    IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and
    6to4 (2002:aabb:ccdd::) addresses reach the embedded IPv4 host, so that host is the one
    to judge: ::ffff:127.0.0.1 is loopback whatever the IPv6 tables say.
    """
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64 or (ip in IPV4_COMPATIBLE and int(ip) > 1):  # not :: nor ::1
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def public_address(address: str) -> bool:
    """Whether an IP address is globally routable (ValueError if it is not an address)."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
        address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        ip = embedded_ipv4(ip) or ip
    return ip.is_global and not ip.is_multicast


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The Alliance-Signature header value for a body sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: int,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """What a receiver does: the header's v1 matches and its timestamp is recent."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields.get("t", [""])[0])
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, v) for v in fields.get("v1", []))


class Webhook(msgspec.Struct, frozen=True):
    """An employer's registered destination (the secret is separate: shown once)."""

    url: str
    created_at: str
    updated_at: str


class Attempt(msgspec.Struct, frozen=True):
    """One try of a delivery: when, the HTTP status (if any answer came) and the error."""

    attempt: int
    attempted_at: str
    status_code: int | None
    error: str | None


class Delivery(msgspec.Struct, frozen=True):
    """One change to one employer, with its state and attempts."""

    delivery_id: str
    employer: str
    change_id: int
    state: str  # pending, delivered, failed
    attempts: int
    next_attempt_at: dt.datetime | None
    created_at: str
    finished_at: str | None
    log: tuple[Attempt, ...] = ()


class Due(msgspec.Struct, frozen=True):
    """An outbox row whose next attempt is due."""

    delivery_id: str
    employer: str
    change_id: int
    attempts: int


PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

# SQL condition: the employer's token (same node database) is not revoked. An employer id
# with no token row at all is not excluded: only a revocation stops deliveries.
LIVE_EMPLOYER = ("NOT EXISTS (SELECT 1 FROM api_tokens t WHERE t.token_id = {employer} "
                 "AND t.revoked_at IS NOT NULL)")


class WebhookStore:
    """Webhook registrations and the delivery outbox, per employer."""

    def __init__(self, db: Database) -> None:
        self.db = db
        employer_tables.create(db)

    # -- registration ------------------------------------------------------------------------

    def register(self, employer: str, url: str, now: dt.datetime, *,
                 rotate_secret: bool = False) -> tuple[Webhook, str | None]:
        """Set the employer's URL; returns the webhook and the secret if one was created.

        The first registration (or `rotate_secret`) makes a new secret; changing the URL
        keeps the secret, so a receiver moving hosts does not have to be reconfigured.
        """
        secret: str | None = None
        with self.db.transaction() as cur:
            found = cur.execute("SELECT created_at FROM employer_webhooks WHERE employer = ?",
                                (employer,)).fetchone()
            if found is None:
                secret = SECRET_PREFIX + secrets.token_urlsafe(32)
                cur.execute("INSERT INTO employer_webhooks (employer, url, secret, created_at, "
                            "updated_at) VALUES (?, ?, ?, ?, ?)",
                            (employer, url, secret, now.isoformat(), now.isoformat()))
                created = now.isoformat()
            else:
                created = str(found[0])
                cur.execute("UPDATE employer_webhooks SET url = ?, updated_at = ? "
                            "WHERE employer = ?", (url, now.isoformat(), employer))
                if rotate_secret:
                    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
                    cur.execute("UPDATE employer_webhooks SET secret = ? WHERE employer = ?",
                                (secret, employer))
        return Webhook(url=url, created_at=created, updated_at=now.isoformat()), secret

    def get(self, employer: str) -> Webhook | None:
        """The employer's webhook, without its secret."""
        rows = self.db.query("SELECT url, created_at, updated_at FROM employer_webhooks "
                             "WHERE employer = ?", (employer,))
        return Webhook(url=rows[0][0], created_at=rows[0][1], updated_at=rows[0][2]) \
            if rows else None

    def destination(self, employer: str) -> tuple[str, str] | None:
        """(url, secret) for signing a delivery; never shown to anyone.

        None also once the employer's token is revoked (the employer id is its token id): a
        revoked employer is no longer told anything, so its pending deliveries fail.
        """
        rows = self.db.query("SELECT w.url, w.secret FROM employer_webhooks w WHERE "
                             f"w.employer = ? AND {LIVE_EMPLOYER.format(employer='w.employer')}",
                             (employer,))
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def remove(self, employer: str) -> bool:
        """Delete the webhook; pending deliveries then fail with a clear error."""
        with self.db.transaction() as cur:
            found = cur.execute("SELECT 1 FROM employer_webhooks WHERE employer = ?",
                                (employer,)).fetchone()
            cur.execute("DELETE FROM employer_webhooks WHERE employer = ?", (employer,))
        return found is not None

    # -- outbox --------------------------------------------------------------------------------

    def due(self, now_ms: int, limit: int) -> list[Due]:
        """Pending deliveries whose next attempt is due, oldest first."""
        return [Due(delivery_id=r[0], employer=r[1], change_id=int(r[2]), attempts=int(r[3]))
                for r in self.db.query(
                    "SELECT delivery_id, employer, change_id, attempts FROM webhook_deliveries "
                    "WHERE state = ? AND next_attempt_at <= ? "
                    "ORDER BY next_attempt_at, change_id, delivery_id LIMIT ?",
                    (PENDING, now_ms, limit))]

    def next_due_ms(self) -> int | None:
        """When the earliest pending delivery is due (epoch ms), or None."""
        rows = self.db.query("SELECT MIN(next_attempt_at) FROM webhook_deliveries "
                             "WHERE state = ?", (PENDING,))
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def record(self, due: Due, *, at: dt.datetime, status_code: int | None,
               error: str | None, state: str, next_attempt_ms: int) -> bool:
        """Log one attempt and move the delivery on, atomically; False if it had moved on
        already (another pass recorded this attempt), so nothing is logged twice."""
        attempt = due.attempts + 1
        finished = at.isoformat() if state != PENDING else None
        with self.db.transaction() as cur:
            current = cur.execute("SELECT attempts, state FROM webhook_deliveries "
                                  "WHERE delivery_id = ?", (due.delivery_id,)).fetchone()
            if current is None or int(current[0]) != due.attempts or current[1] != PENDING:
                return False
            cur.execute("INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, "
                        "status_code, error) VALUES (?, ?, ?, ?, ?)",
                        (due.delivery_id, attempt, at.isoformat(), status_code, error))
            cur.execute("UPDATE webhook_deliveries SET attempts = ?, state = ?, "
                        "next_attempt_at = ?, finished_at = ? WHERE delivery_id = ?",
                        (attempt, state, next_attempt_ms, finished, due.delivery_id))
        return True

    def deliveries(self, employer: str | None, *, state: str | None = None, after: int = 0,
                   limit: int = 100) -> list[Delivery]:
        """Deliveries (of one employer, or all for operators) after a change id, with logs."""
        where = ["change_id > ?"]
        params: list[object] = [after]
        if employer is not None:
            where.append("employer = ?")
            params.append(employer)
        if state is not None:
            where.append("state = ?")
            params.append(state)
        with self.db.transaction(read_only=True) as cur:
            rows = cur.execute(
                "SELECT delivery_id, change_id, state, attempts, next_attempt_at, created_at, "
                f"finished_at, employer FROM webhook_deliveries WHERE {' AND '.join(where)} "
                "ORDER BY change_id, delivery_id LIMIT ?", (*params, limit)).fetchall()
            logs: dict[str, list[Attempt]] = {}
            for r in rows:
                logs[str(r[0])] = [Attempt(attempt=int(a[0]), attempted_at=a[1],
                                           status_code=None if a[2] is None else int(a[2]),
                                           error=a[3]) for a in cur.execute(
                    "SELECT attempt, attempted_at, status_code, error FROM webhook_attempts "
                    "WHERE delivery_id = ? ORDER BY attempt", (r[0],)).fetchall()]
        return [Delivery(delivery_id=r[0], employer=r[7], change_id=int(r[1]), state=r[2],
                         attempts=int(r[3]),
                         next_attempt_at=(dt.datetime.fromtimestamp(int(r[4]) / 1000, dt.UTC)
                                          if r[2] == PENDING else None),
                         created_at=r[5], finished_at=r[6], log=tuple(logs[str(r[0])]))
                for r in rows]

    def retry(self, delivery_id: str, now_ms: int) -> bool:
        """Operators: give a failed delivery one more attempt now; False unless it failed."""
        with self.db.transaction() as cur:
            found = cur.execute("SELECT state FROM webhook_deliveries WHERE delivery_id = ?",
                                (delivery_id,)).fetchone()
            if found is None or found[0] != FAILED:
                return False
            cur.execute("UPDATE webhook_deliveries SET state = ?, next_attempt_at = ?, "
                        "finished_at = NULL WHERE delivery_id = ?",
                        (PENDING, now_ms, delivery_id))
        return True
