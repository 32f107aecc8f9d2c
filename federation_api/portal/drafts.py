"""Draft applications in the node database: private until the applicant submits them.

A draft holds the level applied for and the application form's values exactly as the
browser last sent them (the flat names of `web.pages.evidence_form`, kept as the codec's
JSON), so a half-filled form comes back as it was left, over as many sessions as it takes.
Nothing of it reaches the ledger before submission; then the draft keeps the id of the
application it became, and its state says so.

Every read and write names the owning account (`account_id = ?` in the statement itself),
so a draft id taken from another person's page finds nothing: `NotYours`, the same answer
as an id that does not exist. Each save bumps `version`; a save names the version it was
made from, so two browser tabs cannot silently overwrite each other.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.levels import Designation, Level
from federation_api.clock import stamp, unstamp
from federation_api.portal.errors import NotYours, PortalError
from ledger.codec import decode_json, encode_json
from ledger.storage.database import Cursor, Database

_DDL = """
CREATE TABLE IF NOT EXISTS portal_drafts (
    draft_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    application_id TEXT NOT NULL UNIQUE,
    level TEXT NOT NULL,
    designation TEXT,
    form_values TEXT NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    submitted_at TEXT
);
CREATE INDEX IF NOT EXISTS portal_drafts_account ON portal_drafts (account_id);
CREATE TABLE IF NOT EXISTS portal_signatures (
    draft_id TEXT NOT NULL,
    document TEXT NOT NULL,
    text_version TEXT NOT NULL,
    text_sha256 TEXT NOT NULL,
    signed_by TEXT NOT NULL,
    signed_name TEXT NOT NULL,
    signed_at TEXT NOT NULL,
    PRIMARY KEY (draft_id, document)
)
"""
_COLUMNS = ("draft_id, account_id, application_id, level, designation, form_values, state, "
            "version, created_at, updated_at, submitted_at")
MAX_DRAFTS = 20  # open drafts per account: more is a script, not a person


class DraftState(StrEnum):
    """Where a draft stands: still the applicant's, or submitted as an application."""

    DRAFT = "draft"
    SUBMITTED = "submitted"


@dataclass(frozen=True)
class Draft:
    """One draft application of one account."""

    draft_id: str
    account_id: str
    application_id: uuid.UUID  # chosen at creation, so a retried submit cannot open two
    level: Level
    designation: Designation | None
    values: dict[str, str]
    state: DraftState
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    submitted_at: dt.datetime | None

    @property
    def submitted(self) -> bool:
        """Whether the draft became an application (the ledger has it)."""
        return self.state is DraftState.SUBMITTED


@dataclass(frozen=True)
class Signature:
    """A text signed in the page: which one, its version and hash, who and when."""

    document: str
    text_version: str
    text_sha256: str
    signed_by: str  # account id
    signed_name: str  # the name the person typed as their signature
    signed_at: dt.datetime


