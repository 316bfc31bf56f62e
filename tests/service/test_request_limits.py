"""Request size limits: enforced at the edge, before authentication and before the body is read into memory
(413 with the limit in the error body); document uploads have their own, larger limit on their own routes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ledger_service.api.app import create_app
from ledger_service.runtime import Runtime
from tests.service.cast import Cast
from tests.service.helpers import V1

MIB = 2**20


def _too_large(reply, limit: int) -> None:
    assert reply.status_code == 413, reply.text
    body = reply.json()
    assert body["error"] == "RequestTooLarge"
    assert body["args"]["max_bytes"] == limit
    assert str(limit) in body["message"]


def test_the_default_limits_are_one_mib_for_json_and_fifty_one_for_uploads(runtime: Runtime):
    assert runtime.settings.request_body_max_bytes == MIB
    assert runtime.settings.upload_body_max_bytes == 51 * MIB


def test_a_json_body_over_the_limit_is_refused_before_authentication(client: TestClient):
    body = b'{"org_id": 1, "name": "' + b"x" * (MIB + 10) + b'"}'
    reply = client.post(f"{V1}/organisations", content=body, headers={"Content-Type": "application/json"})
    _too_large(reply, MIB)  # not 401: the body is never read


def test_a_json_body_over_the_limit_is_refused_for_an_authenticated_caller(client: TestClient, cast: Cast):
    body = b'{"org_id": 1, "name": "' + b"x" * (MIB + 10) + b'"}'
    reply = client.post(f"{V1}/organisations", content=body,
                        headers={"Content-Type": "application/json", **cast.auth("regulator")})
    _too_large(reply, MIB)


def test_a_form_body_over_the_limit_is_refused(client: TestClient, cast: Cast):
    reply = client.post(f"{V1}/emissions/reports/1/finalization", data={"x": "y" * (MIB + 10)},
                        headers=cast.auth("regulator"))
    _too_large(reply, MIB)


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


def test_a_chunked_body_is_counted_while_streaming_and_stopped_at_the_limit(client: TestClient):
    reply = client.post(f"{V1}/organisations", content=_chunks(3 * MIB),
                        headers={"Content-Type": "application/json"})
    _too_large(reply, MIB)


def test_a_chunked_body_under_the_limit_passes(client: TestClient):
    reply = client.post(f"{V1}/organisations", content=iter([b'{"org_id": 1, ', b'"name": "x"}']),
                        headers={"Content-Type": "application/json"})
    assert reply.status_code == 401  # read, then refused for want of credentials


def test_a_document_upload_has_its_own_larger_limit(client: TestClient, cast: Cast):
    document = b"d" * (2 * MIB)
    reply = client.post(f"{V1}/notary/verifications", files={"document": ("big.pdf", document)},
                        headers=cast.auth("enterprise_a"))
    assert reply.status_code == 404 and reply.json()["error"] == "NotNotarized"


@pytest.fixture
def small_uploads(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setattr(runtime.settings, "upload_body_max_bytes", 3 * MIB)
    return TestClient(create_app(runtime))


def test_a_document_upload_over_its_limit_is_refused_before_authentication(small_uploads: TestClient):
    reply = small_uploads.post(f"{V1}/notary/verifications", files={"document": ("big.pdf", b"d" * (4 * MIB))})
    _too_large(reply, 3 * MIB)


def test_a_chunked_upload_over_its_limit_is_refused(small_uploads: TestClient, cast: Cast):
    boundary = "b0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n").encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from _chunks(4 * MIB)
        yield f"\r\n--{boundary}--\r\n".encode()

    reply = small_uploads.post(f"{V1}/notary/verifications", content=body(), headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}", **cast.auth("enterprise_a")})
    _too_large(reply, 3 * MIB)
