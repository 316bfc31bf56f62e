"""Requests that are not allowed to write cannot fill tables, and a refused request stores nothing: signed-request
nonces of non-members, meter readings of devices nobody may push for, quarantine rows beyond the per-device
hourly cap, documents of refused verifications."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ledger_core.db.models import QuarantinedReading, RequestNonce
from ledger_service.documents import DocumentKind
from ledger_service.identity.signed_requests import sign_request
from ledger_service.runtime import Runtime
from tests.service.cast import ENTERPRISE_A, Cast
from tests.service.helpers import V1
from tests.service.metering import clear_meter_data, messages, push, set_up_park
from tests.service.test_emissions_api import submitted, verify

ORG_PATH = f"{V1}/organisations/10"


@pytest.fixture(autouse=True)
def _meter_data(runtime: Runtime) -> Iterator[None]:
    yield
    clear_meter_data(runtime)


def _nonces(runtime: Runtime, address: str) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(RequestNonce)
                                  .where(RequestNonce.address == address)) or 0)


def _quarantined(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(QuarantinedReading)) or 0)


def _signed(cast: Cast, name: str) -> dict[str, str]:
    return sign_request(cast.accounts[name], "GET", ORG_PATH, b"", int(time.time()), uuid.uuid4().hex).as_dict()


def test_signed_requests_of_a_non_member_store_no_nonce(client: TestClient, cast: Cast, runtime: Runtime):
    stranger = cast.accounts["stranger"].address
    for _ in range(5):
        reply = client.get(ORG_PATH, headers=_signed(cast, "stranger"))
        assert reply.status_code == 403 and reply.json()["error"] == "MemberNotActive"
    assert _nonces(runtime, stranger) == 0


def _stored(runtime: Runtime, address: str, nonce: str) -> bool:
    with runtime.sessions() as session:
        return session.scalar(select(RequestNonce.id).where(RequestNonce.address == address,
                                                            RequestNonce.nonce == nonce)) is not None


def test_signed_requests_of_a_member_still_store_their_nonce(client: TestClient, cast: Cast, runtime: Runtime):
    # asked by value: nonces older than the accepted window are pruned meanwhile, so counts can go down
    signer = cast.accounts["self_signer"].address
    headers = _signed(cast, "self_signer")
    assert not _stored(runtime, signer, headers["X-CL-Nonce"])
    assert client.get(ORG_PATH, headers=headers).status_code == 200
    assert _stored(runtime, signer, headers["X-CL-Nonce"])
    assert client.get(ORG_PATH, headers=headers).json()["message"] == "request nonce already used"


def test_readings_of_unregistered_devices_are_refused_not_quarantined(client: TestClient, cast: Cast,
                                                                    runtime: Runtime):
    layout = set_up_park(client, cast, runtime)
    of_a = messages(layout, hours=1, org=ENTERPRISE_A)
    reply = push(client, cast, "enterprise_a", [*of_a, {**of_a[0], "device": "NOT-REGISTERED"}])
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert body["error"] == "UnattributedMessages"
    assert body["args"]["messages"] == [{"index": len(of_a), "device": "NOT-REGISTERED",
                                         "reason": "unknown_device"}]
    assert _quarantined(runtime) == 0
    with runtime.sessions() as session:
        from ledger_core.db.models import Reading
        assert session.scalar(select(func.count()).select_from(Reading)) == 0  # nothing of the batch stored


def test_messages_naming_no_device_are_refused_not_quarantined(client: TestClient, cast: Cast, runtime: Runtime):
    layout = set_up_park(client, cast, runtime)
    of_a = messages(layout, hours=1, org=ENTERPRISE_A)
    reply = push(client, cast, "enterprise_a", [{"no": "device"}, *of_a])
    assert reply.status_code == 422, reply.text
    assert reply.json()["args"]["messages"] == [{"index": 0, "device": None, "reason": "malformed_message"}]
    assert _quarantined(runtime) == 0


def test_quarantine_rows_are_capped_per_device_and_hour(client: TestClient, cast: Cast, runtime: Runtime,
                                                        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(runtime.settings, "quarantine_per_device_hour", 70)
    layout = set_up_park(client, cast, runtime, devices=1)
    batch = messages(layout, hours=1, org=ENTERPRISE_A)
    assert push(client, cast, "enterprise_a", batch).json()["accepted"] == 60
    first = push(client, cast, "enterprise_a", batch).json()
    assert first["quarantined"] == {"sequence_repeated": 60} and first["quarantine_not_stored"] == 0
    second = push(client, cast, "enterprise_a", batch).json()
    assert second["quarantined"] == {"sequence_repeated": 60} and second["quarantine_not_stored"] == 50
    assert _quarantined(runtime) == 70


def test_a_refused_verification_keeps_no_statement(client: TestClient, cast: Cast, runtime: Runtime):
    report_id = submitted(client, cast)
    assert verify(client, cast, report_id).status_code == 200
    late = b"a second statement, for a report already verified"
    refused = verify(client, cast, report_id, statement=late)
    assert refused.status_code == 409 and refused.json()["error"] == "InvalidReportStatus"
    assert not runtime.documents.has(hashlib.sha256(late).digest(), ENTERPRISE_A, DocumentKind.STATEMENT)
    assert runtime.documents.has(hashlib.sha256(b"statement").digest(), ENTERPRISE_A, DocumentKind.STATEMENT)
