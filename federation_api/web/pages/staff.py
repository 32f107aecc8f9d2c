"""The staff dashboard and the roster page (filters, keyset pages, CSV download).

Who may see them is each route's `StaffGate` (`staff_session.py`): the dashboard any signed-in
staff account, the roster coordinators, committee members and auditors (the committee needs
to find whom it acts on). Signing in and out is `staff_signin.py`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

import msgspec
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from starlette.datastructures import QueryParams

from domain.application import ApplicationState
from domain.levels import EndorsementStatus, Level
from federation_api.accounts.roles import AccountRole
from federation_api.clock import now, today
from federation_api.web.csv_files import roster_csv
from federation_api.web.pages.kept_rows import RowsCache, app_rows_cache
from federation_api.web.pages.roster_rows import KeptRows, roster_rows_html
from federation_api.web.pages.staff_session import (
    StaffGate,
    StaffUser,
    client_address,
    page_context,
)
from federation_api.web.pages.templating import SECURITY_HEADERS, render
from projections.queries import fold_name
from projections.reports import BoardReports
from projections.roster_pages import RosterQuery
from projections.roster_pages import roster_page as keyset_page
from projections.rows import ApplicationRow, RosterRow

ROSTER_ROLES = (AccountRole.COORDINATOR, AccountRole.COMMITTEE, AccountRole.AUDITOR)
MAX_DUE_DAYS = 366
DUE_SOON_DAYS = 60
RosterReader = Annotated[StaffUser, Depends(StaffGate(*ROSTER_ROLES))]
AnyStaff = Annotated[StaffUser, Depends(StaffGate())]

router = APIRouter(prefix="/staff", include_in_schema=False)


# -- the dashboard --------------------------------------------------------------------------


@dataclass(frozen=True)
class StateCount:
    """How many open applications stand in one state."""

    state: ApplicationState
    label: str
    count: int


STATE_LABELS = {ApplicationState.OPEN: "Submitted, no reviewers yet",
                ApplicationState.IN_REVIEW: "In review",
                ApplicationState.RETURNED: "Returned with comments",
                ApplicationState.APPROVED_FOR_EXAM: "Approved for the exam",
                ApplicationState.EXAM_PASSED: "Exam passed",
                ApplicationState.EXAM_FAILED: "Exam failed (retake allowed)",
                ApplicationState.APPROVED: "Approved, waiting for the grant"}


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, staff: AnyStaff) -> Response:
    """The landing page: open applications by state, my review queue, renewals due soon."""
    node = request.app.state.node
    # Counted by the database: the dashboard needs how many, not the applications.
    by_state = BoardReports(node.projector.db).open_applications(node.association)
    counts = [StateCount(state, label, by_state.get(state, 0))
              for state, label in STATE_LABELS.items()]
    queue: list[ApplicationRow] = (node.projector.reviewer_queue(node.association,
                                                                 staff.account_id)
                                   if staff.has(AccountRole.REVIEWER) else [])
    on = today()
    due, overdue = ([], []) if not staff.has(*ROSTER_ROLES) else node.projector.renewals(
        node.association, on, DUE_SOON_DAYS)
    said = {"password_changed": "Your password is changed. Other browsers were signed out."}
    message = next((t for k, t in said.items() if request.query_params.get(k)), "")
    return render("staff_dashboard.html", **page_context(
        request, counts=counts, open_total=sum(c.count for c in counts), queue=queue, due=due,
        overdue=overdue, on=on, due_days=DUE_SOON_DAYS, message=message,
        roster_roles=ROSTER_ROLES))


# -- the roster ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterFilter:
    """What the coordinator asked to see (empty means no filter)."""

    status: EndorsementStatus | None = None
    level: Level | None = None
    due_within: int | None = None
    name: str = ""

    def query(self) -> str:
        """The filter as a query string (for the CSV link)."""
        values = {"status": self.status.value if self.status else "",
                  "level": self.level.value if self.level else "",
                  "due_within": "" if self.due_within is None else str(self.due_within),
                  "name": self.name}
        return urlencode({k: v for k, v in values.items() if v})


def parse_filter(params: QueryParams) -> tuple[RosterFilter, list[tuple[str, str]]]:
    """A filter from query parameters, and an error per parameter it could not use."""
    errors: list[tuple[str, str]] = []
    status = level = None
    due_within: int | None = None
    if raw := params.get("status", ""):
        try:
            status = EndorsementStatus(raw)
        except ValueError:
            errors.append(("status", "Choose a status from the list."))
    if raw := params.get("level", ""):
        try:
            level = Level(raw)
        except ValueError:
            errors.append(("level", "Choose a level from the list."))
    if raw := params.get("due_within", "").strip():
        if raw.isdigit() and int(raw) <= MAX_DUE_DAYS:
            due_within = int(raw)
        else:
            errors.append(("due_within", f"Enter a whole number of days from 0 to "
                                         f"{MAX_DUE_DAYS}."))
    name = params.get("name", "").strip()
    if len(name) > 100:
        errors.append(("name", "Enter at most 100 characters."))
        name = ""
    return RosterFilter(status=status, level=level, due_within=due_within, name=name), errors


def filtered_roster(request: Request, wanted: RosterFilter) -> list[RosterRow]:
    """This association's roster rows that pass the filter, in endorsement id order."""
    node = request.app.state.node
    rows: list[RosterRow] = node.projector.roster(
        node.association, wanted.status.value if wanted.status else None)
    if wanted.level is not None:
        rows = [r for r in rows if r.level is wanted.level]
    if wanted.due_within is not None:
        # Renewal due: active and ending within N days, or already past its end (in grace).
        due, overdue = node.projector.renewals(node.association, today(), wanted.due_within)
        ids = {r.endorsement_id for r in (*due, *overdue)}
        rows = [r for r in rows if r.endorsement_id in ids]
    if wanted.name:
        folded = fold_name(wanted.name)
        rows = [r for r in rows if folded in fold_name(f"{r.given_name} {r.family_name}")]
    return rows


