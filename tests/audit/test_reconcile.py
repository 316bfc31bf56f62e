"""Reconciling the index with the chain: a faithful index has no difference; any edited row is reported."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update

from ledger_core.db.models import (
    ChainAnchor,
    ChainBalance,
    ChainMember,
    ChainNotarization,
    ChainReport,
    MeterBatch,
    MeterDevice,
    Reading,
)
from ledger_service.audit.meter_check import choose_windows
from ledger_service.audit.reconcile import reconcile
from oracles import merkle_sum as ms
from oracles.canonical import ReadingRecord, factor_set_hash, record_digest
from tests.support.story import YEAR


def test_a_faithful_index_agrees_with_the_chain_on_every_fact(ledger, story, index_engine):
    report = reconcile(index_engine, ledger)
    assert report.ok, report.differences
    assert report.checked["balance"] == 3 and report.checked["total_supply"] == 1
    assert report.checked["anchor"] == 4 and report.checked["report"] == 1 and report.checked["member"] == 10


def test_the_index_is_compared_at_the_block_it_reached_not_at_the_head(ledger, story, index_engine):
    ledger.tx("enterprise_a", "AllowanceRegistry", "safeTransferFrom", ledger.address("enterprise_a"),
              ledger.address("trader"), YEAR, 1, b"")
    assert reconcile(index_engine, ledger).ok
    assert not reconcile(index_engine, ledger, block=ledger.w3.eth.block_number).ok


def test_every_tampered_row_is_reported(ledger, story, index_engine):
    a, trader = ledger.address("enterprise_a"), ledger.address("trader")
    with index_engine.begin() as conn:
        conn.execute(update(ChainBalance).where(ChainBalance.holder == trader).values(amount=5000))
        conn.execute(update(ChainMember).where(ChainMember.account == a).values(frozen=True, status="suspended"))
        tampered = conn.scalar(select(func.min(ChainAnchor.anchor_id)))
        conn.execute(update(ChainAnchor).where(ChainAnchor.anchor_id == tampered).values(total_mg=1, root=b"\x01" * 32))
        conn.execute(update(ChainReport).values(status="rejected"))
        conn.execute(delete(ChainNotarization))
    found = {(d.kind, d.key, d.field): (d.index, d.chain) for d in reconcile(index_engine, ledger).differences}
    assert found[("balance", f"AllowanceRegistry/{YEAR}/{trader}", "amount")] == (5000, 50)
    assert found[("total_supply", f"AllowanceRegistry/{YEAR}", "amount")][0] == found[
        ("total_supply", f"AllowanceRegistry/{YEAR}", "amount")][1] + 4950
    assert found[("member", a, "frozen")] == (True, False)
    assert found[("member", a, "status")] == ("suspended", "active")
    assert found[("anchor", str(tampered), "total_mg")][0] == 1
    assert found[("anchor", str(tampered), "root")][0] == b"\x01" * 32
    assert found[("report", str(story.report_id), "status")] == ("rejected", "finalized")
    assert found[("notarization_count", "Notary", "count")] == (0, 1)
    assert len(found) == 8


def test_an_anchor_missing_from_the_index_is_counted_from_the_enterprise_s_head_and_named(ledger, story, index_engine):
    with index_engine.begin() as conn:
        count = conn.scalar(select(func.count()).select_from(ChainAnchor))
        dropped, batch_id = conn.execute(select(ChainAnchor.anchor_id, ChainAnchor.batch_id)
                                         .order_by(ChainAnchor.anchor_id.desc()).limit(1)).one()
        conn.execute(delete(ChainAnchor).where(ChainAnchor.anchor_id == dropped))
    report = reconcile(index_engine, ledger)
    found = {(d.kind, d.key, d.field): (d.index, d.chain) for d in report.differences}
    assert found.keys() == {("anchor_count", "MeterAnchor", "count"), ("anchor", str(batch_id), "commitment")}
    assert found[("anchor_count", "MeterAnchor", "count")] == (count - 1, count)
    # The meter check still checks the dropped window: read from the chain, as the index no longer has it.
    assert report.meters is not None and report.meters.windows_checked == count


def test_an_anchor_row_that_no_longer_hashes_to_what_meter_anchor_keeps_is_reported(ledger, story, index_engine):
    # The story's windows were anchored in one batch: MeterAnchor keeps its root under the first anchor id.
    with index_engine.connect() as conn:
        (batch_id,) = set(conn.scalars(select(ChainAnchor.batch_id)))
        other = next(a for a in conn.scalars(select(ChainAnchor.anchor_id)) if a != batch_id)
    with index_engine.begin() as conn:  # every field as the event states it, but taken out of its batch
        conn.execute(update(ChainAnchor).where(ChainAnchor.anchor_id == other).values(batch_id=None))
    found = {(d.kind, d.key, d.field) for d in reconcile(index_engine, ledger).differences}
    assert found == {("anchor", str(batch_id), "commitment"), ("anchor", str(other), "commitment")}


def test_an_indexed_report_record_that_no_longer_hashes_to_the_commitment_is_reported(ledger, story, index_engine):
    # The registry keeps a commitment to the submitted record: a field reconcile does not compare one by one
    # (the submitter, the document) is still held to it.
    stranger = "0x" + "11" * 20
    with index_engine.begin() as conn:
        conn.execute(update(ChainReport).values(submitter=stranger))
    (difference,) = reconcile(index_engine, ledger).differences
    assert (difference.kind, difference.key, difference.field) == ("report", str(story.report_id), "submission_hash")
    assert difference.index != difference.chain


# ------------------------------------------------------------------ meter data


def _first_reading(conn, anchor_id: int):
    return conn.execute(
        select(Reading.id, Reading.sequence, Reading.timestamp, Reading.quantity, Reading.unit, Reading.carrier,
               Reading.scope, Reading.value_mg, MeterDevice.device_id, MeterBatch.factor_set)
        .join(MeterBatch, MeterBatch.id == Reading.batch_id).join(MeterDevice, MeterDevice.id == Reading.device_pk)
        .where(MeterBatch.anchor_id == anchor_id).order_by(Reading.id).limit(1)).one()


def test_every_anchored_window_is_recomputed_from_its_readings(ledger, story, index_engine):
    report = reconcile(index_engine, ledger)
    assert report.checked["meter_window"] == 4 and report.checked["meter_reading"] == 4 * 4 * 60
    assert report.meters is not None and report.meters.windows_anchored == 4 and report.meters.seed is None


def test_a_reading_rewritten_with_its_own_hashes_is_found_by_its_device(ledger, story, index_engine):
    """An insider who re-hashes the edited reading leaves its digest consistent: the window's root still moves,
    and the first device whose node no longer matches its stored node is named."""
    anchor_id = story.anchor_ids[11][0]
    with index_engine.begin() as conn:
        row = _first_reading(conn, anchor_id)
        r = row
        device_hash = ms.labelled_id(row.device_id)
        value = r.value_mg + 1
        digest = record_digest(ReadingRecord(device_hash, r.sequence, r.timestamp, r.quantity, r.unit, r.carrier,
                                             factor_set_hash(row.factor_set), r.scope, value))
        conn.execute(update(Reading).where(Reading.id == r.id).values(
            value_mg=value, digest=digest, leaf_hash=ms.leaf(digest, value).hash))
    found = {(d.kind, d.field): d for d in reconcile(index_engine, ledger).differences}
    window = found[("meter_window", "root")]
    assert window.key.startswith(f"11/{anchor_id}/")
    assert window.where is not None and window.where["device"] == row.device_id and window.where["reading_id"] is None
    assert found[("meter_window", "total_mg")].index == found[("meter_window", "total_mg")].chain + 1
    assert {k[0] for k in found} == {"meter_window"}


def test_since_and_sample_choose_the_windows(ledger, story, index_engine):
    assert choose_windows([(1, 100), (2, 200), (3, 300)], 200, None, None) == ([2, 3], None)
    chosen, seed = choose_windows([(a, a * 100) for a in range(1, 50)], None, 5, None)
    assert len(chosen) == 5 and seed is not None
    assert choose_windows([(a, a * 100) for a in range(1, 50)], None, 5, seed) == (chosen, seed)
    report = reconcile(index_engine, ledger, sample=2, seed=7)
    assert report.checked["meter_window"] == 2 and report.meters is not None and report.meters.seed == 7
    assert reconcile(index_engine, ledger, meters=False).meters is None
