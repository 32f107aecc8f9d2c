"""Evidence an application gathers, as immutable values.

These values live in the association's private event store. The ledger replicates only a
salted commitment to them (DESIGN invariant 7), never the values themselves.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from domain.levels import DegreeKind, RaterRole, WorkKind

# Clock hours and counts are never negative (checked wherever input is decoded).
Hours = Annotated[float, msgspec.Meta(ge=0)]
Count = Annotated[int, msgspec.Meta(ge=0)]


class Degree(msgspec.Struct, frozen=True, kw_only=True):
    """An academic degree or credential, and whether its official transcript arrived."""

    kind: DegreeKind
    field_of_study: str
    awarded_on: dt.date
    transcript_received: bool = False
    related_field: bool = False  # an Associate's degree counts for Level I only if related


class Training(msgspec.Struct, frozen=True, kw_only=True):
    """Relationship-based training clock hours (social-emotional / infant mental health)."""

    title: str
    hours: Hours
    completed_on: dt.date
    rsc_topic: bool = False  # about providing reflective supervision/consultation
    didactic_rsc: bool = False  # didactic training on providing RS/C (IV-C: >= 15 h)


class WorkExperience(msgspec.Struct, frozen=True, kw_only=True):
    """A period of work, paid or volunteer, with what it consisted of."""

    kind: WorkKind
    employer: str
    started_on: dt.date
    ended_on: dt.date
    paid: bool = True
    supervised: bool = False
    families_served: Count = 0  # families of infants/toddlers (birth to 36 months)
    infant_social_emotional_focus: bool = False
    post_bachelor: bool = False
    post_master: bool = False
    # Volunteer work with specialised training (CASA, doula, child life) may count for Level I.
    specialised_volunteer: bool = False
    internship_supervisor_id: str | None = None  # graduate internship: supervisor's person id


class RscHours(msgspec.Struct, frozen=True, kw_only=True):
    """Reflective supervision/consultation received, from one provider over a window."""

    provider_id: str  # person id of the provider, endorsed in any Alliance association
    hours: Hours
    started_on: dt.date
    ended_on: dt.date
    about_provided_rsc: Hours = 0.0  # hours about RS/C the applicant provides (IV-C: >= 25)
    post_bachelor: bool = False
    post_master: bool = False
    while_serving_families: bool = True
    while_providing_rsc: bool = False


class Rating(msgspec.Struct, frozen=True, kw_only=True):
    """A reference rating: who rated, in what role, and when (contents stay private)."""

    rater_id: str
    rater_name: str
    role: RaterRole
    rated_on: dt.date
    rater_degree: DegreeKind | None = None  # II provider rule: Master's-prepared II counts
    waiver_signed: bool = True
    # Whether the rating itself has arrived. A rater named in the portal is `False` (and
    # `rated_on` the day they were named) until their rating comes through its link; then
    # `True`, dated the day received. UNSET is never encoded: a rating entered by staff and
    # every earlier event encode, and so commit, byte for byte as before, and count as
    # received as they always did. Only the node sets it (the JSON API has no such field).
    received: bool | msgspec.UnsetType = msgspec.UNSET


class ExamResult(msgspec.Struct, frozen=True, kw_only=True):
    """The written exam (levels III and IV)."""

    taken_on: dt.date
    passed: bool
    score: Annotated[float, msgspec.Meta(ge=0)] | None = None


class Membership(msgspec.Struct, frozen=True, kw_only=True):
    """Membership in this or any other infant mental health association."""

    association: str
    valid_through: dt.date


class SignedText(msgspec.Struct, frozen=True, kw_only=True):
    """A text the applicant signed (the Code of Ethics, the Endorsement Agreement): which
    text and version, the SHA-256 of its exact bytes, who signed it and when (issue 12)."""

    document: str  # e.g. "code_of_ethics", "endorsement_agreement"
    version: str
    sha256: str  # hex digest of the text's bytes, so the commitment pins the wording
    signed_by: str  # the applicant's account id
    signed_name: str  # the name they typed as their signature
    signed_at: dt.datetime


class DocumentDigest(msgspec.Struct, frozen=True, kw_only=True):
    """A document the evidence rests on: its kind and the SHA-256 of its bytes. The bytes stay
    in the node's private document storage; this digest, inside the private evidence, is
    covered by the entry's salted commitment like the rest."""

    kind: str
    sha256: str


class ApplicationEvidence(msgspec.Struct, frozen=True, kw_only=True):
    """Everything an application holds; each submission replaces the previous whole value."""

    degrees: tuple[Degree, ...] = ()
    trainings: tuple[Training, ...] = ()
    work: tuple[WorkExperience, ...] = ()
    rsc: tuple[RscHours, ...] = ()
    ratings: tuple[Rating, ...] = ()
    code_of_ethics_signed: bool = False
    agreement_signed: bool = False
    memberships: tuple[Membership, ...] = ()
    fee_paid: bool = False
    exam: ExamResult | None = None
    vetted_rater_ids: tuple[str, ...] = ()  # filled from RaterVetted events, not by applicants
    # The texts signed in the portal. UNSET is never encoded, so evidence without signatures
    # (staff intake, every earlier event) encodes, and so commits, byte for byte as before.
    signed_texts: tuple[SignedText, ...] | msgspec.UnsetType = msgspec.UNSET
    # The documents' digests, filled from the node's document records (never from a client);
    # UNSET likewise, so evidence without documents encodes as before.
    documents: tuple[DocumentDigest, ...] | msgspec.UnsetType = msgspec.UNSET


class RenewalEvidence(msgspec.Struct, frozen=True, kw_only=True):
    """What a holder documents for one annual renewal cycle."""

    trainings: tuple[Training, ...] = ()
    rsc: tuple[RscHours, ...] = ()
    memberships: tuple[Membership, ...] = ()
    provides_rsc: bool = False
