"""Staff endpoints: the application, review, endorsement and renewal workflow.

Roles: coordinators run the process; reviewers decide applications; the committee suspends,
revokes and lifts suspensions; auditors read. Dates default to today at this edge.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Annotated, Literal

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from domain.application import Application
from domain.duplicates import PossibleDuplicate
from domain.endorsement import Endorsement, endorsement_uuid
from domain.errors import InvalidCommand
from domain.evidence import ApplicationEvidence, RenewalEvidence
from domain.levels import ReviewDecision
from federation_api.accounts.audit_log import Actor
from federation_api.accounts.tokens import Principal, Role
from federation_api.clock import now, today
from federation_api.documents.evidence import with_documents
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.portal.professional import professional_on_grant
from federation_api.web import command_runner as commands
from federation_api.web.audited import client_of
from federation_api.web.auth import STAFF, GatedRoute, require
from federation_api.web.csv_files import roster_csv
from federation_api.web.daily_reminders import queue_due_reminders, queue_rater_reminders
from federation_api.web.rosters import select_roster
from federation_api.web.schemas import (
    ApplicationOut,
    CommitteeActionIn,
    CorrectionIn,
    DegreeAttestationIn,
    DuplicatesOut,
    EndorsementOut,
    EvidenceIn,
    GrantIn,
    ImportEndorsementIn,
    LapseIn,
    PossibleDuplicateOut,
    RecognizeIn,
    ReinstateIn,
    RenewIn,
    ReviewIn,
    RosterRowOut,
    RosterStatus,
    StartApplicationIn,
    UnmetOut,
    VetRaterIn,
    WithdrawIn,
    errors,
    to_domain,
)
from ledger.service import AssociationService

router = APIRouter(prefix="/v1", route_class=GatedRoute,
                   responses=errors(401, 403, 404, 409, 422))
Coordinator = Annotated[Principal, Depends(require(Role.COORDINATOR))]
Reviewer = Annotated[Principal, Depends(require(Role.REVIEWER))]
Committee = Annotated[Principal, Depends(require(Role.COMMITTEE))]
CoordinatorOrCommittee = Annotated[Principal, Depends(require(Role.COORDINATOR, Role.COMMITTEE))]
Staff = Annotated[Principal, Depends(require(*STAFF))]
# The same roles as the staff roster page: the committee needs to find whom it acts on.
RosterReader = Annotated[Principal, Depends(require(Role.COORDINATOR, Role.COMMITTEE,
                                                    Role.AUDITOR))]


def day(value: dt.date | None, field: str) -> dt.date:
    """An effective date from a request: today when omitted, never in the future.

    Backdating is allowed (a committee decision entered a few days late), but a future date
    would let a command take effect early, e.g. a lapse recorded before the grace period ends.
    """
    if value is None:
        return today()
    if value > today():
        raise InvalidCommand(f"{field} is in the future", field=field, rule="date.future")
    return value


def application_out(a: Application, service: AssociationService) -> ApplicationOut:
    """Staff view of an application aggregate, with the possible duplicates of its applicant."""
    (duplicates,) = service.possible_duplicates(a)
    return ApplicationOut(application_id=a.id, version=a.version, association=a.association,
                          person_id=a.person_id, family_name=a.family_name,
                          given_name=a.given_name, level=a.level, designation=a.designation,
                          state=a.state.value,
                          unmet=[UnmetOut(code=u.code, field=u.field, reason=u.reason)
                                 for u in a.unmet], endorsement_id=a.endorsement_id,
                          possible_duplicates=duplicates_out(duplicates))


def duplicates_out(duplicates: tuple[PossibleDuplicate, ...]) -> list[PossibleDuplicateOut]:
    """The possible duplicates as the API shows them."""
    return [PossibleDuplicateOut(person_id=d.person_id, association=d.association,
                                 endorsement_id=d.endorsement_id,
                                 application_id=d.application_id, match=d.match.value)
            for d in duplicates]


def application_replay(service: AssociationService,
                       application_id: uuid.UUID) -> Callable[[commands.Versions], ApplicationOut]:
    """The answer of an application command whose answer was lost, from the version it left."""
    return lambda versions: application_out(
        service.application(application_id, versions[application_id]), service)


def endorsement_replay(service: AssociationService,
                       endorsement_id: str) -> Callable[[commands.Versions], EndorsementOut]:
    """The answer of an endorsement command whose answer was lost, from the version it left."""
    aggregate = endorsement_uuid(endorsement_id)
    return lambda versions: endorsement_out(
        service.endorsement(endorsement_id, versions[aggregate]))


def endorsement_out(e: Endorsement) -> EndorsementOut:
    """Staff view of an endorsement aggregate."""
    return EndorsementOut(endorsement_id=e.endorsement_id, version=e.version,
                          association=e.association, person_id=e.person_id,
                          family_name=e.family_name, given_name=e.given_name, level=e.level,
                          designation=e.designation, status=e.status.value,
                          granted_on=e.granted_on, valid_through=e.valid_through)


# -- applications ------------------------------------------------------------------------------


@router.post("/applications", status_code=201, response_model=ApplicationOut,
             tags=["applications"])
def start_application(request: Request, body: StartApplicationIn,
                      principal: Coordinator) -> Response:
    """Open an application. With an Idempotency-Key, a retry never opens a second one.

    The answer lists possible duplicates: other person ids with the same name (and, within
    this association, the same date of birth), for the coordinator to look into."""
    service = request.app.state.node.service
    key = commands.idempotency_key(request)
    application_id = commands.derived_id(principal, key)
    return commands.run(request, principal, "start_application", body, lambda: application_out(
        service.start_application(
            application_id=application_id, person_id=body.person_id,
            family_name=body.family_name, given_name=body.given_name, level=body.level,
            designation=body.designation, started_on=day(body.started_on, "started_on"),
            birth_date=body.birth_date, now=now()), service),
        application_replay(service, application_id), status=201)


@router.get("/possible-duplicates", response_model=list[DuplicatesOut], tags=["applications"])
def possible_duplicates(request: Request, _: Coordinator) -> list[DuplicatesOut]:
    """Open applications whose applicant may already be recorded under another person id
    (same name and date of birth here, or the same name anywhere in the Alliance)."""
    node = request.app.state.node
    service: AssociationService = node.service
    applications = [service.application(uuid.UUID(row.application_id))
                    for row in node.projector.pipeline(node.association)]
    return [DuplicatesOut(application_id=a.id, person_id=a.person_id,
                          family_name=a.family_name, given_name=a.given_name,
                          possible_duplicates=duplicates_out(found))
            for a, found in zip(applications, service.possible_duplicates(*applications),
                                strict=True) if found]


@router.get("/applications/{application_id}", response_model=ApplicationOut,
            tags=["applications"])
def get_application(request: Request, application_id: uuid.UUID, _: Staff) -> ApplicationOut:
    """An application's state, unmet requirements and possible duplicates."""
    service = request.app.state.node.service
    return application_out(service.application(application_id), service)


