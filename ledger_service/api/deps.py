"""Request dependencies: the runtime, the authenticated caller, and permission checks against the chain.

A caller authenticates with an API key (`Authorization: Bearer clk_...` or `X-API-Key`)
or a signed request (see `ledger_service.identity.signed_requests`). Every endpoint
then checks the caller's membership as the chain records it: active (not suspended or
revoked), with the role the endpoint needs, and not frozen where assets move.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from ledger_service.api.errors import ApiError, forbidden
from ledger_service.identity.api_keys import ApiKeyInvalid
from ledger_service.identity.signed_requests import SignatureInvalid, SignedHeaders
from ledger_service.membership import MemberView
from ledger_service.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


@dataclass(frozen=True)
class Caller:
    address: str
    via: str  # "api_key" or "signature"
    key_id: str | None
    member: MemberView

    @property
    def is_regulator(self) -> bool:
        return self.member.has_role("REGULATOR")


def _unauthenticated(message: str) -> ApiError:
    return ApiError(401, "Unauthenticated", message, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(request: Request, runtime: RuntimeDep) -> Caller:
    token = request.headers.get("x-api-key")
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    if token:
        try:
            key = runtime.api_keys.authenticate(token)
        except ApiKeyInvalid as exc:
            raise _unauthenticated(exc.reason) from None
        address, via, key_id = key.member, "api_key", key.key_id
    elif "x-cl-signature" in request.headers:
        headers = request.headers
        try:
            signed = SignedHeaders(headers["x-cl-address"], int(headers["x-cl-timestamp"]), headers["x-cl-nonce"],
                                   headers["x-cl-signature"])
        except (KeyError, ValueError):
            raise _unauthenticated("signed request headers incomplete") from None
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        try:
            address = runtime.signed_requests.verify(request.method, path, await request.body(), signed)
        except SignatureInvalid as exc:
            raise _unauthenticated(exc.reason) from None
        via, key_id = "signature", None
    else:
        raise _unauthenticated("an API key or a signed request is required")
    member = runtime.directory.member(address)
    request.state.caller_address = member.address
    return Caller(member.address, via, key_id, member)


def _check_standing(member: MemberView) -> None:
    if not member.active:
        raise forbidden(f"{member.address} is not an active member (status: {member.status.label})",
                        "MemberNotActive", account=member.address, status=member.status.label)


def member(*roles: str, moves_assets: bool = False) -> Callable[..., Caller]:
    """A dependency: an authenticated, active member holding one of `roles` (any role if none given),
    and not frozen if the endpoint moves assets."""

    def check(caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
        _check_standing(caller.member)
        if roles and not any(caller.member.has_role(r) for r in roles):
            raise forbidden(f"{caller.address} does not hold the {' or '.join(roles)} role", "MissingRole",
                            account=caller.address, roles=list(roles))
        if moves_assets and caller.member.frozen:
            raise forbidden(f"{caller.address} is frozen: its assets cannot move", "AccountFrozen",
                            account=caller.address)
        return caller

    return check


AnyMember = Annotated[Caller, Depends(member())]
Regulator = Annotated[Caller, Depends(member("REGULATOR"))]


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int


def page(offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Page:
    return Page(offset, limit)


PageDep = Annotated[Page, Depends(page)]
