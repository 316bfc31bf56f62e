"""Request dependencies: the runtime, the authenticated caller, and permission checks against the chain.

A caller authenticates with an API key (`Authorization: Bearer clk_...` or `X-API-Key`)
or a signed request, EIP-191 or EIP-712 (see `ledger_service.identity.signed_requests`). Every endpoint
then checks the caller's membership as the chain records it: active (not suspended or
revoked), with the role the endpoint needs, and not frozen where assets move.

A POST with an `Idempotency-Key` header is looked up once the caller is known: a key the caller
used before answers from what that request did (`IdempotentReplay`); otherwise the request gets
an `IdempotencyClaim` (`Caller.idempotency`) that the outbox records with its rows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from ledger_service.api.errors import IdempotentReplay
from ledger_service.api.limits import RateLimits, retry_after
from ledger_service.api.types import Limit, Offset
from ledger_service.identity.api_keys import ApiKeyInvalid
from ledger_service.identity.idempotency import HEADER, IdempotencyClaim, IdempotencyKeys, InvalidKey, check_key
from ledger_service.identity.idempotency import fingerprint as request_fingerprint
from ledger_service.identity.signed_requests import EIP191, SignatureInvalid, SignedHeaders
from ledger_service.membership import MemberStatus
from ledger_service.runtime import Runtime
from ledger_service.services.caller import Caller, require_member
from ledger_service.services.errors import Refusal, forbidden
from ledger_service.services.wiring import Services, build_services


async def get_runtime(request: Request) -> Runtime:
    """The application's runtime (async: nothing to wait for, so no thread-pool hop)."""
    return runtime_of(request)


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_services(request: Request) -> Services:
    """The application's use cases (built once, on first use)."""
    found: Services | None = getattr(request.app.state, "services", None)
    if found is None:
        found = request.app.state.services = build_services(runtime_of(request))
    return found


ServicesDep = Annotated[Services, Depends(get_services)]


def idempotency_keys(request: Request) -> IdempotencyKeys:
    """The application's store of idempotency keys (made on first use if the application has none)."""
    keys: IdempotencyKeys | None = getattr(request.app.state, "idempotency_keys", None)
    if keys is None:
        runtime = runtime_of(request)
        keys = request.app.state.idempotency_keys = IdempotencyKeys(runtime.sessions,
                                                                    runtime.settings.idempotency_key_hours)
    return keys


