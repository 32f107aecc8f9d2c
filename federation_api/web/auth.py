"""Bearer-token authentication and role checks, and the route class that runs them first.

Every protected operation names the roles it admits with `require(...)`. `GatedRoute` finds
that gate in the operation's dependencies and checks the token before FastAPI reads or
parses the request body: a caller without a valid token learns nothing about the body rules
(401 first, then 403), and a body that is not UTF-8, or that Python's JSON parser gives up on
(nested too deeply), is refused with the API's own 422 rather than FastAPI's undocumented
400. The gate's roles are also written into the operation's OpenAPI entry (`x-roles` and a
"Roles:" line), so code and document cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from federation_api.accounts.tokens import Principal, Role
from federation_api.web.errors import error_body

_bearer = HTTPBearer(auto_error=False, description="Token issued by `alliance tokens create`")
_PRINCIPAL = "alliance.principal"  # request scope key: the principal the gate admitted


class RoleGate:
    """A dependency admitting only live tokens with one of `roles` (401 without a valid
    token, 403 with another role). Comparable, so a route's roles can be read back."""

    def __init__(self, roles: tuple[Role, ...]) -> None:
        self.roles = roles

    def __call__(self, request: Request, credentials: Annotated[
            HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
        """The caller's principal (FastAPI calls this with the parsed Authorization header)."""
        admitted = request.scope.get(_PRINCIPAL)
        if isinstance(admitted, Principal) and admitted.role in self.roles:
            return admitted  # already checked by GatedRoute for this request
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(401, "a bearer token is required",
                                headers={"WWW-Authenticate": "Bearer"})
        principal: Principal | None = request.app.state.node.tokens.authenticate(
            credentials.credentials)
        if principal is None:
            raise HTTPException(401, "unknown or revoked token",
                                headers={"WWW-Authenticate": "Bearer"})
        if principal.role not in self.roles:
            raise HTTPException(403, f"this needs one of the roles: "
                                     f"{', '.join(r.value for r in self.roles)}")
        return principal

    def check(self, request: Request) -> Principal:
        """The same check, from the raw Authorization header of `request`."""
        scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
        credentials = (HTTPAuthorizationCredentials(scheme=scheme, credentials=token)
                       if scheme and token else None)
        principal = self(request, credentials)
        request.scope[_PRINCIPAL] = principal
        return principal


def require(*roles: Role) -> RoleGate:
    """A dependency admitting only tokens with one of `roles`."""
    return RoleGate(tuple(roles))


STAFF = (Role.COORDINATOR, Role.REVIEWER, Role.COMMITTEE, Role.AUDITOR)


def gate_of(dependant: Dependant) -> RoleGate | None:
    """The role gate among an operation's dependencies (depth first), if any."""
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, RoleGate):
            return dependency.call
        found = gate_of(dependency)
        if found is not None:
            return found
    return None


def _refused(message: str, rule: str) -> JSONResponse:
    return JSONResponse(error_body("invalid_request", message, field="body", rule=rule),
                        status_code=422)


class GatedRoute(APIRoute):
    """An APIRoute that authenticates before the body is read, and documents its roles."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        gate = gate_of(self.dependant)
        if gate is not None:
            roles = [r.value for r in gate.roles]
            self.openapi_extra = {**(self.openapi_extra or {}), "x-roles": roles}
            self.description = (f"{self.description}\n\n" if self.description else ""
                                ) + f"Roles: {', '.join(roles)}."

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, behind the token check and the body's encoding check."""
        handler = super().get_route_handler()
        gate = gate_of(self.dependant)
        reads_json = self.body_field is not None
        if gate is None and not reads_json:
            return handler  # the public lookups keep FastAPI's handler as it is

        async def gated(request: Request) -> Response:
            if gate is not None:
                # A token lookup is one indexed read; off the event loop like the sync routes.
                await run_in_threadpool(gate.check, request)
            if not reads_json:
                return await handler(request)
            try:
                (await request.body()).decode("utf-8")
            except UnicodeDecodeError:
                return _refused("the body must be JSON encoded as UTF-8", "body.encoding")
            try:
                return await handler(request)
            except StarletteHTTPException as e:
                # FastAPI's one undocumented answer: a body its JSON parser gave up on for
                # another reason than a syntax error (e.g. nested too deeply).
                if e.status_code != 400:
                    raise
                return _refused("the body could not be read as JSON", "body.json")

        return gated
