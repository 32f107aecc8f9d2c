"""Domain errors: a rejected command raises one of these and records nothing."""

from __future__ import annotations


class DomainError(Exception):
    """Root of every domain rule violation."""

    def __init__(self, message: str, *, field: str = "", rule: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.rule = rule


class InvalidCommand(DomainError):
    """A command's arguments break a rule (bad level/designation pair, dates reversed...)."""


class InvalidTransition(DomainError):
    """The aggregate's current state does not allow this command (renew a revoked endorsement)."""


class RequirementsUnmet(DomainError):
    """Granting or renewing was asked for but requirements are still unmet."""

    def __init__(self, message: str, unmet: tuple[object, ...], *, rule: str) -> None:
        super().__init__(message, field="evidence", rule=rule)
        self.unmet = unmet
