"""The coordinator's daily lapse run: the endorsements whose grace period has ended today,
shown before anything is written, then recorded in one transaction (all of them or none).

The page lists what the run will write; the form carries exactly those endorsement ids, and
the run records the lapse of those among them that are still due (one that was renewed in
the meantime is left alone), so nothing is written that the coordinator did not see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from domain.errors import DomainError
from federation_api.accounts.roles import AccountRole
from federation_api.clock import now, today
from federation_api.web.audited import attempt
from federation_api.web.pages.staff_session import (
    StaffGate,
    StaffUser,
    client_address,
    page_context,
)
from federation_api.web.pages.templating import render
from projections.rows import RosterRow

router = APIRouter(prefix="/staff/lapses", include_in_schema=False)
Coordinator = Annotated[StaffUser, Depends(StaffGate(AccountRole.COORDINATOR))]
MAX_RUN = 5000


@dataclass(frozen=True)
class DueLapse:
    """An endorsement the run would lapse, and the day its grace period ended."""

    row: RosterRow
    grace_ended: str


def due_lapses(request: Request) -> list[DueLapse]:
    """The endorsements of this association whose lapse is due today, by the policy."""
    node = request.app.state.node
    on = today()
    policy = node.config.policy
    found = []
    for row in node.projector.renewals(node.association, on, 0)[1]:
        if node.service.endorsement(row.endorsement_id).is_lapse_due(on, policy):
            found.append(DueLapse(row, policy.lapses_on(row.valid_through).isoformat()))
    return found


def _page(request: Request, status: int = 200, message: str = "",
          errors: list[tuple[str, str]] | None = None) -> Response:
    return render("staff_lapses.html", status, **page_context(
        request, due=due_lapses(request), on=today(), message=message, errors=errors or []))


@router.get("", response_class=HTMLResponse)
def lapses_page(request: Request, staff: Coordinator) -> Response:
    """Today's due lapses, before they are written."""
    return _page(request)


@router.post("", response_class=HTMLResponse)
def run_lapses(request: Request, staff: Coordinator,
               endorsement_id: Annotated[list[str] | None, Form()] = None) -> Response:
    """Record the lapses shown on the page (those still due), in one transaction."""
    node = request.app.state.node
    shown = [i.strip().upper() for i in (endorsement_id or ())][:MAX_RUN]
    if not shown:
        return _page(request, 422, errors=[("", "No lapse was shown, so none is recorded.")])
    lapsed: list[object] = []

    def run() -> object:
        lapsed.extend(node.service.lapse_due(shown, on=today(), now=now()))
        return lapsed

    outcome = attempt(node, actor=staff.signed.actor, action="endorsement.lapse_due",
                      target=f"{len(shown)} shown", client=client_address(request), run=run)
    if isinstance(outcome.refusal, DomainError):
        return _page(request, 422, errors=[("", outcome.refusal.message)])
    entry = outcome.entry
    said = f"Recorded {len(lapsed)} lapse{'' if len(lapsed) == 1 else 's'}"
    if entry is not None:
        said += f"; the last ledger entry is {entry.association} #{entry.seq}, hash " \
                f"{entry.entry_hash[:16]}"
    return _page(request, message=said + ".")