class DraftStore:
    """The portal's drafts and their signatures."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ddl(_DDL)

    # -- reading --------------------------------------------------------------------------

    def get(self, account_id: str, draft_id: str, *, cur: Cursor | None = None) -> Draft:
        """The account's draft with this id; NotYours if it has none (or it is another's)."""
        sql = f"SELECT {_COLUMNS} FROM portal_drafts WHERE draft_id = ? AND account_id = ?"
        params = (draft_id[:64], account_id)
        if cur is not None:
            row = cur.execute(sql, params).fetchone()
        else:
            rows = self.db.query(sql, params)
            row = rows[0] if rows else None
        if row is None:
            raise NotYours("no such draft", field="draft", rule="draft.owner")
        return _draft(row)

    def of_account(self, account_id: str) -> list[Draft]:
        """Every draft of the account, newest first."""
        return [_draft(row) for row in self.db.query(
            f"SELECT {_COLUMNS} FROM portal_drafts WHERE account_id = ? "
            f"ORDER BY created_at DESC, draft_id", (account_id,))]

    def by_application(self, account_id: str, application_id: str) -> Draft:
        """The account's draft that became this application; NotYours otherwise."""
        rows = self.db.query(f"SELECT {_COLUMNS} FROM portal_drafts WHERE application_id = ? "
                             f"AND account_id = ? AND state = ?",
                             (application_id[:64], account_id, DraftState.SUBMITTED.value))
        if not rows:
            raise NotYours("no such application", field="application", rule="draft.owner")
        return _draft(rows[0])

    def owner_of(self, cur: Cursor, application_id: str) -> str | None:
        """The account whose submitted draft became this application, or None (an
        application the association typed in)."""
        row = cur.execute("SELECT account_id FROM portal_drafts WHERE application_id = ? AND "
                          "state = ?", (application_id[:64],
                                        DraftState.SUBMITTED.value)).fetchone()
        return None if row is None else str(row[0])

    def of_application(self, application_id: str) -> Draft | None:
        """The submitted draft behind an application, whoever's it is: for the coordinator's
        pages only (e.g. the address an applicant gave for a rater), never a portal page."""
        rows = self.db.query(f"SELECT {_COLUMNS} FROM portal_drafts WHERE application_id = ? "
                             f"AND state = ?", (application_id[:64], DraftState.SUBMITTED.value))
        return _draft(rows[0]) if rows else None

    def signatures(self, draft_id: str) -> dict[str, Signature]:
        """The texts signed for a draft, by document name."""
        return {row[0]: Signature(row[0], row[1], row[2], row[3], row[4], _at(row[5]))
                for row in self.db.query(
                    "SELECT document, text_version, text_sha256, signed_by, signed_name, "
                    "signed_at FROM portal_signatures WHERE draft_id = ? ORDER BY document",
                    (draft_id,))}

    # -- writing --------------------------------------------------------------------------

    def create(self, cur: Cursor, account_id: str, *, level: Level,
               designation: Designation | None, now: dt.datetime) -> Draft:
        """A new empty draft for a level; PortalError past MAX_DRAFTS open drafts."""
        open_ = cur.execute("SELECT COUNT(*) FROM portal_drafts WHERE account_id = ? AND "
                            "state = ?", (account_id, DraftState.DRAFT.value)).fetchone()
        if open_ is not None and int(open_[0]) >= MAX_DRAFTS:
            raise PortalError(f"you have {MAX_DRAFTS} drafts already; finish or submit one "
                              f"first", field="level", rule="draft.limit")
        draft_id = "drf_" + secrets.token_hex(8)
        at = stamp(now)
        cur.execute(f"INSERT INTO portal_drafts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 1, "
                    f"?, ?, NULL)",
                    (draft_id, account_id, str(uuid.uuid4()), level.value,
                     designation.value if designation else None, _values_text({}),
                     DraftState.DRAFT.value, at, at))
        return self.get(account_id, draft_id, cur=cur)

    def save(self, cur: Cursor, draft: Draft, values: dict[str, str], *,
             now: dt.datetime) -> Draft:
        """Replace the draft's form values, if it is still the version `draft` was read at
        and not yet submitted; PortalError otherwise (nothing written)."""
        changed = cur.execute(
            "UPDATE portal_drafts SET form_values = ?, version = version + 1, updated_at = ? "
            "WHERE draft_id = ? AND account_id = ? AND version = ? AND state = ? "
            "RETURNING draft_id",
            (_values_text(values), stamp(now), draft.draft_id, draft.account_id, draft.version,
             DraftState.DRAFT.value)).fetchone()
        if changed is None:
            raise PortalError("this draft changed in another window (or was submitted) since "
                              "you opened it; reload it and make your changes again",
                              field="draft", rule="draft.version")
        return self.get(draft.account_id, draft.draft_id, cur=cur)

    def sign(self, cur: Cursor, draft: Draft, signature: Signature) -> None:
        """Record a signature of the draft (a newer signature of a document replaces it)."""
        cur.execute("DELETE FROM portal_signatures WHERE draft_id = ? AND document = ?",
                    (draft.draft_id, signature.document))
        cur.execute("INSERT INTO portal_signatures (draft_id, document, text_version, "
                    "text_sha256, signed_by, signed_name, signed_at) VALUES (?, ?, ?, ?, ?, ?, "
                    "?)", (draft.draft_id, signature.document, signature.text_version,
                           signature.text_sha256, signature.signed_by, signature.signed_name,
                           stamp(signature.signed_at)))

    def mark_submitted(self, cur: Cursor, draft: Draft, *, now: dt.datetime) -> None:
        """The draft became its application (after the ledger took it)."""
        at = stamp(now)
        cur.execute("UPDATE portal_drafts SET state = ?, version = version + 1, updated_at = ?, "
                    "submitted_at = COALESCE(submitted_at, ?) WHERE draft_id = ? AND "
                    "account_id = ?", (DraftState.SUBMITTED.value, at, at, draft.draft_id,
                                       draft.account_id))

    def record_answer(self, cur: Cursor, draft: Draft, values: dict[str, str], *,
                      now: dt.datetime) -> None:
        """Keep the form as sent with the answer to a return (the application's evidence now
        says the same), so the next answer starts from it."""
        cur.execute("UPDATE portal_drafts SET form_values = ?, version = version + 1, "
                    "updated_at = ? WHERE draft_id = ? AND account_id = ? AND state = ?",
                    (_values_text(values), stamp(now), draft.draft_id, draft.account_id,
                     DraftState.SUBMITTED.value))

    def delete(self, cur: Cursor, draft: Draft) -> None:
        """Discard an unsubmitted draft and its signatures."""
        found = cur.execute("DELETE FROM portal_drafts WHERE draft_id = ? AND account_id = ? "
                            "AND state = ? RETURNING draft_id",
                            (draft.draft_id, draft.account_id,
                             DraftState.DRAFT.value)).fetchone()
        if found is not None:
            cur.execute("DELETE FROM portal_signatures WHERE draft_id = ?", (draft.draft_id,))


def _values_text(values: dict[str, str]) -> str:
    return encode_json(values).decode()


def _at(text: Any) -> dt.datetime:
    moment = unstamp(text)
    assert moment is not None
    return moment


def _draft(row: tuple[Any, ...]) -> Draft:
    return Draft(draft_id=row[0], account_id=row[1], application_id=uuid.UUID(row[2]),
                 level=Level(row[3]), designation=Designation(row[4]) if row[4] else None,
                 values=decode_json(row[5].encode(), dict[str, str]),
                 state=DraftState(row[6]), version=int(row[7]), created_at=_at(row[8]),
                 updated_at=_at(row[9]), submitted_at=unstamp(row[10]))
