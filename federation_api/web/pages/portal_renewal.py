"""The professional's renewal in the portal, and their own certificate and receipt.

`/portal/renewal` lists the signed-in person's endorsements of this association; each one's
page shows the cycle a renewal would renew (its dates and the last day a renewal is taken),
the logged hours it counts and what it still lacks in the domain's words, and the form that
renews it: the membership confirmed, RS/C provided or not, the Code of Ethics re-signed (its
version and hash recorded), the fee (the fees helper's note, else "see the association").
The renewal runs the same audited `AssociationService.renew` command as the staff renewal
page; a refusal shows the rule's words and the cycle's dates, and nothing is written.

The certificate is the staff page's PDF (`web.certificates`), for the own endorsement only
and only while it is current; the receipt is a full signed receipt of today's answer, whose
entries include the renewal, shown by `web.pages.receipts` and downloadable as its file.
Any endorsement that is not the account's answers 404, as one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from domain.errors import DomainError
from federation_api.clock import now, today
from federation_api.portal.errors import NotYours
from federation_api.portal.hours_log import HoursLog
from federation_api.portal.renewal import (
    CODE_OF_ETHICS,
    RenewalFees,
    RenewalRecord,
    RenewalRecords,
    cycle_view,
    evidence_from,
    own_endorsement,
    parse_confirmation,
)
from federation_api.proofs.receipts import check_own, filename, make_receipt
from federation_api.proofs.status import ProofUnavailable
from federation_api.web.audited import attempt
from federation_api.web.certificates import certificate_response
from federation_api.web.lookup import lookup
from federation_api.web.pages.level_titles import level_title
from federation_api.web.pages.portal_fees import pay_headers, renewal_view
from federation_api.web.pages.portal_session import (
    Member,
    PortalMember,
    message_page,
    not_found,
    page_context,
)
from federation_api.web.pages.receipts import render_view
from federation_api.web.pages.staff_session import client_address
from federation_api.web.pages.templating import SECURITY_HEADERS, association_name, render
from ledger.proofs.receipts import ReceiptKind, SignedReceipt, encode_receipt
from ledger.storage.database import Cursor
from projections.rows import RosterRow
from projections.standing import Standing, standing_on

router = APIRouter(prefix="/portal/renewal", include_in_schema=False)
FEE_UNWIRED = "Fee: see the association for this year's renewal fee and how to pay it."
_FORM_FIELDS = ("membership_association", "membership_valid_through", "membership_confirmed",
                "provides_rsc", "ethics_version", "ethics_signed", "signed_name")


def _own(request: Request, member: PortalMember, endorsement_id: str) -> RosterRow:
    node = request.app.state.node
    return own_endorsement(node.projector, node.association, member.person_id, endorsement_id)


def _fee_note(request: Request, member: PortalMember, row: RosterRow,
              cycle_end: dt.date) -> str:
    fees: RenewalFees | None = getattr(request.app.state, "renewal_fees", None)
    return FEE_UNWIRED if fees is None else fees.fee_note(member.account_id,
                                                          row.endorsement_id, cycle_end)


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."


@router.get("", response_class=HTMLResponse)
def renewals(request: Request, member: Member) -> Response:
    """The person's endorsements of this association, each with its renewal page."""
    node = request.app.state.node
    rows = [] if member.person_id is None else [
        row for row in (node.projector.endorsement(e.endorsement_id)
                        for e in node.projector.recorded_for(member.person_id, today()))
        if row is not None and row.association == node.association]
    return render("portal_renewals.html", **page_context(
        request, rows=rows, level_title=level_title, today=today(), standing_on=standing_on))


def _renewal_page(request: Request, member: PortalMember, row: RosterRow, status: int = 200,
                  errors: list[tuple[str, str]] | None = None,
                  values: dict[str, str] | None = None, unmet: tuple[object, ...] = (),
                  message: str = "") -> Response:
    node = request.app.state.node
    log: HoursLog = request.app.state.hours_log
    records: RenewalRecords = request.app.state.renewal_records
    view = cycle_view(row, node.service.endorsement(row.endorsement_id), node.service.policy,
                      log.of_account(member.account_id))
    return render("portal_renewal.html", status, pay_headers(request), **page_context(
        request, row=row, view=view, level_title=level_title, errors=errors or [],
        values=values or {}, unmet=unmet, message=message, ethics=CODE_OF_ETHICS,
        fee_note=_fee_note(request, member, row, view.cycle_end),
        fee_panel={"fee": renewal_view(request, row.endorsement_id, view.cycle_end)},
        renewed=records.of_endorsement(member.account_id, row.endorsement_id),
        current=standing_on(row.status, row.valid_through, today()) is Standing.CURRENT))


@router.get("/{endorsement_id}", response_class=HTMLResponse)
def renewal_page(request: Request, member: Member, endorsement_id: str) -> Response:
    """One endorsement's cycle, its counted hours, what it lacks, and the renewal form."""
    try:
        row = _own(request, member, endorsement_id)
    except NotYours:
        return not_found(request)
    message = ""
    if request.query_params.get("done") == "renew":
        seq = request.query_params.get("seq", "")[:20]
        message = "Your endorsement is renewed." + (
            f" The association's ledger recorded it as entry {seq}." if seq.isdigit() else "")
    return _renewal_page(request, member, row, message=message)


