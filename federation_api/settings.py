"""Node settings from ALLIANCE_* environment variables, overridable by CLI flags.

The rate limits' budgets (`RateLimitSettings`) are settings too; the limiter that applies them
is `federation_api.web.rate_limits`.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ENV_PREFIX = "ALLIANCE_"
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class RateLimitSettings:
    """How much a client may ask; `enabled=False` (ALLIANCE_RATE_LIMIT=off) is for benches."""

    enabled: bool = True
    requests_per_minute: int = 300
    burst: int = 120
    bulk_rows_per_hour: int = 50_000
    bulk_rows_burst: int = 20_000  # four full 5,000-row files at once
    trusted_proxies: tuple[str, ...] = ()
    max_clients: int = 100_000

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "burst", "bulk_rows_per_hour", "bulk_rows_burst",
                     "max_clients"):
            if getattr(self, name) < 1:
                raise ValueError(f"rate limit setting {name} must be at least 1")
        self.networks()  # a bad proxy address fails at start, not at the first request

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RateLimitSettings:
        """ALLIANCE_RATE_LIMIT (on|off), ALLIANCE_RATE_LIMIT_PER_MINUTE, _BURST,
        _BULK_ROWS_PER_HOUR, _BULK_ROWS_BURST, ALLIANCE_TRUSTED_PROXIES (comma-separated
        addresses or networks)."""
        values: dict[str, Any] = {}
        switch = env.get("ALLIANCE_RATE_LIMIT", "on").strip().lower()
        if switch not in ("on", "off"):
            raise ValueError(f"ALLIANCE_RATE_LIMIT must be on or off, got {switch!r}")
        values["enabled"] = switch == "on"
        for name in ("per_minute", "burst", "bulk_rows_per_hour", "bulk_rows_burst"):
            variable = f"ALLIANCE_RATE_LIMIT_{name.upper()}"
            if raw := env.get(variable):
                if not raw.strip().isdigit():
                    raise ValueError(f"{variable} must be a whole number, got {raw!r}")
                values["requests_per_minute" if name == "per_minute" else name] = int(raw)
        if raw := env.get("ALLIANCE_TRUSTED_PROXIES"):
            values["trusted_proxies"] = tuple(p.strip() for p in raw.split(",") if p.strip())
        return cls(**values)

    def networks(self) -> tuple[IpNetwork, ...]:
        """The trusted proxies as networks (single addresses become /32 or /128)."""
        try:
            return tuple(ipaddress.ip_network(p.strip(), strict=False)
                         for p in self.trusted_proxies if p.strip())
        except ValueError as e:
            raise ValueError(f"ALLIANCE_TRUSTED_PROXIES: {e}") from e


@dataclass(frozen=True)
class Settings:
    """Where a node keeps its data and how it is reached."""

    data_dir: Path = Path("data")
    association: str | None = None
    database_url: str | None = None  # default: SQLite files in data_dir
    database_pool_size: int = 4  # PostgreSQL connections per store (ALLIANCE_DATABASE_POOL_SIZE)
    nats_url: str | None = None
    nats_domain: str | None = None  # this node's JetStream domain (production: leaf domain)
    hub_domain: str | None = None  # the Alliance hub's JetStream domain, where peers are read
    nats_nkey_seed: Path | None = None  # the node's NATS nkey seed file (0600), issue 13
    nats_ca: Path | None = None  # the CA the NATS server's certificate must chain to
    host: str = "127.0.0.1"
    port: int = 8080
    checkpoint_seconds: float = 10.0  # how often the node signs/publishes its checkpoint
    passphrase_env: str = "ALLIANCE_KEY_PASSPHRASE"  # noqa: S105 - the *name* of the variable, never its value
    # Employer webhooks: attempts per delivery, exponential backoff (base and cap, seconds,
    # with jitter), per-request timeout, and whether loopback/private destinations are allowed
    # (tests and closed networks only: otherwise an employer could make the node probe its LAN).
    webhook_max_attempts: int = 15
    webhook_backoff_seconds: float = 5.0
    webhook_backoff_cap_seconds: float = 3600.0
    webhook_timeout_seconds: float = 10.0
    webhook_allow_private: bool = False
    rate_limits: RateLimitSettings = field(default_factory=RateLimitSettings)  # public, per client
    # Accounts and mail (issue 11). The SMTP URL may hold a password: never log it (the mail
    # package's SmtpUrl.redacted() is the loggable form). Emailed links start with public_url,
    # never with a request's Host header.
    smtp_url: str | None = field(default=None, repr=False)
    mail_from: str | None = None
    public_url: str | None = None
    session_idle_minutes: float = 30.0
    session_hours: float = 8.0
    # HTTPS served by the node itself (issue 13): PEM certificate chain and private key files.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Where the signing key is: None (the key file keys/signing.key, the default) or an RFC
    # 7512 URI `pkcs11:token=...;object=...?pin-source=file:...` (ledger/hsm_keys.py).
    signing_key: str | None = None
    # Uploaded documents (issue 12): the largest file accepted (ALLIANCE_DOCUMENT_MAX_MB).
    document_max_bytes: int = 10 * 1024 * 1024
    # Fees and reminders (issue 12): the payment provider's hosted checkout and the secret its
    # callbacks are signed with (never logged), and how long the mail sender holds a claim.
    payment_url: str | None = None
    payment_secret: str | None = field(default=None, repr=False)
    mail_lease_seconds: float = 600.0
    mail_batch: int = 20  # messages claimed per pass, one SMTP connection each (MAIL_BATCH)
    reminder_days: tuple[int, ...] = (60, 30, 7)  # before valid-through; ALLIANCE_REMINDER_DAYS

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read ALLIANCE_DATA_DIR, ALLIANCE_ASSOCIATION, ALLIANCE_DATABASE_URL, ALLIANCE_NATS_URL,
        ALLIANCE_NATS_DOMAIN, ALLIANCE_HUB_DOMAIN, ALLIANCE_NATS_NKEY_SEED, ALLIANCE_NATS_CA,
        ALLIANCE_LISTEN (host:port),
        ALLIANCE_CHECKPOINT_SECONDS, ALLIANCE_SMTP_URL, ALLIANCE_MAIL_FROM, ALLIANCE_PUBLIC_URL,
        ALLIANCE_SESSION_IDLE_MINUTES, ALLIANCE_SESSION_HOURS, ALLIANCE_DATABASE_POOL_SIZE,
        ALLIANCE_TLS_CERT, ALLIANCE_TLS_KEY, ALLIANCE_SIGNING_KEY, ALLIANCE_DOCUMENT_MAX_MB."""
        env = os.environ if environ is None else environ
        settings = cls()
        if value := env.get(f"{ENV_PREFIX}DATA_DIR"):
            settings = replace(settings, data_dir=Path(value))
        if value := env.get(f"{ENV_PREFIX}ASSOCIATION"):
            settings = replace(settings, association=value)
        if value := env.get(f"{ENV_PREFIX}DATABASE_URL"):
            settings = replace(settings, database_url=value)
        if value := env.get(f"{ENV_PREFIX}NATS_URL"):
            settings = replace(settings, nats_url=value)
        if value := env.get(f"{ENV_PREFIX}NATS_DOMAIN"):
            settings = replace(settings, nats_domain=value)
        if value := env.get(f"{ENV_PREFIX}HUB_DOMAIN"):
            settings = replace(settings, hub_domain=value)
        if value := env.get(f"{ENV_PREFIX}NATS_NKEY_SEED"):
            settings = replace(settings, nats_nkey_seed=Path(value))
        if value := env.get(f"{ENV_PREFIX}NATS_CA"):
            settings = replace(settings, nats_ca=Path(value))
        if value := env.get(f"{ENV_PREFIX}CHECKPOINT_SECONDS"):
            try:
                seconds = float(value)
            except ValueError as e:
                raise ValueError(f"ALLIANCE_CHECKPOINT_SECONDS must be a number, got {value!r}"
                                 ) from e
            if not 0 < seconds <= 86400:
                raise ValueError("ALLIANCE_CHECKPOINT_SECONDS must be in (0, 86400]")
            settings = replace(settings, checkpoint_seconds=seconds)
        if value := env.get(f"{ENV_PREFIX}LISTEN"):
            settings = settings.with_listen(value)
        settings = _webhook_settings(settings, env)
        settings = replace(settings, smtp_url=env.get(f"{ENV_PREFIX}SMTP_URL") or None,
                           mail_from=env.get(f"{ENV_PREFIX}MAIL_FROM") or None,
                           public_url=env.get(f"{ENV_PREFIX}PUBLIC_URL") or None,
                           session_idle_minutes=_positive(env, "SESSION_IDLE_MINUTES")
                           or settings.session_idle_minutes,
                           session_hours=_positive(env, "SESSION_HOURS")
                           or settings.session_hours)
        settings = replace(settings, rate_limits=RateLimitSettings.from_env(env))
        if value := env.get(f"{ENV_PREFIX}DATABASE_POOL_SIZE"):
            if not value.strip().isdigit() or int(value) < 1:
                raise ValueError(f"ALLIANCE_DATABASE_POOL_SIZE must be a whole number of at "
                                 f"least 1, got {value!r}")
            settings = replace(settings, database_pool_size=int(value))
        if value := env.get(f"{ENV_PREFIX}TLS_CERT"):
            settings = replace(settings, tls_cert=Path(value))
        if value := env.get(f"{ENV_PREFIX}TLS_KEY"):
            settings = replace(settings, tls_key=Path(value))
        if value := env.get(f"{ENV_PREFIX}SIGNING_KEY"):
            settings = replace(settings, signing_key=value)
        if value := env.get(f"{ENV_PREFIX}DOCUMENT_MAX_MB"):
            if not value.strip().isdigit() or not 1 <= int(value) <= 1024:
                raise ValueError(f"ALLIANCE_DOCUMENT_MAX_MB must be a whole number from 1 to "
                                 f"1024, got {value!r}")
            settings = replace(settings, document_max_bytes=int(value) * 1024 * 1024)
        settings = replace(settings, payment_url=env.get(f"{ENV_PREFIX}PAYMENT_URL") or None,
                           payment_secret=env.get(f"{ENV_PREFIX}PAYMENT_SECRET") or None,
                           mail_lease_seconds=_positive(env, "MAIL_LEASE_SECONDS")
                           or settings.mail_lease_seconds)
        if value := env.get(f"{ENV_PREFIX}MAIL_BATCH"):
            if not value.strip().isdigit() or not 1 <= int(value) <= 1000:
                raise ValueError(f"ALLIANCE_MAIL_BATCH must be a whole number from 1 to 1000, "
                                 f"got {value!r}")
            settings = replace(settings, mail_batch=int(value))
        if value := env.get(f"{ENV_PREFIX}REMINDER_DAYS"):
            try:
                days = tuple(sorted({int(d) for d in value.split(",") if d.strip()},
                                    reverse=True))
            except ValueError as e:
                raise ValueError(f"ALLIANCE_REMINDER_DAYS must be whole numbers separated by "
                                 f"commas, e.g. 60,30,7, got {value!r}") from e
            settings = replace(settings, reminder_days=days)
        return settings

    def with_listen(self, listen: str) -> Settings:
        """Apply a `host:port` listen address."""
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"listen address must be host:port, got {listen!r}")
        return replace(self, host=host.strip("[]"), port=int(port))

    def passphrase(self) -> bytes | None:
        """The signing key passphrase from the named environment variable, if set."""
        value = os.environ.get(self.passphrase_env)
        return value.encode() if value else None


