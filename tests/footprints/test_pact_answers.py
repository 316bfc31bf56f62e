"""Footprint requests answered by themselves: a RequestCreatedEvent received by the ledger's PACT API is answered,
after the 200, with a RequestFulfilledEvent (the matching footprints) or a RequestRejectedEvent (none) sent to the
requester's host — only a host the operator lists — authenticated with the credentials that host issued to the
ledger; what became of each request is kept with it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger_core.db.models import PactEventRecord
from ledger_service.footprints.pact import to_product_footprint
from ledger_service.footprints.pact_answers import RequestAnswerer
from ledger_service.footprints.pact_exchange import REQUEST_CREATED, REQUEST_FULFILLED, REQUEST_REJECTED
from ledger_service.runtime import Runtime
from tests.footprints.pact_host import CLIENT_ID, CLIENT_SECRET, basic, pact_app
from tests.footprints.samples import COIL_ID, COIL_V1, COIL_V2
from tests.footprints.service_pact import _service, cast, keys_restored, pact_state_cleared, runtime, service_host
from tests.service.cast import Cast

__all__ = ["_service", "cast", "keys_restored", "pact_state_cleared", "runtime"]  # the service's fixtures
pytestmark = pytest.mark.usefixtures("pact_state_cleared")

CUSTOMER = "https://customer.example"


@pytest.fixture
def customer() -> TestClient:
    """The requester's PACT host, which issued the ledger the client credentials CLIENT_ID / CLIENT_SECRET."""
    return TestClient(pact_app([]), base_url=CUSTOMER)


@pytest.fixture
def ledger(runtime: Runtime, customer: TestClient) -> tuple[TestClient, list[str]]:
    """The ledger's application answering to the customer's host only; the hosts it connected to."""
    host = service_host(runtime, "https://ledger.example")
    connected: list[str] = []

    def connect(host: str) -> httpx.Client:
        connected.append(host)
        return customer

    host.app.state.pact_answerer = RequestAnswerer(  # type: ignore[attr-defined]
        frozenset({CUSTOMER}), CLIENT_ID, CLIENT_SECRET, connect)
    return host, connected


def _ask(ledger: TestClient, cast: Cast, product_ids: list[str], source: str = CUSTOMER,
         event_id: str = "request-1") -> None:
    reply = ledger.post("/auth/token", headers=basic(cast.addresses["enterprise_b"], cast.tokens["enterprise_b"]),
                        content="grant_type=client_credentials")
    token = reply.json()["access_token"]
    body: dict[str, Any] = {"specversion": "1.0", "id": event_id, "source": source, "type": REQUEST_CREATED,
                            "data": {"productId": product_ids}}
    assert ledger.post("/3/events", json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def _answers(runtime: Runtime) -> list[tuple[str, str | None, str | None]]:
    with runtime.sessions() as session:
        return [(r.event_id, r.answer_type, r.answer_problem)
                for r in session.scalars(select(PactEventRecord).order_by(PactEventRecord.id))]


def test_a_request_for_a_published_footprint_is_fulfilled_to_the_requester_s_host(
        runtime: Runtime, cast: Cast, customer: TestClient, ledger: tuple[TestClient, list[str]]):
    host, connected = ledger
    _ask(host, cast, [COIL_ID])
    (kept,) = customer.app.state.pact_events.of_type(REQUEST_FULFILLED)  # type: ignore[attr-defined]
    assert kept.client == CLIENT_ID and kept.data.request_event_id == "request-1"
    assert [str(pf.id) for pf in kept.data.pfs] == [str(to_product_footprint(p).id) for p in (COIL_V1, COIL_V2)]
    assert kept.event.source == "https://ledger.example"
    assert _answers(runtime) == [("request-1", REQUEST_FULFILLED, None)]
    _ask(host, cast, [COIL_ID])  # the same request again is kept once and not answered twice
    assert connected == [CUSTOMER]


def test_a_request_nothing_matches_is_rejected_and_an_unlisted_host_gets_no_answer(
        runtime: Runtime, cast: Cast, customer: TestClient, ledger: tuple[TestClient, list[str]]):
    host, connected = ledger
    _ask(host, cast, ["urn:pact:null"])
    (kept,) = customer.app.state.pact_events.of_type(REQUEST_REJECTED)  # type: ignore[attr-defined]
    assert kept.data.error["code"] == "NotFound"
    _ask(host, cast, [COIL_ID], source="https://elsewhere.example", event_id="request-2")
    assert connected == [CUSTOMER]  # never the unlisted host
    (_, (event_id, answer, problem)) = _answers(runtime)
    assert (event_id, answer) == ("request-2", None) and "CARBONLEDGER_PACT_HOSTS" in (problem or "")
