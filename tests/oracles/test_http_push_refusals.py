"""The stand-alone push endpoint has no caller login: it stores nothing for messages that name no registered
device (refused with the reason), caps quarantine rows per device and hour, and limits the body's size."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ledger_core.config import Settings
from ledger_core.db.models import IngestRun, QuarantinedReading
from oracles.http_push import create_app
from oracles.simulator import simulate_messages
from oracles.sources import MessageIn
from tests.oracles.conftest import START


def _client(sessions, **settings: object) -> TestClient:
    return TestClient(create_app(sessions, Settings(window="hour", factor_set="CN-2023-v1", **settings)))  # type: ignore[arg-type]


def _batch(park) -> list[dict]:
    return [MessageIn.of(m).model_dump() for m in simulate_messages(park, START, 60, readings_per_message=30)]


def _count(sessions, model) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_messages_of_no_registered_device_are_refused_and_nothing_is_stored(sessions, registered):
    batch = _batch(registered)
    reply = _client(sessions).post("/v1/messages", json={"messages": [{**batch[0], "device": "NOPE"}, {"x": 1}]})
    assert reply.status_code == 422, reply.text
    assert reply.json()["error"] == "UnattributedMessages"
    assert reply.json()["args"]["messages"] == [{"index": 0, "device": "NOPE", "reason": "unknown_device"},
                                                {"index": 1, "device": None, "reason": "malformed_message"}]
    assert _count(sessions, QuarantinedReading) == 0 and _count(sessions, IngestRun) == 0


def test_quarantine_rows_are_capped_per_device_and_hour(sessions, registered):
    client = _client(sessions, quarantine_per_device_hour=40)
    one_device = [m for m in _batch(registered) if m["device"] == registered.devices[0].device_id]
    assert client.post("/v1/messages", json={"messages": one_device}).json()["accepted"] == 60
    again = client.post("/v1/messages", json={"messages": one_device}).json()
    assert again["quarantined"] == {"sequence_repeated": 60} and again["quarantine_not_stored"] == 20
    assert _count(sessions, QuarantinedReading) == 40


def test_a_body_over_the_limit_is_refused(sessions, registered):
    client = _client(sessions, request_body_max_bytes=2000)
    reply = client.post("/v1/messages", json={"messages": _batch(registered)})
    assert reply.status_code == 413 and reply.json()["args"]["max_bytes"] == 2000
