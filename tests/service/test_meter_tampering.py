"""A reading edited directly in SQL (its quantity or its mgCO2e value): the proof of any reading of its
window answers 409 `StoredDataInconsistent` naming the window and the reason, never a bare 500, and the
other windows still prove."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ledger_core.db.models import MeterBatch, Reading
from ledger_service.runtime import Runtime
from oracles import merkle_sum as ms
from oracles.proofs import rebuild_window
from tests.cli.meter_story import anchor_meter_data, report_and_finalize
from tests.service.cast import ENTERPRISE_A, Cast
from tests.service.helpers import V1
from tests.service.metering import anchor, clear_meter_data, messages, push, set_up_park


@pytest.fixture(autouse=True)
def _meter_data(runtime: Runtime) -> Iterator[None]:
    yield
    clear_meter_data(runtime)


def two_anchored_windows(client: TestClient, cast: Cast, runtime: Runtime) -> dict[int, list[int]]:
    """Enterprise A's two hours anchored: batch id -> its reading ids."""
    layout = set_up_park(client, cast, runtime)
    push(client, cast, "oracle", messages(layout, hours=2, org=ENTERPRISE_A))
    assert [w["action"] for w in anchor(client, cast, ENTERPRISE_A).json()["windows"]] == ["anchored", "anchored"]
    with runtime.sessions() as session:
        rows = session.execute(select(Reading.batch_id, Reading.id).order_by(Reading.id)).all()
    batches: dict[int, list[int]] = {}
    for batch_id, reading_id in rows:
        batches.setdefault(batch_id, []).append(reading_id)
    assert len(batches) == 2
    return batches


def proof(client: TestClient, cast: Cast, reading_id: int) -> Any:
    return client.get(f"{V1}/meters/readings/{reading_id}/proof", headers=cast.auth("regulator"))


def assert_inconsistent(reply: Any, batch_id: int, reading_id: int, *words: str) -> None:
    assert reply.status_code == 409, reply.text
    body = reply.json()
    assert body["error"] == "StoredDataInconsistent"
    args = body["args"]
    assert args["readingId"] == reading_id and args["batchId"] == batch_id and args["anchorId"] is not None
    assert args["windowStart"] < args["windowEnd"] and args["enterpriseOrgId"] == ENTERPRISE_A
    assert f"window {args['windowStart']}-{args['windowEnd']}" in body["message"]
    for word in words:
        assert word in args["reason"], args["reason"]


@pytest.mark.parametrize("column", ["quantity", "value_mg"])
def test_an_edited_reading_makes_its_whole_window_unprovable_with_a_409(client: TestClient, cast: Cast,
                                                                       runtime: Runtime, column: str):
    batches = two_anchored_windows(client, cast, runtime)
    (first, edited_batch), (_, other_batch) = batches.items()
    edited, neighbour = edited_batch[5], edited_batch[40]
    assert proof(client, cast, edited).status_code == 200
    with runtime.sessions.begin() as session:
        reading = session.get(Reading, edited)
        assert reading is not None
        if column == "quantity":  # one more kWh, m3 or t: at least +1 kg of CO2e
            reading.quantity = f"{Decimal(reading.quantity) + 1:f}"
        else:
            reading.value_mg += 1_000_000  # +1 kg
    for reading_id in (edited, neighbour, edited_batch[0], edited_batch[-1]):
        assert_inconsistent(proof(client, cast, reading_id), first, reading_id, "not the committed root",
                            f"no longer give their digest: {edited}")
    untouched = proof(client, cast, other_batch[3])
    assert untouched.status_code == 200 and untouched.json()["verified_on_chain"] is True


def test_stored_data_rehashed_to_agree_with_itself_is_held_to_the_anchored_root(client: TestClient, cast: Cast,
                                                                                runtime: Runtime):
    batches = two_anchored_windows(client, cast, runtime)
    batch_id, ids = next(iter(batches.items()))
    with runtime.sessions.begin() as session:
        session.execute(update(Reading).where(Reading.id == ids[0]).values(value_mg=Reading.value_mg + 1_000_000))
        batch = session.get(MeterBatch, batch_id)
        assert batch is not None
        window = rebuild_window(session, batch)
        changed = window.readings[ids[0]]
        session.execute(update(Reading).where(Reading.id == ids[0]).values(
            digest=changed.digest, leaf_hash=ms.leaf(changed.digest, changed.record.value).hash))
        assert window.root is not None
        batch.root = window.root.hash  # SQL now agrees with itself, not with MeterAnchor
    reply = proof(client, cast, ids[1])
    assert_inconsistent(reply, batch_id, ids[1], "is not the anchored root")


def test_a_report_trace_over_corrupt_windows_fails_its_checks_by_name_not_with_a_500(client: TestClient,
                                                                                    cast: Cast, runtime: Runtime):
    story = anchor_meter_data(runtime, client, cast)
    report_and_finalize(runtime, cast, story)
    first, second = story.anchor_ids[ENTERPRISE_A]
    trace_url = f"{V1}/audit/reports/{story.report_id}/trace"
    clean = client.get(trace_url, headers=cast.auth("regulator"),
                       params={"readings": 2, "seed": 11, "verify_on_chain": True}).json()
    assert clean["verified"] and clean["failed_checks"] == [] and clean["seed"] == 11
    assert sorted(r["anchor_id"] for r in clean["readings"]) == sorted([first, second])
    reading = clean["readings"][0]
    assert reading["verified_on_chain"] is True and reading["factor_set"] and reading["factor_kg_per_unit"]
    assert (reading["quantity"], reading["unit"], reading["carrier"]) != ("", "", "")
    assert set(reading["proof"]) >= {"value_mg", "steps", "anchor_id", "record"}
    assert clean["versions"][0]["steps"][0]["actor_organisation"] == "Riverside Steel"
    assert clean["anchors"][0]["oracle_organisation"] == "Park Metering Services"

    with runtime.sessions.begin() as session:
        edited = []
        for anchor_id in (first, second):
            batch_id = session.scalar(select(MeterBatch.id).where(MeterBatch.anchor_id == anchor_id))
            reading_id = session.scalars(select(Reading.id).where(Reading.batch_id == batch_id)
                                         .order_by(Reading.id)).all()[-1]  # never among the first readings
            session.execute(update(Reading).where(Reading.id == reading_id)
                            .values(value_mg=Reading.value_mg + 1_000_000))
            edited.append(reading_id)
    reply = client.get(trace_url, headers=cast.auth("regulator"),
                       params={"readings": 2, "seed": 11, "verify_on_chain": True})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert not body["verified"] and [a["readings_match"] for a in body["anchors"]] == [False, False]
    for anchor_id, reading_id in zip((first, second), edited, strict=True):
        assert any(f.startswith(f"anchor {anchor_id}: ") and f"digest: {reading_id}" in f
                   for f in body["failed_checks"]), body["failed_checks"]
    assert all(r["proof"] is None and r["problem"] and r["verified_on_chain"] is None for r in body["readings"])
    every = client.get(trace_url, headers=cast.auth("regulator"), params={"all": True, "seed": 11}).json()
    assert every["all_readings"] and every["readings_checked"] == 2 * 4 * 60
    assert sorted(r["reading_id"] for r in every["readings"] if r["changed"]) == sorted(edited)
