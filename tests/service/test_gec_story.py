"""Green electricity certificates end to end through the HTTP API: a generator's signed production readings go
through the oracle pipeline and are anchored; certificates are issued from those anchors (capped, each anchor
once), moved, consumed by another enterprise, which lowers its market-based Scope 2; the batch is traced from the
readings' anchors to the claim, and the index reconciles with the chain."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from ledger_core.db.models import ChainAnchor
from ledger_service.runtime import Runtime
from oracles.canonical import MessageReading
from oracles.simulator import device_signing_key, sign_message
from oracles.sources import MessageIn
from tests.service.cast import ENTERPRISE_A, ENTERPRISE_B, Cast
from tests.service.helpers import V1
from tests.service.metering import HOUR, START, anchor, messages, push, set_up_park
from tests.service.test_gec_api import electricity_of

PV = "ENT11-F9-PV1"
SEED = 42
PERIOD = (START, START + 2 * HOUR)
KWH_PER_MINUTE = "250"  # 15 MWh an hour: 30 certificates over the two hourly windows


def generation_messages(hours: int = 2) -> list[dict[str, Any]]:
    """The photovoltaic meter's signed readings, one a minute, one message an hour."""
    key = device_signing_key(SEED, PV)
    out = []
    for hour in range(hours):
        readings = tuple(MessageReading(hour * 60 + i + 1, START + hour * HOUR + 60 * i, KWH_PER_MINUTE, "kWh",
                                        "electricity") for i in range(60))
        out.append(MessageIn.of(sign_message(key, PV, readings)).model_dump())
    return out


def generating_park(client: TestClient, cast: Cast, runtime: Runtime) -> list[int]:
    """Both enterprises metered for two hours, A with a generation meter too; every window anchored. Returns the
    ids of A's production anchors."""
    layout = set_up_park(client, cast, runtime, devices=2)
    key = device_signing_key(SEED, PV)
    reply = client.post(f"{V1}/meters/devices", headers=cast.auth("enterprise_a"), json={
        "device_id": PV, "enterprise_org_id": ENTERPRISE_A, "facility": "ENT11-F9", "workshop": "ENT11-F9-PV",
        "public_key": key.public_key().public_bytes_raw().hex(), "kind": "generation_meter"})
    assert reply.status_code == 201, reply.text
    for org, name in ((ENTERPRISE_A, "enterprise_a"), (ENTERPRISE_B, "enterprise_b")):
        assert push(client, cast, name, messages(layout, hours=2, org=org)).status_code == 200
    assert push(client, cast, "enterprise_a", generation_messages()).status_code == 200
    for org in (ENTERPRISE_A, ENTERPRISE_B):
        assert anchor(client, cast, org).status_code == 200
    runtime.indexing.index_up_to_date()
    with runtime.sessions() as session:
        return list(session.scalars(select(ChainAnchor.anchor_id).where(
            ChainAnchor.enterprise_org_id == ENTERPRISE_A, ChainAnchor.measure == 1).order_by(ChainAnchor.anchor_id)))


def issue(client: TestClient, cast: Cast, anchors: list[int], period: tuple[int, int] = PERIOD, **extra: Any) -> Any:
    return client.post(f"{V1}/gec/batches", headers=cast.auth("regulator"), json={
        "generator": cast.addresses["enterprise_a"], "period_start": period[0], "period_end": period[1],
        "anchor_ids": anchors, **extra})


