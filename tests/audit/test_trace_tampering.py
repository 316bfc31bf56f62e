"""A reading edited directly in SQL (quantity or mgCO2e) on the story's year: the report trace rebuilds every
anchor's window from its readings, samples readings of every anchor with a seed it shows, and names the
checks that failed instead of saying "verified" (or failing); the drill-down with root verification marks
the edited reading's path, and only it. A window's verdict kept from an earlier trace never outlives an edit of
what it was computed from."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select, text, update

from ledger_core.db.models import (
    ChainAnchor,
    ChainMember,
    ChainOrganisation,
    CommittedNode,
    MeterBatch,
    MeterDevice,
    Reading,
)
from ledger_service.audit import window_checks
from ledger_service.audit.drilldown import drill_down_year
from ledger_service.audit.report_trace import trace_report
from oracles import merkle_sum as ms
from oracles.proofs import KeptLayers, prove_kept, rebuild_window
from tests.support.story import YEAR


def readings_of(session, anchor_id: int) -> list[int]:
    batch_id = session.scalar(select(MeterBatch.id).where(MeterBatch.anchor_id == anchor_id))
    return list(session.scalars(select(Reading.id).where(Reading.batch_id == batch_id).order_by(Reading.id)))


def add_one_kg(session, reading_id: int, column: str = "value_mg") -> None:
    """+1 kg of CO2e on one reading, by its mgCO2e value or by one more unit of its quantity."""
    reading = session.get(Reading, reading_id)
    if column == "value_mg":
        reading.value_mg += 1_000_000
    else:
        reading.quantity = f"{Decimal(reading.quantity) + 1:f}"
    session.commit()


def test_the_trace_samples_every_anchor_with_a_seed_it_shows(ledger, story, session):
    anchors = story.anchor_ids[11]
    trace = trace_report(session, story.report_id, sample_readings=2, seed=1234)
    assert trace.seed == 1234 and trace.verified and trace.failed_checks == []
    assert sorted(r.anchor_id for r in trace.readings) == sorted(anchors)  # the later window too
    assert all(a.readings_match for a in trace.anchors)
    again = trace_report(session, story.report_id, sample_readings=2, seed=1234)
    assert [r.reading_id for r in again.readings] == [r.reading_id for r in trace.readings]
    others = {tuple(r.reading_id for r in trace_report(session, story.report_id, sample_readings=2,
                                                       seed=seed).readings) for seed in range(5)}
    assert len(others) > 1, "the seed chooses the sample"
    unseeded = trace_report(session, story.report_id, sample_readings=1)
    assert len(unseeded.readings) == 2 and unseeded.seed >= 0  # one per anchor, even when fewer are asked

    reading = trace.readings[0]
    stored = session.get(Reading, reading.reading_id)
    assert (reading.quantity, reading.unit, reading.carrier) == (stored.quantity, stored.unit, stored.carrier)
    assert reading.factor_set == "CN-2023-v1" and Decimal(reading.factor_kg_per_unit) > 0
    assert reading.proof is not None and {"value_mg", "steps", "anchor_id"} <= reading.proof.keys()
    assert "sum_mg" in reading.proof["subtotals"][0]

    # Members by their organisation's name as well as their address.
    (version,) = trace.versions
    assert [s.actor_organisation for s in version.steps] == [
        _organisation(session, ledger, s.actor) for s in version.steps]
    assert all(s.actor_organisation for s in version.steps)
    assert all(a.oracle_organisation for a in trace.anchors)
    assert all(n.notary_organisation for n in trace.notarizations)


def _organisation(session, ledger, address: str) -> str:
    return session.scalar(select(ChainOrganisation.name)
                          .join(ChainMember, ChainMember.org_id == ChainOrganisation.org_id)
                          .where(ChainMember.account == address))


def test_corrupt_readings_in_two_anchors_fail_the_trace_by_name(story, session):
    first, second = story.anchor_ids[11]
    edited = [readings_of(session, first)[200], readings_of(session, second)[150]]
    add_one_kg(session, edited[0], "value_mg")
    add_one_kg(session, edited[1], "quantity")

    trace = trace_report(session, story.report_id, sample_readings=4, seed=7)  # no 500: failed checks
    assert not trace.verified and trace.commitment.matches
    assert [a.sql_matches for a in trace.anchors] == [True, True]  # the batch rows still match the anchors
    assert [a.readings_match for a in trace.anchors] == [False, False]
    for anchor_id, reading_id in zip((first, second), edited, strict=True):
        assert any(f.startswith(f"anchor {anchor_id}: ") and f"no longer give their digest: {reading_id}" in f
                   for f in trace.failed_checks), trace.failed_checks
    sampled = trace.readings
    assert len(sampled) == 4 and not any(r.proof_valid for r in sampled)
    assert all(r.proof is None and "not the committed root" in r.problem for r in sampled)

    every = trace_report(session, story.report_id, seed=7, all_readings=True)
    assert every.all_readings and every.readings_checked == 2 * 4 * 60
    changed = [r for r in every.readings if r.changed]
    assert sorted(r.reading_id for r in changed) == sorted(edited)
    assert {f"reading {r}" for r in edited} <= {f.split(" (")[0] for f in every.failed_checks}


def test_an_edited_reading_is_marked_on_its_path_in_the_drill_down(story, session):
    assert drill_down_year(session, 10, YEAR, verify_roots=True).matches_anchored
    (first, _second) = story.anchor_ids[11]
    reading_id = readings_of(session, first)[10]
    device = session.scalar(select(MeterDevice).join(Reading, Reading.device_pk == MeterDevice.id)
                            .where(Reading.id == reading_id))
    add_one_kg(session, reading_id)

    park = drill_down_year(session, 10, YEAR, verify_roots=True)
    assert not park.matches_anchored
    enterprise = next(e for e in park.children if e.label == "11")
    other = next(e for e in park.children if e.label == "12")
    assert not enterprise.matches_anchored and other.matches_anchored
    marks = {(n.level, n.label): n.matches_anchored
             for f in enterprise.children for n in (f, *f.children, *(d for w in f.children for d in w.children))}
    on_path = {("facility", device.facility), ("workshop", device.workshop), ("device", device.device_id)}
    assert {k for k, ok in marks.items() if not ok} == on_path
    # Without root verification the totals still come from the stored nodes, which match the anchored sums.
    assert drill_down_year(session, 10, YEAR).matches_anchored


def test_a_reading_edited_with_its_hashes_and_nodes_rebuilt_still_fails_against_the_anchor(story, session):
    """Whoever rewrites the stored digest, leaf, node rows and batch root to agree with the edit is caught by
    the anchored root: every node of that window is marked."""
    first, _ = story.anchor_ids[11]
    reading_id = readings_of(session, first)[0]
    add_one_kg(session, reading_id)
    batch = session.scalar(select(MeterBatch).where(MeterBatch.anchor_id == first))
    window = rebuild_window(session, batch)
    changed = window.readings[reading_id]
    session.execute(update(Reading).where(Reading.id == reading_id).values(
        digest=changed.digest, leaf_hash=ms.leaf(changed.digest, changed.record.value).hash))
    for n in window.tree.upper.level_nodes():
        session.execute(update(CommittedNode).where(
            CommittedNode.batch_id == batch.id, CommittedNode.level == n.level, CommittedNode.label == n.label)
            .values(hash=n.node.hash, sum_mg=n.node.sum, count=n.node.count))
    batch.root = window.root.hash
    session.commit()
    enterprise = next(e for e in drill_down_year(session, 10, YEAR, verify_roots=True).children if e.label == "11")
    assert not enterprise.matches_anchored
    assert not any(n.matches_anchored for f in enterprise.children
                   for n in (f, *f.children, *(d for w in f.children for d in w.children)))
    trace = trace_report(session, story.report_id, seed=1)
    assert not trace.verified and any("not the anchored root" in f for f in trace.failed_checks)


def test_a_trace_rebuilds_each_window_once_until_what_it_depends_on_changes(story, session, monkeypatch):
    """Every window's verdict is kept under its revision: the next traces prove the same readings the same way
    without re-hashing the windows, and a window whose readings change is rebuilt (only it)."""
    rebuilt: list[int] = []
    rebuild = window_checks.rebuild_window
    monkeypatch.setattr(window_checks, "rebuild_window", lambda s, b: rebuilt.append(b.anchor_id) or rebuild(s, b))
    first, second = story.anchor_ids[11]
    fresh = trace_report(session, story.report_id, sample_readings=6, seed=5)
    assert sorted(rebuilt) == sorted([first, second]) and fresh.verified
    kept = trace_report(session, story.report_id, sample_readings=6, seed=5)
    assert len(rebuilt) == 2, "no window rebuilt while nothing changed"
    assert kept == fresh  # the same readings, with the same proofs, subtotals and checks
    session.commit()

    add_one_kg(session, readings_of(session, second)[3], "quantity")
    edited = trace_report(session, story.report_id, sample_readings=6, seed=5)
    assert rebuilt[2:] == [second] and not edited.verified


@pytest.mark.parametrize(("edit", "windows_matching"), [
    ("UPDATE readings SET quantity = '999' WHERE id = :reading", [False, True]),
    ("UPDATE readings SET value_mg = value_mg + 1000000 WHERE id = :reading", [False, True]),
    ("DELETE FROM readings WHERE id = :reading", [False, True]),
    ("UPDATE meter_devices SET facility = 'elsewhere' WHERE id = (SELECT device_pk FROM readings WHERE id = :reading)",
     [False, False]),  # the device read in both windows
])
def test_an_edit_made_in_sql_by_another_client_after_a_trace_fails_the_next_trace(story, session, index_engine,
                                                                                   edit, windows_matching):
    """The verdicts kept from earlier traces do not hide an edit made directly in SQL, on another connection,
    whichever column or table it touches."""
    first, second = story.anchor_ids[11]
    assert trace_report(session, story.report_id, seed=2).verified
    assert trace_report(session, story.report_id, seed=2).verified  # now from the kept verdicts
    session.rollback()  # a new request: a new transaction

    reading_id = readings_of(session, first)[42]
    with index_engine.begin() as conn:
        conn.execute(text(edit), {"reading": reading_id})
    session.rollback()

    trace = trace_report(session, story.report_id, seed=2)
    assert not trace.verified
    assert [a.readings_match for a in trace.anchors] == windows_matching
    assert any(f.startswith(f"anchor {first}: ") for f in trace.failed_checks), trace.failed_checks
    for anchor_id, matching in zip((first, second), windows_matching, strict=True):
        assert all(r.proof_valid == matching for r in trace.readings if r.anchor_id == anchor_id)


def test_an_edit_undone_in_sql_verifies_again(story, session, index_engine):
    (first, _) = story.anchor_ids[11]
    reading_id = readings_of(session, first)[7]
    quantity = session.get(Reading, reading_id).quantity
    assert trace_report(session, story.report_id, seed=9).verified
    session.rollback()
    for value in ("12345", quantity):
        with index_engine.begin() as conn:
            conn.execute(update(Reading).where(Reading.id == reading_id).values(quantity=value))
        session.rollback()
        assert trace_report(session, story.report_id, seed=9).verified == (value == quantity)


def test_every_reading_proved_from_a_kept_window_has_the_proof_of_the_whole_rebuilt_window(story, session):
    """A kept window proves a reading by re-pairing only the 16 stored leaves around it under the kept nodes:
    the proof is the one the whole rebuilt window gives, for every reading (first, middle and last chunks)."""
    for anchor_id in story.anchor_ids[11]:
        batch = session.scalar(select(MeterBatch).where(MeterBatch.anchor_id == anchor_id))
        whole = rebuild_window(session, batch)
        summary = window_checks._summary(whole)
        layers = KeptLayers.of(whole)
        ids = sorted(whole.readings)
        assert list(layers.ids) == ids
        proved = prove_kept(session, [(summary, layers, reading_id) for reading_id in ids])
        assert [window.proof(i) for window, i in zip(proved, ids, strict=True)] == [whole.proof(i) for i in ids]


def test_the_batch_path_a_proof_carries_follows_the_indexed_rows_of_its_batch(story, session, index_engine):
    """A batch's paths are remembered by the values of its rows: another window's row edited in SQL changes the
    path and root every proof of the batch carries (MeterAnchor would refuse them); undone, they are as before."""
    proof = trace_report(session, story.report_id, sample_readings=1, seed=3).readings[0].proof
    assert proof is not None and proof["anchor_batch"] is not None, "the story anchors its windows in batches"
    other = session.scalar(select(ChainAnchor).where(ChainAnchor.batch_id == proof["anchor_batch"]["first_anchor_id"],
                                                     ChainAnchor.anchor_id != proof["anchor_id"]))
    assert other is not None
    total = other.total_mg
    for value in (total + 1, total):
        with index_engine.begin() as conn:
            conn.execute(update(ChainAnchor).where(ChainAnchor.id == other.id).values(total_mg=value))
        session.rollback()
        again = trace_report(session, story.report_id, sample_readings=1, seed=3).readings[0].proof
        assert again is not None
        assert (again["anchor_batch"] == proof["anchor_batch"]) == (value == total)