def _webhook_settings(settings: Settings, env: Mapping[str, str]) -> Settings:
    """ALLIANCE_WEBHOOK_MAX_ATTEMPTS, _BACKOFF_SECONDS, _BACKOFF_CAP_SECONDS, _TIMEOUT_SECONDS
    (positive numbers) and ALLIANCE_WEBHOOK_ALLOW_PRIVATE (1/true/yes)."""
    attempts = _positive(env, "WEBHOOK_MAX_ATTEMPTS")
    base = _positive(env, "WEBHOOK_BACKOFF_SECONDS")
    cap = _positive(env, "WEBHOOK_BACKOFF_CAP_SECONDS")
    timeout = _positive(env, "WEBHOOK_TIMEOUT_SECONDS")
    allow = env.get(f"{ENV_PREFIX}WEBHOOK_ALLOW_PRIVATE")
    return replace(
        settings,
        webhook_max_attempts=int(attempts) if attempts else settings.webhook_max_attempts,
        webhook_backoff_seconds=base or settings.webhook_backoff_seconds,
        webhook_backoff_cap_seconds=cap or settings.webhook_backoff_cap_seconds,
        webhook_timeout_seconds=timeout or settings.webhook_timeout_seconds,
        webhook_allow_private=(allow.lower() in ("1", "true", "yes") if allow
                               else settings.webhook_allow_private))


def _positive(env: Mapping[str, str], name: str) -> float | None:
    value = env.get(f"{ENV_PREFIX}{name}")
    if not value:
        return None
    try:
        number = float(value)
    except ValueError as e:
        raise ValueError(f"{ENV_PREFIX}{name} must be a number, got {value!r}") from e
    if not number > 0:
        raise ValueError(f"{ENV_PREFIX}{name} must be positive, got {value!r}")
    return number
