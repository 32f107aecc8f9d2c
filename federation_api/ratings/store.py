"""The ratings' tables in the node database: requests (one per application and rater, with
the draft or submitted answers), the links emailed for them, and the applicants' waivers.

A link's token is 256 random bits; only SHA-256 of "rating:<token>" is stored (as the
accounts' one-time links do), so the table opens no form to a thief, and a token altered in
any character finds no row. A link is spent by one conditional UPDATE (used, superseded and
expiry checked in the statement), so two submissions in two processes cannot both succeed.
Sending a new link for a rating supersedes the earlier ones: only the latest email works,
while the draft belongs to the request and carries over to the new link.

Every writing method takes the caller's open cursor, so a request and its email in the
outbox, or a waiver and its audit entry, commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from domain.requirements import RATINGS_PER_APPLICATION
from federation_api.clock import stamp, unstamp
from federation_api.ratings.areas import RatingAnswers
from federation_api.ratings.errors import LinkRefused, LinkState
from ledger.codec import decode_json, encode_json
from ledger.storage.database import Cursor, Database

TOKEN_PREFIX = "rtr_"  # noqa: S105 - a rating link token's prefix, greppable in a leak
LINK_LIFETIME = dt.timedelta(days=30)

_DDL = """
CREATE TABLE IF NOT EXISTS rating_requests (
    request_id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL,
    rater_id TEXT NOT NULL,
    rater_name TEXT NOT NULL,
    recipient TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    links_sent INTEGER NOT NULL,
    last_mailed_at TEXT NOT NULL,
    reminders INTEGER NOT NULL,
    answers TEXT,
    saved_at TEXT,
    submitted_at TEXT,
    content_sha256 TEXT,
    UNIQUE (application_id, rater_id)
);
CREATE TABLE IF NOT EXISTS rating_links (
    link_hash TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES rating_requests (request_id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    superseded_at TEXT
);
CREATE INDEX IF NOT EXISTS rating_links_request ON rating_links (request_id);
CREATE TABLE IF NOT EXISTS rating_waivers (
    application_id TEXT PRIMARY KEY,
    signed_by TEXT NOT NULL,
    how TEXT NOT NULL,
    text_version TEXT NOT NULL,
    text_sha256 TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL
)
"""
_REQUEST = ("request_id, application_id, rater_id, rater_name, recipient, requested_by, "
            "requested_at, links_sent, last_mailed_at, reminders, answers, saved_at, "
            "submitted_at, content_sha256")


@dataclass(frozen=True)
class RatingRequest:
    """One rater's rating of one application: requested, drafted, submitted."""

    request_id: str
    application_id: uuid.UUID
    rater_id: str
    rater_name: str
    recipient: str
    requested_by: str
    requested_at: dt.datetime
    links_sent: int
    last_mailed_at: dt.datetime
    reminders: int
    answers: RatingAnswers | None
    saved_at: dt.datetime | None
    submitted_at: dt.datetime | None
    content_sha256: str | None

    @property
    def submitted(self) -> bool:
        """Whether the rater has submitted (the answers are then final)."""
        return self.submitted_at is not None


@dataclass(frozen=True)
class OpenLink:
    """A live link: the request it rates and until when it works."""

    request: RatingRequest
    expires_at: dt.datetime


@dataclass(frozen=True)
class Waiver:
    """The applicant's waiver of the right to see the ratings: who signed, how (in the
    portal, or on paper recorded by staff), which text (version and SHA-256), and when."""

    application_id: uuid.UUID
    signed_by: str
    how: str
    text_version: str
    text_sha256: str
    recorded_by: str
    recorded_at: dt.datetime


@dataclass(frozen=True)
class RatingSummary:
    """What the applicant may know: how many ratings were asked for and received, never
    what a rating says or who said what."""

    requested: int
    received: int
    needed: int
    waiver_signed: bool

    @property
    def words(self) -> str:
        """E.g. "2 of 3 ratings received"."""
        return f"{self.received} of {self.needed} ratings received"


def link_hash(token: str) -> str:
    """What the table stores of a token."""
    return hashlib.sha256(f"rating:{token.strip()}".encode()).hexdigest()


def answers_json(answers: RatingAnswers) -> bytes:
    """The stored text of the answers (sorted keys: its SHA-256 names one rating)."""
    return encode_json(answers)


class RatingStore:
    """Requests, links, answers and waivers."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ddl(_DDL)

    # -- requests and links -------------------------------------------------------------

    def issue(self, cur: Cursor, *, application_id: uuid.UUID, rater_id: str,
              rater_name: str, recipient: str, requested_by: str, now: dt.datetime,
              lifetime: dt.timedelta = LINK_LIFETIME, reminder: bool = False
              ) -> tuple[RatingRequest, str]:
        """A new link for this rater's rating (the request made on the first), returned once
        for the email; earlier links of the request are superseded. The caller refuses a
        submitted rating first (`get`)."""
        at = stamp(now)
        cur.execute(
            "INSERT INTO rating_requests (request_id, application_id, rater_id, rater_name, "
            "recipient, requested_by, requested_at, links_sent, last_mailed_at, reminders) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, 0) "
            "ON CONFLICT (application_id, rater_id) DO NOTHING",
            (uuid.uuid4().hex, str(application_id), rater_id, rater_name, recipient,
             requested_by, at, at))
        row = cur.execute(
            "UPDATE rating_requests SET links_sent = links_sent + 1, last_mailed_at = ?, "
            "reminders = reminders + ?, recipient = ?, rater_name = ? "
            "WHERE application_id = ? AND rater_id = ? AND submitted_at IS NULL "
            f"RETURNING {_REQUEST}",
            (at, 1 if reminder else 0, recipient, rater_name, str(application_id),
             rater_id)).fetchone()
        if row is None:
            raise LinkRefused(LinkState.USED)  # submitted meanwhile: no new link
        request = _request(row)
        cur.execute("UPDATE rating_links SET superseded_at = ? WHERE request_id = ? AND "
                    "used_at IS NULL AND superseded_at IS NULL", (at, request.request_id))
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        cur.execute("INSERT INTO rating_links (link_hash, request_id, created_at, expires_at) "
                    "VALUES (?, ?, ?, ?)", (link_hash(token), request.request_id, at,
                                            stamp(now + lifetime)))
        return request, token

    def get(self, application_id: uuid.UUID, rater_id: str, *,
            cur: Cursor | None = None) -> RatingRequest | None:
        """This rater's request for this application, if one was sent."""
        sql = (f"SELECT {_REQUEST} FROM rating_requests WHERE application_id = ? AND "
               f"rater_id = ?")
        args = (str(application_id), rater_id)
        rows = cur.execute(sql, args).fetchall() if cur is not None else self.db.query(sql, args)
        return _request(rows[0]) if rows else None

    def of_application(self, application_id: uuid.UUID) -> list[RatingRequest]:
        """Every request of the application, in the order they were first sent."""
        return [_request(r) for r in self.db.query(
            f"SELECT {_REQUEST} FROM rating_requests WHERE application_id = ? "
            f"ORDER BY requested_at, rater_id", (str(application_id),))]

    def open(self, token: str, *, now: dt.datetime, cur: Cursor | None = None) -> OpenLink:
        """The live link's request; LinkRefused saying why it is not live."""
        sql = (f"SELECT l.expires_at, l.used_at, l.superseded_at, "
               f"{', '.join('r.' + c for c in _REQUEST.split(', '))} FROM rating_links l "
               f"JOIN rating_requests r ON r.request_id = l.request_id WHERE l.link_hash = ?")
        args = (link_hash(token),)
        rows = cur.execute(sql, args).fetchall() if cur is not None else self.db.query(sql, args)
        if not rows:
            raise LinkRefused(LinkState.UNKNOWN)
        expires, used, superseded = (unstamp(rows[0][0]), unstamp(rows[0][1]),
                                     unstamp(rows[0][2]))
        request = _request(rows[0][3:])
        assert expires is not None
        if used is not None or request.submitted_at is not None:
            raise LinkRefused(LinkState.USED, used or request.submitted_at)
        if superseded is not None:
            raise LinkRefused(LinkState.SUPERSEDED, superseded)
        if expires <= now:
            raise LinkRefused(LinkState.EXPIRED, expires)
        return OpenLink(request, expires)

    def save_draft(self, cur: Cursor, token: str, answers: RatingAnswers, *,
                   now: dt.datetime) -> RatingRequest:
        """Keep the answers so far (the link stays live); LinkRefused if it is not."""
        live = self.open(token, now=now, cur=cur)
        row = cur.execute(
            f"UPDATE rating_requests SET answers = ?, saved_at = ? WHERE request_id = ? AND "
            f"submitted_at IS NULL RETURNING {_REQUEST}",
            (answers_json(answers).decode(), stamp(now), live.request.request_id)).fetchone()
        if row is None:
            raise LinkRefused(LinkState.USED)
        return _request(row)

    def submit(self, cur: Cursor, token: str, answers: RatingAnswers, *,
               now: dt.datetime) -> RatingRequest:
        """Record the final answers and spend the link, both or neither; LinkRefused (why)
        if the link is not live, also when another submission spent it a moment ago."""
        at = stamp(now)
        spent = cur.execute(
            "UPDATE rating_links SET used_at = ? WHERE link_hash = ? AND used_at IS NULL AND "
            "superseded_at IS NULL AND expires_at > ? RETURNING request_id",
            (at, link_hash(token), at)).fetchone()
        if spent is None:
            self.open(token, now=now, cur=cur)  # raises the reason
            raise LinkRefused(LinkState.USED)
        body = answers_json(answers)
        row = cur.execute(
            f"UPDATE rating_requests SET answers = ?, saved_at = ?, submitted_at = ?, "
            f"content_sha256 = ? WHERE request_id = ? AND submitted_at IS NULL "
            f"RETURNING {_REQUEST}",
            (body.decode(), at, at, hashlib.sha256(body).hexdigest(), spent[0])).fetchone()
        if row is None:
            raise LinkRefused(LinkState.USED)
        return _request(row)

    # -- reminders ----------------------------------------------------------------------

    def awaiting(self, *, mailed_before: dt.datetime, max_reminders: int
                 ) -> list[RatingRequest]:
        """Requests not yet rated whose last email is older than `mailed_before` and that
        have had fewer than `max_reminders` reminders: the ones a reminder is due for."""
        return [_request(r) for r in self.db.query(
            f"SELECT {_REQUEST} FROM rating_requests WHERE submitted_at IS NULL AND "
            f"last_mailed_at < ? AND reminders < ? ORDER BY last_mailed_at, request_id",
            (stamp(mailed_before), max_reminders))]

    # -- waivers and the applicant's summary ------------------------------------------

    def record_waiver(self, cur: Cursor, *, application_id: uuid.UUID, signed_by: str,
                      how: str, text_version: str, text_sha256: str, recorded_by: str,
                      now: dt.datetime) -> tuple[Waiver, bool]:
        """Record the waiver; (the waiver on record, whether this call recorded it). A
        waiver is recorded once: a second signing changes nothing."""
        added = cur.execute(
            "INSERT INTO rating_waivers (application_id, signed_by, how, text_version, "
            "text_sha256, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (application_id) DO NOTHING RETURNING application_id",
            (str(application_id), signed_by, how, text_version, text_sha256, recorded_by,
             stamp(now))).fetchone()
        waiver = self.waiver(application_id, cur=cur)
        assert waiver is not None
        return waiver, added is not None

    def waiver(self, application_id: uuid.UUID, *, cur: Cursor | None = None) -> Waiver | None:
        """The application's waiver, if signed."""
        sql = ("SELECT application_id, signed_by, how, text_version, text_sha256, "
               "recorded_by, recorded_at FROM rating_waivers WHERE application_id = ?")
        args = (str(application_id),)
        rows = cur.execute(sql, args).fetchall() if cur is not None else self.db.query(sql, args)
        if not rows:
            return None
        r = rows[0]
        recorded = unstamp(r[6])
        assert recorded is not None
        return Waiver(uuid.UUID(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]),
                      recorded)

    def summary(self, application_id: uuid.UUID, *,
                needed: int = RATINGS_PER_APPLICATION) -> RatingSummary:
        """How many ratings were asked for and received, and whether the waiver is signed:
        all the applicant's portal may show of them."""
        requested, received = self.db.query(
            "SELECT COUNT(*), COUNT(submitted_at) FROM rating_requests "
            "WHERE application_id = ?", (str(application_id),))[0]
        return RatingSummary(requested=int(requested), received=int(received), needed=needed,
                             waiver_signed=self.waiver(application_id) is not None)


def _request(row: Any) -> RatingRequest:
    (request_id, application_id, rater_id, rater_name, recipient, requested_by, requested_at,
     links_sent, last_mailed_at, reminders, answers, saved_at, submitted_at, digest) = row
    asked, mailed = unstamp(requested_at), unstamp(last_mailed_at)
    assert asked is not None and mailed is not None
    return RatingRequest(
        request_id=str(request_id), application_id=uuid.UUID(str(application_id)),
        rater_id=str(rater_id), rater_name=str(rater_name), recipient=str(recipient),
        requested_by=str(requested_by), requested_at=asked, links_sent=int(links_sent),
        last_mailed_at=mailed, reminders=int(reminders),
        answers=None if answers is None else decode_json(str(answers).encode(), RatingAnswers),
        saved_at=unstamp(saved_at), submitted_at=unstamp(submitted_at),
        content_sha256=None if digest is None else str(digest))
