"""Bearer-token authentication and role checks for staff endpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from federation_api.tokens import Principal, Role

_bearer = HTTPBearer(auto_error=False, description="Staff token issued by `alliance tokens`")


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency admitting only tokens with one of `roles`."""

    def dependency(request: Request, credentials: Annotated[
            HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(401, "a bearer token is required",
                                headers={"WWW-Authenticate": "Bearer"})
        principal: Principal | None = request.app.state.node.tokens.authenticate(
            credentials.credentials)
        if principal is None:
            raise HTTPException(401, "unknown or revoked token",
                                headers={"WWW-Authenticate": "Bearer"})
        if principal.role not in roles:
            raise HTTPException(403, f"this needs one of the roles: "
                                     f"{', '.join(r.value for r in roles)}")
        return principal

    return dependency


STAFF = (Role.COORDINATOR, Role.REVIEWER, Role.COMMITTEE, Role.AUDITOR)
