"""The reference raters an applicant names in the portal, and what the applicant may know of
their ratings.

The applicant names a rater (found by name among the endorsed, by person id, or, for someone
endorsed nowhere, by name alone: `with_rater_ids` gives them an id), their role and the
address the rating link goes to; they do not date a rating: it has not happened yet. So a
rater named here enters the evidence as awaited (`Rating.received=False`, dated the day
named), and counts for the requirements only once their rating arrives through its link
(`ratings/evidence.py` then marks it received, dated the day it came). The address stays in
the draft's values (node database, never the evidence or the ledger), where the coordinator's
pages find it (`given_address`) when no person record of the rater holds one.

What the applicant sees of a rater is `RaterStatus`: named, link sent, rated, with the
dates; never a rating's contents.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass

import msgspec

from domain.evidence import ApplicationEvidence
from federation_api.mail.errors import MailRejected
from federation_api.mail.outbox import check_address
from federation_api.ratings.store import RatingRequest

EMAIL = "rater_email"  # the portal's own input of a rating row (not part of the evidence)
RATED_ON = "rated_on"
_ROW = "ratings-{row}-{name}"
MAX_ROWS = 20  # as evidence_form.MAX_ROWS


def _rows(values: dict[str, str]) -> set[int]:
    """The rating rows the form has any value in."""
    rows = set()
    for key, value in values.items():
        parts = key.split("-")
        if len(parts) == 3 and parts[0] == "ratings" and parts[1].isdigit() and value.strip():
            rows.add(int(parts[1]))
    return {r for r in rows if r < MAX_ROWS}


def with_rater_ids(values: dict[str, str], application_id: uuid.UUID) -> dict[str, str]:
    """The form's values with an id for each rater named only by name (someone endorsed
    nowhere, e.g. a Level I supervisor the coordinator will vet): `AR-` and eight digits
    derived from the application and the row's name, so saving again gives the same id and
    the coordinator's vetting and the link have someone to name. An id once given is kept."""
    out = dict(values)
    for row in sorted(_rows(values)):
        key = _ROW.format(row=row, name="rater_id")
        name = " ".join(values.get(_ROW.format(row=row, name="rater_name"), "").split())
        if values.get(key, "").strip() or not name:
            continue
        digest = hashlib.sha256(f"{application_id}:{name.casefold()}".encode()).hexdigest()
        out[key] = f"AR-{int(digest[:12], 16) % 10**8:08d}"
    return out


def evidence_values(values: dict[str, str], *, named_on: dt.date) -> dict[str, str]:
    """The form's values as the evidence form reads them: each rating row dated the day it
    was named (the rating is awaited, not given), its address taken out (an address is not
    evidence: it is kept in the draft only)."""
    out = {k: v for k, v in values.items() if not k.endswith(f"-{EMAIL}")}
    for row in _rows(values):
        out[_ROW.format(row=row, name=RATED_ON)] = named_on.isoformat()
    return out


def address_errors(values: dict[str, str]) -> list[tuple[str, str]]:
    """A clear error next to each named rater's address that is missing or not one."""
    errors = []
    for row in sorted(_rows(values)):
        key = _ROW.format(row=row, name=EMAIL)
        raw = values.get(key, "").strip()
        if not raw:
            errors.append((key, "Give the rater's email address: the association emails "
                                "them the link to rate you."))
            continue
        try:
            check_address(raw, field="the address")
        except MailRejected:
            errors.append((key, "Enter one email address, e.g. name@example.org."))
    return errors


def awaited(evidence: ApplicationEvidence) -> ApplicationEvidence:
    """The evidence with every rating marked awaited (named in the portal, not yet rated)."""
    if not evidence.ratings:
        return evidence
    return msgspec.structs.replace(evidence, ratings=tuple(
        msgspec.structs.replace(r, received=False) for r in evidence.ratings))


def with_ratings_known(evidence: ApplicationEvidence, requests: list[RatingRequest], *,
                       waiver_signed: bool) -> ApplicationEvidence:
    """The portal's evidence with what the node knows: each rating received through its
    link marked received and dated the day it came, and the waiver as recorded (so a changed
    answer to a return keeps the ratings that arrived)."""
    received = {r.rater_id: r.submitted_at.date() for r in requests
                if r.submitted_at is not None}
    if not evidence.ratings:
        return evidence
    ratings = []
    for rating in evidence.ratings:
        if rating.received is msgspec.UNSET:  # not one the portal named: as it is
            ratings.append(rating)
        elif rating.rater_id in received:
            ratings.append(msgspec.structs.replace(
                rating, received=True, rated_on=received[rating.rater_id],
                waiver_signed=waiver_signed))
        else:
            ratings.append(msgspec.structs.replace(rating, received=False,
                                                   waiver_signed=waiver_signed))
    return msgspec.structs.replace(evidence, ratings=tuple(ratings))


def given_address(values: dict[str, str], rater_id: str) -> str | None:
    """The address the applicant gave for this rater in the draft's values, if a valid one."""
    for row in sorted(_rows(values)):
        if values.get(_ROW.format(row=row, name="rater_id"), "").strip() != rater_id:
            continue
        raw = values.get(_ROW.format(row=row, name=EMAIL), "").strip()
        try:
            return check_address(raw, field="the address") if raw else None
        except MailRejected:
            return None
    return None


@dataclass(frozen=True)
class RaterStatus:
    """One rater as the applicant sees them: who, in what role, and how far their rating
    got (named, link sent, rated), with the dates; never what they answered."""

    rater_name: str
    role: str
    named_on: dt.date | None
    link_sent_at: dt.datetime | None
    rated_at: dt.datetime | None

    @property
    def stage(self) -> str:
        """In plain words."""
        if self.rated_at is not None:
            return "rated"
        if self.link_sent_at is not None:
            return "link sent"
        return "named"


def statuses(evidence: ApplicationEvidence, requests: list[RatingRequest]
             ) -> list[RaterStatus]:
    """The application's raters in the order named, each with their stage."""
    by_rater = {r.rater_id: r for r in requests}
    out, seen = [], set()
    for rating in evidence.ratings:
        if rating.rater_id in seen:
            continue
        seen.add(rating.rater_id)
        request = by_rater.get(rating.rater_id)
        out.append(RaterStatus(
            rater_name=rating.rater_name, role=rating.role.value.replace("_", " "),
            named_on=rating.rated_on if rating.received is False else None,
            link_sent_at=request.last_mailed_at if request is not None else None,
            rated_at=request.submitted_at if request is not None else None))
    return out
