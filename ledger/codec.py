"""The one codec: msgspec encoders and decoders for everything signed, stored or sent.

Ledger entries are MessagePack. What is signed is the encoded `EntryBody` bytes; the wire form
`SignedEntry` carries those bytes untouched next to the signature, so a verifier checks the
signature over exactly the bytes it received and decodes only afterwards.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
import uuid
from typing import Annotated, Any, ClassVar, TypeVar

import msgspec
from eventsourcing.domain import CanMutateAggregate
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic

from ledger.errors import MalformedEntry

_T = TypeVar("_T")
# msgspec raises UnicodeDecodeError (not DecodeError) for invalid UTF-8 in strings and keys:
# any bytes from outside must end as MalformedEntry, never as an unexpected exception.
_DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError)
# Times in anything signed must carry their offset; a naive time cannot be compared with a
# key's validity window, and one time must have one encoding.
AwareDatetime = Annotated[dt.datetime, msgspec.Meta(tz=True)]
GENESIS_HASH = bytes(32)
TOPIC_PREFIX = "alliance:"
# Fields every eventsourcing event has; the entry body carries them in its own fields.
_ENVELOPE_FIELDS = frozenset({"originator_id", "originator_version", "timestamp"})


class EntryBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The signed part of a ledger entry."""

    association: str
    seq: int
    prev_hash: bytes
    recorded_at: AwareDatetime
    event_type: str
    schema_version: int
    aggregate_id: str
    aggregate_version: int
    payload: bytes  # MessagePack map of the event's public fields, keys sorted
    commitment: bytes  # salted SHA-256 of the private fields; empty when there are none
    key_id: str


class SignedEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Wire form: the exact signed body bytes and the Ed25519 signature over them."""

    body: bytes
    signature: bytes


_encoder = msgspec.msgpack.Encoder(order="sorted")
_body_decoder = msgspec.msgpack.Decoder(EntryBody)
_signed_decoder = msgspec.msgpack.Decoder(SignedEntry)
_payload_decoder = msgspec.msgpack.Decoder(dict[str, Any])


def encode(value: object) -> bytes:
    """Canonical MessagePack (map keys sorted) of any supported value."""
    return _encoder.encode(value)


def encode_body(body: EntryBody) -> bytes:
    """Canonical bytes of an entry body: the bytes that get signed and hashed."""
    return _encoder.encode(body)


def encode_signed(entry: SignedEntry) -> bytes:
    """Wire bytes of a signed entry."""
    return _encoder.encode(entry)


def decode_signed(wire: bytes) -> SignedEntry:
    """Parse wire bytes into body bytes and signature (no trust implied)."""
    try:
        entry = _signed_decoder.decode(wire)
    except _DECODE_ERRORS as e:
        raise MalformedEntry(f"not a signed entry: {e}") from e
    if len(entry.signature) != 64:
        raise MalformedEntry("signature must be 64 bytes")
    if _encoder.encode(entry) != wire:
        # One entry, one byte string: a re-framed copy must not pass as another message.
        raise MalformedEntry("signed entry is not in canonical encoding")
    return entry


def decode_body(body: bytes) -> EntryBody:
    """Parse signed body bytes; callers verify the signature first."""
    try:
        decoded = _body_decoder.decode(body)
    except _DECODE_ERRORS as e:
        raise MalformedEntry(f"not an entry body: {e}") from e
    if encode_body(decoded) != body:
        # Only one encoding of a body is valid, so two byte strings never mean one entry.
        raise MalformedEntry("entry body is not in canonical encoding")
    if len(decoded.prev_hash) != 32 or decoded.seq < 1:
        raise MalformedEntry("prev_hash must be 32 bytes and seq >= 1")
    return decoded


def decode_stored(wire: bytes) -> EntryBody:
    """The body of an entry read back from our own store, where only verified entries are
    written: the signature and canonical-form checks were done once, at ingestion."""
    try:
        return _body_decoder.decode(_signed_decoder.decode(wire).body)
    except _DECODE_ERRORS as e:
        raise MalformedEntry(f"stored entry does not decode: {e}") from e


def decode_payload(body: EntryBody) -> dict[str, Any]:
    """The public fields of an entry, after checking its event type and schema are known."""
    event_class = EVENT_TYPES.get(body.event_type)
    if event_class is None:
        raise MalformedEntry(f"unknown event type {body.event_type!r}",
                             association=body.association, seq=body.seq)
    current = schema_version(event_class)
    if not 1 <= body.schema_version <= current:
        raise MalformedEntry(f"unknown schema version {body.schema_version} of "
                             f"{body.event_type}", association=body.association, seq=body.seq)
    try:
        payload = _payload_decoder.decode(body.payload)
    except _DECODE_ERRORS as e:
        raise MalformedEntry(f"payload: {e}", association=body.association, seq=body.seq) from e
    # Entries are immutable, so an entry written under an older schema is upcast on reading,
    # by the same upcast_vN_vN+1 functions that upcast stored events (which must therefore
    # not rely on private fields being present).
    for version in range(body.schema_version, current):
        getattr(event_class, f"upcast_v{version}_v{version + 1}")(payload)
    return payload


# -- domain events ---------------------------------------------------------------------------


def event_type_of(event_class: type[object]) -> str:
    """The stable public name of an event class: its explicit topic without the prefix."""
    topic = getattr(event_class, "TOPIC", "")
    if not topic.startswith(TOPIC_PREFIX):
        raise TypeError(f"{event_class} has no explicit 'alliance:' topic")
    return str(topic[len(TOPIC_PREFIX):])


def schema_version(event_class: type[object]) -> int:
    """Schema version of an event class (eventsourcing's class_version, default 1)."""
    return int(getattr(event_class, "class_version", 1))


def _event_classes() -> dict[str, type[object]]:
    from domain.application import Application
    from domain.credentials import IssuedCredential, StatusList
    from domain.endorsement import Endorsement

    found: dict[str, type[object]] = {}
    for aggregate in (Application, Endorsement, StatusList, IssuedCredential):
        for value in vars(aggregate).values():
            if (isinstance(value, type) and issubclass(value, CanMutateAggregate)
                    and not getattr(value, "TOPIC", "").endswith(".Event")):
                found[event_type_of(value)] = value
    return found


EVENT_TYPES: dict[str, type[object]] = _event_classes()


def public_and_private(event: object) -> tuple[bytes, bytes | None]:
    """Split an event into its public payload bytes and its private fields' bytes (or None)."""
    private_names: frozenset[str] = getattr(event, "PRIVATE_FIELDS", frozenset())
    public: dict[str, Any] = {}
    private: dict[str, Any] = {}
    for name, value in vars(event).items():
        if name in _ENVELOPE_FIELDS:
            continue
        (private if name in private_names else public)[name] = value
    return _encoder.encode(public), (_encoder.encode(private) if private else None)


class EventMapper(Mapper[uuid.UUID]):
    """Stores eventsourcing domain events with msgspec, typed by each event class's fields.

    Replaces eventsourcing's JSON transcoding so that the evidence values (msgspec Structs)
    round-trip typed, and so that the project has one codec. Unknown topics fail loudly.
    """

    UPCASTS: ClassVar[dict[str, Any]] = {}

    def __init__(self, transcoder: Transcoder | None = None) -> None:
        super().__init__(transcoder=transcoder or _NoTranscoder())

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        """Encode the event's state (without id and version, which the record holds)."""
        state = {k: v for k, v in vars(domain_event).items()
                 if k not in ("originator_id", "originator_version")}
        state["class_version"] = schema_version(type(domain_event))
        return StoredEvent(originator_id=domain_event.originator_id,
                           originator_version=domain_event.originator_version,
                           topic=get_topic(type(domain_event)),
                           state=_encoder.encode(state))

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        """Decode a stored event into its class, upcasting older schema versions."""
        cls = resolve_topic(stored_event.topic)
        try:
            state = _payload_decoder.decode(stored_event.state)
        except _DECODE_ERRORS as e:
            raise MalformedEntry(f"stored event {stored_event.topic}: {e}") from e
        from_version = state.pop("class_version", 1)
        to_version = schema_version(cls)
        if from_version > to_version:
            raise MalformedEntry(f"stored event {stored_event.topic} has schema version "
                                 f"{from_version}, newer than this software ({to_version})")
        while from_version < to_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        state["originator_id"] = stored_event.originator_id
        state["originator_version"] = stored_event.originator_version
        values = msgspec.convert(state, _state_type(cls), strict=False)
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", dict(vars(values)))
        return event


def _state_type(cls: type[Any]) -> type[Any]:
    """A plain dataclass with the event's fields, for msgspec to decode into (cached)."""
    cached = _STATE_TYPES.get(cls)
    if cached is None:
        hints = typing.get_type_hints(cls)
        hints["originator_id"] = uuid.UUID  # generic TAggregateID in eventsourcing's base
        # A field added to an event with a default (a new optional field) keeps its default,
        # so events stored before the field existed still decode at the same schema version.
        fields = [(f.name, hints.get(f.name, Any), dataclasses.field(default=f.default))
                  if f.default is not dataclasses.MISSING else (f.name, hints.get(f.name, Any))
                  for f in dataclasses.fields(cls)]
        cached = dataclasses.make_dataclass(f"{cls.__name__}State", fields)
        _STATE_TYPES[cls] = cached
    return cached


_STATE_TYPES: dict[type[Any], type[Any]] = {}


class _NoTranscoder(Transcoder):
    """eventsourcing's Mapper wants a transcoder; ours encodes itself, so this is never used."""

    def encode(self, obj: Any) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError


# -- JSON for files people read (keyring, node config) ---------------------------------------

_json_encoder = msgspec.json.Encoder(order="sorted")


def encode_json(value: object) -> bytes:
    """Sorted, indented JSON for configuration and key files that people read."""
    return msgspec.json.format(_json_encoder.encode(value), indent=2) + b"\n"


_line_encoder = msgspec.json.Encoder(enc_hook=str)


def encode_json_line(value: object) -> bytes:
    """Compact JSON on one line (log records); values JSON cannot hold are written as text."""
    return _line_encoder.encode(value)


def decode_json(data: bytes, type_: type[_T]) -> _T:
    """Decode JSON into `type_`, validating it (parse, don't validate)."""
    try:
        return msgspec.json.decode(data, type=type_)
    except (*_DECODE_ERRORS, msgspec.ValidationError) as e:
        raise MalformedEntry(f"invalid {type_.__name__}: {e}") from e


def decode_canonical(data: bytes, type_: type[_T]) -> _T:
    """Decode MessagePack into `type_`, accepting only its canonical encoding."""
    try:
        value = msgspec.msgpack.decode(data, type=type_)
    except (*_DECODE_ERRORS, msgspec.ValidationError) as e:
        raise MalformedEntry(f"not a valid {type_.__name__}: {e}") from e
    if _encoder.encode(value) != data:
        raise MalformedEntry(f"{type_.__name__} is not in canonical encoding")
    return value


# -- backfill protocol ---------------------------------------------------------------------


class BackfillRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """'Entries of `association`, seq first..last (0: as many as you have)'."""

    association: str
    first: int
    last: int = 0


class BackfillReply(msgspec.Struct, frozen=True):
    """Entries the responder holds, verbatim, and its head seq for that association."""

    entries: tuple[bytes, ...]
    head: int