@router.get("/applications/{application_id}/evidence", tags=["applications"])
def get_evidence(request: Request, application_id: uuid.UUID,
                 _: Annotated[Principal, Depends(require(Role.COORDINATOR, Role.REVIEWER))]
                 ) -> Response:
    """The private evidence (coordinators and reviewers only; never replicated)."""
    evidence = request.app.state.node.service.application(application_id).evidence
    return Response(msgspec.json.encode(evidence), media_type="application/json")


@router.put("/applications/{application_id}/evidence", response_model=ApplicationOut,
            tags=["applications"])
def submit_evidence(request: Request, application_id: uuid.UUID, body: EvidenceIn,
                    principal: Coordinator) -> Response:
    """Replace the evidence; the answer lists every requirement still unmet."""
    service = request.app.state.node.service
    version = commands.expected_version(request)
    # The documents the evidence lists are the node's own records, never the client's claim.
    evidence = with_documents(to_domain(body.evidence, ApplicationEvidence),
                              request.app.state.node.documents, application_id)
    return commands.run(request, principal, "submit_evidence", body, lambda: application_out(
        service.submit_evidence(application_id, evidence,
                                submitted_on=day(body.submitted_on, "submitted_on"), now=now(),
                                expected_version=version), service),
        application_replay(service, application_id))


