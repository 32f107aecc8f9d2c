"""Renewals due: the association's endorsements ending within 30, 60 or 90 days (and those
already past their end, in their grace period), each with the holder's contact details from
the person records, as a page and as a CSV file for a mail merge.

The ledger knows who must renew and when; only the private person records know how to reach
them, so this page is for coordinators alone, and each download is an audited action (who
took which rows), as the roster's is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from federation_api.accounts.roles import AccountRole
from federation_api.clock import now, today
from federation_api.people.store import PersonRecord
from federation_api.web.csv_files import write_csv
from federation_api.web.pages.staff_session import (
    StaffGate,
    StaffUser,
    client_address,
    page_context,
)
from federation_api.web.pages.templating import SECURITY_HEADERS, render
from projections.rows import RosterRow

router = APIRouter(prefix="/staff", include_in_schema=False)
Coordinator = Annotated[StaffUser, Depends(StaffGate(AccountRole.COORDINATOR))]
WINDOWS = (30, 60, 90)
COLUMNS = ("endorsement_id", "person_id", "given_name", "family_name", "level", "designation",
           "valid_through", "state", "days", "email", "phone", "street", "city", "county",
           "postal_code", "membership_number", "membership_expires")


@dataclass(frozen=True)
class DueRenewal:
    """An endorsement to renew and how to reach its holder (None: no person record)."""

    row: RosterRow
    days_left: int  # negative: past its end, in the grace period
    person: PersonRecord | None

    def cells(self) -> tuple[object, ...]:
        """The CSV line, in `COLUMNS` order. Days past the end are a positive count with
        the state "overdue": a negative number would reach a spreadsheet as "'-5"."""
        r, d = self.row, self.person.details if self.person else None
        return (r.endorsement_id, r.person_id, r.given_name, r.family_name, r.level,
                r.designation, r.valid_through, "overdue" if self.days_left < 0 else "due",
                abs(self.days_left),
                *((d.email, d.phone, d.street, d.city, d.county, d.postal_code,
                   d.membership_number, d.membership_expires) if d else ("",) * 8))


def _window(request: Request) -> int | None:
    raw = request.query_params.get("within", "30")
    return int(raw) if raw in {str(w) for w in WINDOWS} else None


def due_renewals(request: Request, within: int, on: dt.date) -> list[DueRenewal]:
    """Overdue first (longest past), then due by end date, with each holder's record."""
    node = request.app.state.node
    due, overdue = node.projector.renewals(node.association, on, within)
    rows = [*overdue, *due]
    people = node.people.many(sorted({r.person_id for r in rows}))
    return [DueRenewal(r, (r.valid_through - on).days, people.get(r.person_id)) for r in rows]


def _refused(request: Request) -> Response:
    return render("message.html", 422, **page_context(
        request, title="Choose a window",
        message="Renewals due are listed for 30, 60 or 90 days."))


@router.get("/renewals-due", response_class=HTMLResponse)
def renewals_due_page(request: Request, staff: Coordinator) -> Response:
    """The renewals due within the chosen window, with contact details."""
    within = _window(request)
    if within is None:
        return _refused(request)
    on = today()
    return render("staff_renewals_due.html", **page_context(
        request, within=within, windows=WINDOWS, on=on, until=on + dt.timedelta(days=within),
        due=due_renewals(request, within, on)))


@router.get("/renewals-due.csv")
def renewals_due_download(request: Request, staff: Coordinator) -> Response:
    """The same list as CSV (a header line alone when nothing is due)."""
    within = _window(request)
    if within is None:
        return _refused(request)
    on = today()
    due = due_renewals(request, within, on)
    node = request.app.state.node
    with node.accounts.audit.db.transaction() as cur:
        node.accounts.audit.record(cur, actor=staff.signed.actor, action="renewals_due.export",
                                   detail=f"{len(due)} rows; within {within} days",
                                   client=client_address(request), now=now())
    return Response(write_csv(COLUMNS, (d.cells() for d in due)), media_type="text/csv",
                    headers={**SECURITY_HEADERS, "Content-Disposition":
                             f'attachment; filename="renewals-due-{node.association}-'
                             f'{within}-days-{on.isoformat()}.csv"'})
