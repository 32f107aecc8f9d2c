"""How received ratings reach the application's evidence, and so the ledger's commitment.

The domain counts the ratings of the evidence (`ApplicationEvidence.ratings`: who, in what
role, on which day, whether the waiver is signed): "three reference ratings" is checked
there, and the ledger carries only the salted commitment of the whole evidence. A rating
received through its link therefore changes that rater's entry (the day it was received,
and the waiver) through the one command that changes evidence, `submit_evidence`; the
answers themselves stay in the node database.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from domain.application import Application
from domain.evidence import ApplicationEvidence
from federation_api.ratings.store import RatingRequest


def evidence_with_received(application: Application, requests: list[RatingRequest], *,
                           waiver_signed: bool) -> ApplicationEvidence | None:
    """The evidence with each rater who submitted through a link dated by the day received,
    marked received (if the portal named them as awaited) and the waiver as recorded; None
    if nothing changes (no command is needed then).
    Raters who rated on paper (no submitted request) keep what the coordinator entered."""
    received: dict[str, dt.date] = {r.rater_id: r.submitted_at.date() for r in requests
                                    if r.submitted_at is not None}
    if not received:
        return None
    evidence = application.evidence
    # A rater the portal named (`received=False`) now counts; a rating staff entered
    # (`received` UNSET) keeps it unset, so its encoding changes only by the day and waiver.
    ratings = tuple(msgspec.structs.replace(
        r, rated_on=received[r.rater_id], waiver_signed=waiver_signed,
        received=msgspec.UNSET if r.received is msgspec.UNSET else True)
        if r.rater_id in received else r for r in evidence.ratings)
    if ratings == evidence.ratings:
        return None
    return msgspec.structs.replace(evidence, ratings=ratings)


def received_kept(before: ApplicationEvidence, after: ApplicationEvidence
                  ) -> ApplicationEvidence:
    """Staff's evidence form has no `received`: a rating it sends again for a rater the
    evidence held as awaited (or received through a link) keeps that mark, so editing a
    portal application's evidence never makes a rating count that has not arrived."""
    marks = {r.rater_id: r.received for r in before.ratings
             if r.received is not msgspec.UNSET}
    if not marks:
        return after
    return msgspec.structs.replace(after, ratings=tuple(
        msgspec.structs.replace(r, received=marks[r.rater_id])
        if r.received is msgspec.UNSET and r.rater_id in marks else r for r in after.ratings))
