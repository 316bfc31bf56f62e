"""Generation meters: their readings are electricity produced, committed in whole Wh without a factor
set, collected in production windows apart from the enterprise's emissions, and anchored as measure 1,
which other contracts read through `IProductionAnchors.productionOf`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ledger_core.db.models import MeterBatch, Reading
from oracles.anchoring import anchor_pending
from oracles.batches import build_closed_batches
from oracles.canonical import MessageReading, ReadingRecord, record_digest
from oracles.devices import DeviceInfo, register_devices
from oracles.ingest import ingest_messages
from oracles.measures import MEASURE_EMISSIONS, MEASURE_PRODUCTION, DeviceKind, value_production
from oracles.merkle_sum import labelled_id
from oracles.proofs import prove_reading
from oracles.quarantine import QuarantineReason, Refused
from oracles.simulator import _raw_public_key, device_signing_key, sign_message, simulate_messages
from tests.oracles.conftest import HOUR, LATER, START

PV = "ENT11-F1-PV1"


@pytest.mark.parametrize(
    ("quantity", "unit", "wh"),
    [("12.5", "kWh", 12_500), ("3", "MWh", 3_000_000), ("480", "Wh", 480), ("0.0005", "kWh", 0),
     ("0.0015", "kWh", 2), ("12.50", "kWh", 12_500)],
)
def test_a_generation_reading_is_whole_wh_rounded_half_to_even(quantity: str, unit: str, wh: int) -> None:
    assert value_production(quantity, unit, "electricity")[1] == wh


@pytest.mark.parametrize(
    ("quantity", "unit", "carrier", "reason"),
    [("1", "kWh", "natural_gas", QuarantineReason.UNKNOWN_CARRIER),
     ("1", "GJ", "electricity", QuarantineReason.INVALID_UNIT),
     ("-1", "kWh", "electricity", QuarantineReason.NEGATIVE_QUANTITY)],
)
def test_a_generation_reading_that_is_not_electricity_produced_is_refused(
    quantity: str, unit: str, carrier: str, reason: QuarantineReason
) -> None:
    with pytest.raises(Refused) as refused:
        value_production(quantity, unit, carrier)
    assert refused.value.reason == reason


@pytest.fixture
def generator(session, registered) -> DeviceInfo:
    """A photovoltaic generation meter of enterprise 11."""
    key = device_signing_key(registered.seed, PV)
    info = DeviceInfo(PV, 11, "ENT11-F1", "ENT11-F1-PV", _raw_public_key(key), DeviceKind.GENERATION_METER)
    register_devices(session, [info])
    session.commit()
    return info


def _generated(registered, minutes: int) -> list:
    key = device_signing_key(registered.seed, PV)
    readings = tuple(MessageReading(i + 1, START + 60 * i, "0.25", "kWh", "electricity") for i in range(minutes))
    return [sign_message(key, PV, readings[i:i + 30]) for i in range(0, minutes, 30)]


def test_generation_readings_go_into_production_windows_of_wh_apart_from_emissions(
    session, factor_set, registered, generator
) -> None:
    messages = [*simulate_messages(registered, START, 120, readings_per_message=30), *_generated(registered, 120)]
    summary = ingest_messages(session, messages, factor_set=factor_set, window_seconds=HOUR, now=LATER)
    session.commit()
    assert summary.quarantined_total == 0
    production = session.scalars(select(MeterBatch).where(MeterBatch.measure == MEASURE_PRODUCTION)
                                 .order_by(MeterBatch.window_start)).all()
    assert [(b.enterprise_org_id, b.window_start, b.factor_set) for b in production] == [
        (11, START, ""), (11, START + HOUR, "")]
    emissions = session.scalars(select(MeterBatch).where(MeterBatch.measure == MEASURE_EMISSIONS)).all()
    assert len(emissions) == 4  # both enterprises' two hours, as without the generator
    reading = session.scalars(select(Reading).where(Reading.batch_id == production[0].id)
                              .order_by(Reading.sequence)).first()
    assert reading is not None
    assert (reading.quantity, reading.unit, reading.scope, reading.value_mg) == ("0.25", "kWh", 0, 250)
    assert reading.digest == record_digest(ReadingRecord(
        labelled_id(PV), 1, START, "0.25", "kWh", "electricity", bytes(32), 0, 250))


def test_production_windows_are_anchored_as_measure_one_and_read_by_other_contracts(
    ledger, session, factor_set, registered, generator, client
) -> None:
    messages = [*simulate_messages(registered, START, 120, readings_per_message=30), *_generated(registered, 120)]
    ingest_messages(session, messages, factor_set=factor_set, window_seconds=HOUR, now=LATER)
    session.commit()
    build_closed_batches(session, LATER)
    outcomes = anchor_pending(session, client)
    assert [o.action for o in outcomes] == ["anchored"] * 6
    production = session.scalars(select(MeterBatch).where(MeterBatch.measure == MEASURE_PRODUCTION)
                                 .order_by(MeterBatch.window_start)).all()
    for batch in production:
        assert batch.total_mg == 60 * 250  # Wh: sixty quarter-kWh readings
        assert ledger.call("MeterAnchor", "productionOf", batch.anchor_id) == [
            11, batch.window_start, batch.window_end, 15_000]
        on_chain = client.get_anchor(batch.anchor_id)
        assert (on_chain.measure, on_chain.factor_set_id, on_chain.root) == (MEASURE_PRODUCTION, bytes(32), batch.root)
    assert ledger.call("MeterAnchor", "headOf", 11, MEASURE_PRODUCTION)[0] == production[-1].anchor_id
    first = session.scalars(select(Reading.id).where(Reading.batch_id == production[0].id)).first()
    assert first is not None
    proof = prove_reading(session, first)
    assert proof.verify() is not None
    valid, subtotals = client.verify_reading(proof.anchor_id, proof.digest, proof.value_mg, proof.steps)
    assert valid and subtotals[-1].sum == 15_000