@router.post("/applications/{application_id}/rater-vettings", response_model=ApplicationOut,
             tags=["applications"])
def vet_rater(request: Request, application_id: uuid.UUID, body: VetRaterIn,
              principal: Coordinator) -> Response:
    """Record that the coordinator vetted a rater who holds no endorsement."""
    service = request.app.state.node.service
    version = commands.expected_version(request)
    return commands.run(request, principal, "vet_rater", body, lambda: application_out(
        service.vet_rater(application_id, body.rater_id, vetted_by=principal.label,
                          vetted_on=day(body.vetted_on, "vetted_on"), note=body.note, now=now(),
                          expected_version=version), service),
        application_replay(service, application_id))


@router.post("/applications/{application_id}/reviews", response_model=ApplicationOut,
             tags=["applications"])
def review(request: Request, application_id: uuid.UUID, body: ReviewIn,
           principal: Reviewer) -> Response:
    """A reviewer's decision: approve, return for more, deny, or approve for the exam."""
    service = request.app.state.node.service
    version = commands.expected_version(request)
    return commands.run(request, principal, "review", body, lambda: application_out(
        service.review(application_id, ReviewDecision(body.decision), reviewer=principal.label,
                       reason=body.reason, decided_on=day(body.decided_on, "decided_on"), now=now(),
                       expected_version=version), service),
        application_replay(service, application_id))


@router.post("/applications/{application_id}/withdrawal", response_model=ApplicationOut,
             tags=["applications"])
def withdraw(request: Request, application_id: uuid.UUID, body: WithdrawIn,
             principal: Coordinator) -> Response:
    """Close the application at the applicant's request."""
    service = request.app.state.node.service
    version = commands.expected_version(request)
    return commands.run(request, principal, "withdraw", body, lambda: application_out(
        service.withdraw(application_id, withdrawn_on=day(body.withdrawn_on, "withdrawn_on"),
                         reason=body.reason, now=now(), expected_version=version), service),
        application_replay(service, application_id))


@router.post("/applications/{application_id}/grant", status_code=201,
             response_model=EndorsementOut, tags=["applications"])
def grant(request: Request, application_id: uuid.UUID, body: GrantIn,
          principal: CoordinatorOrCommittee) -> Response:
    """Grant the endorsement of an approved application.

    Refused (409, naming the endorsement and the rule) while the applicant holds an
    endorsement anywhere in the Alliance that is suspended, revoked (as this association's
    policy allows: where it leaves that to the Endorsement Committee, a committee token
    grants), active at the same or a higher level, or active with another association. An
    active lower-level endorsement here is replaced (relinquished on the grant date)."""
    node = request.app.state.node
    version = commands.expected_version(request)
    key = commands.idempotency_key(request)
    endorsement_id = new_endorsement_id(node.association, commands.seed(principal, key))
    answer = commands.run(request, principal, "grant", body, lambda: endorsement_out(
        node.service.grant(application_id, endorsement_id=endorsement_id,
                           granted_on=day(body.granted_on, "granted_on"), now=now(),
                           expected_version=version,
                           by_committee=principal.role is Role.COMMITTEE)),
        endorsement_replay(node.service, endorsement_id), status=201)
    if answer.status_code == 201:  # a replayed grant too: giving the role twice is a no-op
        granted = node.service.application(application_id)
        if granted.endorsement_id is not None:
            with node.accounts.audit.db.transaction() as cur:
                professional_on_grant(cur, node.accounts, person_id=granted.person_id,
                                      endorsement_id=granted.endorsement_id,
                                      by=Actor.token(principal.token_id, principal.issued_by),
                                      now=now(), client=client_of(request))
    return answer


