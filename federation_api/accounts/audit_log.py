"""The staff audit log: every staff action, with the account that did it.

An entry names the actor (`account:<id>`, `cli` for `alliance staff add` at the server's
shell, `token:<id>` for an API token), the action (a short verb phrase such as
`account.invite` or `endorsement.grant`), its target, its outcome (`ok`, `refused`, or
`started` until a two-step action finishes), a short detail, the client address, and the
ledger entry it produced (association, seq, hash) if any. Details never hold secrets:
passwords, codes, tokens and email bodies stay out.

Account changes record their entry in the same transaction as the change (`record` takes the
cursor). An action that writes the ledger commits in another database, so it records
`begin` (outcome `started`) before running the command and `finish` with the outcome and the
ledger entry after: a crash in between leaves a `started` entry saying the account tried,
rather than no entry at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from federation_api.clock import stamp, unstamp
from ledger.storage.database import Cursor, Database

MAX_DETAIL = 500


class Outcome(StrEnum):
    """How an action ended."""

    OK = "ok"
    REFUSED = "refused"
    STARTED = "started"


@dataclass(frozen=True)
class Actor:
    """Who acted: an account, the server's shell, an API token, or the node itself."""

    kind: str  # "account", "cli", "token", "system"
    ident: str = ""
    issuer: str | None = None  # a token issued in the browser: the account that issued it

    @classmethod
    def account(cls, account_id: str) -> Actor:
        """A signed-in (or signing-in) account."""
        return cls("account", account_id)

    @classmethod
    def token(cls, token_id: str, issued_by: str | None) -> Actor:
        """An API token; one a coordinator issued in the browser is entered under that
        account too (its `account_id`), so the account's log shows what its tokens did."""
        prefix = "account:"
        issuer = issued_by[len(prefix):] if issued_by and issued_by.startswith(prefix) else None
        return cls("token", token_id, issuer)

    @property
    def label(self) -> str:
        """How the actor is stored: `account:<id>`, `cli`, `token:<id>`, `system`."""
        return f"{self.kind}:{self.ident}" if self.ident else self.kind

    @property
    def account_id(self) -> str | None:
        """The account id, if an account acted (itself, or through a token it issued)."""
        return self.ident if self.kind == "account" else self.issuer


CLI = Actor("cli")
SYSTEM = Actor("system")


@dataclass(frozen=True)
class LedgerRef:
    """The ledger entry an action produced."""

    association: str
    seq: int
    entry_hash: str


@dataclass(frozen=True)
class AuditEntry:
    """One line of the log."""

    audit_id: int
    actor: str
    account_id: str | None
    action: str
    target: str
    outcome: Outcome
    detail: str
    client: str
    ledger: LedgerRef | None
    recorded_at: dt.datetime
    finished_at: dt.datetime | None


_COLUMNS = ("audit_id, actor, account_id, action, target, outcome, detail, client, "
            "ledger_association, ledger_seq, ledger_hash, recorded_at, finished_at")


class AuditLog:
    """Append to and read the staff audit log."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, cur: Cursor, *, actor: Actor, action: str, now: dt.datetime,
               target: str = "", outcome: Outcome = Outcome.OK, detail: str = "",
               client: str = "", ledger: LedgerRef | None = None) -> int:
        """Append one entry inside the caller's transaction; its id."""
        row = cur.execute(
            "INSERT INTO staff_audit (actor, account_id, action, target, outcome, detail, "
            "client, ledger_association, ledger_seq, ledger_hash, recorded_at, finished_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING audit_id",
            (actor.label, actor.account_id, action, target[:200], outcome.value,
             detail[:MAX_DETAIL], client[:100], ledger.association if ledger else None,
             ledger.seq if ledger else None, ledger.entry_hash if ledger else None, stamp(now),
             None if outcome is Outcome.STARTED else stamp(now))).fetchone()
        assert row is not None
        return int(row[0])

    def begin(self, *, actor: Actor, action: str, now: dt.datetime, target: str = "",
              detail: str = "", client: str = "") -> int:
        """Record that an action is starting (its own transaction); the id for `finish`."""
        with self.db.transaction() as cur:
            return self.record(cur, actor=actor, action=action, now=now, target=target,
                               outcome=Outcome.STARTED, detail=detail, client=client)

    def finish(self, audit_id: int, *, outcome: Outcome, now: dt.datetime,
               ledger: LedgerRef | None = None, detail: str | None = None,
               cur: Cursor | None = None) -> None:
        """Record how a started action ended, and the ledger entry it produced (inside the
        caller's transaction `cur`, if given, e.g. with the mail the action causes)."""
        if outcome is Outcome.STARTED:
            raise ValueError("finish with ok or refused")
        if cur is None:
            with self.db.transaction() as own:
                self.finish(audit_id, outcome=outcome, now=now, ledger=ledger, detail=detail,
                            cur=own)
            return
        cur.execute("UPDATE staff_audit SET outcome = ?, finished_at = ?, "
                    "ledger_association = ?, ledger_seq = ?, ledger_hash = ?, "
                    "detail = COALESCE(?, detail) WHERE audit_id = ? AND outcome = ?",
                    (outcome.value, stamp(now), ledger.association if ledger else None,
                     ledger.seq if ledger else None, ledger.entry_hash if ledger else None,
                     None if detail is None else detail[:MAX_DETAIL], audit_id,
                     Outcome.STARTED.value))

    def entries(self, *, account_id: str | None = None, action: str | None = None,
                before: int | None = None, limit: int = 100, since: dt.datetime | None = None,
                until: dt.datetime | None = None) -> list[AuditEntry]:
        """Newest first, optionally of one account or action, recorded in [since, until);
        page with `before` (an id)."""
        where: list[str] = ["1 = 1"]
        params: list[str | int] = []
        if since is not None:
            where.append("recorded_at >= ?")
            params.append(stamp(since))
        if until is not None:
            where.append("recorded_at < ?")
            params.append(stamp(until))
        if account_id is not None:
            where.append("account_id = ?")
            params.append(account_id)
        if action is not None:
            where.append("action = ?")
            params.append(action)
        if before is not None:
            where.append("audit_id < ?")
            params.append(before)
        rows = self.db.query(f"SELECT {_COLUMNS} FROM staff_audit WHERE {' AND '.join(where)} "
                             f"ORDER BY audit_id DESC LIMIT ?",
                             (*params, max(1, min(limit, 1000))))
        result = []
        for r in rows:
            recorded = unstamp(r[11])
            assert recorded is not None
            ref = LedgerRef(r[8], int(r[9]), r[10]) if r[8] is not None else None
            result.append(AuditEntry(audit_id=int(r[0]), actor=r[1], account_id=r[2],
                                     action=r[3], target=r[4], outcome=Outcome(r[5]),
                                     detail=r[6], client=r[7], ledger=ref,
                                     recorded_at=recorded, finished_at=unstamp(r[12])))
        return result
