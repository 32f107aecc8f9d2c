"""An applicant's own application: start a draft, save it, sign the texts, submit it, answer
a return, withdraw.

Drafts stay in the node database (`drafts`); submitting sends the application through the
very commands staff intake uses (`AssociationService.start_application` and
`submit_evidence`), so it lands in the coordinator's queue like any other and the domain
evaluates it the same way. Nothing reaches the ledger before submission. The application's
id is the draft's, chosen when the draft was made, so a submission retried after a crash
finds the application it opened and does not open a second one.

Every function takes the account id and finds the draft by it (`DraftStore.get` names the
account in its query); a draft or application of another account is `NotYours`.
"""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from domain.application import Application
from domain.evidence import ApplicationEvidence, SignedText
from domain.levels import Designation, Level
from federation_api.accounts.store import Account
from federation_api.portal.desk import Portal
from federation_api.portal.drafts import Draft, Signature
from federation_api.portal.errors import NotYours, PortalError
from federation_api.portal.texts import Document, text_of
from ledger.errors import NotFound
from ledger.service import AssociationService

MAX_SIGNED_NAME = 200


def start_draft(portal: Portal, account_id: str, *, level: str, designation: str,
                now: dt.datetime) -> Draft:
    """A new draft for a level (Level IV with its designation); PortalError naming the
    field for a level or designation that is not one."""
    chosen = next((lv for lv in Level if lv.value == level), None)
    if chosen is None:
        raise PortalError("choose the level you apply for", field="level", rule="draft.level")
    named = next((d for d in Designation if d.value == designation), None)
    if chosen is Level.IMHM and named is None:
        raise PortalError("choose the Level IV designation: Clinical, Policy or "
                          "Research/Faculty", field="designation", rule="draft.designation")
    if chosen is not Level.IMHM and designation:
        raise PortalError("only Level IV has a designation; leave it empty",
                          field="designation", rule="draft.designation")
    with portal.db.transaction() as cur:
        return portal.drafts.create(cur, account_id, level=chosen, designation=named, now=now)


def save_draft(portal: Portal, account_id: str, draft_id: str, *, version: int,
               values: dict[str, str], now: dt.datetime) -> Draft:
    """Replace the draft's form values (as sent: a draft may be incomplete or wrong);
    PortalError if it changed since `version` or was submitted."""
    with portal.db.transaction() as cur:
        draft = portal.drafts.get(account_id, draft_id, cur=cur)
        if draft.version != version:
            raise PortalError("this draft changed in another window since you opened it; "
                              "reload it and make your changes again", field="draft",
                              rule="draft.version")
        return portal.drafts.save(cur, draft, values, now=now)


def discard_draft(portal: Portal, account_id: str, draft_id: str) -> None:
    """Throw an unsubmitted draft and its signatures away; NotYours for another's."""
    with portal.db.transaction() as cur:
        portal.drafts.delete(cur, portal.drafts.get(account_id, draft_id, cur=cur))


def sign(portal: Portal, account: Account, draft_id: str, *, document: str, signed_name: str,
         agreed: bool, now: dt.datetime) -> Signature:
    """Sign the current version of a text for a draft: the name typed as the signature and
    the box ticked. PortalError naming the field otherwise (nothing written)."""
    chosen = next((d for d in Document if d.value == document), None)
    if chosen is None:
        raise PortalError("choose a text to sign", field="document", rule="sign.document")
    prefix = f"sign-{chosen.value}"
    name = " ".join(signed_name.split())
    if not agreed:
        raise PortalError(f"tick the box to say you have read and agree to the "
                          f"{chosen.heading}", field=f"{prefix}-agreed", rule="sign.agreed")
    if not name or len(name) > MAX_SIGNED_NAME:
        raise PortalError("type your full name as your signature", field=f"{prefix}-name",
                          rule="sign.name")
    text = text_of(chosen)
    signature = Signature(document=chosen.value, text_version=text.version,
                          text_sha256=text.sha256, signed_by=account.account_id,
                          signed_name=name, signed_at=now)
    with portal.db.transaction() as cur:
        draft = portal.drafts.get(account.account_id, draft_id, cur=cur)
        if draft.submitted:
            raise PortalError("this application is submitted already", field="draft",
                              rule="draft.submitted")
        portal.drafts.sign(cur, draft, signature)
    return signature