@router.get("/applications", tags=["applications"])
def pipeline(request: Request, _: Staff) -> list[dict[str, object]]:
    """Open applications with their unmet requirements."""
    node = request.app.state.node
    return [msgspec.to_builtins(row) for row in node.projector.pipeline(node.association)]


# -- endorsements ------------------------------------------------------------------------------


@router.post("/endorsements/imports", status_code=201, response_model=EndorsementOut,
             tags=["endorsements"])
def import_endorsement(request: Request, body: ImportEndorsementIn,
                       principal: Coordinator) -> Response:
    """Record an endorsement granted before this ledger existed (onboarding a roster).

    Refused like a grant when the person's standing forbids a new endorsement."""
    node = request.app.state.node
    endorsement_id = new_endorsement_id(node.association,
                                        commands.seed(principal, commands.idempotency_key(request)))
    return commands.run(request, principal, "import_endorsement", body, lambda: endorsement_out(
        node.service.record_existing(
            endorsement_id=endorsement_id, person_id=body.person_id,
            family_name=body.family_name, given_name=body.given_name, level=body.level,
            designation=body.designation, granted_on=body.granted_on,
            valid_through=body.valid_through, legacy_reference=body.legacy_reference,
            masters_prepared=body.masters_prepared, now=now())),
        endorsement_replay(node.service, endorsement_id), status=201)


@router.post("/endorsements/recognitions", status_code=201, response_model=EndorsementOut,
             tags=["reciprocity"])
def recognize(request: Request, body: RecognizeIn, principal: Coordinator) -> Response:
    """Become the home of an endorsement current at another association (checked against
    this node's verified replica); the origin records the transfer out when it sees this.
    Refused while the professional holds a suspended or revoked endorsement anywhere."""
    node = request.app.state.node
    endorsement_id = new_endorsement_id(node.association,
                                        commands.seed(principal, commands.idempotency_key(request)))
    return commands.run(request, principal, "recognize", body, lambda: endorsement_out(
        node.service.recognize(body.origin_endorsement_id.upper(), endorsement_id=endorsement_id,
                               recognized_on=day(body.recognized_on, "recognized_on"),
                               now=now(), replica=node.replica)),
        endorsement_replay(node.service, endorsement_id), status=201)


@router.get("/endorsements/{endorsement_id}", response_model=EndorsementOut,
            tags=["endorsements"])
def get_endorsement(request: Request, endorsement_id: str, _: Staff) -> EndorsementOut:
    """An endorsement as recorded."""
    return endorsement_out(request.app.state.node.service.endorsement(endorsement_id.upper()))


@router.post("/endorsements/{endorsement_id}/renewals", response_model=EndorsementOut,
             tags=["endorsements"])
def renew(request: Request, endorsement_id: str, body: RenewIn,
          principal: Coordinator) -> Response:
    """Renew for the next cycle; the answer lists unmet requirements if any."""
    service = request.app.state.node.service
    version = commands.expected_version(request)
    evidence = to_domain(body.evidence, RenewalEvidence)
    return commands.run(request, principal, "renew", body, lambda: endorsement_out(
        service.renew(endorsement_id.upper(), evidence,
                      renewed_on=day(body.renewed_on, "renewed_on"),
                      now=now(), expected_version=version)),
        endorsement_replay(service, endorsement_id.upper()))


@router.post("/endorsements/{endorsement_id}/lapse", response_model=EndorsementOut,
             tags=["endorsements"])
