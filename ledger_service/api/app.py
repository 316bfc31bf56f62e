"""The FastAPI application over a Runtime; resources under /api/v1, probes and metrics at the root."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger_core.body_limit import BodyLimit
from ledger_service.api import errors
from ledger_service.api.deps import path_with_query
from ledger_service.api.limits import RateLimits, SecurityHeaders, upload_routes
from ledger_service.api.openapi import install_openapi
from ledger_service.api.routers import (
    allowances,
    api_keys,
    audit,
    chain,
    emissions,
    health,
    members,
    meters,
    notary,
    organisations,
    pact,
    product_output,
    rpc,
    supplier_proofs,
    transactions,
)
from ledger_service.api.routers import credits as credits_router
from ledger_service.api.routers import footprints as footprints_router
from ledger_service.api.routers import forecast as forecast_router
from ledger_service.api.routers import gec as gec_router
from ledger_service.api.routers import market as market_router
from ledger_service.api.routers import settlement as settlement_router
from ledger_service.console.app import mount as mount_console
from ledger_service.epd import EPDS
from ledger_service.footprints.pact_answers import RequestAnswerer
from ledger_service.footprints.pact_auth import MemberCredentials
from ledger_service.footprints.pact_source import IndexedFootprintSource
from ledger_service.footprints.pact_state import SqlEventLog, SqlTokenStore
from ledger_service.identity.idempotency import IdempotencyClaim, IdempotencyKeys, fingerprint
from ledger_service.runtime import Runtime
from ledger_service.services.footprints import allowed_hosts
from ledger_service.services.wiring import Services, build_services

MAX_KEPT_BODY_BYTES = 64 * 2**20  # above the largest document an endpoint takes (50 MiB) and its form
METRIC_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
log = logging.getLogger(__name__)


class RequestMemory:
    """Idempotency keys at the edge of the application (pure ASGI).

    For a POST with an `Idempotency-Key` (and any request with a signature), the body is read
    once and kept (`request.state.request_body`), so the key's fingerprint and the signature cover
    exactly the bytes the endpoint reads, whether it parses JSON or a form. When the request
    recorded its claim with outbox rows, its final answer (status below 500 other than 503, JSON)
    is stored with the claim before the client sees it, so whoever retries gets that answer.
    A body larger than `max_body` is refused (413) rather than kept.
    """

    def __init__(self, app: ASGIApp, keys: IdempotencyKeys, max_body: int = MAX_KEPT_BODY_BYTES) -> None:
        self.app = app
        self.keys = keys
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        names = {name for name, _ in scope["headers"]}  # one pass; ASGI header names are lower case
        keyed = scope["method"] == "POST" and b"idempotency-key" in names
        if not keyed and b"x-cl-signature" not in names:
            await self.app(scope, receive, send)
            return
        read = await _read_body(receive, self.max_body)
        if read is None:
            await JSONResponse({"error": "RequestTooLarge", "message": f"a request body is limited to "
                                f"{self.max_body} bytes", "args": {"max": self.max_body}},
                               status_code=413)(scope, receive, send)
            return
        body, receive = read
        state = scope.setdefault("state", {})
        state["request_body"] = body
        if not keyed:
            await self.app(scope, receive, send)
            return
        state["request_fingerprint"] = fingerprint(scope["method"], path_with_query(Request(scope)), body)
        held: list[Message] = []
        chunks: list[bytes] = []
        answer: tuple[IdempotencyClaim, int] | None = None

        async def keep(message: Message) -> None:
            nonlocal answer
            if message["type"] == "http.response.start":
                claim = state.get("idempotency")
                status = int(message["status"])
                kind = Headers(raw=message.get("headers", [])).get("content-type", "")
                if (isinstance(claim, IdempotencyClaim) and claim.recorded and status < 500 and status != 503
                        and kind.startswith("application/json")):
                    answer = (claim, status)
                    held.append(message)
                    return
            elif message["type"] == "http.response.body" and answer is not None:
                held.append(message)
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                await self._store(*answer, b"".join(chunks))
                answer = None
                for kept in held:
                    await send(kept)
                return
            await send(message)

        await self.app(scope, receive, keep)

    async def _store(self, claim: IdempotencyClaim, status: int, body: bytes) -> None:
        try:
            stored = await run_in_threadpool(self.keys.store_response, claim, status, body.decode())
        except Exception as exc:  # the answer still goes out; a retry then sees the transactions as they stand
            log.warning("could not store the answer to idempotency key of %s: %s", claim.caller, type(exc).__name__)
            return
        if not stored:
            log.warning("the idempotency key of %s no longer holds this request's claim", claim.caller)


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, Receive] | None:
    """The whole request body, and a `receive` that hands it on once before passing through; None when
    the body is larger than `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return b"".join(chunks), _replaying(message, receive)
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            return None
        if not message.get("more_body", False):
            break
    return b"".join(chunks), _replaying({"type": "http.request", "body": b"".join(chunks), "more_body": False},
                                        receive)


def _replaying(first: Message, receive: Receive) -> Receive:
    pending = [first]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


class RequestMetrics:
    """Counts answered requests by method, route template and status (pure ASGI: no task per request)."""

    def __init__(self, app: ASGIApp, observe: Callable[[str, str, int], None]) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def seen(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        await self.app(scope, receive, seen)
        route = getattr(scope.get("route"), "path", None)
        if route is None:
            route = "unmatched"
        method = scope["method"] if scope["method"] in METRIC_METHODS else "OTHER"  # a bounded set of series
        if status:
            self.observe(method, route, status[0])


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """The router's routes become the application's own. FastAPI matches the routes of an included router
    (`include_router`) through a context per include, about four times the work of matching its own routes,
    and it matches every route in turn until one fits, on every request."""
    app.router.routes.extend(router.routes)


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="CarbonLedger",
        version="1.0",
        description="Members, allowances, compliance, notary and transactions of the CarbonLedger registry. "
        "Quantities are whole tCO2e as integers; timestamps are UTC.",
    )
    app.state.runtime = runtime
    app.state.idempotency_keys = keys = IdempotencyKeys(runtime.sessions, runtime.settings.idempotency_key_hours)
    errors.install(app)
    # The PACT API serves the ledger's published EPDs to members (client id: address; secret: an API key).
    app.state.pact_source = IndexedFootprintSource(
        runtime.sessions, runtime.indexing.index_up_to_date,
        lambda: (runtime.deployment.chain_id, runtime.deployment.addresses[EPDS]))
    app.state.pact_credentials = MemberCredentials(runtime.api_keys, runtime.directory)
    app.state.pact_tokens = SqlTokenStore(runtime.sessions)  # shared by every process on the database
    app.state.pact_events = SqlEventLog(runtime.sessions)
    secret = runtime.settings.pact_answer_client_secret
    app.state.pact_answerer = RequestAnswerer(  # footprint requests answered to the listed hosts only
        allowed_hosts(runtime.settings.pact_hosts), runtime.settings.pact_answer_client_id,
        secret.get_secret_value() if secret is not None else "")
    routers = [chain, organisations, members, api_keys, allowances, notary, transactions, emissions, meters,
               credits_router, market_router, settlement_router, gec_router, footprints_router, product_output,
               supplier_proofs, forecast_router, audit, health, pact]
    if runtime.chain.embedded is not None:
        routers.append(rpc)  # the embedded chain has no node of its own to ask
    for module in routers:
        add_routes(app, module.router)

    def shared_services() -> Services:  # the API's own use cases (deps.get_services builds them the same way)
        found: Services | None = getattr(app.state, "services", None)
        if found is None:
            found = app.state.services = build_services(runtime)
        return found

    settings = runtime.settings
    app.state.rate_limits = RateLimits.of(settings)
    # Last: no API request is matched against it. Its sessions draw on the API's buckets, one limit per key.
    mount_console(app, runtime, shared_services, app.state.rate_limits)

    app.add_middleware(RequestMetrics, observe=runtime.metrics.observe)
    app.add_middleware(RequestMemory, keys=keys)
    # Outermost: a body over its route's limit is refused before anything reads it (authentication included).
    app.add_middleware(BodyLimit, limit=settings.request_body_max_bytes, upload_limit=settings.upload_body_max_bytes,
                       uploads=lambda: upload_routes(app))
    app.add_middleware(SecurityHeaders, docs_paths=(app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url))
    install_openapi(app)
    return app