def path_with_query(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


async def request_body(request: Request) -> bytes:
    """The body as received (kept by the application's middleware for keyed and signed requests, whose
    body an endpoint reading a form would otherwise have consumed)."""
    kept: bytes | None = getattr(request.state, "request_body", None)
    return kept if kept is not None else await request.body()


def _unauthenticated(message: str) -> Refusal:
    return Refusal(401, "Unauthenticated", message, headers={"WWW-Authenticate": "Bearer"})


def rate_limits(request: Request) -> RateLimits:
    """The application's rate buckets (made on first use if the application has none)."""
    limits: RateLimits | None = getattr(request.app.state, "rate_limits", None)
    if limits is None:
        limits = request.app.state.rate_limits = RateLimits.of(runtime_of(request).settings)
    return limits


def _throttled(wait: float, limit: str, message: str) -> Refusal:
    return Refusal(429, "TooManyRequests", message, {"limit": limit, "retry_after_seconds": retry_after(wait)},
                    headers={"Retry-After": retry_after(wait)})


async def authenticate(request: Request) -> Caller:
    """The caller, or 401. A client address with too many failed authentications is refused (429) before it
    is checked again, and each API key (or signing address) has its rate (`ledger_service.api.limits`). The
    runtime is taken from the request, not as a dependency: one dependency fewer for FastAPI to solve on every
    authenticated request."""
    runtime = runtime_of(request)
    limits = rate_limits(request)
    client = request.client.host if request.client is not None else "unknown"
    wait = limits.auth_failures.wait(client)
    if wait:
        raise _throttled(wait, "failed_authentication", f"too many failed authentications from {client}; retry "
                         f"in {retry_after(wait)} s")
    try:
        return await _authenticate(request, runtime, limits)
    except Refusal as exc:
        if exc.status == 401 or exc.details.get("status") == "none":  # a bad credential, or a non-member's
            limits.auth_failures.take(client)
        raise


async def _authenticate(request: Request, runtime: Runtime, limits: RateLimits) -> Caller:
    token = request.headers.get("x-api-key")
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    # The database and the chain are asked in the thread pool: a slow node must not stall the event loop
    # (and with it /health, /ready and every other request).
    signed: SignedHeaders | None = None
    if token:
        try:
            key = runtime.api_keys.cached(token)
            if key is None:
                key = await run_in_threadpool(runtime.api_keys.authenticate, token)
        except ApiKeyInvalid as exc:
            raise _unauthenticated(exc.reason) from None
        address, via, key_id = key.member, "api_key", key.key_id
    elif "x-cl-signature" in request.headers:
        headers = request.headers
        try:
            signed = SignedHeaders(headers["x-cl-address"], int(headers["x-cl-timestamp"]), headers["x-cl-nonce"],
                                   headers["x-cl-signature"], headers.get("x-cl-signature-scheme", EIP191).lower())
        except (KeyError, ValueError):
            raise _unauthenticated("signed request headers incomplete") from None
        body = await request_body(request)
        try:
            address = await run_in_threadpool(runtime.signed_requests.check, request.method,
                                              path_with_query(request), body, signed)
        except SignatureInvalid as exc:
            raise _unauthenticated(exc.reason) from None
        via, key_id = "signature", None
    else:
        raise _unauthenticated("an API key or a signed request is required")
    wait = limits.per_key.take(f"key:{key_id}" if key_id is not None else f"address:{address}")
    if wait:
        raise _throttled(wait, "api_key", f"too many requests with this {'API key' if key_id else 'signing address'}"
                         f"; retry in {retry_after(wait)} s")
    member = runtime.directory.cached(address)  # held views are answered without a thread-pool hop
    if member is None:
        member = await run_in_threadpool(runtime.directory.member, address)
    if signed is not None:
        if member.status == MemberStatus.NONE:  # its nonce is not stored: nobody outside can fill the table
            raise forbidden(f"{member.address} is not an active member (status: {member.status.label})",
                            "MemberNotActive", account=member.address, status=member.status.label)
        try:
            await run_in_threadpool(runtime.signed_requests.remember, member.address, signed.nonce)
        except SignatureInvalid as exc:
            raise _unauthenticated(exc.reason) from None
    request.state.caller_address = member.address
    return Caller(member.address, via, key_id, member, await _idempotency(request, member.address))


async def _idempotency(request: Request, caller: str) -> IdempotencyClaim | None:
    """For a POST with an Idempotency-Key: replay what a request of the caller with that key did (raises
    IdempotentReplay), or a claim for this one; None without a key."""
    key = request.headers.get(HEADER)
    if key is None or request.method != "POST":
        return None
    try:
        check_key(key)
    except InvalidKey as exc:
        raise Refusal(422, "InvalidIdempotencyKey", str(exc), {"header": HEADER}) from None
    path = path_with_query(request)
    found: bytes | None = getattr(request.state, "request_fingerprint", None)
    fingerprint = found if found is not None else request_fingerprint(request.method, path,
                                                                      await request_body(request))
    keys = idempotency_keys(request)
    stored = await run_in_threadpool(keys.find, caller, key)
    if stored is not None:
        raise IdempotentReplay(stored, fingerprint)
    claim = keys.claim(caller, key, request.method, path, fingerprint)
    request.state.idempotency = claim
    return claim


def member(*roles: str, moves_assets: bool = False) -> Callable[..., Awaitable[Caller]]:
    """A dependency: an authenticated, active member holding one of `roles` (any role if none given),
    and not frozen if the endpoint moves assets (`services.caller.require_member`, the console's check too)."""

    async def check(caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
        return require_member(caller, *roles, moves_assets=moves_assets)

    return check


AnyMember = Annotated[Caller, Depends(member())]
Regulator = Annotated[Caller, Depends(member("REGULATOR"))]


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int


def page(runtime: RuntimeDep, offset: Offset = 0, limit: Limit = 100) -> Page:
    """The requested page; a `limit` above the `page_size_max` setting is refused as the documented bound is."""
    largest = runtime.settings.page_size_max
    if limit > largest:
        raise RequestValidationError([{"loc": ("query", "limit"), "type": "less_than_equal",
                                       "msg": f"Input should be less than or equal to {largest}"}])
    return Page(offset, limit)


PageDep = Annotated[Page, Depends(page)]
