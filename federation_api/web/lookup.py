"""The verification lookup: the public answer for an endorsement id and a last name.

Every route and page that answers "does this id go with this name" asks here (`GET /v1/verify`
and `/v1/status`, the verification page, bulk verification, proofs and receipts), so the
matching rule (the id, and the last name folded as `projections.queries.fold_name` folds it)
and the one undifferentiated 404 live in one place. A miss never says which of the two was
wrong.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated

from fastapi import HTTPException, Query, Request

from domain.levels import Level
from federation_api.clock import today
from federation_api.node.root import Node
from federation_api.web.schemas import VerifyOut
from projections.queries import fold_name

NOT_FOUND = "no endorsement matches that id and last name"
EndorsementId = Annotated[str, Query(min_length=3, max_length=40, pattern=r"^[A-Za-z0-9-]+$",
                                     description="The endorsement id, e.g. AK-7Q4M2XKD")]
LastName = Annotated[str, Query(min_length=1, max_length=100, description="Family name")]


def lookup(node: Node, endorsement_id: str, last_name: str, on: dt.date,
           forked: Mapping[str, int] | None = None) -> VerifyOut | None:
    """The public answer for an id and last name on `on`, or None when they do not match
    (whichever was wrong). `forked` lets a caller answering many rows read the flags once."""
    answer = node.projector.status_as_of(endorsement_id.upper(), on)
    if answer is None or fold_name(answer.family_name) != fold_name(last_name):
        return None
    level = Level(answer.level)
    warnings = []
    if answer.association in (node.forked_associations() if forked is None else forked):
        warnings.append(f"{answer.association}'s ledger is flagged: it signed conflicting "
                        f"entries or checkpoints (a fork) and the Alliance has not resolved "
                        f"it yet")
    return VerifyOut(name=f"{answer.given_name} {answer.family_name}", level=level,
                     level_title=level.title, designation=answer.designation,
                     association=answer.association, status=answer.standing,
                     valid_through=answer.valid_through, as_of=on, warnings=warnings)


def _answer(request: Request, endorsement_id: str, last_name: str, on: dt.date) -> VerifyOut:
    found = lookup(request.app.state.node, endorsement_id, last_name, on)
    if found is None:
        raise HTTPException(404, NOT_FOUND)
    return found


def verify(request: Request, endorsement_id: str, last_name: str) -> VerifyOut:
    """Today's public answer (raises the one 404); the pages call it too."""
    return _answer(request, endorsement_id, last_name, today())


def granted_after(node: Node, endorsement_id: str, last_name: str, on: dt.date) -> bool:
    """Whether the id and last name match an endorsement that did not exist yet on `on`.

    Saying so reveals nothing beyond what a match already does: the same id and name asked
    for any later date answer with the endorsement, and that 200-or-404 split by date was
    always visible. A wrong id or last name stays the one undifferentiated miss."""
    row = node.projector.endorsement(endorsement_id.upper())
    return (row is not None and fold_name(row.family_name) == fold_name(last_name)
            and node.projector.status_as_of(row.endorsement_id, on) is None)
