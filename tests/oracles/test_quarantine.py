"""Every refused reading is quarantined with its reason and raw payload; nothing is dropped silently."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import select

from ledger_core.db.models import QuarantinedReading, Reading
from oracles.batches import build_closed_batches
from oracles.devices import set_device_active
from oracles.ingest import ingest_messages
from oracles.quarantine import QuarantineReason
from oracles.sources import parse_message
from tests.oracles.conftest import HOUR, LATER, START
from tests.oracles.helpers import kwh, signed


def ingest(session, factor_set, messages, now=LATER):
    summary = ingest_messages(session, messages, factor_set=factor_set, window_seconds=HOUR, now=now)
    session.commit()
    return summary


def quarantined(session):
    return session.scalars(select(QuarantinedReading).order_by(QuarantinedReading.id)).all()


@pytest.fixture
def dev(registered):
    return next(d for d in registered.devices if d.enterprise_org_id == 11)


def only_reason(session, summary, reason):
    assert summary.quarantined == {reason: summary.quarantined_total}
    rows = quarantined(session)
    assert rows and {r.reason for r in rows} == {reason}
    return rows


def test_a_message_that_is_not_a_message_is_quarantined_verbatim(session, factor_set, registered):
    text = '{"device": "ENT11-F1-W1-D001", "readings": "lots"}'
    summary = ingest(session, factor_set, [parse_message(text)])
    (row,) = only_reason(session, summary, QuarantineReason.MALFORMED_MESSAGE)
    assert row.payload == text and row.device_id == "ENT11-F1-W1-D001" and "readings" in row.detail


def test_a_quantity_sent_as_a_json_number_is_malformed(session, factor_set, registered, dev):
    message = signed(registered, dev, kwh(1, START))
    payload = {"device": dev.device_id, "readings": [{**message.readings[0]._asdict(), "quantity": 10.5}],
               "signature": message.signature.hex()}
    summary = ingest(session, factor_set, [parse_message(json.dumps(payload))])
    only_reason(session, summary, QuarantineReason.MALFORMED_MESSAGE)


def test_an_unregistered_device_is_refused(session, factor_set, registered, dev):
    stranger = replace(dev, device_id="ENT11-F9-W9-D999")
    summary = ingest(session, factor_set, [signed(registered, stranger, kwh(1, START), kwh(2, START + 60))])
    rows = only_reason(session, summary, QuarantineReason.UNKNOWN_DEVICE)
    assert len(rows) == 2 and json.loads(rows[0].payload)["quantity"] == "10"


def test_an_inactive_device_is_refused(session, factor_set, registered, dev):
    set_device_active(session, dev.device_id, False)
    summary = ingest(session, factor_set, [signed(registered, dev, kwh(1, START))])
    only_reason(session, summary, QuarantineReason.DEVICE_INACTIVE)


def test_a_tampered_reading_breaks_the_signature_of_its_message(session, factor_set, registered, dev):
    message = signed(registered, dev, kwh(1, START, "10"), kwh(2, START + 60, "11"))
    tampered = replace(message, readings=(message.readings[0], message.readings[1]._replace(quantity="1.1")))
    summary = ingest(session, factor_set, [tampered])
    rows = only_reason(session, summary, QuarantineReason.BAD_SIGNATURE)
    assert [json.loads(r.payload)["quantity"] for r in rows] == ["10", "1.1"]


def test_a_message_signed_by_another_devices_key_is_refused(session, factor_set, registered, dev):
    other = next(d for d in registered.devices if d.device_id != dev.device_id)
    forged = replace(signed(registered, other, kwh(1, START)), device=dev.device_id)
    summary = ingest(session, factor_set, [forged])
    only_reason(session, summary, QuarantineReason.BAD_SIGNATURE)


@pytest.mark.parametrize(
    ("reading", "reason"),
    [
        (kwh(1, START, carrier="unobtainium"), QuarantineReason.UNKNOWN_CARRIER),
        (kwh(1, START, unit="m3"), QuarantineReason.INVALID_UNIT),
        (kwh(1, START, "twelve"), QuarantineReason.INVALID_QUANTITY),
        (kwh(1, START, "NaN"), QuarantineReason.NON_FINITE_QUANTITY),
        (kwh(1, START, "inf"), QuarantineReason.NON_FINITE_QUANTITY),
        (kwh(1, START, "-3.5"), QuarantineReason.NEGATIVE_QUANTITY),
        (kwh(1, START, "9" * 30), QuarantineReason.QUANTITY_OUT_OF_RANGE),
    ],
)
def test_a_signed_reading_that_cannot_be_valued_is_refused(session, factor_set, registered, dev, reading, reason):
    summary = ingest(session, factor_set, [signed(registered, dev, reading, kwh(2, START + 60))])
    assert summary.accepted == 1
    assert summary.quarantined == {reason: 1}
    (row,) = quarantined(session)
    assert (row.reason, row.sequence, json.loads(row.payload)["quantity"]) == (reason, 1, reading.quantity)


def test_a_factor_set_without_a_factor_for_the_carrier_refuses_it(session, factor_set, registered, dev):
    partial = replace(factor_set, _mg_per_unit={k: v for k, v in factor_set._mg_per_unit.items() if k[0] != "coal"})
    summary = ingest(session, partial, [signed(registered, dev, kwh(1, START, "1", "t", "coal"))])
    only_reason(session, summary, QuarantineReason.NO_EMISSION_FACTOR)


def test_a_repeated_sequence_number_is_refused_within_and_across_runs(session, factor_set, registered, dev):
    first = ingest(session, factor_set, [signed(registered, dev, kwh(1, START), kwh(1, START + 60))])
    assert (first.accepted, first.quarantined) == (1, {QuarantineReason.SEQUENCE_REPEATED: 1})
    again = ingest(session, factor_set, [signed(registered, dev, kwh(1, START + 120))])
    assert (again.accepted, again.quarantined) == (0, {QuarantineReason.SEQUENCE_REPEATED: 1})
    assert session.scalar(select(Reading.sequence)) == 1


def test_a_timestamp_before_the_devices_previous_reading_is_refused(session, factor_set, registered, dev):
    message = signed(registered, dev, kwh(1, START + 60), kwh(2, START), kwh(3, START + 60))
    summary = ingest(session, factor_set, [message])
    assert summary.accepted == 2
    assert summary.quarantined == {QuarantineReason.TIMESTAMP_REGRESSED: 1}


def test_a_timestamp_in_the_future_is_refused_beyond_the_clock_skew(session, factor_set, registered, dev):
    now = START + 10 * HOUR
    message = signed(registered, dev, kwh(1, now + 300), kwh(2, now + 301))
    summary = ingest(session, factor_set, [message], now=now)
    assert summary.accepted == 1
    assert summary.quarantined == {QuarantineReason.TIMESTAMP_IN_FUTURE: 1}


def test_a_reading_for_a_window_already_built_is_refused(session, factor_set, registered):
    a, b = [d for d in registered.devices if d.enterprise_org_id == 11][:2]
    ingest(session, factor_set, [signed(registered, a, kwh(1, START + 2 * HOUR))])
    build_closed_batches(session, LATER)
    summary = ingest(session, factor_set, [signed(registered, b, kwh(1, START), kwh(2, START + 3 * HOUR))])
    assert summary.accepted == 1
    assert summary.quarantined == {QuarantineReason.WINDOW_CLOSED: 1}


def test_the_run_records_its_summary(session, factor_set, registered, dev):
    from ledger_core.db.models import IngestRun

    summary = ingest(session, factor_set, [signed(registered, dev, kwh(1, START), kwh(2, START, "-1"))])
    run = session.get(IngestRun, summary.run_id)
    assert (run.accepted, run.quarantined, run.quarantined_by_reason) == (1, 1, {"negative_quantity": 1})
    assert run.finished_at is not None
