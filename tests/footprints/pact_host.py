"""A PACT host serving the sample footprints: the PACT router alone on an application of its own (no chain), with
fixed client credentials; reached in-process over HTTPS."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger_service.api.app import add_routes
from ledger_service.api.limits import RateLimits, TokenBuckets
from ledger_service.api.routers import pact
from ledger_service.footprints.pact import ProductFootprint, to_product_footprint
from ledger_service.footprints.pact_auth import TokenStore
from ledger_service.footprints.pact_exchange import MemoryEventLog, MemorySource
from tests.footprints.samples import PUBLISHED

CLIENT_ID = "0x00000000000000000000000000000000000000c1"
CLIENT_SECRET = "clk_0123456789abcdef_s3cret-value"
BASE = "https://pact.example"


class FixedCredentials:
    def __init__(self, clients: dict[str, str]) -> None:
        self.clients = clients

    def client(self, client_id: str, secret: str) -> str | None:
        return client_id if self.clients.get(client_id) == secret else None

    def allowed(self, client: str) -> bool:
        return client in self.clients


def footprints() -> list[ProductFootprint]:
    return [to_product_footprint(p) for p in PUBLISHED]


def pact_app(held: Sequence[ProductFootprint] | None = None, store: TokenStore | None = None) -> FastAPI:
    app = FastAPI()
    add_routes(app, pact.router)
    app.state.pact_source = MemorySource(footprints() if held is None else held)
    app.state.pact_credentials = FixedCredentials({CLIENT_ID: CLIENT_SECRET})
    app.state.pact_events = MemoryEventLog()
    app.state.pact_tokens = store or TokenStore()
    app.state.rate_limits = RateLimits(TokenBuckets(1000, 1000), TokenBuckets(1, 1000))
    return app


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode(),
            "Content-Type": "application/x-www-form-urlencoded"}


def bearer(client: TestClient) -> dict[str, str]:
    reply = client.post("/auth/token", headers=basic(CLIENT_ID, CLIENT_SECRET), content="grant_type=client_credentials")
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}
