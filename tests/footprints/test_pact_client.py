"""Importing a supplier's footprint from another PACT host: here the ledger's own PACT router, served in-process
(no network), reached over HTTPS."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient

from ledger_service.footprints.pact import to_product_footprint
from ledger_service.footprints.pact_client import (
    NOT_VERIFIED,
    PactClientError,
    connect,
    fetch_footprint,
    send_event,
)
from ledger_service.footprints.pact_exchange import (
    REQUEST_CREATED,
    REQUEST_FULFILLED,
    REQUEST_REJECTED,
    ReceivedEvent,
    answer_request,
)
from tests.footprints.pact_host import BASE, CLIENT_ID, CLIENT_SECRET, bearer, pact_app
from tests.footprints.samples import BRACKET, COIL_ID, COIL_V1, COIL_V2

NOW = datetime(2026, 5, 19, 11, 0, tzinfo=UTC)


@pytest.fixture
def supplier() -> TestClient:
    return TestClient(pact_app(), base_url=BASE)


def test_a_footprint_is_fetched_validated_hashed_and_marked_not_verified(supplier: TestClient):
    wanted = to_product_footprint(COIL_V2)
    imported = fetch_footprint(supplier, CLIENT_ID, CLIENT_SECRET, str(wanted.id))
    assert imported.footprint == wanted
    assert (imported.verified_on_ledger, imported.note) == (False, NOT_VERIFIED)
    # The canonical bytes: the document as served, keys sorted, no whitespace.
    assert imported.canonical == json.dumps(wanted.document(), sort_keys=True, separators=(",", ":"),
                                            ensure_ascii=False).encode()
    assert imported.sha256 == hashlib.sha256(imported.canonical).digest()
    assert imported.keccak256 == keccak(imported.canonical)


def test_an_imported_footprint_becomes_an_inputs_source_per_unit_of_measurement(supplier: TestClient):
    """The coil's 1 237.5 kgCO2e per 1 000 kilogram is 1.2375 kgCO2e per kilogram."""
    imported = fetch_footprint(supplier, CLIENT_ID, CLIENT_SECRET, str(to_product_footprint(COIL_V2).id))
    source = imported.supplier_source()
    assert (source.kind, source.kg_per_unit, source.content_hash) == ("PACT", Decimal("1.2375"), imported.keccak256)


def test_an_unknown_footprint_and_refused_credentials_raise(supplier: TestClient):
    with pytest.raises(PactClientError) as unknown:
        fetch_footprint(supplier, CLIENT_ID, CLIENT_SECRET, "00000000-0000-0000-0000-000000000000")
    assert (unknown.value.code, unknown.value.status) == ("NotFound", 404)
    with pytest.raises(PactClientError) as refused:
        fetch_footprint(supplier, CLIENT_ID, "clk_wrong", str(to_product_footprint(BRACKET).id))
    assert (refused.value.code, refused.value.status) == ("invalid_client", 401)


def test_a_document_that_is_not_a_v3_footprint_is_refused(supplier: TestClient):
    broken = to_product_footprint(BRACKET).model_copy(update={"company_ids": ["not-a-urn"]})
    host = TestClient(pact_app([broken]), base_url=BASE)
    with pytest.raises(PactClientError) as refused:
        fetch_footprint(host, CLIENT_ID, CLIENT_SECRET, str(broken.id))
    assert refused.value.code == "NotAFootprint"


def test_a_host_is_reached_over_https_only():
    with pytest.raises(PactClientError) as refused:
        connect("http://supplier.example")
    assert refused.value.code == "InsecureHost"
    with connect("https://supplier.example") as http:
        assert str(http.base_url) == "https://supplier.example"


def _request(host: TestClient, product_ids: list[str]) -> ReceivedEvent:
    """A footprint request received by `host` (conformance case 12), as its event log keeps it."""
    body = {"specversion": "1.0", "id": "request-1", "source": "https://customer.example",
            "time": "2026-05-19T10:30:00Z", "type": REQUEST_CREATED, "data": {"productId": product_ids}}
    assert host.post("/3/events", json=body, headers=bearer(host)).status_code == 200
    (received,) = host.app.state.pact_events.of_type(REQUEST_CREATED)  # type: ignore[attr-defined]
    return received  # type: ignore[no-any-return]


def test_a_footprint_request_is_answered_with_the_matching_footprints(supplier: TestClient):
    """The supplier answers a request for the coil with both its versions (RequestFulfilledEvent), sent to the
    customer's events endpoint, which checks and keeps it."""
    customer = TestClient(pact_app([]), base_url="https://customer.example")
    answer = answer_request(_request(supplier, [COIL_ID]), supplier.app.state.pact_source, BASE, NOW)
    assert answer.type == REQUEST_FULFILLED and answer.data["requestEventId"] == "request-1"
    send_event(customer, "https://customer.example", answer, bearer(customer)["Authorization"][7:])
    (kept,) = customer.app.state.pact_events.of_type(REQUEST_FULFILLED)  # type: ignore[attr-defined]
    assert [str(pf.id) for pf in kept.data.pfs] == [str(to_product_footprint(p).id) for p in (COIL_V1, COIL_V2)]
    assert kept.event.source == BASE
    again = answer_request(_request(TestClient(pact_app(), base_url=BASE), [COIL_ID]),
                           supplier.app.state.pact_source, BASE, NOW)
    assert again.id == answer.id  # the same request answered again is the same event


def test_a_request_nothing_matches_is_rejected_not_found(supplier: TestClient):
    answer = answer_request(_request(supplier, ["urn:pact:null"]), supplier.app.state.pact_source, BASE, NOW)
    assert answer.type == REQUEST_REJECTED
    assert answer.data["error"] == {"code": "NotFound", "message": "no footprint matches the request"}


def test_an_answer_the_requester_refuses_raises(supplier: TestClient):
    customer = TestClient(pact_app([]), base_url="https://customer.example")
    answer = answer_request(_request(supplier, [COIL_ID]), supplier.app.state.pact_source, BASE, NOW)
    with pytest.raises(PactClientError) as refused:
        send_event(customer, "https://customer.example/3/events", answer, token="not-a-token")
    assert (refused.value.code, refused.value.status) == ("BadRequest", 400)
    with pytest.raises(PactClientError) as insecure:
        send_event(customer, "http://customer.example", answer)
    assert insecure.value.code == "InsecureHost"
