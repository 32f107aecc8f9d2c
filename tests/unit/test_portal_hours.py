"""The portal's pure checks: a typed hours entry, the renewal's confirmation form, the
evidence built from the log, and the signed text's hash."""

from __future__ import annotations

import datetime as dt
import hashlib

from federation_api.portal.hours_log import HoursEntry, HoursKind, LoggedHours, parse_entry
from federation_api.portal.renewal import CODE_OF_ETHICS, evidence_from, parse_confirmation

TODAY = dt.date(2026, 6, 1)
AT = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


def entry(**changes: str) -> dict[str, str]:
    return {"kind": "training", "done_on": "2026-05-02", "hours": "1.5",
            "provider": "  AK   AIMH ", "description": ""} | changes


def test_a_good_entry_is_read_with_its_spaces_folded() -> None:
    parsed, errors = parse_entry(entry(hours="2,5", rsc_topic="on"), today=TODAY)
    assert errors == [] and parsed == HoursEntry(
        kind=HoursKind.TRAINING, done_on=dt.date(2026, 5, 2), hours=2.5, provider="AK AIMH",
        description="", rsc_topic=True)
    rsc, _ = parse_entry(entry(kind="rsc", rsc_topic="on"), today=TODAY)
    assert rsc is not None and not rsc.rsc_topic  # only training is "about RS/C"


def test_each_bad_input_names_its_field() -> None:
    for changes, field in (({"hours": "-1"}, "hours"), ({"hours": "0"}, "hours"),
                           ({"hours": "abc"}, "hours"), ({"hours": "inf"}, "hours"),
                           ({"hours": "201"}, "hours"), ({"hours": ""}, "hours"),
                           ({"done_on": "2026-06-02"}, "done_on"),
                           ({"done_on": "1999-12-31"}, "done_on"),
                           ({"done_on": "yesterday"}, "done_on"), ({"done_on": ""}, "done_on"),
                           ({"kind": "nap"}, "kind"), ({"provider": " "}, "provider"),
                           ({"provider": "a\x00b"}, "provider"),
                           ({"description": "x" * 201}, "description")):
        parsed, errors = parse_entry(entry(**changes), today=TODAY)
        assert parsed is None and [f for f, _ in errors] == [field], changes


def confirmation(**changes: str) -> dict[str, str]:
    return {"membership_association": "AK", "membership_valid_through": "2027-12-31",
            "membership_confirmed": "on", "ethics_version": CODE_OF_ETHICS.version,
            "ethics_signed": "on", "signed_name": "Sam  Okafor"} | changes


def test_the_confirmation_needs_the_membership_and_the_signature() -> None:
    good, errors = parse_confirmation(confirmation(), today=TODAY)
    assert errors == [] and good is not None and good.signed_name == "Sam Okafor"
    assert good.membership.valid_through == dt.date(2027, 12, 31) and not good.provides_rsc
    for changes, field in (({"membership_confirmed": ""}, "membership_confirmed"),
                           ({"membership_valid_through": "2026-05-31"},
                            "membership_valid_through"),
                           ({"membership_association": ""}, "membership_association"),
                           ({"ethics_signed": ""}, "ethics_signed"),
                           ({"ethics_version": "old"}, "ethics_signed"),
                           ({"signed_name": ""}, "signed_name")):
        parsed, errors = parse_confirmation(confirmation(**changes), today=TODAY)
        assert parsed is None and [f for f, _ in errors] == [field], changes


def test_the_evidence_is_the_logged_hours() -> None:
    logged = [LoggedHours("hrs_1", "acc", HoursEntry(HoursKind.TRAINING, dt.date(2026, 3, 1),
                                                     6.0, "AK AIMH", "Attachment"), AT),
              LoggedHours("hrs_2", "acc", HoursEntry(HoursKind.RSC, dt.date(2026, 4, 1), 1.5,
                                                     "Dana Mentor", ""), AT)]
    evidence = evidence_from(logged, membership=None, provides_rsc=True)
    assert [(t.title, t.hours) for t in evidence.trainings] == [("Attachment (AK AIMH)", 6.0)]
    assert [(r.provider_id, r.hours, r.started_on, r.ended_on) for r in evidence.rsc] == [
        ("Dana Mentor", 1.5, dt.date(2026, 4, 1), dt.date(2026, 4, 1))]
    assert evidence.provides_rsc and evidence.memberships == ()


def test_the_signed_text_is_named_by_the_hash_of_its_words() -> None:
    assert CODE_OF_ETHICS.sha256 == hashlib.sha256(CODE_OF_ETHICS.text.encode()).hexdigest()
    assert len(CODE_OF_ETHICS.paragraphs) >= 2
    assert not any("\n\n" in p or p != p.strip() for p in CODE_OF_ETHICS.paragraphs)
