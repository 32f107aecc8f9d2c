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
from federation_api.clock import now, today
from federation_api.web.certificates import (
    Certificate,
    certificate_pdf,
    public_base,
    verification_url,
)
from federation_api.web.pages.level_titles import level_title
from federation_api.web.pages.staff_session import (
    StaffGate,
    StaffUser,
    client_address,
    page_context,
)
from federation_api.web.pages.templating import SECURITY_HEADERS, association_name, render
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
    pdf = certificate_pdf(Certificate(
        endorsement_id=row.endorsement_id, given_name=row.given_name,
        family_name=row.family_name, level_title=level_title(row.level, row.designation),
        association_name=association_name(request, row.association),
        granted_on=row.granted_on, valid_through=row.valid_through, issued_on=on,
        verify_url=verification_url(public_base(request), row.endorsement_id,
                                    row.family_name)))
    with node.accounts.audit.db.transaction() as cur:
        node.accounts.audit.record(cur, actor=staff.signed.actor, action="certificate.print",
                                   target=row.endorsement_id, client=client_address(request),
                                   now=now())
    return Response(pdf, media_type="application/pdf", headers={
        **SECURITY_HEADERS,
        "Content-Disposition": f'inline; filename="certificate-{row.endorsement_id}.pdf"'})
