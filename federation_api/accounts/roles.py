"""Account roles: staff roles (issue 11) and the self-service kinds (issue 12).

A person may hold several roles. Staff roles open the association's workspace; `applicant` and
`professional` are the people the association serves, who sign in to their own records only.
Coordinators and committee members act on endorsements directly, so they must use a second
factor (TOTP) before they can do anything else.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from federation_api.accounts.errors import InvalidAccountInput


class AccountRole(StrEnum):
    """What an account may do; stored as these strings."""

    COORDINATOR = "coordinator"
    REVIEWER = "reviewer"
    COMMITTEE = "committee"
    AUDITOR = "auditor"
    APPLICANT = "applicant"
    PROFESSIONAL = "professional"


STAFF_ROLES = frozenset({AccountRole.COORDINATOR, AccountRole.REVIEWER, AccountRole.COMMITTEE,
                         AccountRole.AUDITOR})
SELF_SERVICE_ROLES = frozenset({AccountRole.APPLICANT, AccountRole.PROFESSIONAL})
SECOND_FACTOR_REQUIRED = frozenset({AccountRole.COORDINATOR, AccountRole.COMMITTEE})


def parse_roles(values: Iterable[str], *, allowed: frozenset[AccountRole] = STAFF_ROLES,
                field: str = "roles") -> frozenset[AccountRole]:
    """The roles named by `values` (at least one, each allowed); InvalidAccountInput otherwise."""
    roles: set[AccountRole] = set()
    for value in values:
        try:
            role = AccountRole(value.strip().lower())
        except ValueError as e:
            raise InvalidAccountInput(f"unknown role {value!r}; use one of "
                                      f"{', '.join(sorted(allowed))}", field=field,
                                      rule="role.known") from e
        if role not in allowed:
            raise InvalidAccountInput(f"role {role} cannot be given here; use one of "
                                      f"{', '.join(sorted(allowed))}", field=field,
                                      rule="role.allowed")
        roles.add(role)
    if not roles:
        raise InvalidAccountInput("choose at least one role", field=field, rule="role.required")
    return frozenset(roles)


def needs_second_factor(roles: Iterable[AccountRole]) -> bool:
    """Whether an account with these roles must have TOTP before it may act."""
    return any(role in SECOND_FACTOR_REQUIRED for role in roles)
