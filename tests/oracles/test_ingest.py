"""Ingestion end to end: sources in, readings and batches stored, proofs served from SQL."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from ledger_core.db.migrate import upgrade_to_head
from ledger_core.db.models import CommittedNode, MeterBatch, Reading
from ledger_core.db.session import make_engine, session_factory
from oracles import merkle_sum as ms
from oracles.batches import build_closed_batches
from oracles.canonical import message_bytes
from oracles.devices import DeviceConflict, register_devices
from oracles.ingest import IngestConfigurationError, ingest_messages
from oracles.proofs import ReadingNotCommitted, prove_reading
from oracles.simulator import load_shape, simulate_messages, simulate_park
from oracles.sources import MessageIn, messages_from_payload, read_messages, write_csv, write_jsonl
from oracles.trees import TreeLeaf, build_window_tree
from tests.oracles.conftest import HOUR, LATER, START


def two_hours(park):
    return list(simulate_messages(park, START, 120, readings_per_message=60))


def test_simulated_park_data_is_deterministic_and_signed(park):
    again = simulate_park(enterprises=2, devices_per_enterprise=4, seed=3)
    assert again == park and two_hours(again) == two_hours(park)
    assert simulate_park(2, 4, seed=4) != park
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    for message in two_hours(park)[:8]:
        key = next(d.public_key for d in park.devices if d.device_id == message.device)
        signed_bytes = message_bytes(message.device, message.readings)
        Ed25519PublicKey.from_public_bytes(key).verify(message.signature, signed_bytes)


def test_simulated_load_follows_working_days_and_hours():
    monday_noon_local = START + 4 * HOUR  # 12:00 UTC+8
    monday_3am_local = START + 19 * HOUR
    saturday_noon_local = monday_noon_local + 5 * 86400
    assert load_shape(monday_noon_local, False) > 2 * load_shape(monday_3am_local, False)
    assert load_shape(saturday_noon_local, False) < 0.7 * load_shape(monday_noon_local, False)
    assert 0.9 < load_shape(monday_3am_local, True) / load_shape(monday_noon_local, True) < 1.1


def test_every_simulated_reading_is_accepted_into_hourly_batches(session, factor_set, registered):
    summary = ingest_messages(session, two_hours(registered), factor_set=factor_set, window_seconds=HOUR, now=LATER)
    session.commit()
    assert (summary.messages, summary.accepted, summary.quarantined_total) == (16, 960, 0)
    assert session.scalar(select(func.count()).select_from(Reading)) == 960
    windows = session.execute(select(MeterBatch.enterprise_org_id, MeterBatch.window_start)).all()
    assert sorted(windows) == [(11, START), (11, START + HOUR), (12, START), (12, START + HOUR)]


def test_checking_in_two_processes_stores_the_same_commitments(tmp_path, factor_set, park):
    roots = []
    for workers in (1, 2):
        engine = make_engine(f"sqlite:///{tmp_path / f'w{workers}.db'}")
        upgrade_to_head(engine)
        with session_factory(engine)() as session:
            register_devices(session, park.device_infos())
            ingest_messages(session, two_hours(park), factor_set=factor_set, window_seconds=HOUR, now=LATER,
                            workers=workers)
            session.commit()
            roots.append([b.root for b in build_closed_batches(session, LATER)])
        engine.dispose()
    assert len(roots[0]) == 4 and roots[0] == roots[1]


def test_a_window_is_built_only_once_it_has_ended(session, factor_set, registered):
    ingest_messages(session, two_hours(registered), factor_set=factor_set, window_seconds=HOUR, now=LATER)
    built = build_closed_batches(session, START + HOUR)
    assert [(b.enterprise_org_id, b.window_start) for b in built] == [(11, START), (12, START)]
    statuses = session.execute(select(MeterBatch.window_start, MeterBatch.status)).all()
    assert sorted(statuses) == [(START, "built"), (START, "built"), (START + HOUR, "open"), (START + HOUR, "open")]
    assert session.scalar(select(func.count()).select_from(CommittedNode).where(CommittedNode.batch_id == 1)) == (
        4 + len({d.workshop for d in registered.devices if d.enterprise_org_id == 11})
        + len({d.facility for d in registered.devices if d.enterprise_org_id == 11}) + 1)


def test_a_built_window_totals_its_readings(session, factor_set, registered):
    ingest_messages(session, two_hours(registered), factor_set=factor_set, window_seconds=HOUR, now=LATER)
    for batch in build_closed_batches(session, LATER):
        values = session.scalars(select(Reading.value_mg).where(Reading.batch_id == batch.batch_id)).all()
        assert (batch.total_mg, batch.reading_count) == (sum(values), len(values))
        node = ms.level_node(ms.LEVEL_ENTERPRISE, ms.enterprise_id(batch.enterprise_org_id), batch.facilities_root)
        assert node.hash == batch.root


def test_a_proof_served_from_sql_is_the_proof_of_the_full_tree(session, factor_set, registered):
    ingest_messages(session, two_hours(registered), factor_set=factor_set, window_seconds=HOUR, now=LATER)
    with pytest.raises(ReadingNotCommitted):
        prove_reading(session, 1)
    build_closed_batches(session, LATER)
    rows = session.execute(
        select(Reading.id, Reading.device_pk, Reading.timestamp, Reading.sequence, Reading.leaf_hash, Reading.value_mg)
        .where(Reading.batch_id == 1)
    ).all()
    devices = {i + 1: d for i, d in enumerate(registered.devices)}
    tree = build_window_tree(11, [
        TreeLeaf(devices[pk].facility, devices[pk].workshop, devices[pk].device_id, ts, seq, ms.Node(h, v, 1))
        for _, pk, ts, seq, h, v in rows
    ])
    for reading_id, pk, ts, _seq, _h, _v in rows[::17]:
        proof = prove_reading(session, reading_id)
        position = [r.timestamp for r in tree.readings[devices[pk].device_id]].index(ts)
        assert proof.steps == tree.proof(devices[pk].device_id, position)
        assert proof.root == tree.root.hash and proof.verify() is not None
        assert json.loads(json.dumps(proof.as_json()))["subtotals"][3]["sum_mg"] == str(tree.root.sum)
    with pytest.raises(ReadingNotCommitted):
        prove_reading(session, 10**9)


def test_a_served_proof_verifies_as_one_checked_afresh_and_fails_for_another_root(session, factor_set, registered):
    """A proof from SQL keeps the node its steps fold to (it labels the subtotals with them): `verify` compares
    that node with the root, as a proof without it (`folded=None`) hashes the path again and compares; a proof
    given other steps is folded again."""
    ingest_messages(session, two_hours(registered), factor_set=factor_set, window_seconds=HOUR, now=LATER)
    build_closed_batches(session, LATER)
    for reading_id in (1, 77, 400):
        proof = prove_reading(session, reading_id)
        afresh = replace(proof, folded=None)
        assert proof.folded is not None and proof.verify() == afresh.verify() is not None
        other = bytes(32)
        assert replace(proof, root=other).verify() is None and replace(afresh, root=other).verify() is None
        edited = proof.record._replace(value=proof.record.value + 1)
        assert replace(proof, record=edited).verify() is None and replace(afresh, record=edited).verify() is None
        first = proof.steps[0]
        steps = [first._replace(sum=first.sum + 1), *proof.steps[1:]]  # other steps than those it was folded along
        assert replace(proof, steps=steps).verify() is None and replace(afresh, steps=steps).verify() is None


def test_jsonl_and_csv_files_carry_the_same_messages(tmp_path, park):
    messages = two_hours(park)
    write_jsonl(messages, tmp_path / "m.jsonl")
    write_csv(messages, tmp_path / "m.csv")
    assert list(read_messages(tmp_path / "m.jsonl")) == messages
    assert list(read_messages(tmp_path / "m.csv")) == messages


def test_a_pushed_batch_is_read_through_the_edge_model(park):
    messages = two_hours(park)[:3]
    payload = [MessageIn.of(m).model_dump() for m in messages]
    payload[1]["readings"][0]["timestamp"] = "2024-01-01T00:00:00+00:00"
    assert messages_from_payload(payload) == messages
    assert messages_from_payload([MessageIn.of(messages[2])]) == [messages[2]]


def test_the_factor_set_and_window_of_open_batches_cannot_change_mid_window(session, factor_set, registered):
    from oracles.factors import get_factor_set

    messages = two_hours(registered)
    ingest_messages(session, messages[:8], factor_set=factor_set, window_seconds=HOUR, now=LATER)
    with pytest.raises(IngestConfigurationError, match="valued with CN-2023-v1"):
        ingest_messages(session, messages[8:], factor_set=get_factor_set("CN-2022-v1"), window_seconds=HOUR, now=LATER)
    with pytest.raises(IngestConfigurationError, match="window size"):
        ingest_messages(session, messages[8:], factor_set=factor_set, window_seconds=86400, now=LATER)


def test_a_device_cannot_be_re_registered_with_other_details(session, registered):
    info = registered.devices[0].info
    assert register_devices(session, [info]) == 0
    from dataclasses import replace

    with pytest.raises(DeviceConflict):
        register_devices(session, [replace(info, public_key=bytes(32))])
