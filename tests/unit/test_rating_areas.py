"""The rating form's areas and parsing: the eight areas of every level and the designation's
ninth at Level IV; a draft may leave answers open, a submission may not; every wrong field is
named at once; comments are kept as typed text."""

from __future__ import annotations

import pytest

from domain.levels import Designation, Level
from federation_api.ratings.areas import (
    ADMINISTRATION,
    AREAS,
    MAX_COMMENT,
    RESEARCH,
    areas_for,
    parse_answers,
)
from federation_api.ratings.errors import InvalidRating


def test_every_level_rates_the_eight_areas_and_level_four_its_designations_too() -> None:
    titles = [a.title for a in AREAS]
    assert titles == ["Theoretical Foundations", "Law, Regulation & Agency Policy",
                      "Systems Expertise", "Direct Service Skills", "Working with Others",
                      "Communicating", "Thinking", "Reflection"]
    for level in (Level.IFA, Level.IFS, Level.IMHS):
        assert areas_for(level, None) == AREAS
    assert areas_for(Level.IMHM, Designation.CLINICAL) == AREAS
    assert areas_for(Level.IMHM, Designation.RESEARCH_FACULTY) == (*AREAS, RESEARCH)
    assert areas_for(Level.IMHM, Designation.POLICY) == (*AREAS, ADMINISTRATION)


def test_a_draft_may_be_partial_and_a_submission_must_be_whole() -> None:
    draft = parse_answers({"thinking-score": "3"}, AREAS, final=False)
    assert draft.areas["thinking"].score == "3" and draft.areas["reflection"].score == ""
    assert not draft.complete()
    with pytest.raises(InvalidRating) as refused:
        parse_answers({"thinking-score": "3"}, AREAS, final=True)
    fields = [f for f, _ in refused.value.errors]
    assert "relationship" in fields and "reflection-score" in fields
    assert "thinking-score" not in fields
    whole = {"relationship": "colleague", **{f"{a.code}-score": "not_observed" for a in AREAS}}
    assert parse_answers(whole, AREAS, final=True).complete()


def test_every_wrong_field_is_named_and_comments_stay_text() -> None:
    with pytest.raises(InvalidRating) as refused:
        parse_answers({"relationship": "best_friend", "years_known": "-1",
                       "thinking-score": "9", "reflection-comment": "x" * (MAX_COMMENT + 1),
                       "overall": "y" * (MAX_COMMENT + 1)}, AREAS, final=False)
    assert [f for f, _ in refused.value.errors] == [
        "relationship", "years_known", "thinking-score", "reflection-comment", "overall"]
    markup = parse_answers({"thinking-comment": "<b>bold</b>\r\nline"}, AREAS, final=False)
    assert markup.areas["thinking"].comment == "<b>bold</b>\nline"
