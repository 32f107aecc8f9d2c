"""Projection errors: an entry the read models cannot apply, named by association and seq.

Entries reach the projections already verified, so each of these means a ledger that the
domain could not have written (or a projection bug). They fail loudly and roll the batch back:
skipping an entry would make this node's views differ from every other node's.
"""

from __future__ import annotations

from ledger.errors import LocatedError


class ProjectionError(LocatedError):
    """Root of every projection error; `association` and `seq` name the entry concerned."""


class ProjectionGap(ProjectionError):
    """Entries do not continue the tracked position (one is missing or two disagree)."""


class UnhandledEvent(ProjectionError):
    """The ledger knows the event type but the projections have no rule for it."""


class MalformedPayload(ProjectionError):
    """A payload lacks a field or holds a value the projections cannot read."""


class UnknownAggregate(ProjectionError):
    """An event names an endorsement or application that was never created."""


class DuplicateAggregate(ProjectionError):
    """A creation event names an endorsement or application that already exists."""


class ForeignAggregate(ProjectionError):
    """An association's entry would change another association's endorsement or application."""
