"""Product counters: a production meter whose readings are units of product. They are signed and checked like
every reading (a wrong carrier or a malformed unit is quarantined, never dropped), committed in whole milli
declared units without a factor set, collected in product-count windows apart from emissions and electricity
produced, and anchored as measure 2, provable down to each count."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ledger_core.db.models import MeterBatch, QuarantinedReading, Reading
from oracles.anchor_records import anchor_id_of, measure_of, previous_of, sequence_of
from oracles.anchoring import anchor_pending
from oracles.batches import build_closed_batches
from oracles.canonical import MessageReading, ReadingRecord, record_digest
from oracles.devices import DeviceInfo, register_devices
from oracles.ingest import ingest_messages
from oracles.measures import MEASURE_PRODUCT_COUNT, DeviceKind, value_count
from oracles.merkle_sum import labelled_id
from oracles.proofs import prove_reading
from oracles.quarantine import QuarantineReason, Refused
from oracles.simulator import _raw_public_key, device_signing_key, sign_message
from tests.oracles.conftest import HOUR, LATER, START

COUNTER = "ENT11-F1-CTR1"


@pytest.mark.parametrize(("quantity", "milli"), [("2.5", 2_500), ("1", 1_000), ("0.0005", 0), ("0.0015", 2)])
def test_a_count_is_whole_milli_units_rounded_half_to_even(quantity: str, milli: int) -> None:
    assert value_count(quantity, "t", "product")[1] == milli


@pytest.mark.parametrize(
    ("unit", "carrier", "reason"),
    [("t", "electricity", QuarantineReason.UNKNOWN_CARRIER), ("", "product", QuarantineReason.INVALID_UNIT),
     ("t\n", "product", QuarantineReason.INVALID_UNIT)],
)
def test_a_count_that_is_not_units_of_product_is_refused(unit: str, carrier: str, reason: QuarantineReason) -> None:
    with pytest.raises(Refused) as refused:
        value_count("1", unit, carrier)
    assert refused.value.reason == reason


@pytest.mark.parametrize("sequence", [1, 2, (1 << 30) - 1])
def test_a_count_anchor_id_says_its_enterprise_measure_and_sequence(sequence: int) -> None:
    anchor_id = anchor_id_of(11, MEASURE_PRODUCT_COUNT, sequence)
    assert (anchor_id >> 32, measure_of(anchor_id), sequence_of(anchor_id)) == (11, MEASURE_PRODUCT_COUNT, sequence)
    assert previous_of(anchor_id) == (0 if sequence == 1 else anchor_id - 1)
    assert anchor_id < 1 << 53


@pytest.fixture
def counter(session, registered) -> DeviceInfo:
    """The coil line's counter of enterprise 11 (tonnes of coil)."""
    key = device_signing_key(registered.seed, COUNTER)
    info = DeviceInfo(COUNTER, 11, "ENT11-F1", "ENT11-F1-W1", _raw_public_key(key), DeviceKind.PRODUCT_COUNTER)
    register_devices(session, [info])
    session.commit()
    return info


def _counted(registered, minutes: int, carrier: str = "product") -> list:
    key = device_signing_key(registered.seed, COUNTER)
    readings = tuple(MessageReading(i + 1, START + 60 * i, "2.5", "t", carrier) for i in range(minutes))
    return [sign_message(key, COUNTER, readings[i:i + 30]) for i in range(0, minutes, 30)]


def test_counts_go_into_product_count_windows_and_a_wrong_carrier_is_quarantined(
    session, factor_set, registered, counter
) -> None:
    summary = ingest_messages(session, [*_counted(registered, 60), *_counted(registered, 1, "electricity")],
                              factor_set=factor_set, window_seconds=HOUR, now=LATER)
    session.commit()
    assert summary.quarantined_total == 1
    quarantined = session.scalars(select(QuarantinedReading)).one()
    assert quarantined.reason == QuarantineReason.UNKNOWN_CARRIER
    (batch,) = session.scalars(select(MeterBatch).where(MeterBatch.measure == MEASURE_PRODUCT_COUNT)).all()
    assert (batch.enterprise_org_id, batch.window_start, batch.factor_set) == (11, START, "")
    reading = session.scalars(select(Reading).where(Reading.batch_id == batch.id).order_by(Reading.sequence)).first()
    assert reading is not None
    assert (reading.quantity, reading.unit, reading.scope, reading.value_mg) == ("2.5", "t", 0, 2_500)
    assert reading.digest == record_digest(ReadingRecord(
        labelled_id(COUNTER), 1, START, "2.5", "t", "product", bytes(32), 0, 2_500))


def test_count_windows_are_anchored_as_measure_two_and_each_count_proves_into_its_anchor(
    ledger, session, factor_set, registered, counter, client
) -> None:
    ingest_messages(session, _counted(registered, 120), factor_set=factor_set, window_seconds=HOUR, now=LATER)
    session.commit()
    build_closed_batches(session, LATER)
    outcomes = anchor_pending(session, client)
    assert [o.action for o in outcomes] == ["anchored"] * 2
    batches = session.scalars(select(MeterBatch).where(MeterBatch.measure == MEASURE_PRODUCT_COUNT)
                              .order_by(MeterBatch.window_start)).all()
    assert [b.anchor_id for b in batches] == [anchor_id_of(11, MEASURE_PRODUCT_COUNT, 1),
                                              anchor_id_of(11, MEASURE_PRODUCT_COUNT, 2)]
    for batch in batches:
        assert batch.total_mg == 60 * 2_500  # milli tonnes: sixty counts of 2.5 t
        on_chain = client.get_anchor(batch.anchor_id)
        assert (on_chain.measure, on_chain.total_mg, on_chain.root) == (MEASURE_PRODUCT_COUNT, 150_000, batch.root)
    first = session.scalars(select(Reading.id).where(Reading.batch_id == batches[0].id)).first()
    assert first is not None
    proof = prove_reading(session, first)
    valid, subtotals = client.verify_reading(proof.anchor_id, proof.digest, proof.value_mg, proof.steps)
    assert valid and subtotals[0].sum == 150_000  # the counter's own subtotal (device level)
