"""The FastAPI application over a Runtime; resources under /api/v1, probes and metrics at the root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response

from ledger_service.api import errors
from ledger_service.api.routers import (
    allowances,
    api_keys,
    audit,
    emissions,
    health,
    members,
    meters,
    notary,
    organisations,
    transactions,
)
from ledger_service.api.routers import credits as credits_router
from ledger_service.api.routers import market as market_router
from ledger_service.api.routers import settlement as settlement_router
from ledger_service.runtime import Runtime

API_PREFIX = "/api/v1"


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="CarbonLedger",
        version="1.0",
        description="Members, allowances, compliance, notary and transactions of the CarbonLedger registry. "
        "Quantities are whole tCO2e as integers; timestamps are UTC.",
    )
    app.state.runtime = runtime
    errors.install(app)
    v1 = APIRouter(prefix=API_PREFIX)
    for module in (organisations, members, api_keys, allowances, notary, transactions):
        v1.include_router(module.router)
    v1.include_router(emissions.router)
    v1.include_router(meters.router)
    v1.include_router(credits_router.router)
    v1.include_router(market_router.router)
    v1.include_router(settlement_router.router)
    v1.include_router(audit.router)
    app.include_router(v1)
    app.include_router(health.router)

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", None)
        if route is None:
            route = "unmatched"
        elif request.url.path.startswith(API_PREFIX) and not route.startswith(API_PREFIX):
            route = API_PREFIX + route
        runtime.metrics.observe(request.method, route, response.status_code)
        return response

    return app
