"""An applicant's answer to a return keeps what only the association records on the
application (`portal.applying.association_records`): the portal's form has no field for a
transcript's arrival or the fee, so without this every changed answer would undo them."""

from __future__ import annotations

import datetime as dt

import msgspec

from domain.evidence import ApplicationEvidence, Degree
from domain.levels import DegreeKind
from federation_api.portal.applying import association_records

BACHELOR = Degree(kind=DegreeKind.BACHELOR, field_of_study="Early childhood education",
                  awarded_on=dt.date(2016, 5, 15))
MASTER = Degree(kind=DegreeKind.MASTER, field_of_study="Social work",
                awarded_on=dt.date(2019, 6, 1))
RECORDED = ApplicationEvidence(
    degrees=(msgspec.structs.replace(BACHELOR, transcript_received=True), MASTER),
    fee_paid=True)


def test_an_unchanged_degree_keeps_its_transcript_and_the_fee_stays_paid() -> None:
    answered = association_records(ApplicationEvidence(degrees=(BACHELOR, MASTER)), RECORDED)
    assert [d.transcript_received for d in answered.degrees] == [True, False]
    assert answered.fee_paid


def test_a_changed_degree_is_another_degrees_transcript() -> None:
    moved = Degree(kind=BACHELOR.kind, field_of_study=BACHELOR.field_of_study,
                   awarded_on=dt.date(2017, 5, 15))
    answered = association_records(ApplicationEvidence(degrees=(moved,)), RECORDED)
    assert not answered.degrees[0].transcript_received


def test_nothing_recorded_adds_nothing() -> None:
    evidence = ApplicationEvidence(degrees=(BACHELOR,))
    assert association_records(evidence, ApplicationEvidence()) == evidence
