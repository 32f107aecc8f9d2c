"""The association's private event store: an eventsourcing application with our codec.

It keeps every domain event with its full evidence (DESIGN invariant 7: only the ledger is
shared). Named `PrivateEventStore` so it is never mistaken for eventsourcing's own
`EventStore` (the class an Application holds as `events.events`).
"""

from __future__ import annotations

import uuid

from eventsourcing.application import Application

from ledger.codec import EventMapper


class PrivateEventStore(Application[uuid.UUID]):
    """The eventsourcing application that stores this association's private domain events."""

    name = "alliance"

    def construct_mapper(self) -> EventMapper:
        """Our msgspec mapper instead of eventsourcing's JSON transcoder."""
        return EventMapper()
