"""The portal's errors: one root under the edge's, each naming the form field it is about."""

from __future__ import annotations

from federation_api.errors import EdgeError


class PortalError(EdgeError):
    """A portal action refused; `field` is the form input the message belongs next to."""

    def __init__(self, message: str, *, field: str = "", rule: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule


class NotYours(PortalError):
    """The record does not exist or belongs to another account: the two answer alike (404),
    so an id guessed from outside learns nothing."""
