"""Anchoring built windows in MeterAnchor: one transaction per enterprise window, idempotent,
recoverable after a crash, and every reading's proof accepted by the contract's view."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ledger_core.db.models import BatchStatus, MeterBatch
from oracles import merkle_sum as ms
from oracles.anchor_records import AnchorReader, anchor_id_of
from oracles.anchoring import AnchorConflict, MeterAnchorClient, anchor_pending, register_devices_on_chain
from oracles.batches import build_closed_batches
from oracles.canonical import factor_set_hash
from oracles.ingest import ingest_messages
from oracles.proofs import prove_reading
from oracles.simulator import simulate_messages
from tests.oracles.conftest import HOUR, LATER, START


@pytest.fixture
def built(session, factor_set, registered):
    """Two hours of one-minute readings of both enterprises' four devices: four windows of 240 readings, built."""
    messages = simulate_messages(registered, START, 120, readings_per_message=30)
    ingest_messages(session, messages, factor_set=factor_set, window_seconds=HOUR, now=LATER)
    session.commit()
    return build_closed_batches(session, LATER)


# The built windows in batch order: enterprise 11's two hours, then enterprise 12's.
WINDOW_IDS = [anchor_id_of(11, 0, 1), anchor_id_of(11, 0, 2), anchor_id_of(12, 0, 1), anchor_id_of(12, 0, 2)]


def anchors_on_chain(ledger) -> list[int]:
    """Every anchor id of the two enterprises, from their heads."""
    return AnchorReader(ledger.contract("MeterAnchor")).anchor_ids([11, 12])


def batches(session):
    return session.scalars(select(MeterBatch).order_by(MeterBatch.id)).all()


def test_each_enterprise_window_is_anchored_once_with_its_root_total_and_count(ledger, session, client, built):
    outcomes = anchor_pending(session, client)
    assert [o.action for o in outcomes] == ["anchored"] * 4
    assert anchors_on_chain(ledger) == WINDOW_IDS
    anchor_ids = {o.batch_id: o.anchor_id for o in outcomes}
    for batch in batches(session):
        assert batch.status == BatchStatus.ANCHORED and batch.anchor_id == anchor_ids[batch.id] and batch.tx_hash
        on_chain = client.get_anchor(batch.anchor_id)
        assert (on_chain.enterprise_org_id, on_chain.window_start, on_chain.window_end) == (
            batch.enterprise_org_id, batch.window_start, batch.window_end)
        assert (on_chain.root, on_chain.total_mg, on_chain.reading_count) == (batch.root, batch.total_mg, 240)
        assert on_chain.factor_set_id == factor_set_hash("CN-2023-v1")
        assert on_chain.oracle == ledger.address("oracle")


def test_a_readings_proof_verifies_through_the_contract_with_its_subtotals(ledger, session, client, built):
    anchor_pending(session, client)
    for reading_id in (1, 250, 777, 960):
        proof = prove_reading(session, reading_id)
        python_subtotals = proof.verify()
        assert python_subtotals is not None
        valid, subtotals = client.verify_reading(proof.anchor_id, proof.digest, proof.value_mg, proof.steps)
        assert valid
        assert subtotals == python_subtotals
        assert [t.level for t in subtotals] == [ms.LEVEL_DEVICE, ms.LEVEL_WORKSHOP, ms.LEVEL_FACILITY,
                                                ms.LEVEL_ENTERPRISE]
        assert [(s.sum_mg, s.count) for s in proof.subtotals] == [(t.sum, t.count) for t in subtotals]
        device = proof.subtotals[0].label
        assert [s.label for s in proof.subtotals] == [
            device, device.rsplit("-", 1)[0], device.rsplit("-", 2)[0], str(proof.enterprise_org_id)]
        forged = proof.steps[:-1]
        assert client.verify_reading(proof.anchor_id, proof.digest, proof.value_mg + 1, proof.steps)[0] is False
        assert client.verify_reading(proof.anchor_id, proof.digest, proof.value_mg, forged)[0] is False


def test_re_running_anchors_nothing_twice(ledger, session, client, built):
    first = anchor_pending(session, client)
    assert anchor_pending(session, client) == []
    batch = batches(session)[0]
    batch.status = BatchStatus.BUILT  # as if the anchored state had never been recorded
    session.commit()
    (again,) = anchor_pending(session, client)
    assert (again.action, again.anchor_id) == ("recovered", first[0].anchor_id)
    assert anchors_on_chain(ledger) == WINDOW_IDS


def test_a_crash_after_building_and_before_sending_is_anchored_on_the_next_run(ledger, session, client, built):
    assert {b.status for b in batches(session)} == {BatchStatus.BUILT}
    outcomes = anchor_pending(session, client)
    assert [o.action for o in outcomes] == ["anchored"] * 4


def test_a_crash_after_sending_and_before_recording_is_recovered_without_a_second_anchor(
    ledger, session, client, built
):
    first = built[0]
    tx = client.send_anchor(first.enterprise_org_id, first.measure, first.window_start, first.window_end,
                            first.factor_set, first.facilities_root)
    (anchor_id,) = client.anchored_ids(tx).values()  # mined, but the oracle died before writing "sent"
    outcomes = anchor_pending(session, client)
    assert (outcomes[0].action, outcomes[0].anchor_id) == ("recovered", anchor_id)
    assert [o.action for o in outcomes[1:]] == ["anchored"] * 3
    assert anchors_on_chain(ledger) == WINDOW_IDS


