"""A professional's renewal in the portal: their own endorsement, the cycle, what it lacks.

The rules are the domain's, never restated here: the cycle is the endorsement's own
`renewal_cycle()` (which knows the first-cycle policy), what it lacks is
`domain.renewal.evaluate_renewal` over the hours logged in it (`portal.hours_log`), and the
renewal itself is the same `AssociationService.renew` command the staff renewal page runs.
This module gathers those into what the page shows (`CycleView`), builds the renewal's
evidence from the log, checks the confirmation form, and keeps the portal's private record of
each renewal (`RenewalRecords`: the membership confirmed, the Code of Ethics re-signed with
its version and hash, the ledger entry written), saved in the audit entry's transaction.

Own records only: `own_endorsement` admits an endorsement of this association whose person
record is the one the coordinator tied the account to; anything else is `NotYours`, the
same answer as an id that does not exist.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Protocol

from domain.endorsement import Endorsement
from domain.evidence import Membership, RenewalEvidence, RscHours, Training
from domain.policy import AssociationPolicy
from domain.renewal import evaluate_renewal
from domain.unmet import Unmet
from federation_api.clock import stamp, unstamp
from federation_api.portal.errors import NotYours
from federation_api.portal.hours_log import HoursKind, LoggedHours
from federation_api.portal.texts import Document, SignableText, text_of
from ledger.storage.database import Cursor, Database
from projections.queries import ProjectionReader
from projections.rows import RosterRow

_DDL = """
CREATE TABLE IF NOT EXISTS portal_renewals (
    endorsement_id TEXT NOT NULL,
    cycle_end TEXT NOT NULL,
    account_id TEXT NOT NULL,
    renewed_on TEXT NOT NULL,
    seq INTEGER,
    entry_hash TEXT,
    membership_association TEXT NOT NULL,
    membership_valid_through TEXT NOT NULL,
    provides_rsc INTEGER NOT NULL,
    document TEXT NOT NULL,
    text_version TEXT NOT NULL,
    text_sha256 TEXT NOT NULL,
    signed_name TEXT NOT NULL,
    signed_at TEXT NOT NULL,
    PRIMARY KEY (endorsement_id, cycle_end)
);
CREATE INDEX IF NOT EXISTS portal_renewals_account ON portal_renewals (account_id)
"""
_COLUMNS = ("endorsement_id, cycle_end, account_id, renewed_on, seq, entry_hash, "
            "membership_association, membership_valid_through, provides_rsc, document, "
            "text_version, text_sha256, signed_name, signed_at")
_ASSOCIATION = re.compile(r"[A-Za-z][A-Za-z0-9 .&'-]{0,79}")
MAX_NAME = 200
# The Code of Ethics a renewal re-signs: the current version of the one text applicants sign.
CODE_OF_ETHICS = text_of(Document.CODE_OF_ETHICS)
Errors = list[tuple[str, str]]


def own_endorsement(projector: ProjectionReader, association: str, person_id: str | None,
                    endorsement_id: str) -> RosterRow:
    """The endorsement `endorsement_id` if this association holds it for `person_id`;
    NotYours otherwise (no person record yet, another's, another association's, none)."""
    row = projector.endorsement(endorsement_id.strip().upper()[:40]) if person_id else None
    if row is None or row.association != association or row.person_id != person_id:
        raise NotYours("no such endorsement", field="endorsement", rule="renewal.owner")
    return row


def evidence_from(entries: list[LoggedHours], *, membership: Membership | None,
                  provides_rsc: bool) -> RenewalEvidence:
    """The renewal's evidence from the logged hours: each training entry a training, each
    RS/C entry the hours received on its day from the provider named (renewal does not look
    the provider up), and the membership the professional confirmed."""
    trainings, rsc = [], []
    for logged in entries:
        e = logged.entry
        if e.kind is HoursKind.TRAINING:
            title = f"{e.description} ({e.provider})" if e.description else e.provider
            trainings.append(Training(title=title, hours=e.hours, completed_on=e.done_on,
                                      rsc_topic=e.rsc_topic))
        else:
            rsc.append(RscHours(provider_id=e.provider, hours=e.hours, started_on=e.done_on,
                                ended_on=e.done_on))
    return RenewalEvidence(trainings=tuple(trainings), rsc=tuple(rsc),
                           memberships=(membership,) if membership else (),
                           provides_rsc=provides_rsc)


@dataclass(frozen=True)
class CycleView:
    """What the renewal page shows: the cycle, the hours counted in it, what it lacks."""

    row: RosterRow
    endorsement: Endorsement
    cycle_start: dt.date
    cycle_end: dt.date
    last_day: dt.date  # the last day a renewal is taken (the grace period's end)
    counted: list[LoggedHours]  # the entries within the cycle, which the renewal counts
    outside: int  # entries of the log outside the cycle (not counted)
    unmet: tuple[Unmet, ...]  # with no membership confirmed yet, that one is among them

    @property
    def training_hours(self) -> float:
        """Training hours within the cycle."""
        return sum(e.entry.hours for e in self.counted if e.entry.kind is HoursKind.TRAINING)

    @property
    def rsc_hours(self) -> float:
        """RS/C hours received within the cycle."""
        return sum(e.entry.hours for e in self.counted if e.entry.kind is HoursKind.RSC)

    @property
    def hours_unmet(self) -> tuple[Unmet, ...]:
        """What the logged hours still lack (the membership is confirmed in the form)."""
        return tuple(u for u in self.unmet if u.code != "membership")


def cycle_view(row: RosterRow, endorsement: Endorsement, policy: AssociationPolicy,
               entries: list[LoggedHours], *, membership: Membership | None = None,
               provides_rsc: bool = False) -> CycleView:
    """The cycle a renewal today would renew, with the account's logged hours counted the
    way the domain counts them."""
    start, end = endorsement.renewal_cycle()
    counted = [e for e in entries if start <= e.entry.done_on <= end]
    evidence = evidence_from(counted, membership=membership, provides_rsc=provides_rsc)
    unmet = evaluate_renewal(endorsement.level, endorsement.designation,
                             endorsement.granted_on, start, end, evidence)
    return CycleView(row=row, endorsement=endorsement, cycle_start=start, cycle_end=end,
                     last_day=policy.lapses_on(end) - dt.timedelta(days=1), counted=counted,
                     outside=len(entries) - len(counted), unmet=unmet)


@dataclass(frozen=True)
class Confirmation:
    """The renewal form's answers: the membership, RS/C provided, the Code of Ethics signed."""

    membership: Membership
    provides_rsc: bool
    text: SignableText
    signed_name: str


