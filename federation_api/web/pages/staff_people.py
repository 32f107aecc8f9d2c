"""The person records' staff pages: list and search, create, edit, one record with its
possible duplicates, and the list of possible duplicates.

Person records are private contact data, so only coordinators reach them (least privilege:
reviewers see the applications assigned to them, the committee and auditors the ledger's
public fields). Every change is written with its audit entry in one transaction; the entry
names the fields that changed, never their values (the log is read more widely than the
records are).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from federation_api.accounts.roles import AccountRole
from federation_api.clock import now, today
from federation_api.people.duplicates import alliance_matches, duplicates_of
from federation_api.people.errors import InvalidPerson, NoSuchPerson, PersonExists
from federation_api.people.records import FIELDS, MAX_LINE, PersonDetails, parse_person
from federation_api.people.store import MAX_RESULTS, PersonRecord
from federation_api.web.pages.staff_session import (
    StaffGate,
    StaffUser,
    client_address,
    page_context,
)
from federation_api.web.pages.templating import SECURITY_HEADERS, render

router = APIRouter(prefix="/staff/people", include_in_schema=False)
Coordinator = Annotated[StaffUser, Depends(StaffGate(AccountRole.COORDINATOR))]
Errors = list[tuple[str, str]]
MAX_FORM_FIELD = 4 * MAX_LINE  # longer than any field may be; the parser says which rule
_DONE = {"created": "The person record is saved.", "saved": "The changes are saved."}


def _blank() -> dict[str, str]:
    return dict.fromkeys(FIELDS, "")


def _as_form(details: PersonDetails) -> dict[str, str]:
    return {k: "" if v is None else str(v) for k, v in asdict(details).items()}


async def _posted(request: Request) -> dict[str, str]:
    """The form's fields we know, each cut to a bound (an over-long one then fails its rule
    with a message, instead of a bare 422 from the framework)."""
    form = await request.form()
    return {name: str(form.get(name, ""))[:MAX_FORM_FIELD] for name in (*FIELDS, "version")}


@router.get("", response_class=HTMLResponse)
def people_page(request: Request, staff: Coordinator) -> Response:
    """The person records, or those whose name, email or professional id contains `q`."""
    query = request.query_params.get("q", "")[:100]
    people = request.app.state.node.people.search(query)
    return render("staff_people.html", **page_context(request, people=people, query=query,
                                                      limit=MAX_RESULTS))


@router.get("/new", response_class=HTMLResponse)
def new_person_page(request: Request, staff: Coordinator) -> Response:
    """The form for a new person record."""
    return _form_page(request, None, _blank())


def _form_page(request: Request, record: PersonRecord | None, form: dict[str, str],
               status: int = 200, errors: Errors | None = None) -> Response:
    return render("staff_person_form.html", status, **page_context(
        request, record=record, form=form, errors=errors or [],
        version=form.get("version") or (str(record.version) if record else "")))


@router.post("", response_class=HTMLResponse)
async def create_person(request: Request, staff: Coordinator) -> Response:
    """Save a new person record; every wrong field is named next to it, nothing written."""
    form = await _posted(request)
    node = request.app.state.node
    try:
        details = parse_person(form, today=today())
        with node.people.db.transaction() as cur:
            node.people.create(cur, details, by=staff.account_id, now=now())
            node.accounts.audit.record(cur, actor=staff.signed.actor, action="person.create",
                                       target=details.person_id, now=now(),
                                       client=client_address(request))
    except InvalidPerson as e:
        return _form_page(request, None, form, 422, e.errors)
    except PersonExists:
        return _form_page(request, None, form, 422, [(
            "person_id", "A person record has this professional id already: search for it.")])
    return _to_record(details.person_id, "created")


def _to_record(person_id: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"/staff/people/{quote(person_id, safe='')}?done={done}",
                            status_code=303, headers=SECURITY_HEADERS)


@router.get("/duplicates", response_class=HTMLResponse)
def duplicates_page(request: Request, staff: Coordinator) -> Response:
    """Possible duplicates: pairs of this node's records, and records whose names another
    association publishes under another professional id."""
    node = request.app.state.node
    return render("staff_people_duplicates.html", **page_context(
        request, pairs=node.people.clashes(),
        alliance=alliance_matches(people=node.people, projector=node.projector,
                                  association=node.association),
        association=node.association))


def _missing(request: Request) -> Response:
    return render("message.html", 404, **page_context(
        request, title="No such person record",
        message="This association has no person record with this professional id."))


@router.get("/{person_id}", response_class=HTMLResponse)
def person_page(request: Request, staff: Coordinator, person_id: str) -> Response:
    """One person record, their open applications and endorsements in the Alliance, and
    possible duplicates."""
    node = request.app.state.node
    record = node.people.get(person_id)
    if record is None:
        return _missing(request)
    return render("staff_person.html", **page_context(
        request, record=record, association=node.association,
        message=_DONE.get(request.query_params.get("done", ""), ""),
        endorsements=node.projector.recorded_for(person_id, today()),
        applications=[a for a in node.projector.pipeline(node.association)
                      if a.person_id == person_id],
        duplicates=duplicates_of(record, people=node.people, projector=node.projector,
                                 association=node.association)))


@router.get("/{person_id}/edit", response_class=HTMLResponse)
def edit_person_page(request: Request, staff: Coordinator, person_id: str) -> Response:
    """The form to change a person record."""
    record = request.app.state.node.people.get(person_id)
    if record is None:
        return _missing(request)
    return _form_page(request, record, _as_form(record.details))


@router.post("/{person_id}/edit", response_class=HTMLResponse)
async def edit_person(request: Request, staff: Coordinator, person_id: str) -> Response:
    """Save changes to a person record made from the version the form was loaded at."""
    node = request.app.state.node
    record = node.people.get(person_id)
    if record is None:
        return _missing(request)
    form = await _posted(request)
    form["person_id"] = person_id  # the id links to the ledger; it is not edited
    version = int(form["version"]) if form["version"].isdigit() else -1
    try:
        details = parse_person(form, today=today(), person_id=person_id)
        changed = [name for name in FIELDS
                   if getattr(details, name) != getattr(record.details, name)]
        with node.people.db.transaction() as cur:
            saved = node.people.update(cur, details, version=version, by=staff.account_id,
                                       now=now())
            if saved:
                node.accounts.audit.record(
                    cur, actor=staff.signed.actor, action="person.edit", target=person_id,
                    now=now(), client=client_address(request),
                    detail="changed: " + (", ".join(changed) or "nothing"))
    except InvalidPerson as e:
        return _form_page(request, record, form, 422, e.errors)
    except NoSuchPerson:
        return _missing(request)
    if not saved:
        return _form_page(request, record, form, 409, [(
            "", "Someone changed this record while you were editing it. Nothing was saved: "
                "open the record again to see their changes.")])
    return _to_record(person_id, "saved")