def test_a_sent_transaction_the_node_never_saw_is_sent_again(ledger, session, client, built):
    batch = batches(session)[0]
    batch.status, batch.tx_hash = BatchStatus.SENT, "0x" + "ab" * 32
    session.commit()
    outcomes = anchor_pending(session, client)
    assert outcomes[0].action == "anchored"
    assert batches(session)[0].tx_hash != "0x" + "ab" * 32


def test_an_anchored_window_with_another_root_is_a_loud_conflict(ledger, session, client, built):
    first = built[0]
    other = ms.Node(b"\x42" * 32, first.facilities_root.sum, first.facilities_root.count)
    client.anchored_ids(client.send_anchor(first.enterprise_org_id, first.measure, first.window_start,
                                           first.window_end, first.factor_set, other))
    with pytest.raises(AnchorConflict, match=f"anchored as {WINDOW_IDS[0]}"):
        anchor_pending(session, client)
    assert batches(session)[0].status == BatchStatus.BUILT


def test_devices_are_registered_on_chain_with_the_hash_of_their_public_key(ledger, registered):
    contract = ledger.contract("MeterAnchor")
    devices = [d.info for d in registered.devices if d.enterprise_org_id == 11]
    assert register_devices_on_chain(contract, ledger.senders["enterprise_a"], devices) == len(devices)
    assert register_devices_on_chain(contract, ledger.senders["enterprise_a"], devices) == 0
    org, facility, workshop, key_hash, active = ledger.call("MeterAnchor", "getDevice", devices[0].device_hash)
    assert (org, facility, workshop, key_hash, active) == (
        11, devices[0].facility_id, devices[0].workshop_id, devices[0].public_key_hash, True)


def test_windows_of_several_enterprises_go_out_in_one_batch_and_prove_through_the_batch_root(
    ledger, session, client, built
):
    outcomes = anchor_pending(session, client)
    assert {b.tx_hash for b in batches(session)} == {batches(session)[0].tx_hash}  # one transaction
    assert [o.anchor_id for o in outcomes] == WINDOW_IDS
    for outcome in outcomes:
        window = client.anchored_window(outcome.anchor_id)
        assert window.in_batch and window.batch_id == WINDOW_IDS[0]
        assert window.kept_commitment() == ledger.call("MeterAnchor", "commitmentOf", WINDOW_IDS[0])
        assert window.record.root == outcome.root
    assert [ledger.call("MeterAnchor", "commitmentOf", i) for i in WINDOW_IDS[1:]] == [b"\x00" * 32] * 3


def test_one_enterprise_s_windows_are_anchored_one_transaction_each(ledger, session, client, built):
    for batch in batches(session):
        if batch.enterprise_org_id != 11:
            batch.status = BatchStatus.OPEN  # as if enterprise 12's windows had not closed yet
    session.commit()
    outcomes = anchor_pending(session, client)
    assert len(outcomes) == 2 and len({b.tx_hash for b in batches(session) if b.enterprise_org_id == 11}) == 2
    for outcome in outcomes:
        window = client.anchored_window(outcome.anchor_id)
        assert not window.in_batch
        assert window.kept_commitment() == window.record.commitment() == ledger.call(
            "MeterAnchor", "commitmentOf", outcome.anchor_id)


def test_a_batch_too_large_for_one_transaction_is_split(ledger, session, client, built):
    outcomes = anchor_pending(session, client, batch_windows=3)
    assert [o.action for o in outcomes] == ["anchored"] * 4
    assert len({b.tx_hash for b in batches(session)}) == 2
    assert client.anchored_window(WINDOW_IDS[3]).batch_id == WINDOW_IDS[3]  # the second batch: the fourth only


def test_anchors_are_read_from_the_given_block_on_and_not_before(ledger, session, client, built):
    # Readers start at the deployment's block: a reader starting after an anchor's block does not see it,
    # so the bound given is the bound used (and a long chain's earlier blocks are never scanned).
    (outcome, *_) = anchor_pending(session, client)
    anchored_in = client.anchored_window(outcome.anchor_id).block_number
    assert AnchorReader(ledger.contract("MeterAnchor"), from_block=anchored_in).window(outcome.anchor_id) is not None
    assert AnchorReader(ledger.contract("MeterAnchor"), from_block=anchored_in + 1).window(outcome.anchor_id) is None
    assert MeterAnchorClient(ledger.contract("MeterAnchor"), None, ledger.deployment.block).reader.window(
        outcome.anchor_id) is not None


def test_new_windows_are_anchored_from_their_receipts_without_scanning_the_chain_s_logs(
        ledger, session, client, built, monkeypatch):
    # Reading an anchor back from the logs scans the chain from its deployment: done once per window, a year
    # of windows on a long chain took minutes. What was anchored is in the transaction's own receipt.
    def no_scan(*_: object) -> None:
        raise AssertionError("anchoring scanned the chain's logs")

    monkeypatch.setattr(AnchorReader, "_logs", no_scan)
    assert [o.action for o in anchor_pending(session, client)] == ["anchored"] * 4
    assert all(b.status == BatchStatus.ANCHORED for b in batches(session))