ROSTER_PAGE_SIZE = 100
_AFTER = re.compile(r"[A-Za-z0-9-]{1,64}")  # what an endorsement id can be, nothing else


def roster_query(request: Request, wanted: RosterFilter) -> RosterQuery:
    """The filter as the keyset query of this association's roster."""
    on = today()
    return RosterQuery(association=request.app.state.node.association, status=wanted.status,
                       level=wanted.level, name=wanted.name,
                       due_by=None if wanted.due_within is None
                       else on + dt.timedelta(days=wanted.due_within))


def _kept(request: Request) -> RowsCache[KeptRows]:
    return app_rows_cache(request.app.state, "roster_rows")


@router.get("/roster", response_class=HTMLResponse)
def roster_page(request: Request, staff: RosterReader) -> Response:
    """The roster with filters, a page at a time (staff with a roster role only)."""
    wanted, errors = parse_filter(request.query_params)
    after = request.query_params.get("after", "")
    if after and not _AFTER.fullmatch(after):
        errors.append(("after", "This page link is not one the roster made: start again "
                                "from the first page."))
    on = today()
    query = wanted.query()
    node = request.app.state.node

    def make() -> KeptRows:
        page = keyset_page(node.projector.db, roster_query(request, wanted), after=after,
                           limit=ROSTER_PAGE_SIZE)
        return KeptRows(count=len(page.rows), next_after=page.next_after,
                        html=roster_rows_html(page.rows, on))

    kept = KeptRows(count=0, next_after=None, html=Markup()) if errors else _kept(
        request).rows(node.projector.positions(), (query, after, ROSTER_PAGE_SIZE, on), make)
    next_url = (None if kept.next_after is None else
                "/staff/roster?" + "&".join(q for q in (query, urlencode(
                    {"after": kept.next_after})) if q))
    return render("staff_roster.html", 422 if errors else 200, **page_context(
        request, errors=errors, wanted=wanted, count=kept.count, rows_html=kept.html,
        on=on, statuses=list(EndorsementStatus), levels=list(Level),
        csv_url=f"/staff/roster.csv?{query}".rstrip("?"), after="" if errors else after,
        next_url=next_url,
        first_url=f"/staff/roster?{query}".rstrip("?"), page_size=ROSTER_PAGE_SIZE,
        association=request.app.state.node.association))


@router.get("/roster.csv")
def roster_download(request: Request, staff: RosterReader) -> Response:
    """The filtered roster as CSV, the same columns as `GET /v1/roster?format=csv`."""
    wanted, errors = parse_filter(request.query_params)
    if errors:
        return render("message.html", 422, **page_context(
            request, title="Check the filters",
            message=" ".join(message for _, message in errors)))
    rows = [msgspec.to_builtins(r) for r in filtered_roster(request, wanted)]
    body = roster_csv(rows)  # an empty selection is its header line alone
    node = request.app.state.node
    association = node.association
    # A download of people's records is an action: the log says who took which rows.
    with node.accounts.audit.db.transaction() as cur:
        node.accounts.audit.record(cur, actor=staff.signed.actor, action="roster.export",
                                   detail=f"{len(rows)} rows; filter {wanted.query() or 'none'}",
                                   client=client_address(request), now=now())
    return Response(body, media_type="text/csv", headers={
        **SECURITY_HEADERS,
        "Content-Disposition": f'attachment; filename="roster-{association}-'
                               f'{today().isoformat()}.csv"'})
