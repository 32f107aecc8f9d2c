"""Endorsement levels, Level IV designations, and the vocabularies evidence uses."""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    """The four endorsement levels (codes as the Alliance publishes them)."""

    IFA = "IFA"  # I   Infant Family Associate
    IFS = "IFS"  # II  Infant Family Specialist
    IMHS = "IMHS"  # III Infant Mental Health Specialist
    IMHM = "IMHM"  # IV  Infant Mental Health Mentor

    @property
    def numeral(self) -> int:
        """1 for IFA up to 4 for IMHM; used for 'holds at least level N' rules."""
        return _NUMERALS[self]

    @property
    def title(self) -> str:  # type: ignore[override]
        """Full published title of the level."""
        return _TITLES[self]

    @property
    def requires_exam(self) -> bool:
        """Levels III and IV require a passed written exam."""
        return self in (Level.IMHS, Level.IMHM)


_NUMERALS = {Level.IFA: 1, Level.IFS: 2, Level.IMHS: 3, Level.IMHM: 4}
_TITLES = {
    Level.IFA: "Infant Family Associate",
    Level.IFS: "Infant Family Specialist",
    Level.IMHS: "Infant Mental Health Specialist",
    Level.IMHM: "Infant Mental Health Mentor",
}


class Designation(StrEnum):
    """Level IV designation; Level I-III endorsements carry none."""

    CLINICAL = "C"
    POLICY = "P"
    RESEARCH_FACULTY = "RF"


class DegreeKind(StrEnum):
    """Education credentials that count toward a level."""

    CDA = "cda"  # Child Development Associate credential
    ASSOCIATE = "associate"
    BACHELOR = "bachelor"
    MASTER = "master"
    DOCTORATE = "doctorate"
    UNIVERSITY_CERTIFICATE = "university_certificate"  # IMH university certificate programme
    POSTGRADUATE_SPECIALISATION = "postgraduate_specialisation"


class WorkKind(StrEnum):
    """What a period of work experience consisted of."""

    INFANT_FAMILY = "infant_family"  # promoting infant mental health with families
    IMH_INFANT_AND_PARENT = "imh_infant_and_parent"  # direct IMH work with infant and parent
    GRADUATE_INTERNSHIP = "graduate_internship"
    RSC_PROVISION = "rsc_provision"  # providing reflective supervision/consultation
    POLICY_LEADERSHIP = "policy_leadership"
    UNIVERSITY_TEACHING_RESEARCH = "university_teaching_research"
    EARLY_CHILDHOOD = "early_childhood"


class RaterRole(StrEnum):
    """The relationship of a reference rater to the applicant."""

    CURRENT_SUPERVISOR = "current_supervisor"
    PROGRAM_SUPERVISOR = "program_supervisor"
    RSC_PROVIDER = "rsc_provider"
    RSC_RECIPIENT = "rsc_recipient"  # receives RS/C from the applicant (IV-C)
    SUPERVISEE = "supervisee"
    COLLEAGUE = "colleague"
    PARENT_OR_RECIPIENT = "parent_or_recipient"
    TEACHER = "teacher"
    TRAINER = "trainer"
    CONSULTANT = "consultant"
    CDA_MENTOR = "cda_mentor"
    BOARD_MEMBER = "board_member"
    DEPARTMENT_CHAIR = "department_chair"
    STUDENT = "student"


class ReviewDecision(StrEnum):
    """What an application reviewer may decide."""

    APPROVE = "approve"
    RETURN_FOR_MORE = "return_for_more"
    DENY = "deny"
    APPROVE_FOR_EXAM = "approve_for_exam"


class EndorsementStatus(StrEnum):
    """Recorded status of an endorsement (what the ledger says happened)."""

    ACTIVE = "active"
    LAPSED = "lapsed"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    RELINQUISHED = "relinquished"
    TRANSFERRED = "transferred"