def lapse(request: Request, endorsement_id: str, body: LapseIn,
          principal: Coordinator) -> Response:
    """Record one lapse (refused before the grace period has ended)."""
    service = request.app.state.node.service
    version = commands.expected_version(request)
    return commands.run(request, principal, "lapse", body, lambda: endorsement_out(
        service.lapse(endorsement_id.upper(), on=day(body.on, "on"), now=now(),
                      expected_version=version)),
        endorsement_replay(service, endorsement_id.upper()))


@router.post("/lapses", response_model=list[EndorsementOut], tags=["endorsements"])
def lapse_due(request: Request, body: LapseIn, principal: Coordinator) -> Response:
    """Record every lapse that is due on a date: the association's daily run, in one
    transaction (all of the day's lapses or none); then queue the day's renewal reminders
    and lapse notices (the `Reminders-Queued` header counts the new ones)."""
    node = request.app.state.node
    service: AssociationService = node.service
    on = day(body.on, "on")

    def produce() -> list[EndorsementOut]:
        candidates = [row.endorsement_id for row in node.projector.renewals(
            node.association, on, 0)[1]]
        return [endorsement_out(e) for e in service.lapse_due(candidates, on=on, now=now())]

    def replay(versions: commands.Versions) -> list[EndorsementOut]:
        return [endorsement_out(service.endorsement_by_aggregate(aggregate, version))
                for aggregate, version in versions.items()]

    answer = commands.run(request, principal, "lapse_due", body, produce, replay)
    if answer.status_code == 200:  # a replayed run counts: the day's lapses are recorded
        request.app.state.metrics.lapse_run.labels(node.association).set(now().timestamp())
        # The day's reminders, each queued once however often the run is repeated.
        reminders = queue_due_reminders(node, on=on, now=now())
        answer.headers["Reminders-Queued"] = str(reminders.queued)
        # Raters mailed over a week ago who have not rated, reminded once each.
        answer.headers["Rater-Reminders-Queued"] = str(queue_rater_reminders(node, now=now()))
    return answer


@router.post("/endorsements/{endorsement_id}/reinstatement", response_model=EndorsementOut,
             tags=["endorsements"])
def reinstate(request: Request, endorsement_id: str, body: ReinstateIn,
              principal: CoordinatorOrCommittee) -> Response:
    """Reinstate a lapsed endorsement per policy, or (committee) lift a suspension."""
    service = request.app.state.node.service
    version = commands.expected_version(request)
    evidence = to_domain(body.evidence, RenewalEvidence)
    return commands.run(request, principal, "reinstate", body, lambda: endorsement_out(
        service.reinstate(endorsement_id.upper(),
                          reinstated_on=day(body.reinstated_on, "reinstated_on"),
                          reason=body.reason, evidence=evidence,
                          by_committee=principal.role is Role.COMMITTEE, now=now(),
                          expected_version=version)),
        endorsement_replay(service, endorsement_id.upper()))


def _dated_action(request: Request, endorsement_id: str, body: CommitteeActionIn,
                  principal: Principal, command: str) -> Response:
    """Suspension, revocation and relinquishment: a reason and an effective date each."""
    service = request.app.state.node.service
    version = commands.expected_version(request)
    action = getattr(service, command)
    return commands.run(request, principal, command, body, lambda: endorsement_out(action(
        endorsement_id.upper(), effective_on=day(body.effective_on, "effective_on"),
        reason=body.reason, now=now(), expected_version=version)),
        endorsement_replay(service, endorsement_id.upper()))


@router.post("/endorsements/{endorsement_id}/suspension", response_model=EndorsementOut,
             tags=["committee"])
def suspend(request: Request, endorsement_id: str, body: CommitteeActionIn,
            principal: Committee) -> Response:
    """Committee: suspend, with a reason."""
    return _dated_action(request, endorsement_id, body, principal, "suspend")


@router.post("/endorsements/{endorsement_id}/revocation", response_model=EndorsementOut,
             tags=["committee"])