def parse_confirmation(values: dict[str, str], *, today: dt.date
                       ) -> tuple[Confirmation | None, Errors]:
    """The confirmation a posted renewal form gives, or its errors (field, message)."""
    errors: Errors = []
    association = " ".join(values.get("membership_association", "").split())
    if not _ASSOCIATION.fullmatch(association):
        errors.append(("membership_association", "Enter the association you are a member of, "
                                                 "such as AK or Michigan AIMH."))
    through: dt.date | None = None
    raw = values.get("membership_valid_through", "").strip()
    try:
        through = dt.date.fromisoformat(raw)
    except ValueError:
        errors.append(("membership_valid_through", f"Enter the date your membership runs "
                                                   f"to, such as {today.isoformat()}."))
    if through is not None and through < today:
        errors.append(("membership_valid_through", "This membership has ended; renew the "
                                                   "membership first."))
    if values.get("membership_confirmed") != "on":
        errors.append(("membership_confirmed", "Confirm that your membership is current."))
    if values.get("ethics_version", "") != CODE_OF_ETHICS.version:
        errors.append(("ethics_signed", "The Code of Ethics changed since this page was "
                                        "opened: read it again and sign it."))
    elif values.get("ethics_signed") != "on":
        errors.append(("ethics_signed", "Tick the box to sign the Code of Ethics."))
    name = " ".join(values.get("signed_name", "").split())
    if not name:
        errors.append(("signed_name", "Type your full name as your signature."))
    elif len(name) > MAX_NAME or any(ord(c) < 32 or ord(c) == 127 for c in name):
        errors.append(("signed_name", f"Type your name in at most {MAX_NAME} letters."))
    if errors or through is None:
        return None, errors
    return Confirmation(membership=Membership(association=association, valid_through=through),
                        provides_rsc=values.get("provides_rsc") == "on",
                        text=CODE_OF_ETHICS, signed_name=name), []


@dataclass(frozen=True)
class RenewalRecord:
    """The portal's private record of one renewal made in it."""

    endorsement_id: str
    cycle_end: dt.date
    account_id: str
    renewed_on: dt.date
    seq: int | None  # the ledger entry the renewal wrote
    entry_hash: str | None
    membership: Membership
    provides_rsc: bool
    document: str
    text_version: str
    text_sha256: str
    signed_name: str
    signed_at: dt.datetime


class RenewalRecords:
    """The renewals made in the portal, each with what was confirmed and signed."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.ddl(_DDL)

    def save(self, cur: Cursor, record: RenewalRecord) -> None:
        """Keep a renewal's record (in the transaction of the renewal's audit entry)."""
        cur.execute(f"INSERT INTO portal_renewals ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                    f"?, ?, ?, ?, ?, ?)",
                    (record.endorsement_id, record.cycle_end.isoformat(), record.account_id,
                     record.renewed_on.isoformat(), record.seq, record.entry_hash,
                     record.membership.association,
                     record.membership.valid_through.isoformat(), int(record.provides_rsc),
                     record.document, record.text_version, record.text_sha256,
                     record.signed_name, stamp(record.signed_at)))

    def of_endorsement(self, account_id: str, endorsement_id: str) -> list[RenewalRecord]:
        """The account's renewals of this endorsement made in the portal, newest first."""
        return [_record(row) for row in self.db.query(
            f"SELECT {_COLUMNS} FROM portal_renewals WHERE account_id = ? AND "
            f"endorsement_id = ? ORDER BY cycle_end DESC", (account_id, endorsement_id))]


class RenewalFees(Protocol):
    """Where the fees helper plugs in (`app.state.renewal_fees`): what the page says about
    the renewal's fee. Until one is installed the page says "see the association"."""

    def fee_note(self, account_id: str, endorsement_id: str, cycle_end: dt.date) -> str:
        """One sentence about this renewal's fee (due, paid, how to pay)."""
        ...


def _record(row: tuple[Any, ...]) -> RenewalRecord:
    signed_at = unstamp(row[13])
    assert signed_at is not None
    return RenewalRecord(endorsement_id=row[0], cycle_end=dt.date.fromisoformat(row[1]),
                         account_id=row[2], renewed_on=dt.date.fromisoformat(row[3]),
                         seq=None if row[4] is None else int(row[4]), entry_hash=row[5],
                         membership=Membership(association=row[6],
                                               valid_through=dt.date.fromisoformat(row[7])),
                         provides_rsc=bool(row[8]), document=row[9], text_version=row[10],
                         text_sha256=row[11], signed_name=row[12], signed_at=signed_at)
