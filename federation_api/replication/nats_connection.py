"""How a node (or ops) reaches a nats-server: URL, nkey seed file and the CA it trusts.

The URL alone was enough while users had passwords; with nkeys the secret is a seed file
(0600, never in a URL or a log) and with TLS the client must trust the Alliance's CA rather
than the system store. One value carries all three so every caller connects the same way.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class NatsConnection:
    """A server URL and the files that authenticate us to it and it to us."""

    url: str
    nkey_seed: Path | None = None  # the user's nkey seed file (the server knows the public key)
    ca_file: Path | None = None  # the CA that signed the server's certificate

    @classmethod
    def of(cls, target: str | NatsConnection) -> NatsConnection:
        """A plain URL (embedded single server, tests) or a full connection."""
        return target if isinstance(target, NatsConnection) else cls(url=target)

    def check(self) -> NatsConnection:
        """Refuse a missing seed or CA file, or a seed file others can read."""
        for what, path in (("nkey seed", self.nkey_seed), ("CA", self.ca_file)):
            if path is not None and not path.is_file():
                raise ValueError(f"NATS {what} file {path} does not exist")
        if self.nkey_seed is not None and self.nkey_seed.stat().st_mode & 0o077:
            raise ValueError(f"NATS nkey seed file {self.nkey_seed} must be mode 0600")
        return self

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client context trusting only our CA (and checking the server's name)."""
        if self.ca_file is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca_file))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def options(self) -> dict[str, Any]:
        """Keyword arguments for `nats.connect`."""
        options: dict[str, Any] = {"servers": [self.url]}
        if self.nkey_seed is not None:
            options["nkeys_seed"] = str(self.nkey_seed)
        if (context := self.ssl_context()) is not None:
            options["tls"] = context
        return options

    def __str__(self) -> str:
        """Loggable: the URL only (it holds no secret once users have nkeys)."""
        return self.url