def test_certificates_from_anchored_generation_to_a_consumption_claim_and_market_based_scope_2(
        client: TestClient, cast: Cast, runtime: Runtime):
    anchors = generating_park(client, cast, runtime)
    assert len(anchors) == 2

    outside = issue(client, cast, anchors, period=(PERIOD[0], PERIOD[1] - HOUR))
    assert outside.status_code == 409 and outside.json()["error"] == "AnchorOutsidePeriod"
    over = issue(client, cast, anchors, amount=31)
    assert over.status_code == 409 and over.json()["error"] == "ExceedsAnchoredProduction"
    issued = issue(client, cast, anchors)
    assert issued.status_code == 201, issued.text
    batch = issued.json()["batch"]
    assert (batch["amount"], batch["anchored_wh"], batch["anchor_ids"], batch["supply"]) == (
        30, 30_000_000, anchors, 30)
    again = issue(client, cast, anchors[1:])
    assert again.status_code == 409 and again.json()["error"] == "AnchorAlreadyCertified"

    moved = client.post(f"{V1}/gec/transfers", headers=cast.auth("enterprise_a"), json={
        "to": cast.addresses["enterprise_b"], "batch_id": batch["batch_id"], "amount": 20})
    assert moved.status_code == 200, moved.text
    stolen = client.post(f"{V1}/gec/consumptions", headers=cast.auth("enterprise_a2"), json={
        "batch_id": batch["batch_id"], "amount": 1, "consumption_start": PERIOD[0], "consumption_end": PERIOD[1]})
    assert stolen.status_code == 409 and stolen.json()["error"] == "ERC1155InsufficientBalance"
    consumed = client.post(f"{V1}/gec/consumptions", headers=cast.auth("enterprise_b"), json={
        "batch_id": batch["batch_id"], "amount": 12, "consumption_start": PERIOD[0], "consumption_end": PERIOD[1]})
    assert consumed.status_code == 201, consumed.text
    claim = consumed.json()["consumption"]
    assert (claim["beneficiary_org_id"], claim["serial_start"], claim["serial_end"]) == (
        ENTERPRISE_B, batch["serial_start"], batch["serial_start"] + 11)

    kwh, mg = electricity_of(runtime, ENTERPRISE_B)
    report = client.get(f"{V1}/gec/scope2/{ENTERPRISE_B}", params={"start": PERIOD[0], "end": PERIOD[1]},
                        headers=cast.auth("enterprise_b")).json()
    covered = min(Fraction(12_000), kwh)
    expected_mg = Fraction(mg) * (kwh - covered) / kwh
    assert report["certificates_mwh"] == 12
    assert Decimal(report["location_based_kg"]) == Decimal(mg) / 1_000_000
    assert abs(Decimal(report["market_based_kg"]) * 1_000_000 - Decimal(float(expected_mg))) <= 1
    assert Decimal(report["market_based_kg"]) < Decimal(report["location_based_kg"])
    assert report["compliance_kg"] == report["location_based_kg"]  # the rule is off by default
    assert [c["amount"] for c in report["consumptions"]] == [12]

    trace = client.get(f"{V1}/gec/batches/{batch['batch_id']}/trace", headers=cast.auth("regulator")).json()
    assert [a["anchor_id"] for a in trace["origin"]] == anchors
    assert [(a["wh"], a["reading_count"], a["stored_readings"]) for a in trace["origin"]] == [
        (15_000_000, 60, 60)] * 2
    assert [h["kind"] for h in trace["hops"]] == ["issuance", "transfer", "consumption"]
    assert (trace["issued"], trace["consumed"], trace["outstanding"]) == (30, 12, 18)
    assert [c["serial_end"] for c in trace["consumptions"]] == [claim["serial_end"]]
    generic = client.get(f"{V1}/audit/assets/gec/{batch['batch_id']}/trace", headers=cast.auth("regulator")).json()
    assert [h["kind"] for h in generic["hops"]] == ["issuance", "transfer", "consumption"]
    assert client.get(f"{V1}/gec/batches/{batch['batch_id']}/trace",
                      headers=cast.auth("enterprise_c")).status_code == 403

    # The index, the production and emission windows and the certificates' supplies (computed on chain from the
    # batch's serial cursor) agree with the chain.
    reconciled = client.get(f"{V1}/audit/reconcile", headers=cast.auth("regulator")).json()
    assert reconciled["differences"] == []
    assert reconciled["checked"]["total_supply"] >= 1


def test_a_frozen_holder_can_neither_consume_nor_receive(client: TestClient, cast: Cast, runtime: Runtime):
    anchors = generating_park(client, cast, runtime)
    batch_id = issue(client, cast, anchors).json()["batch"]["batch_id"]
    frozen = client.post(f"{V1}/members/{cast.addresses['enterprise_a']}/freeze", headers=cast.auth("regulator"),
                         json={"reason": "investigation"})
    assert frozen.status_code == 200, frozen.text

    consumed = client.post(f"{V1}/gec/consumptions", headers=cast.auth("enterprise_a"), json={
        "batch_id": batch_id, "amount": 1, "consumption_start": PERIOD[0], "consumption_end": PERIOD[1]})
    assert consumed.status_code == 403, consumed.text
    held = client.get(f"{V1}/gec/holdings/{cast.addresses['enterprise_a']}", headers=cast.auth("enterprise_a2"))
    assert held.json()["holdings"][0]["amount"] == 30
