"""The one codec: entry encodings, the public/private split, and stored domain events.

Domain events for the properties are generated from the events' own type hints, so every
event type (and every field a future change adds) is covered without listing them here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import types
import typing
import uuid
from typing import Any

import msgspec
import pytest
from eventsourcing.domain import CanMutateAggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.application import Application
from domain.credentials import IssuedCredential, StatusList
from domain.endorsement import Endorsement
from domain.evidence import (
    ApplicationEvidence,
    Degree,
    ExamResult,
    Membership,
    Rating,
    RenewalEvidence,
    RscHours,
    Training,
    WorkExperience,
)
from domain.levels import DegreeKind, Level, RaterRole, WorkKind
from domain.lookup import NoEndorsements
from ledger.codec import (
    EVENT_TYPES,
    GENESIS_HASH,
    EntryBody,
    EventMapper,
    SignedEntry,
    decode_body,
    decode_payload,
    decode_signed,
    encode,
    encode_body,
    encode_signed,
    event_type_of,
    public_and_private,
    schema_version,
)
from ledger.errors import MalformedEntry

ENVELOPE = {"originator_id", "originator_version", "timestamp"}
NOW = dt.datetime(2027, 3, 1, 9, 30, tzinfo=dt.UTC)
DAY = dt.date(2027, 3, 1)

# -- strategies -------------------------------------------------------------------------------

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
UTC_DATETIMES = st.datetimes(timezones=st.just(dt.UTC))


def strategy_for(hint: Any) -> st.SearchStrategy[Any]:
    """Values of a type as the domain declares it (msgspec Structs, enums, optionals ...)."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:  # msgspec.Meta bounds: draw only values the type admits
        base, *metas = typing.get_args(hint)
        lower = next((m.ge for m in metas if isinstance(m, msgspec.Meta) and m.ge is not None),
                     None)
        if base is float:
            return st.floats(min_value=lower, allow_nan=False, allow_infinity=False)
        if base is int:
            return st.integers(min_value=lower, max_value=2**63 - 1)
        return strategy_for(base)
    if origin in (types.UnionType, typing.Union):
        return st.one_of(*(strategy_for(arg) for arg in typing.get_args(hint)))
    if origin is tuple:
        item, _ellipsis = typing.get_args(hint)
        return st.lists(strategy_for(item), max_size=3).map(tuple)
    simple: dict[Any, st.SearchStrategy[Any]] = {
        type(None): st.none(), bool: st.booleans(), int: INT64, str: st.text(max_size=12),
        float: st.floats(allow_nan=False), dt.datetime: UTC_DATETIMES, dt.date: st.dates(),
        uuid.UUID: st.uuids(), msgspec.UnsetType: st.just(msgspec.UNSET),
    }
    if hint in simple:
        return simple[hint]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return st.sampled_from(list(hint))
    if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
        hints = typing.get_type_hints(hint, include_extras=True)
        return st.builds(hint, **{name: strategy_for(hints[name])
                                  for name in hint.__struct_fields__})
    raise TypeError(f"no strategy for {hint!r}")


def event_strategy(cls: type[Any]) -> st.SearchStrategy[Any]:
    """Instances of one domain event class with every field drawn from its type."""
    hints = typing.get_type_hints(cls)
    hints["originator_id"] = uuid.UUID  # generic in eventsourcing's base class
    hints["originator_version"] = int
    return st.builds(cls, **{f.name: strategy_for(hints[f.name])
                             for f in dataclasses.fields(cls)})


ANY_EVENT = st.sampled_from(sorted(EVENT_TYPES)).flatmap(lambda n: event_strategy(EVENT_TYPES[n]))

ENTRY_BODIES = st.builds(
    EntryBody, association=st.text(max_size=10), seq=st.integers(1, 2**64 - 1),
    prev_hash=st.binary(min_size=32, max_size=32), recorded_at=UTC_DATETIMES,
    event_type=st.text(max_size=30), schema_version=INT64, aggregate_id=st.text(max_size=36),
    aggregate_version=INT64, payload=st.binary(max_size=64), commitment=st.binary(max_size=32),
    key_id=st.text(max_size=64))


