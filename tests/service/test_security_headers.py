"""Security headers on every response; the certificate page under a strict Content-Security-Policy; documents
downloaded as attachments with a safe content type; /metrics with bounded labels and an optional token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from ledger_service.api.app import create_app
from ledger_service.runtime import Runtime
from tests.service.cast import Cast
from tests.service.credit_steps import verified_batch
from tests.service.helpers import V1
from tests.service.metering import clear_meter_data
from tests.service.test_credits_api import retire
from tests.service.test_emissions_api import DOCUMENT, EXPLICIT


def _hardened(reply) -> None:
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]


@pytest.fixture
def _documents(runtime: Runtime) -> Iterator[None]:
    yield
    clear_meter_data(runtime)


def test_every_response_carries_the_security_headers(client: TestClient, cast: Cast):
    _hardened(client.get("/health"))
    _hardened(client.get(f"{V1}/organisations/10"))  # 401
    _hardened(client.get(f"{V1}/organisations/10", headers=cast.auth("enterprise_a")))
    _hardened(client.get(f"{V1}/organisations/999999", headers=cast.auth("enterprise_a")))  # 404
    _hardened(client.get("/no/such/route"))
    _hardened(client.post(f"{V1}/organisations", content=b"x" * (2 * 2**20)))  # 413
    assert client.get(f"{V1}/organisations/10").headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_the_api_documentation_page_still_loads_its_scripts(client: TestClient):
    docs = client.get("/docs")
    assert docs.status_code == 200
    _hardened(docs)
    assert "default-src 'none'" not in docs.headers["Content-Security-Policy"]


def test_the_certificate_page_is_served_under_a_strict_content_security_policy(client: TestClient, cast: Cast):
    batch = verified_batch(client, cast)
    assert retire(client, cast, "enterprise_a", batch["batch_id"], 5).status_code == 201
    page = client.get(f"{V1}/credits/retirements/1/certificate.html", headers=cast.auth("enterprise_a"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    _hardened(page)
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy


@pytest.mark.usefixtures("_documents")
@pytest.mark.parametrize(("uploaded", "served"), [("text/html", "application/octet-stream"),
                                                  ("image/svg+xml", "application/octet-stream"),
                                                  ("", "application/octet-stream"),
                                                  ("application/pdf", "application/pdf")])
def test_documents_are_downloaded_as_attachments_with_a_safe_content_type(client: TestClient, cast: Cast,
                                                                          uploaded: str, served: str):
    submitted = client.post(f"{V1}/emissions/reports", headers=cast.auth("enterprise_a"),
                            files={"document": ('r"\r\nX-Evil: 1.html', DOCUMENT, uploaded)},
                            data={"year": 2025, "reported_kg_co2e": 12_345, **EXPLICIT})
    assert submitted.status_code == 201, submitted.text
    report_id = submitted.json()["report"]["report_id"]
    reply = client.get(f"{V1}/emissions/reports/{report_id}/documents/report", headers=cast.auth("enterprise_a"))
    assert reply.status_code == 200 and reply.content == DOCUMENT
    assert reply.headers["content-type"].split(";")[0] == served
    assert reply.headers["Content-Disposition"].startswith("attachment;")
    assert "X-Evil" not in reply.headers
    _hardened(reply)


def test_metrics_put_unknown_methods_in_one_series(client: TestClient):
    for method in ("FOO", "BAR", "PROPFIND"):
        client.request(method, "/health")
    text = client.get("/metrics").text
    assert 'method="OTHER"' in text
    assert all(f'method="{m}"' not in text for m in ("FOO", "BAR", "PROPFIND"))


def test_metrics_require_the_token_when_one_is_set(runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(runtime.settings, "metrics_token", SecretStr("scrape-me"))
    client = TestClient(create_app(runtime))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    reply = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert reply.status_code == 200 and "carbonledger_http_requests_total" in reply.text


def test_metrics_are_open_without_a_token(client: TestClient, runtime: Runtime):
    assert runtime.settings.metrics_token is None
    assert client.get("/metrics").status_code == 200
