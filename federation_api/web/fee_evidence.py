"""A fee paid after submission, brought into the application's evidence on the ledger.

Before submission the draft's checklist reads `fee_paid` from the payment record
(`web/pages/portal_fees.fee_paid`, an evidence filler), and the submitted evidence carries
it. Once submitted, the rules, the reviewers and the grant read the ledger's evidence, so a
payment made later (the provider's signed callback, or the coordinator's cheque) is written
into it: one audited `submit_evidence` with `fee_paid` set, as the ratings received through
their links are (`web/rating_requests.record_received`), and only while the application is
open: evidence changed in review would start a new review round, and a returned
application's answer carries the fee through the filler.

Idempotent: an application whose evidence says paid already is left alone, so the
provider's retry of a callback applied before (the node may have stopped between the
payment's commit and this step) brings the evidence up to date without writing twice.
"""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from domain.application import ApplicationState
from federation_api.accounts.audit_log import Actor
from federation_api.clock import today
from federation_api.fees.store import Payment, PaymentState, Purpose
from federation_api.node.root import Node
from federation_api.web.audited import Attempt, attempt
from ledger.errors import NotFound


def record_paid(node: Node, payment: Payment, *, actor: Actor, client: str,
                now: dt.datetime) -> Attempt | None:
    """Set `fee_paid` in the evidence of the application `payment` paid for; None when there
    is nothing to do (not an application's payment, not paid, not open, paid already)."""
    if payment.purpose is not Purpose.APPLICATION or payment.state is not PaymentState.PAID:
        return None
    try:
        application = node.service.application(uuid.UUID(payment.subject_id))
    except (ValueError, NotFound):
        return None
    if application.state is not ApplicationState.OPEN or application.evidence.fee_paid:
        return None
    evidence = msgspec.structs.replace(application.evidence, fee_paid=True)
    return attempt(node, actor=actor, action="application.fee_paid",
                   target=str(application.id), client=client,
                   run=lambda: node.service.submit_evidence(application.id, evidence,
                                                            submitted_on=today(), now=now))
