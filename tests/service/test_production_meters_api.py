"""Generation meters through the API: registered with their kind, their readings (electricity produced) anchored
as production windows beside the enterprise's emissions, read by other contracts and proved like any reading."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger_core.db.models import MeterBatch, Reading
from ledger_service.runtime import Runtime
from oracles.canonical import MessageReading
from oracles.measures import MEASURE_EMISSIONS, MEASURE_PRODUCTION
from oracles.simulator import _raw_public_key, device_signing_key, sign_message
from oracles.sources import MessageIn
from tests.service.cast import ENTERPRISE_A, Cast
from tests.service.helpers import V1
from tests.service.metering import START, anchor, clear_meter_data, messages, push, set_up_park

PV = "RS-ROOF-PV1"
SEED = 7


@pytest.fixture(autouse=True)
def _meter_data(runtime: Runtime) -> Iterator[None]:
    yield
    clear_meter_data(runtime)


def _generated(minutes: int, kwh: str = "0.5") -> list[dict[str, object]]:
    readings = tuple(MessageReading(i + 1, START + 60 * i, kwh, "kWh", "electricity") for i in range(minutes))
    key = device_signing_key(SEED, PV)
    return [MessageIn.of(sign_message(key, PV, readings[i:i + 60])).model_dump() for i in range(0, minutes, 60)]


def _register_generator(client: TestClient, cast: Cast) -> dict[str, object]:
    body = {"device_id": PV, "enterprise_org_id": ENTERPRISE_A, "facility": "RS-F1", "workshop": "RS-F1-ROOF",
            "public_key": _raw_public_key(device_signing_key(SEED, PV)).hex(), "kind": "generation_meter"}
    reply = client.post(f"{V1}/meters/devices", headers=cast.auth("enterprise_a"), json=body)
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_a_generation_meter_s_production_is_anchored_apart_and_readable_by_other_contracts(
    client: TestClient, cast: Cast, runtime: Runtime
):
    layout = set_up_park(client, cast, runtime, devices=1)
    assert _register_generator(client, cast)["device"]["kind"] == "generation_meter"
    pushed = push(client, cast, "oracle", messages(layout, hours=1, org=ENTERPRISE_A) + _generated(60))
    assert pushed.json()["accepted"] == 120, pushed.text
    windows = anchor(client, cast, ENTERPRISE_A).json()["windows"]
    assert [w["action"] for w in windows] == ["anchored", "anchored"]
    anchors = client.get(f"{V1}/meters/enterprises/{ENTERPRISE_A}/anchors",
                         headers=cast.auth("enterprise_a")).json()["anchors"]
    production = [a for a in anchors if a["measure"] == MEASURE_PRODUCTION]
    assert [(a["window_start"], a["total_mg"], a["reading_count"]) for a in production] == [(START, "30000", 60)]
    assert [a["measure"] for a in anchors].count(MEASURE_EMISSIONS) == 1
    produced = runtime.chain.request(lambda: runtime.suite.call("MeterAnchor", "productionOf",
                                                                production[0]["anchor_id"]))
    assert list(produced) == [ENTERPRISE_A, START, START + 3600, 30_000]  # Wh: sixty half-kWh readings

    with runtime.sessions() as session:
        batch = session.scalar(select(MeterBatch).where(MeterBatch.measure == MEASURE_PRODUCTION))
        assert batch is not None
        reading_id = session.scalar(select(Reading.id).where(Reading.batch_id == batch.id).order_by(Reading.id))
    proof = client.get(f"{V1}/meters/readings/{reading_id}/proof", headers=cast.auth("regulator")).json()
    assert proof["verified_on_chain"] is True and proof["value_mg"] == "500"
    assert proof["anchor_record"]["measure"] == MEASURE_PRODUCTION and proof["anchor_record"]["total"] == "30000"
    assert proof["record"]["factorSetId"] == "0x" + "00" * 32 and proof["anchor_batch"] is None
