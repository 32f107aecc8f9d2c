"""The staff audit log's entry of an action that writes the ledger, for the JSON API and the
staff pages alike.

The ledger commits in its own database, so the entry is written in two steps (the audit
log's `begin`/`finish`): `started` before the action runs, so that a crash in between still
leaves a trace of who tried, then `ok` with the last ledger entry the action wrote (the own
ledger's head, if it moved), or `refused` with the kind of error. Details never hold the
request's contents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from domain.errors import DomainError
from federation_api.accounts.audit_log import Actor, LedgerRef, Outcome
from federation_api.clock import now
from federation_api.node.root import Node
from ledger.storage.database import Cursor


def client_of(request: Request) -> str:
    """The client's address as the rate limits see it (a trusted proxy's X-Forwarded-For)."""
    limits = getattr(request.app.state, "rate_limits", None)
    if limits is not None:
        return str(limits.client_of(request.scope))
    return request.client.host if request.client else ""


class AuditedAction:
    """One ledger-writing action in the audit log: made `started` on construction."""

    def __init__(self, node: Node, *, actor: Actor, action: str, target: str, detail: str,
                 client: str) -> None:
        self.node = node
        self.before = node.ledger.head(node.association)
        self.audit_id: int = node.accounts.audit.begin(actor=actor, action=action,
                                                       target=target, detail=detail,
                                                       client=client, now=now())

    def refused(self, error: Exception) -> None:
        """The action was refused (nothing was written)."""
        self.node.accounts.audit.finish(self.audit_id, outcome=Outcome.REFUSED, now=now(),
                                        detail=f"refused: {type(error).__name__}")

    def done(self, detail: str | None = None,
             then: Callable[[Cursor], None] | None = None) -> LedgerRef | None:
        """The action succeeded; the last ledger entry it wrote, if any. `then` writes what
        the action causes in the node database (e.g. its email in the outbox) in the same
        transaction as the audit entry's outcome: both or neither."""
        after = self.node.ledger.head(self.node.association)
        ledger = (LedgerRef(self.node.association, after[0], after[1].hex())
                  if after is not None and after != self.before else None)
        audit = self.node.accounts.audit
        with audit.db.transaction() as cur:
            audit.finish(self.audit_id, outcome=Outcome.OK, now=now(), ledger=ledger,
                         detail=detail, cur=cur)
            if then is not None:
                then(cur)
        return ledger


@dataclass(frozen=True)
class Attempt:
    """How a page's command went: the ledger entry it wrote, or the domain's refusal."""

    entry: LedgerRef | None = None
    refusal: DomainError | None = None


def attempt(node: Node, *, actor: Actor, action: str, target: str, client: str,
            run: Callable[[], object],
            then: Callable[[Cursor], None] | None = None) -> Attempt:
    """Run a page's ledger-writing command, audited. A domain refusal (bad input, a rule)
    comes back to be shown next to its field; any other error is recorded and raised.
    `then` runs after a success, in the audit entry's transaction (`AuditedAction.done`)."""
    audited = AuditedAction(node, actor=actor, action=action, target=target, detail="",
                            client=client)
    try:
        run()
    except DomainError as e:
        audited.refused(e)
        return Attempt(refusal=e)
    except Exception as e:
        audited.refused(e)
        raise
    return Attempt(entry=audited.done(then=then))
