"""API tokens issued and revoked in the browser by coordinators.

The bearer tokens of `tokens.py` stay what the API authenticates; issued here they also carry
an expiry (required: at most a year, 90 days if the page offers a default) and the coordinator
who issued them, and each issue and revocation is audited in the same transaction as the
token row.
"""

from __future__ import annotations

import datetime as dt

from federation_api.accounts.audit_log import AuditLog
from federation_api.accounts.errors import AccountNotFound, InvalidAccountInput
from federation_api.accounts.roles import AccountRole
from federation_api.accounts.signin import SignedIn
from federation_api.accounts.tokens import Role, TokenDetails, TokenStore
from ledger.storage.database import Cursor

MAX_LIFETIME = dt.timedelta(days=366)
DEFAULT_LIFETIME = dt.timedelta(days=90)
MAX_LABEL = 100


class BrowserTokens:
    """Coordinators' token page: issue, revoke, list."""

    def __init__(self, tokens: TokenStore, audit: AuditLog) -> None:
        self.tokens = tokens
        self.audit = audit

    def issue(self, by: SignedIn, *, label: str, role: Role, expires_at: dt.datetime,
              now: dt.datetime, client: str = "") -> tuple[str, str]:
        """A new token (token id, secret shown once) for `role`, valid until `expires_at`."""
        by.require(AccountRole.COORDINATOR)
        label = " ".join(label.split())
        if not label or len(label) > MAX_LABEL:
            raise InvalidAccountInput(f"name the token's holder in 1 to {MAX_LABEL} characters",
                                      field="label", rule="token.label")
        if not now < expires_at <= now + MAX_LIFETIME:
            raise InvalidAccountInput("the expiry must be in the future and within a year",
                                      field="expires_at", rule="token.expiry")

        def audited(cur: Cursor, token_id: str) -> None:
            self.audit.record(cur, actor=by.actor, action="token.issue", target=token_id,
                              detail=f"{role.value} token for {label!r} until "
                                     f"{expires_at.date().isoformat()}", client=client, now=now)

        return self.tokens.issue(label=label, role=role, now=now, expires_at=expires_at,
                                 issued_by=by.actor.label, within=audited)

    def revoke(self, by: SignedIn, token_id: str, *, now: dt.datetime,
               client: str = "") -> None:
        """Revoke a live token; AccountNotFound if no live token has the id."""
        by.require(AccountRole.COORDINATOR)

        def audited(cur: Cursor) -> None:
            self.audit.record(cur, actor=by.actor, action="token.revoke", target=token_id,
                              client=client, now=now)

        if not self.tokens.revoke(token_id, now=now, within=audited):
            raise AccountNotFound("no live token has this id", field="token_id",
                                  rule="token.live")

    def list(self, by: SignedIn) -> list[TokenDetails]:
        """Every token, without secrets (coordinators only)."""
        by.require(AccountRole.COORDINATOR)
        return self.tokens.details()