def with_signatures(evidence: ApplicationEvidence, signatures: dict[str, Signature]
                    ) -> ApplicationEvidence:
    """The evidence with the signed texts in it: the two declarations set from them, and
    each signature (text version and SHA-256) inside the committed evidence."""
    signed = tuple(SignedText(document=s.document, version=s.text_version, sha256=s.text_sha256,
                              signed_by=s.signed_by, signed_name=s.signed_name,
                              signed_at=s.signed_at)
                   for _, s in sorted(signatures.items()))
    return msgspec.structs.replace(
        evidence, code_of_ethics_signed=Document.CODE_OF_ETHICS.value in signatures,
        agreement_signed=Document.AGREEMENT.value in signatures,
        signed_texts=signed if signed else msgspec.UNSET)


def submit(portal: Portal, service: AssociationService, account: Account, draft: Draft,
           evidence: ApplicationEvidence, *, today: dt.date,
           now: dt.datetime) -> Application:
    """Open the draft's application on the ledger and submit its evidence, as staff intake
    does; the names and date of birth come from the person record the coordinator confirmed.
    PortalError before any write if identity is not confirmed or the draft is submitted. The
    caller marks the draft submitted (`DraftStore.mark_submitted`) once this returns."""
    if draft.account_id != account.account_id:
        raise NotYours("no such draft", field="draft", rule="draft.owner")
    if draft.submitted:
        raise PortalError("this application is submitted already", field="draft",
                          rule="draft.submitted")
    record = portal.people.get(account.person_id) if account.person_id else None
    if record is None:
        raise PortalError("the association has not yet confirmed who you are; you can "
                          "submit once it has", field="submit", rule="submit.identity")
    d = record.details
    try:
        service.application(draft.application_id)
    except NotFound:  # the usual case; found: a retry after the application was opened
        service.start_application(
            application_id=draft.application_id, person_id=d.person_id,
            family_name=d.family_name, given_name=d.given_name, level=draft.level,
            designation=draft.designation, started_on=today, now=now, birth_date=d.birth_date)
    return service.submit_evidence(draft.application_id, evidence, submitted_on=today, now=now)


def owned_application(portal: Portal, service: AssociationService, account_id: str,
                      application_id: str) -> tuple[Draft, Application]:
    """The account's submitted application (and the draft it came from); NotYours for
    another's, an unknown id, or one the ledger does not hold."""
    try:
        parsed = uuid.UUID(application_id)
    except ValueError as e:
        raise NotYours("no such application", field="application", rule="draft.owner") from e
    draft = portal.drafts.by_application(account_id, str(parsed))
    try:
        application = service.application(parsed)
    except NotFound as e:
        raise NotYours("no such application", field="application", rule="draft.owner") from e
    return draft, application


def answer_return(service: AssociationService, application: Application,
                  evidence: ApplicationEvidence | None, *, response: str, today: dt.date,
                  now: dt.datetime) -> Application:
    """Answer a return: the response and the changed evidence (None: unchanged), back to
    the reviewers, through the service's `resubmit` as staff would. What only the
    association records is kept from the application's evidence (`association_records`)."""
    if evidence is not None:
        evidence = association_records(evidence, application.evidence)
    return service.resubmit(application.id, evidence, response=response,
                            resubmitted_on=today, now=now)


def association_records(evidence: ApplicationEvidence, previous: ApplicationEvidence
                        ) -> ApplicationEvidence:
    """The applicant's changed evidence with what the association recorded on the
    application kept: the applicant's form has no field for a transcript's arrival or the
    fee (the coordinator ticks them), so the draft's evidence always says "no", and an
    answer would otherwise undo them. A degree keeps its "transcript received" only if the
    answer left it as it was (a changed degree is another degree's transcript); a paid fee
    stays paid."""
    received = {msgspec.structs.replace(d, transcript_received=False)
                for d in previous.degrees if d.transcript_received}
    degrees = tuple(msgspec.structs.replace(d, transcript_received=True)
                    if not d.transcript_received and d in received else d
                    for d in evidence.degrees)
    return msgspec.structs.replace(evidence, degrees=degrees,
                                   fee_paid=evidence.fee_paid or previous.fee_paid)


def withdraw(service: AssociationService, application: Application, *,
             reason: str, today: dt.date, now: dt.datetime) -> Application:
    """Withdraw the application at the applicant's request."""
    return service.withdraw(application.id, withdrawn_on=today, reason=reason, now=now)
