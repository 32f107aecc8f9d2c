"""The applicant's waiver of the right to see their reference ratings.

The waiver's text has a version; what is recorded is who signed, how (`portal`: the applicant
in the page; `paper`: a signed form staff received and recorded), when, the version and the
SHA-256 of the exact text signed, so a later change of wording cannot be read back into an
old signature. `record_waiver` is what the portal calls when the applicant signs; the staff
page calls it for a paper waiver.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

from federation_api.ratings.store import RatingStore, Waiver
from ledger.storage.database import Cursor

WAIVER_VERSION = "2026-1"
WAIVER_TEXT = ("I waive my right to see the reference ratings given about me for this "
               "application, and any comments in them. I understand that the association's "
               "Endorsement Coordinator and the application's reviewers read them, that I "
               "will be told how many of the ratings have been received, and that waiving "
               "this right is required for the ratings to count towards my endorsement.")
WAIVER_SHA256 = hashlib.sha256(WAIVER_TEXT.encode()).hexdigest()
PORTAL = "portal"
PAPER = "paper"


def record_waiver(cur: Cursor, store: RatingStore, *, application_id: uuid.UUID,
                  signed_by: str, how: str, recorded_by: str,
                  now: dt.datetime) -> tuple[Waiver, bool]:
    """Record that `signed_by` (the applicant's account or person id) signed the current
    text; (the waiver on record, whether this call recorded it). Signed once: a second
    signing keeps the first."""
    if how not in (PORTAL, PAPER):
        raise ValueError(f"a waiver is signed in the portal or on paper, not {how!r}")
    return store.record_waiver(cur, application_id=application_id, signed_by=signed_by,
                               how=how, text_version=WAIVER_VERSION,
                               text_sha256=WAIVER_SHA256, recorded_by=recorded_by, now=now)
