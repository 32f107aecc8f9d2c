"""The endorsement certificate (PDF) behind the staff endorsement page's link.

Who: the endorsement page's readers (coordinators, committee members, auditors). Only this
association's own endorsements: a certificate speaks for the association that granted it,
and another association's node would be printing on its behalf. Only an endorsement in good
standing today ("current"): a lapsed, suspended, revoked, relinquished or transferred
endorsement, or an active one past its valid-through, gets a page saying why instead of a
PDF - a printed sheet outlives any word on it such as "suspended", while the QR code on a
good one always leads to the standing of the day. Each certificate is recorded in the audit
log with the account that printed it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from federation_api.accounts.roles import AccountRole
from federation_api.clock import today
from federation_api.web.certificates import certificate_response
from federation_api.web.pages.staff_session import StaffGate, StaffUser, page_context
from federation_api.web.pages.templating import association_name, render
from projections.standing import Standing, standing_on

router = APIRouter(prefix="/staff/endorsements", include_in_schema=False)
Reader = Annotated[StaffUser, Depends(StaffGate(AccountRole.COORDINATOR, AccountRole.COMMITTEE,
                                                AccountRole.AUDITOR))]


@router.get("/{endorsement_id}/certificate.pdf")
def certificate(request: Request, staff: Reader, endorsement_id: str) -> Response:
    """The certificate of one current endorsement of this association, as PDF."""
    node = request.app.state.node
    row = node.projector.endorsement(endorsement_id.upper())
    if row is None:
        return render("message.html", 404, **page_context(
            request, title="No such endorsement",
            message="No ledger of the Alliance holds an endorsement with this id."))
    if row.association != node.association:
        return render("message.html", 409, **page_context(
            request, title="Not this association's endorsement",
            message=f"Only {association_name(request, row.association)} prints "
                    f"certificates of its endorsements."))
    on = today()
    standing = standing_on(row.status, row.valid_through, on)
    if standing is not Standing.CURRENT:
        return render("message.html", 409, **page_context(
            request, title="No certificate for this endorsement",
            message=f"The endorsement {row.endorsement_id} is {standing.value} today; a "
                    f"certificate is printed only for an endorsement in good standing."))
    return certificate_response(request, row, actor=staff.signed.actor)
