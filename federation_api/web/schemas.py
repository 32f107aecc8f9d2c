"""HTTP request and response models: pydantic at the edge, converted to msgspec values here.

The evidence types are defined once, as msgspec Structs in the domain. Their pydantic twins are
generated from the Struct definitions, so the OpenAPI document is complete without a second
hand-written copy that could drift. `to_domain` is the one place where HTTP input becomes
domain values.

Every value that enters here is bounded, and the bounds are in the OpenAPI document: numbers
(clock hours, counts, scores) are 0..10,000 and finite, so no value can overflow the codec or
SQLite's 64-bit integers; dates lie in 1900..2199, so date arithmetic (cycles, windows) cannot
leave Python's calendar; texts and lists have maximum lengths. A value out of bounds is a 422
naming the field and the rule, before any command runs.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
import uuid
from enum import StrEnum
from typing import Annotated, Any, TypeVar, get_args, get_origin

import msgspec
import pydantic
from pydantic import BaseModel, Field

from domain.evidence import ApplicationEvidence, RenewalEvidence
from domain.levels import Designation, EndorsementStatus, Level, ReviewDecision
from projections.standing import Standing

MAX_NUMBER = 10_000  # any hours, count or score in one evidence record (a year has 8,760 h)
MAX_TEXT = 200  # a title, employer, field of study, name or id inside evidence
MAX_ITEMS = 100  # records of one kind in one submission (degrees, trainings, ratings ...)
MAX_SEQ = 10**12  # ledger seqs, versions and cursors: far above any ledger, far below 2**63
EARLIEST = dt.date(1900, 1, 1)
LATEST = dt.date(2199, 12, 31)
_DATE_RANGE = f"a date from {EARLIEST.isoformat()} to {LATEST.isoformat()}"

Day = Annotated[dt.date, Field(ge=EARLIEST, le=LATEST, description=_DATE_RANGE,
                               json_schema_extra={"formatMinimum": EARLIEST.isoformat(),
                                                  "formatMaximum": LATEST.isoformat()})]
"""A date in a request body: bounded, so cycle and window arithmetic stays in range."""

_S = TypeVar("_S", bound=msgspec.Struct)
_MODELS: dict[type[Any], type[BaseModel]] = {}


def model_of(struct: type[msgspec.Struct]) -> type[BaseModel]:
    """A pydantic model with the same fields, types and defaults as a msgspec Struct."""
    if struct in _MODELS:
        return _MODELS[struct]
    fields: dict[str, Any] = {}
    for f in msgspec.structs.fields(struct):
        if f.default is msgspec.UNSET:
            continue  # filled by the node itself (e.g. texts signed in the portal), never sent
        annotation = _pydantic_type(f.type)
        if f.required:
            fields[f.name] = (annotation, ...)
        else:
            fields[f.name] = (annotation, f.default)
    model: type[BaseModel] = pydantic.create_model(struct.__name__, __config__=pydantic.ConfigDict(
        extra="forbid", frozen=True), **fields)
    _MODELS[struct] = model
    return model


_CONSTRAINTS = ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern")


_PRIMITIVES = (float, int, str, dt.date)


def _bounded(base: Any, bounds: dict[str, Any]) -> Any:
    """`base` with the edge's bounds for its kind, under any bounds the domain declared."""
    if base is float:
        return Annotated[float, Field(**{"le": MAX_NUMBER, **bounds, "allow_inf_nan": False})]
    if base is int:
        return Annotated[int, Field(**{"ge": 0, "le": MAX_NUMBER, **bounds})]
    if base is str:
        return Annotated[str, Field(**{"max_length": MAX_TEXT, **bounds})]
    if base is dt.date:
        return Day
    return base


def _pydantic_type(tp: Any) -> Any:
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return model_of(tp)
    origin = get_origin(tp)
    if origin is typing.Annotated:
        # msgspec.Meta bounds become pydantic Field bounds, so the OpenAPI document shows
        # them and pydantic rejects out-of-range values with the field's name.
        base, *metas = get_args(tp)
        bounds = {name: getattr(meta, name) for meta in metas if isinstance(meta, msgspec.Meta)
                  for name in _CONSTRAINTS if getattr(meta, name, None) is not None}
        if base in _PRIMITIVES:
            return _bounded(base, bounds)
        inner = _pydantic_type(base)
        return Annotated[inner, Field(**bounds)] if bounds else inner
    if origin is None:
        return _bounded(tp, {})
    args = tuple(_pydantic_type(a) for a in get_args(tp))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return Annotated[tuple[args], Field(max_length=MAX_ITEMS)]  # type: ignore[valid-type]
        return tuple[args]  # type: ignore[valid-type]
    if origin in (types.UnionType, typing.Union):
        return typing.Union[args]  # noqa: UP007 - built from a runtime tuple of types
    return origin[args] if len(args) > 1 else origin[args[0]]