@router.post("/{endorsement_id}", response_class=HTMLResponse)
async def renew(request: Request, member: Member, endorsement_id: str) -> Response:
    """Renew the cycle with the logged hours, the membership and the Code of Ethics signed;
    a refusal names each unmet requirement in the rule's words and writes nothing."""
    form = await request.form()
    values = {k: v[:500] for k in _FORM_FIELDS if isinstance(v := form.get(k, ""), str)}

    def run() -> Response:
        try:
            row = _own(request, member, endorsement_id)
        except NotYours:
            return not_found(request)
        confirmation, errors = parse_confirmation(values, today=today())
        if confirmation is None:
            return _renewal_page(request, member, row, 422, errors, values)
        node = request.app.state.node
        log: HoursLog = request.app.state.hours_log
        records: RenewalRecords = request.app.state.renewal_records
        view = cycle_view(row, node.service.endorsement(row.endorsement_id),
                          node.service.policy, log.of_account(member.account_id))
        evidence = evidence_from(view.counted, membership=confirmation.membership,
                                 provides_rsc=confirmation.provides_rsc)
        renewed_on, moment = today(), now()

        def keep(cur: Cursor) -> None:
            head = node.ledger.head(node.association)
            records.save(cur, RenewalRecord(
                endorsement_id=row.endorsement_id, cycle_end=view.cycle_end,
                account_id=member.account_id, renewed_on=renewed_on,
                seq=None if head is None else head[0],
                entry_hash=None if head is None else head[1].hex(),
                membership=confirmation.membership, provides_rsc=confirmation.provides_rsc,
                document=confirmation.text.document, text_version=confirmation.text.version,
                text_sha256=confirmation.text.sha256, signed_name=confirmation.signed_name,
                signed_at=moment))

        outcome = attempt(node, actor=member.signed.actor, action="portal.renew",
                          target=row.endorsement_id, client=client_address(request),
                          run=lambda: node.service.renew(row.endorsement_id, evidence,
                                                         renewed_on=renewed_on, now=moment),
                          then=keep)
        if outcome.refusal is not None:
            return _refused(request, member, row, outcome.refusal, values)
        query = {"done": "renew"}
        if outcome.entry is not None:
            query |= {"seq": str(outcome.entry.seq)}
        return RedirectResponse(f"/portal/renewal/{quote(row.endorsement_id)}?"
                                f"{urlencode(query)}", status_code=303,
                                headers=SECURITY_HEADERS)

    return await run_in_threadpool(run)


def _refused(request: Request, member: PortalMember, row: RosterRow, refusal: DomainError,
             values: dict[str, str]) -> Response:
    """The renewal page with the domain's refusal (which names the cycle's dates) and each
    unmet requirement, in the rule's words."""
    unmet = tuple(getattr(refusal, "unmet", ()))
    return _renewal_page(request, member, row, 422, [("", _sentence(refusal.message))],
                         values, unmet)


# -- the own certificate and receipt --------------------------------------------------------


@router.get("/{endorsement_id}/certificate.pdf")
def certificate(request: Request, member: Member, endorsement_id: str) -> Response:
    """The certificate of the person's own endorsement, as PDF, while it is current."""
    try:
        row = _own(request, member, endorsement_id)
    except NotYours:
        return not_found(request)
    on = today()
    standing = standing_on(row.status, row.valid_through, on)
    if standing is not Standing.CURRENT:
        return message_page(request, 409, "No certificate for this endorsement",
                            f"Your endorsement {row.endorsement_id} is {standing.value} today; "
                            f"a certificate is printed only for an endorsement in good "
                            f"standing.")
    return certificate_response(request, row, actor=member.signed.actor)


def _receipt(request: Request, member: PortalMember,
             endorsement_id: str) -> SignedReceipt | Response:
    """A full signed receipt of today's answer about the own endorsement (its entries, the
    renewal among them), or the page saying why there is none."""
    try:
        row = _own(request, member, endorsement_id)
    except NotYours:
        return not_found(request)
    node = request.app.state.node
    moment = now()
    public = lookup(node, row.endorsement_id, row.family_name, moment.date())
    answer = node.projector.status_as_of(row.endorsement_id, moment.date())
    if public is None or answer is None:
        return not_found(request)
    try:
        return make_receipt(node, answer, tuple(public.warnings), moment, ReceiptKind.FULL)
    except ProofUnavailable:
        return message_page(request, 409, "Receipt not ready yet",
                            "This node cannot sign a receipt of your endorsement that would "
                            "check out yet. Try again in a minute.")


@router.get("/{endorsement_id}/receipt", response_class=HTMLResponse)
def receipt_view(request: Request, member: Member, endorsement_id: str) -> Response:
    """The printable page of the signed receipt of the own endorsement's record."""
    signed = _receipt(request, member, endorsement_id)
    if not isinstance(signed, SignedReceipt):
        return signed
    return render_view(signed, check_own(signed),
                       f"/portal/renewal/{quote(signed.answer.claim.endorsement_id)}"
                       f"/receipt.json",
                       lambda association: association_name(request, association))


@router.get("/{endorsement_id}/receipt.json")
def receipt_download(request: Request, member: Member, endorsement_id: str) -> Response:
    """The signed receipt file (check it with `alliance verify-receipt`)."""
    signed = _receipt(request, member, endorsement_id)
    if not isinstance(signed, SignedReceipt):
        return signed
    return Response(encode_receipt(signed), media_type="application/json", headers={
        **SECURITY_HEADERS, "Cache-Control": "no-store",
        "Content-Disposition": f'attachment; filename="{filename(signed)}"'})

