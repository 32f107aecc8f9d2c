"""Why a rating request, a rating or a waiver could not be recorded."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from federation_api.errors import EdgeError


class RatingError(EdgeError):
    """The root of the ratings' errors."""


class InvalidRating(RatingError):
    """The rating form's fields did not parse; `errors` names each field and what is wrong."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {text}" for field, text in errors))


class LinkState(StrEnum):
    """Why a rating link does not open the form."""

    UNKNOWN = "unknown"  # no link has this token: mistyped, altered or made up
    USED = "used"  # the rating was submitted through it
    EXPIRED = "expired"
    SUPERSEDED = "superseded"  # a newer link was sent for the same rating


class LinkRefused(RatingError):
    """The link is not live; `state` says why and `at` when (used, expired, superseded)."""

    def __init__(self, state: LinkState, at: dt.datetime | None = None) -> None:
        self.state = state
        self.at = at
        super().__init__(f"rating link {state.value}")


class RequestRefused(RatingError):
    """A rating request cannot be sent (already rated, no address, not a rater of it)."""