def revoke(request: Request, endorsement_id: str, body: CommitteeActionIn,
           principal: Committee) -> Response:
    """Committee: revoke, with a reason. Final."""
    return _dated_action(request, endorsement_id, body, principal, "revoke")


@router.post("/endorsements/{endorsement_id}/relinquishment", response_model=EndorsementOut,
             tags=["endorsements"])
def relinquish(request: Request, endorsement_id: str, body: CommitteeActionIn,
               principal: Coordinator) -> Response:
    """Record that the professional relinquished the endorsement."""
    return _dated_action(request, endorsement_id, body, principal, "relinquish")


@router.post("/endorsements/{endorsement_id}/corrections", response_model=EndorsementOut,
             tags=["endorsements"])
def correct(request: Request, endorsement_id: str, body: CorrectionIn,
            principal: Coordinator) -> Response:
    """Correct a mistaken value with a correction entry; the ledger is never edited."""
    service = request.app.state.node.service
    version = commands.expected_version(request)
    return commands.run(request, principal, "correct", body, lambda: endorsement_out(
        service.correct(endorsement_id.upper(), corrects_version=body.corrects_version,
                        reason=body.reason, family_name=body.family_name,
                        given_name=body.given_name, valid_through=body.valid_through,
                        now=now(), expected_version=version)),
        endorsement_replay(service, endorsement_id.upper()))


@router.post("/endorsements/{endorsement_id}/degree-attestations",
             response_model=EndorsementOut, tags=["endorsements"])
def attest_degree(request: Request, endorsement_id: str, body: DegreeAttestationIn,
                  principal: Coordinator) -> Response:
    """Record, from the holder's transcript, whether the holder of a Level II endorsement
    granted here is Master's-prepared, from when: a public fact of the endorsement that
    decides whether the holder may provide RS/C to a Bachelor's-prepared Level II applicant
    (grants record it from the holder's application; this is for earlier grants and degrees
    earned later)."""
    service = request.app.state.node.service
    version = commands.expected_version(request)
    return commands.run(request, principal, "attest_degree", body, lambda: endorsement_out(
        service.attest_degree(endorsement_id.upper(), masters_prepared=body.masters_prepared,
                              effective_on=day(body.effective_on, "effective_on"),
                              attested_by=principal.label, now=now(),
                              expected_version=version)),
        endorsement_replay(service, endorsement_id.upper()))


# -- rosters -----------------------------------------------------------------------------------


@router.get("/roster", tags=["rosters"], response_class=Response, responses={
    200: {"model": list[RosterRowOut], "description": "the roster rows, by endorsement id",
          "content": {"text/csv": {"schema": {"type": "string"}}}}})
def roster(request: Request, _: RosterReader,
           format: Annotated[Literal["json", "csv"], Query()] = "json",
           status: Annotated[RosterStatus | None, Query(
               description="`current` and `expired` are standings today, as the public "
                           "page shows them; the others are recorded statuses")] = None
           ) -> Response:
    """This association's roster as JSON or CSV (the same columns), optionally only the
    endorsements with one status today."""
    node = request.app.state.node
    rows = select_roster(node.projector, node.association, status, today())
    if format == "json":
        return Response(msgspec.json.encode(rows), media_type="application/json")
    return Response(roster_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="roster-'
                                                    f'{node.association}.csv"'})


@router.get("/renewals", tags=["rosters"])
def renewals(request: Request, _: Coordinator,
             within_days: Annotated[int, Query(ge=0, le=366)] = 60) -> dict[str, object]:
    """Renewals due within `within_days`, and overdue ones (in grace or past it)."""
    node = request.app.state.node
    due, overdue = node.projector.renewals(node.association, today(), within_days)
    return {"as_of": today().isoformat(), "due": msgspec.to_builtins(due),
            "overdue": msgspec.to_builtins(overdue)}
