"""Node settings from ALLIANCE_* environment variables, overridable by CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

ENV_PREFIX = "ALLIANCE_"


@dataclass(frozen=True)
class Settings:
    """Where a node keeps its data and how it is reached."""

    data_dir: Path = Path("data")
    association: str | None = None
    database_url: str | None = None  # default: SQLite files in data_dir
    nats_url: str | None = None
    nats_domain: str | None = None  # this node's JetStream domain (production: leaf domain)
    hub_domain: str | None = None  # the Alliance hub's JetStream domain, where peers are read
    host: str = "127.0.0.1"
    port: int = 8080
    passphrase_env: str = "ALLIANCE_KEY_PASSPHRASE"  # noqa: S105 - the *name* of the variable, never its value

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read ALLIANCE_DATA_DIR, ALLIANCE_ASSOCIATION, ALLIANCE_DATABASE_URL, ALLIANCE_NATS_URL,
        ALLIANCE_NATS_DOMAIN, ALLIANCE_HUB_DOMAIN, ALLIANCE_LISTEN (host:port)."""
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
        if value := env.get(f"{ENV_PREFIX}LISTEN"):
            settings = settings.with_listen(value)
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
