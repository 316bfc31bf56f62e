"""The HTTP push source: a batch of signed messages in, accepted and quarantined counts out."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ledger_core.config import Settings
from oracles.http_push import MAX_BATCH, create_app
from oracles.simulator import simulate_messages
from oracles.sources import MessageIn
from tests.oracles.conftest import START


def _client(sessions) -> TestClient:
    return TestClient(create_app(sessions, Settings(window="hour", factor_set="CN-2023-v1")))


def _batch(park, minutes: int = 60) -> list[dict]:
    return [MessageIn.of(m).model_dump() for m in simulate_messages(park, START, minutes, readings_per_message=30)]


def test_a_pushed_batch_is_ingested_and_counted(sessions, registered):
    reply = _client(sessions).post("/v1/messages", json={"messages": _batch(registered)})
    assert reply.status_code == 200
    body = reply.json()
    assert body["messages"] == 16 and body["accepted"] == 480 and body["quarantined"] == {}


def test_malformed_and_replayed_messages_are_quarantined_not_refused(sessions, registered):
    client = _client(sessions)
    batch = _batch(registered)
    assert client.post("/v1/messages", json={"messages": batch}).json()["accepted"] == 480
    tampered = dict(batch[0], readings=[dict(batch[0]["readings"][0], quantity="999")])
    garbage = {"device": "ENT11-F1-W1-D001", "readings": "not a list"}
    reply = client.post("/v1/messages", json={"messages": [batch[1], tampered, garbage]})
    assert reply.status_code == 200
    body = reply.json()
    assert body["accepted"] == 0
    assert body["quarantined"] == {"sequence_repeated": 30, "bad_signature": 1, "malformed_message": 1}


def test_an_empty_or_oversized_batch_is_a_validation_error(sessions, registered):
    client = _client(sessions)
    assert client.post("/v1/messages", json={"messages": []}).status_code == 422
    too_many = [{"device": "x"}] * (MAX_BATCH + 1)
    assert client.post("/v1/messages", json={"messages": too_many}).status_code == 422


def test_weekly_windows_start_on_thursdays_at_midnight_utc(sessions, registered):
    from sqlalchemy import select

    from ledger_core.db.models import MeterBatch

    settings = Settings(window="week", factor_set="CN-2023-v1")
    assert settings.window_seconds == 7 * 86_400
    client = TestClient(create_app(sessions, settings))
    first_thursday = 1_735_776_000  # 2025-01-02T00:00:00Z
    batch = [MessageIn.of(m).model_dump() for m in simulate_messages(
        registered, first_thursday - 3600, 3, interval_seconds=3600, readings_per_message=3)]
    assert client.post("/v1/messages", json={"messages": batch}).json()["quarantined"] == {}
    with sessions() as session:
        windows = {(b.window_start, b.window_end) for b in session.scalars(select(MeterBatch))}
    week = 7 * 86_400
    assert windows == {(first_thursday - week, first_thursday), (first_thursday, first_thursday + week)}
