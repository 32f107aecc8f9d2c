"""The StatusList aggregate: indexes assigned once, versions published in sequence."""

from __future__ import annotations

import datetime as dt

import pytest
from eventsourcing.domain import Aggregate

from domain.credentials import MIN_LIST_SIZE, StatusList, StatusPurpose, status_list_uuid
from domain.errors import InvalidCommand
from ledger.codec import event_type_of, public_and_private

NOW = dt.datetime(2026, 1, 15, 10, 0, tzinfo=dt.UTC)
HASH = "ab" * 32


def new_list(size: int = MIN_LIST_SIZE) -> StatusList:
    return StatusList.create(association="AK", purpose=StatusPurpose.SUSPENSION, list_number=1,
                             size=size, now=NOW)


def replayed(status_list: StatusList) -> StatusList:
    events = status_list.collect_events()
    aggregate: Aggregate | None = None
    for event in events:
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, StatusList)
    return aggregate


def test_a_list_is_created_with_its_size_and_a_stable_id() -> None:
    status_list = new_list()
    assert status_list.id == status_list_uuid("AK", StatusPurpose.SUSPENSION, 1)
    assert status_list.id != status_list_uuid("AK", StatusPurpose.REVOCATION, 1)
    assert (status_list.size, status_list.free, status_list.published_version) == (
        MIN_LIST_SIZE, MIN_LIST_SIZE, 0)


@pytest.mark.parametrize(("changes", "rule"), [
    ({"size": MIN_LIST_SIZE - 8}, "status_list.size"),
    ({"size": MIN_LIST_SIZE + 4}, "status_list.size"),
    ({"list_number": 0}, "status_list.number"),
    ({"association": " "}, "required"),
])
def test_bad_lists_are_not_created(changes: dict[str, object], rule: str) -> None:
    arguments: dict[str, object] = {"association": "AK", "purpose": StatusPurpose.REVOCATION,
                                    "list_number": 1, "size": MIN_LIST_SIZE, "now": NOW}
    arguments.update(changes)
    with pytest.raises(InvalidCommand) as refused:
        StatusList.create(**arguments)  # type: ignore[arg-type]
    assert refused.value.rule == rule


def test_an_index_is_assigned_at_most_once() -> None:
    status_list = new_list()
    status_list.assign_index(endorsement_id="AK-1", credential_id="urn:c:1", index=5, now=NOW)
    with pytest.raises(InvalidCommand) as refused:
        status_list.assign_index(endorsement_id="AK-2", credential_id="urn:c:2", index=5,
                                 now=NOW)
    assert refused.value.rule == "status_list.index_taken"
    assert status_list.is_assigned(5) and not status_list.is_assigned(6)
    assert status_list.free == MIN_LIST_SIZE - 1


def test_a_credential_holds_one_index_per_list() -> None:
    status_list = new_list()
    status_list.assign_index(endorsement_id="AK-1", credential_id="urn:c:1", index=5, now=NOW)
    with pytest.raises(InvalidCommand) as refused:
        status_list.assign_index(endorsement_id="AK-1", credential_id="urn:c:1", index=6,
                                 now=NOW)
    assert refused.value.rule == "status_list.credential_listed"


@pytest.mark.parametrize("index", [-1, MIN_LIST_SIZE, True])
def test_an_index_outside_the_list_is_refused(index: int) -> None:
    with pytest.raises(InvalidCommand) as refused:
        new_list().assign_index(endorsement_id="AK-1", credential_id="urn:c:1", index=index,
                                now=NOW)
    assert refused.value.rule == "status_list.index_range"


def test_versions_are_published_in_sequence() -> None:
    status_list = new_list()
    status_list.assign_index(endorsement_id="AK-1", credential_id="urn:c:1", index=5, now=NOW)
    status_list.publish(list_version=1, list_hash=HASH, set_bits_count=0, now=NOW)
    status_list.publish(list_version=2, list_hash="cd" * 32, set_bits_count=1, now=NOW)
    for version in (1, 2, 4):
        with pytest.raises(InvalidCommand) as refused:
            status_list.publish(list_version=version, list_hash=HASH, set_bits_count=0, now=NOW)
        assert refused.value.rule == "status_list.version_sequence"
    assert (status_list.published_version, status_list.published_hash) == (2, "cd" * 32)


@pytest.mark.parametrize(("list_hash", "count", "rule"), [
    ("AB" * 32, 0, "status_list.hash"),
    ("ab" * 31, 0, "status_list.hash"),
    (HASH, 2, "status_list.set_bits"),  # more set bits than assigned indexes
    (HASH, -1, "status_list.set_bits"),
])
def test_a_publication_must_name_a_hash_and_a_plausible_count(list_hash: str, count: int,
                                                              rule: str) -> None:
    status_list = new_list()
    status_list.assign_index(endorsement_id="AK-1", credential_id="urn:c:1", index=5, now=NOW)
    with pytest.raises(InvalidCommand) as refused:
        status_list.publish(list_version=1, list_hash=list_hash, set_bits_count=count, now=NOW)
    assert refused.value.rule == rule


def test_replaying_the_events_rebuilds_the_list() -> None:
    status_list = new_list()
    status_list.assign_index(endorsement_id="AK-1", credential_id="urn:c:1", index=5, now=NOW)
    status_list.publish(list_version=1, list_hash=HASH, set_bits_count=1, now=NOW)
    again = replayed(status_list)
    assert (again.assigned, again.credentials) == ({5: "urn:c:1"}, {"urn:c:1": 5})
    assert (again.published_version, again.published_hash) == (1, HASH)


def test_events_have_stable_topics_and_nothing_private() -> None:
    status_list = new_list()
    status_list.assign_index(endorsement_id="AK-1", credential_id="urn:c:1", index=5, now=NOW)
    status_list.publish(list_version=1, list_hash=HASH, set_bits_count=1, now=NOW)
    events = status_list.collect_events()
    assert [event_type_of(type(e)) for e in events] == [
        "StatusListCreated", "CredentialIndexAssigned", "StatusListPublished"]
    for event in events:
        _, private = public_and_private(event)
        assert private is None