def to_domain(model: BaseModel, struct: type[_S]) -> _S:
    """Convert a validated pydantic model into the domain's msgspec value."""
    return msgspec.convert(model.model_dump(mode="python"), struct, from_attributes=False)


ApplicationEvidenceIn = model_of(ApplicationEvidence)
RenewalEvidenceIn = model_of(RenewalEvidence)


class _In(BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class StartApplicationIn(_In):
    """Open an application for a level (and, for Level IV, a designation)."""

    person_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    family_name: str = Field(min_length=1, max_length=100)
    given_name: str = Field(min_length=1, max_length=100)
    level: Level
    designation: Designation | None = None
    started_on: Day | None = None
    birth_date: Day | None = Field(
        default=None, description="The applicant's date of birth: kept in this association's "
        "private store (never on the ledger), to tell two person ids of one applicant from "
        "namesakes")


class ImportEndorsementIn(_In):
    """An endorsement granted before the ledger existed, from the association's old records."""

    person_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    family_name: str = Field(min_length=1, max_length=100)
    given_name: str = Field(min_length=1, max_length=100)
    level: Level
    designation: Designation | None = None
    granted_on: Day
    valid_through: Day
    legacy_reference: str = Field(min_length=1, max_length=100)
    masters_prepared: bool = Field(
        default=False, description="Level II only: the legacy record shows the holder's "
        "Master's degree (who may provide RS/C to a Bachelor's-prepared applicant)")


class DegreeAttestationIn(_In):
    """The association's record, from the holder's transcript, of a Level II holder's degree."""

    masters_prepared: bool
    effective_on: dt.date | None = Field(
        default=None, description="From when the holder is Master's-prepared (default today)")


class RecognizeIn(_In):
    """Recognise, by reciprocity, an endorsement held with another association."""

    origin_endorsement_id: str = Field(min_length=3, max_length=40, pattern=r"^[A-Za-z0-9-]+$")
    recognized_on: Day | None = None


class EvidenceIn(_In):
    """Replace the whole evidence of an application."""

    evidence: ApplicationEvidenceIn  # type: ignore[valid-type]
    submitted_on: Day | None = None


class VetRaterIn(_In):
    """The coordinator vets a rater who is not endorsed."""

    rater_id: str = Field(min_length=1, max_length=64)
    note: str = Field(default="", max_length=500)
    vetted_on: Day | None = None


class ReviewIn(_In):
    """A reviewer's decision."""

    decision: ReviewDecision
    reason: str = Field(default="", max_length=2000)
    decided_on: Day | None = None


class WithdrawIn(_In):
    """The applicant withdraws."""

    reason: str = Field(default="", max_length=2000)
    withdrawn_on: Day | None = None


class GrantIn(_In):
    """Grant the endorsement of an approved application."""

    granted_on: Day | None = None


class RenewIn(_In):
    """Renewal for the current cycle."""

    evidence: RenewalEvidenceIn  # type: ignore[valid-type]
    renewed_on: Day | None = None


class LapseIn(_In):
    """Record lapses that are due on a date (default today)."""

    on: Day | None = None


class ReinstateIn(_In):
    """Reinstate after a lapse or a suspension."""

    reason: str = Field(min_length=1, max_length=2000)
    evidence: RenewalEvidenceIn = Field(default_factory=RenewalEvidenceIn)  # type: ignore[valid-type]
    reinstated_on: Day | None = None


class CommitteeActionIn(_In):
    """Suspension, revocation or relinquishment."""

    reason: str = Field(default="", max_length=2000)
    effective_on: Day | None = None


class CorrectionIn(_In):
    """Correct a mistaken value; the mistaken entry stays in the ledger."""

    corrects_version: int = Field(ge=1, le=MAX_SEQ)
    reason: str = Field(min_length=1, max_length=2000)
    family_name: str | None = Field(default=None, min_length=1, max_length=100)
    given_name: str | None = Field(default=None, min_length=1, max_length=100)
    valid_through: Day | None = None


class UnmetOut(BaseModel):
    """One requirement still unmet."""

    code: str
    field: str
    reason: str


class PossibleDuplicateOut(BaseModel):
    """Another person id whose record may be this applicant's (for the coordinator to decide)."""

    person_id: str
    association: str
    endorsement_id: str | None
    application_id: str | None
    match: str = Field(description="name_and_birth_date (this association's private records) "
                                   "or name (folded family and given names, Alliance-wide)")


class ApplicationOut(BaseModel):
    """An application as staff see it."""

    application_id: uuid.UUID
    version: int
    association: str
    person_id: str
    family_name: str
    given_name: str
    level: Level
    designation: Designation | None
    state: str
    unmet: list[UnmetOut]
    endorsement_id: str | None
    possible_duplicates: list[PossibleDuplicateOut] = Field(
        default_factory=list, description="Other person ids that may be the same applicant; "
        "flagged, never merged")


class DuplicatesOut(BaseModel):
    """An open application with the possible duplicates of its applicant."""

    application_id: uuid.UUID
    person_id: str
    family_name: str
    given_name: str
    possible_duplicates: list[PossibleDuplicateOut]


class EndorsementOut(BaseModel):
    """An endorsement as staff see it."""

    endorsement_id: str
    version: int
    association: str
    person_id: str
    family_name: str
    given_name: str
    level: Level
    designation: Designation | None
    status: str
    granted_on: dt.date
    valid_through: dt.date


class VerifyOut(BaseModel):
    """The public answer: only the fields an employer needs."""

    name: str
    level: Level
    level_title: str
    designation: Designation | None
    association: str
    status: str = Field(description="current, expired, lapsed, suspended, revoked, relinquished "
                                    "or transferred, as of `as_of`")
    valid_through: dt.date
    as_of: dt.date
    warnings: list[str] = Field(default_factory=list, description="e.g. the endorsing "
                                "association's ledger is flagged for conflicting entries")


class ReadyOut(BaseModel):
    """Readiness: whether the projections have caught up with this node's own ledger."""

    status: typing.Literal["ready", "catching_up"]
    ledger_seq: int
    projected_seq: int


class ErrorOut(BaseModel):
    """Every 4xx body: what went wrong, which field, which rule."""

    code: str
    message: str
    field: str = ""
    rule: str = ""
    unmet: list[UnmetOut] = []


class RosterStatus(StrEnum):
    """What `GET /v1/roster?status=` selects: a standing on today's date, as the public
    page words it (`current`: active and within valid-through; `expired`: active but past
    it, lapse not recorded yet), or `active`, the recorded status of both. Lower case only,
    like every wire value of the API; anything else is a 422 listing these."""

    CURRENT = Standing.CURRENT.value
    EXPIRED = Standing.EXPIRED.value
    ACTIVE = EndorsementStatus.ACTIVE.value
    LAPSED = EndorsementStatus.LAPSED.value
    SUSPENDED = EndorsementStatus.SUSPENDED.value
    REVOKED = EndorsementStatus.REVOKED.value
    RELINQUISHED = EndorsementStatus.RELINQUISHED.value
    TRANSFERRED = EndorsementStatus.TRANSFERRED.value


class RosterRowOut(BaseModel):
    """One endorsement of the roster (the CSV has the same columns, in this order)."""

    endorsement_id: str
    association: str
    person_id: str
    family_name: str
    given_name: str
    level: Level
    designation: Designation | None
    status: EndorsementStatus = Field(description="the recorded status")
    granted_on: dt.date
    valid_through: dt.date
    last_seq: int
    aggregate_id: str


_ERROR_TEXT = {
    401: "no valid bearer token (none, unknown or revoked)",
    403: "the token's role may not do this (the operation's roles are listed above)",
    404: "nothing matches",
    409: "the record changed or the transition is not allowed now",
    413: "the body is too large",
    415: "the body has another media type than the one documented",
    422: "bad input: `field` names the field and `rule` the rule it broke (also a body "
         "that is not UTF-8)",
    429: "rate limited: `Retry-After` says when to try again",
    503: "storage is unavailable: `Retry-After` says when to try again",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Documented error answers, each a JSON `ErrorOut`, for `responses=` of a route."""
    return {code: {"model": ErrorOut, "description": _ERROR_TEXT[code]} for code in codes}