def assert_same(a: Any, b: Any, path: str = "") -> None:
    """Equal values of identical types, all the way down (a StrEnum equals its str)."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, msgspec.Struct):
        for name in a.__struct_fields__:
            assert_same(getattr(a, name), getattr(b, name), f"{path}.{name}")
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, path
        if isinstance(a, dt.datetime):
            assert a.utcoffset() == b.utcoffset(), path


# -- entry bodies and signed entries ----------------------------------------------------------


@given(body=ENTRY_BODIES)
def test_entry_body_round_trips(body: EntryBody) -> None:
    encoded = encode_body(body)
    decoded = decode_body(encoded)
    assert decoded == body
    assert encode_body(decoded) == encoded


@given(body=st.binary(max_size=300), signature=st.binary(min_size=64, max_size=64))
def test_signed_entry_round_trips(body: bytes, signature: bytes) -> None:
    entry = SignedEntry(body=body, signature=signature)
    wire = encode_signed(entry)
    assert decode_signed(wire) == entry
    assert encode_signed(decode_signed(wire)) == wire


@given(body=st.binary(max_size=50),
       signature=st.binary(max_size=100).filter(lambda s: len(s) != 64))
def test_signed_entry_with_a_signature_not_64_bytes_is_malformed(body: bytes,
                                                                 signature: bytes) -> None:
    with pytest.raises(MalformedEntry):
        decode_signed(encode_signed(SignedEntry(body=body, signature=signature)))


@given(body=ENTRY_BODIES)
def test_body_encoding_is_deterministic(body: EntryBody) -> None:
    rebuilt = EntryBody(**{name: getattr(body, name) for name in reversed(body.__struct_fields__)})
    assert encode_body(body) == encode_body(rebuilt)
    # The same instant in another zone is the same entry.
    elsewhere = msgspec.structs.replace(
        body, recorded_at=body.recorded_at.astimezone(dt.timezone(dt.timedelta(hours=-9))))
    assert encode_body(elsewhere) == encode_body(body)


@given(mapping=st.dictionaries(st.text(max_size=8), INT64 | st.text(max_size=8),
                               max_size=8))
def test_map_encoding_does_not_depend_on_insertion_order(mapping: dict[str, Any]) -> None:
    assert encode(mapping) == encode(dict(reversed(list(mapping.items()))))


@given(body=ENTRY_BODIES)
def test_body_encoding_sorts_field_names(body: EntryBody) -> None:
    decoded = msgspec.msgpack.decode(encode_body(body))
    assert list(decoded) == sorted(decoded)


def test_golden_body_encoding_is_stable() -> None:
    # Entries signed today must hash the same in 2040: changing the encoding breaks chains.
    body = EntryBody(association="AK", seq=1, prev_hash=GENESIS_HASH,
                     recorded_at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
                     event_type="ApplicationWithdrawn", schema_version=1, aggregate_id="a",
                     aggregate_version=2, payload=encode({"reason": "moved"}), commitment=b"",
                     key_id="k")
    assert encode_body(body) == bytes.fromhex(
        "8b"  # map of 11 fields, names sorted, each value in its shortest form
        "ac6167677265676174655f6964 a161"  # aggregate_id: "a"
        "b16167677265676174655f76657273696f6e 02"  # aggregate_version: 2
        "ab6173736f63696174696f6e a2414b"  # association: "AK"
        "aa636f6d6d69746d656e74 c400"  # commitment: b""
        "aa6576656e745f74797065 b44170706c69636174696f6e57697468647261776e"  # event_type
        "a66b65795f6964 a16b"  # key_id: "k"
        "a77061796c6f6164 c40e 81a6726561736f6ea56d6f766564"  # payload: {"reason": "moved"}
        "a9707265765f68617368 c420" + "00" * 32 +  # prev_hash: genesis
        "ab7265636f726465645f6174 d6ff6b36ec80"  # recorded_at: timestamp32 1798761600
        "ae736368656d615f76657273696f6e 01"  # schema_version: 1
        "a3736571 01")  # seq: 1


# -- public and private fields ----------------------------------------------------------------

SECRET_FIELD_OF_STUDY = "Marine Biology of Cephalopods 8317"
SECRET_RATER_NAME = "Ottoline Quarrington-Vask"
SECRET_EMPLOYER = "Harbourview Family Clinic 5521"
SECRET_TRAINING = "Attachment Seminar 4471"


def private_evidence() -> ApplicationEvidence:
    """Evidence full of distinctive private strings, incomplete so that unmet reasons appear."""
    return ApplicationEvidence(
        degrees=(Degree(kind=DegreeKind.BACHELOR, field_of_study=SECRET_FIELD_OF_STUDY,
                        awarded_on=dt.date(2015, 6, 1), transcript_received=False),),
        trainings=(Training(title=SECRET_TRAINING, hours=3.5, completed_on=DAY),),
        work=(WorkExperience(kind=WorkKind.INFANT_FAMILY, employer=SECRET_EMPLOYER,
                             started_on=dt.date(2020, 1, 1), ended_on=dt.date(2020, 6, 30)),),
        ratings=(Rating(rater_id="rater-9", rater_name=SECRET_RATER_NAME,
                        role=RaterRole.COLLEAGUE, rated_on=DAY, waiver_signed=False),),
        exam=ExamResult(taken_on=DAY, passed=False, score=41.5))


def application_events() -> list[Any]:
    """The events of a real application: started, then evidence submitted."""
    application = Application.start(
        application_id=uuid.uuid4(), association="AK", person_id="p-1", family_name="Doe",
        given_name="Jane", level=Level.IFS, designation=None, started_on=DAY, now=NOW)
    unmet = application.submit_evidence(private_evidence(), NoEndorsements(), submitted_on=DAY,
                                        now=NOW + dt.timedelta(hours=1))
    assert unmet  # the incomplete evidence leaves reasons on the public ledger
    return list(application.collect_events())


def test_real_application_events_keep_evidence_out_of_the_public_payload() -> None:
    started, submitted = application_events()
    assert type(submitted) is Application.EvidenceSubmitted

    public, private = public_and_private(started)
    assert private is not None  # the applicant's date of birth (optional) is private
    assert set(msgspec.msgpack.decode(private)) == {"birth_date"}
    assert msgspec.msgpack.decode(public)["family_name"] == "Doe"

    public, private = public_and_private(submitted)
    fields = msgspec.msgpack.decode(public)
    assert set(fields) == {"unmet", "submitted_on"}
    assert private is not None
    assert set(msgspec.msgpack.decode(private)) == {"evidence"}
    for secret in (SECRET_FIELD_OF_STUDY, SECRET_RATER_NAME, SECRET_EMPLOYER, SECRET_TRAINING,
                   "rater-9"):
        assert secret.encode() not in public, secret
    assert SECRET_FIELD_OF_STUDY.encode() in private
    assert SECRET_RATER_NAME.encode() in private


@settings(max_examples=300)
@given(event=ANY_EVENT)
def test_public_payload_never_holds_a_private_field(event: Any) -> None:
    public, private = public_and_private(event)
    public_fields = msgspec.msgpack.decode(public)
    private_names = type(event).PRIVATE_FIELDS
    assert not set(public_fields) & private_names
    assert not set(public_fields) & ENVELOPE
    every_field = {f.name for f in dataclasses.fields(event)} - ENVELOPE
    assert set(public_fields) == every_field - private_names
    if private_names:
        assert private is not None
        assert set(msgspec.msgpack.decode(private)) == private_names
    else:
        assert private is None


def test_evidence_bearing_events_declare_their_evidence_private() -> None:
    # Guards the declarations invariant 7 depends on: any field holding evidence is private.
    for name, cls in EVENT_TYPES.items():
        hints = typing.get_type_hints(cls)
        evidence_fields = {f.name for f in dataclasses.fields(cls)
                           if hints[f.name] in (ApplicationEvidence, RenewalEvidence)}
        assert evidence_fields <= cls.PRIVATE_FIELDS, name


# -- payloads of entries -----------------------------------------------------------------------


def _body_for(event_type: str, version: int, payload: bytes) -> EntryBody:
    return EntryBody(association="AK", seq=7, prev_hash=GENESIS_HASH, recorded_at=NOW,
                     event_type=event_type, schema_version=version, aggregate_id="a",
                     aggregate_version=1, payload=payload, commitment=b"", key_id="k")


def test_decode_payload_returns_the_public_fields() -> None:
    _, submitted = application_events()
    public, _ = public_and_private(submitted)
    fields = decode_payload(_body_for("ApplicationEvidenceSubmitted", 1, public))
    assert fields == msgspec.msgpack.decode(public)


@pytest.mark.parametrize(("event_type", "version", "payload"), [
    pytest.param("NoSuchEvent", 1, encode({}), id="unknown_event_type"),
    pytest.param("applicationwithdrawn", 1, encode({}), id="event_type_in_other_case"),
    pytest.param("alliance:ApplicationWithdrawn", 1, encode({}), id="event_type_with_prefix"),
    pytest.param("", 1, encode({}), id="empty_event_type"),
    pytest.param("ApplicationWithdrawn", 2, encode({}), id="newer_schema_version"),
    pytest.param("ApplicationWithdrawn", 0, encode({}), id="schema_version_0"),
    pytest.param("ApplicationWithdrawn", 1, b"", id="empty_payload"),
    pytest.param("ApplicationWithdrawn", 1, b"\xc1", id="payload_not_msgpack"),
    pytest.param("ApplicationWithdrawn", 1, encode([1, 2]), id="payload_not_a_map"),
    pytest.param("ApplicationWithdrawn", 1, b"\x81\x01\xa1x", id="payload_key_not_text"),
    # msgspec raises UnicodeDecodeError, not DecodeError, for invalid UTF-8.
    pytest.param("ApplicationWithdrawn", 1, b"\x81\xa2\xff\xfe\x01", id="payload_key_not_utf8"),
])
def test_decode_payload_rejects_what_it_does_not_know(event_type: str, version: int,
                                                      payload: bytes) -> None:
    with pytest.raises(MalformedEntry) as info:
        decode_payload(_body_for(event_type, version, payload))
    assert info.value.seq == 7
    assert info.value.association == "AK"


def test_every_domain_event_class_has_its_own_event_type() -> None:
    # "Event" is each aggregate's base and "Created" eventsourcing's unused default.
    declared = [cls for aggregate in (Application, Endorsement)
                for name, cls in vars(aggregate).items()
                if isinstance(cls, type) and issubclass(cls, CanMutateAggregate)
                and name not in ("Event", "Created")]
    # The credential aggregates (issue 14) name their creation events "Created".
    declared += [StatusList.Created, StatusList.IndexAssigned, StatusList.Published,
                 IssuedCredential.Created]
    assert sorted(EVENT_TYPES.values(), key=str) == sorted(declared, key=str)
    # One name per class: an inherited TOPIC would make two classes share one event type.
    assert len({event_type_of(cls) for cls in declared}) == len(declared)
    for name, cls in EVENT_TYPES.items():
        assert event_type_of(cls) == name
        assert schema_version(cls) >= 1


# -- stored domain events ----------------------------------------------------------------------

MAPPER = EventMapper()


def _round_trip(event: Any) -> Any:
    stored = MAPPER.to_stored_event(event)
    # What the event store keeps: the topic and the state bytes travel as stored.
    copy = StoredEvent(originator_id=stored.originator_id,
                       originator_version=stored.originator_version,
                       topic=stored.topic, state=bytes(stored.state))
    return MAPPER.to_domain_event(copy)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
@settings(max_examples=40)
@given(data=st.data())
def test_event_mapper_round_trips_every_event_type(event_type: str, data: st.DataObject) -> None:
    event = data.draw(event_strategy(EVENT_TYPES[event_type]))
    decoded = _round_trip(event)
    assert decoded == event
    assert_same(decoded, event)


def test_event_mapper_round_trips_real_application_events() -> None:
    for event in application_events():
        assert_same(_round_trip(event), event)


def test_event_mapper_round_trips_nested_renewal_evidence_with_every_option_set() -> None:
    evidence = RenewalEvidence(
        trainings=(Training(title="t", hours=15.25, completed_on=DAY, rsc_topic=True,
                            didactic_rsc=True),),
        rsc=(RscHours(provider_id="p", hours=12.0, started_on=DAY, ended_on=DAY,
                      about_provided_rsc=2.5, post_bachelor=True, post_master=True,
                      while_serving_families=False, while_providing_rsc=True),),
        memberships=(Membership(association="MI", valid_through=DAY),), provides_rsc=True)
    event = Endorsement.Reinstated(originator_id=uuid.uuid4(), originator_version=5,
                                   timestamp=NOW, reinstated_on=DAY, valid_through=DAY,
                                   reason="committee", evidence=evidence)
    assert_same(_round_trip(event), event)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_stored_topic_is_the_explicit_stable_topic(event_type: str) -> None:
    cls = EVENT_TYPES[event_type]
    # Renaming or moving a class must not orphan stored events.
    assert get_topic(cls) == f"alliance:{event_type}"


def _withdrawn_state(**state: Any) -> StoredEvent:
    return StoredEvent(originator_id=uuid.uuid4(), originator_version=2,
                       topic="alliance:ApplicationWithdrawn", state=encode(state))


def test_stored_event_from_newer_software_is_refused() -> None:
    with pytest.raises(MalformedEntry, match="newer"):
        MAPPER.to_domain_event(_withdrawn_state(timestamp=NOW, withdrawn_on=DAY, reason="r",
                                                class_version=2))


def test_stored_event_that_is_not_msgpack_is_malformed() -> None:
    stored = StoredEvent(originator_id=uuid.uuid4(), originator_version=2,
                         topic="alliance:ApplicationWithdrawn", state=b"\xc1")
    with pytest.raises(MalformedEntry):
        MAPPER.to_domain_event(stored)


class Noted(Application.Event):
    """A test event at schema version 2: version 1 called its `note` field `remark`."""

    TOPIC = "alliance:test.Noted"  # without its own, it would inherit Application.Event's
    class_version = 2
    note: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["note"] = state.pop("remark")


def test_older_stored_events_are_upcast() -> None:
    stored = StoredEvent(originator_id=uuid.uuid4(), originator_version=3,
                         topic=get_topic(Noted), state=encode({"timestamp": NOW,
                                                               "remark": "old words"}))
    event = MAPPER.to_domain_event(stored)
    assert type(event) is Noted
    assert event.note == "old words"
    assert event.originator_version == 3
    # And the current version is stored with its version, so it is not upcast again.
    assert msgspec.msgpack.decode(MAPPER.to_stored_event(event).state)["class_version"] == 2
    assert _round_trip(event) == event
