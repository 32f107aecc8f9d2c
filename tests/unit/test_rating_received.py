"""Only ratings received count (issue 12): a rater named in the portal is awaited
(`Rating.received=False`) until their rating arrives, while a rating without the field (staff
intake, every earlier event) encodes byte for byte as before and counts as it always did."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
import pydantic
import pytest

from domain.evidence import ApplicationEvidence, Rating
from domain.levels import Level, RaterRole
from domain.lookup import NoEndorsements
from domain.requirements import evaluate_application
from federation_api.portal import raters
from federation_api.ratings.evidence import evidence_with_received, received_kept
from federation_api.ratings.store import RatingRequest
from federation_api.web.schemas import ApplicationEvidenceIn
from ledger.codec import encode

NAMED = dt.date(2026, 11, 2)
SAM = Rating(rater_id="AK-P-0100", rater_name="Sam Rivera", role=RaterRole.CURRENT_SUPERVISOR,
             rated_on=dt.date(2025, 11, 2))
# The encoding of this evidence by the code before `Rating.received` existed (main before
# issue 12's raters): what its salted commitment on the ledger was computed from.
OLD_ENCODING = (
    b"\x8b\xb0agreement_signed\xc2\xb5code_of_ethics_signed\xc3\xa7degrees\x90\xa4exam\xc0"
    b"\xa8fee_paid\xc2\xabmemberships\x90\xa7ratings\x91\x86\xa8rated_on\xaa2025-11-02\xac"
    b"rater_degree\xc0\xa8rater_id\xa9AK-P-0100\xaarater_name\xaaSam Rivera\xa4role\xb2"
    b"current_supervisor\xadwaiver_signed\xc3\xa3rsc\x90\xa9trainings\x90\xb0"
    b"vetted_rater_ids\x90\xa4work\x90")


def test_a_rating_without_the_field_encodes_as_before() -> None:
    evidence = ApplicationEvidence(ratings=(SAM,), code_of_ethics_signed=True)
    assert encode(evidence) == OLD_ENCODING
    assert b"received" not in encode(evidence)
    # And the old bytes decode to a rating that counts as received.
    decoded = msgspec.msgpack.decode(OLD_ENCODING, type=ApplicationEvidence)
    assert decoded == evidence and decoded.ratings[0].received is msgspec.UNSET


def test_an_awaited_rating_is_encoded_and_differs() -> None:
    awaited = msgspec.structs.replace(SAM, received=False)
    data = encode(ApplicationEvidence(ratings=(awaited,)))
    assert b"received\xc2" in data
    assert msgspec.msgpack.decode(data, type=ApplicationEvidence).ratings[0].received is False


def _three(received: tuple[bool | msgspec.UnsetType, ...]) -> ApplicationEvidence:
    roles = (RaterRole.CURRENT_SUPERVISOR, RaterRole.COLLEAGUE, RaterRole.PARENT_OR_RECIPIENT)
    ratings = tuple(Rating(rater_id=f"X-{n}", rater_name=f"Rater {n}", role=role,
                           rated_on=NAMED, received=r)
                    for n, (role, r) in enumerate(zip(roles, received, strict=True)))
    return ApplicationEvidence(ratings=ratings, vetted_rater_ids=("X-0", "X-1", "X-2"))


def _rating_codes(evidence: ApplicationEvidence) -> list[str]:
    return [u.code for u in evaluate_application(Level.IFA, None, evidence, NoEndorsements())
            if u.code.startswith("ratings.")]


@pytest.mark.parametrize("received", [(msgspec.UNSET,) * 3, (True,) * 3,
                                      (True, msgspec.UNSET, True)])
def test_ratings_received_or_entered_by_staff_count(
        received: tuple[bool | msgspec.UnsetType, ...]) -> None:
    assert _rating_codes(_three(received)) == []


def test_awaited_ratings_do_not_count() -> None:
    assert sorted(_rating_codes(_three((False, False, False)))) == [
        "ratings.count", "ratings.endorsed_rater", "ratings.roles"]
    # The supervisor has rated, the other two are awaited: the count is short, the roles met.
    unmet = evaluate_application(Level.IFA, None, _three((True, False, False)),
                                 NoEndorsements())
    count = [u for u in unmet if u.code.startswith("ratings.")]
    assert [u.code for u in count] == ["ratings.count"]
    assert "1 reference ratings received and 2 awaited" in count[0].reason


def test_an_awaited_rating_needs_no_waiver_yet_a_received_one_does() -> None:
    evidence = _three((True, True, False))
    unsigned = msgspec.structs.replace(evidence, ratings=tuple(
        msgspec.structs.replace(r, waiver_signed=False) for r in evidence.ratings))
    waivers = [u.field for u in evaluate_application(Level.IFA, None, unsigned,
                                                     NoEndorsements())
               if u.code == "ratings.waiver"]
    assert waivers == ["evidence.ratings[0].waiver_signed", "evidence.ratings[1].waiver_signed"]


def _request(rater_id: str, submitted: dt.datetime | None) -> RatingRequest:
    at = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
    return RatingRequest(request_id="r", application_id=uuid.uuid4(), rater_id=rater_id,
                         rater_name="x", recipient="x@example.org", requested_by="staff",
                         requested_at=at, links_sent=1, last_mailed_at=at, reminders=0,
                         answers=None, saved_at=None, submitted_at=submitted,
                         content_sha256=None)


def test_a_rating_that_arrives_is_marked_received_and_dated() -> None:
    came = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
    evidence = raters.with_ratings_known(raters.awaited(_three((msgspec.UNSET,) * 3)),
                                         [_request("X-0", came), _request("X-1", None)],
                                         waiver_signed=True)
    assert [(r.received, r.rated_on, r.waiver_signed) for r in evidence.ratings] == [
        (True, came.date(), True), (False, NAMED, True), (False, NAMED, True)]


def test_staff_entered_ratings_keep_the_field_unset_when_received() -> None:
    class App:
        evidence = _three((msgspec.UNSET, False, msgspec.UNSET))

    came = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
    changed = evidence_with_received(App(), [_request("X-0", came), _request("X-1", came)],  # type: ignore[arg-type]
                                     waiver_signed=True)
    assert changed is not None
    assert [r.received for r in changed.ratings] == [msgspec.UNSET, True, msgspec.UNSET]


def test_the_json_api_cannot_say_a_rating_was_received() -> None:
    rating = {"rater_id": "X", "rater_name": "X", "role": "colleague", "rated_on": "2026-01-01",
              "received": True}
    with pytest.raises(pydantic.ValidationError):
        ApplicationEvidenceIn.model_validate({"ratings": [rating]})


def test_the_portal_form_dates_a_named_rater_and_keeps_the_address_out() -> None:
    values = {"ratings-0-rater_id": "X-1", "ratings-0-role": "colleague",
              "ratings-0-rater_email": "lee@example.org", "ratings-3-rater_email": "nope"}
    out = raters.evidence_values(values, named_on=NAMED)
    assert out["ratings-0-rated_on"] == NAMED.isoformat()
    assert not any(k.endswith("rater_email") for k in out)
    assert raters.address_errors(values) == [("ratings-3-rater_email",
                                              "Enter one email address, e.g. name@example.org.")]
    assert raters.given_address(values, "X-1") == "lee@example.org"
    assert raters.given_address(values, "X-2") is None


def test_staff_editing_the_evidence_keeps_what_arrived_and_what_is_awaited() -> None:
    before = _three((True, False, msgspec.UNSET))
    after = _three((msgspec.UNSET,) * 3)  # the staff form sends no `received`
    kept = received_kept(before, after)
    assert [r.received for r in kept.ratings] == [True, False, msgspec.UNSET]
    assert received_kept(_three((msgspec.UNSET,) * 3), after) == after


def test_a_rater_named_by_name_alone_gets_a_stable_id() -> None:
    application = uuid.UUID("6f1c9d3e-2b1a-4c55-9a0e-2f4b8c1d7e90")
    values = {"ratings-0-rater_name": "Pat  Parent", "ratings-1-rater_id": "X-1",
              "ratings-1-rater_name": "Lee"}
    named = raters.with_rater_ids(values, application)
    assert named["ratings-1-rater_id"] == "X-1"
    assert named["ratings-0-rater_id"].startswith("AR-") and len(named["ratings-0-rater_id"]) == 11
    assert raters.with_rater_ids({"ratings-0-rater_name": "pat parent"}, application) == {
        "ratings-0-rater_name": "pat parent", "ratings-0-rater_id": named["ratings-0-rater_id"]}
    assert raters.with_rater_ids(values, uuid.uuid4())["ratings-0-rater_id"] != \
        named["ratings-0-rater_id"]
