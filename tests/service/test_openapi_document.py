"""The OpenAPI document declares how callers authenticate and, per route, the errors it answers with the house's
error body, so generated clients and fuzzers know them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.service.helpers import V1

ERROR = "#/components/schemas/Error"


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    reply = client.get("/openapi.json")
    assert reply.status_code == 200
    return reply.json()  # type: ignore[no-any-return]


def _responses(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return document["paths"][path][method]["responses"]  # type: ignore[no-any-return]


def _is_error(response: dict[str, Any]) -> bool:
    return response["content"]["application/json"]["schema"] == {"$ref": ERROR}


def test_the_security_schemes_are_declared(document: dict[str, Any]):
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKeyBearer"] == {"type": "http", "scheme": "bearer", "description": schemes["ApiKeyBearer"]
                                       ["description"]}
    assert schemes["ApiKeyHeader"]["type"] == "apiKey" and schemes["ApiKeyHeader"]["name"] == "X-API-Key"
    for name, header in (("SignedAddress", "X-CL-Address"), ("SignedTimestamp", "X-CL-Timestamp"),
                         ("SignedNonce", "X-CL-Nonce"), ("SignedSignature", "X-CL-Signature")):
        assert schemes[name]["type"] == "apiKey" and schemes[name]["in"] == "header"
        assert schemes[name]["name"] == header


def test_the_error_body_is_a_component(document: dict[str, Any]):
    error = document["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "message", "args"}
    assert {"error", "message", "args", "outbox_id", "tx_hash", "outbox_ids"} <= set(error["properties"])


def test_an_authenticated_route_declares_its_security_and_errors(document: dict[str, Any]):
    operation = document["paths"][f"{V1}/organisations/{{org_id}}"]["get"]
    assert {"ApiKeyBearer": []} in operation["security"]
    assert {"SignedAddress": [], "SignedTimestamp": [], "SignedNonce": [], "SignedSignature": []} \
        in operation["security"]
    responses = operation["responses"]
    for status in ("401", "403", "404", "422", "429", "503"):
        assert _is_error(responses[status]), status
    assert "413" not in responses  # no body
    assert "Retry-After" in responses["429"]["headers"] and "Retry-After" in responses["503"]["headers"]


def test_a_route_with_a_body_declares_413(document: dict[str, Any]):
    responses = _responses(document, f"{V1}/organisations", "post")
    assert _is_error(responses["413"]) and _is_error(responses["422"])
    assert "404" not in responses  # no path ids
    upload = _responses(document, f"{V1}/notary/documents", "post")
    assert _is_error(upload["413"])


def test_a_route_that_sends_transactions_declares_409(document: dict[str, Any]):
    assert _is_error(_responses(document, f"{V1}/allowances/transfers", "post")["409"])
    assert _is_error(_responses(document, f"{V1}/emissions/reports", "post")["409"])
    assert "409" not in _responses(document, f"{V1}/organisations/{{org_id}}", "get")


def test_probes_are_public(document: dict[str, Any]):
    health = document["paths"]["/health"]["get"]
    assert "security" not in health and "401" not in health["responses"]
    assert "503" in document["paths"]["/ready"]["get"]["responses"]


def test_every_validation_error_uses_the_house_error_body(document: dict[str, Any]):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if "422" in operation["responses"]:
                assert _is_error(operation["responses"]["422"]), (method, path)
    assert "HTTPValidationError" not in document["components"]["schemas"]
