"""The staff endorsement page itself, shared by the committee's actions
(`staff_endorsements`) and the coordinator's (`staff_endorsement_actions`): one route module
may not import another (tests/unit/test_layers.py), so the page lives here.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from domain.levels import EndorsementStatus
from federation_api.clock import today
from federation_api.web.pages.staff_session import page_context
from federation_api.web.pages.templating import render
from projections.standing import standing_on

MAX_REASON = 500
_DONE = {"suspend": "The endorsement is suspended.", "revoke": "The endorsement is revoked.",
         "lift": "The suspension is lifted.", "renew": "The endorsement is renewed.",
         "relinquish": "The endorsement is relinquished.",
         "reinstate": "The endorsement is reinstated.",
         "correct": "The correction is recorded.",
         "recognize": "The endorsement is recognised: this association is its home now."}


def endorsement_page_of(request: Request, endorsement_id: str, status: int = 200,
                        errors: list[tuple[str, str]] | None = None,
                        form: dict[str, str] | None = None, acted: str = "") -> Response:
    """The endorsement's page (404 if no ledger holds it), with a form's errors or the done
    message and ledger entry of the action just taken."""
    node = request.app.state.node
    row = node.projector.endorsement(endorsement_id.upper())
    if row is None:
        return render("message.html", 404, **page_context(
            request, title="No such endorsement",
            message="No ledger of the Alliance holds an endorsement with this id."))
    params = request.query_params
    entry = (params.get("seq", ""), params.get("hash", "")) if params.get("seq") else None
    on = today()
    return render("staff_endorsement.html", status, **page_context(
        request, row=row, history=node.projector.history(row.endorsement_id),
        standing=standing_on(row.status, row.valid_through, on).value, on=on,
        own=row.association == node.association, errors=errors or [], form=form or {},
        acted=acted,
        message=_DONE.get(params.get("done", ""), ""), entry=entry,
        suspended=row.status is EndorsementStatus.SUSPENDED,
        active=row.status is EndorsementStatus.ACTIVE,
        lapsed=row.status is EndorsementStatus.LAPSED,
        # The version a correction names (the record as this page shows it).
        version=(node.service.endorsement(row.endorsement_id).version
                 if row.association == node.association else 0)))
