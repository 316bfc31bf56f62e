"""Tracing a report down to readings and devices, an allowance year from allocation to holders,
and a park down to its devices, on the story's year."""

from __future__ import annotations

import pytest
from eth_utils import keccak
from sqlalchemy import update

from ledger_core.db.models import CommittedNode, MeterBatch
from ledger_service.audit.access import (
    AccessDenied,
    asset_trace_for,
    drill_down_for,
    member_orgs,
    report_trace_for,
    viewer_of,
)
from ledger_service.audit.asset_trace import trace_asset
from ledger_service.audit.drilldown import drill_down_year
from ledger_service.audit.report_trace import trace_report
from oracles import merkle_sum as ms
from oracles.reports import period_node
from tests.indexer.conftest import indexer_for
from tests.support.story import YEAR, anchor_meter_data


def test_a_report_traces_to_its_steps_anchors_readings_and_devices(ledger, story, session):
    trace = trace_report(session, story.report_id, sample_readings=4)
    (version,) = trace.versions
    assert [s.kind for s in version.steps] == ["submitted", "verified", "finalized"]
    assert [s.at.tx_hash for s in version.steps] == [story.tx["submit"], story.tx["verify"], story.tx["finalize"]]
    assert [s.actor for s in version.steps] == [ledger.address(a) for a in ("enterprise_a", "verifier", "regulator")]
    assert version.steps[-1].obligation_tonnes == story.obligation_tonnes
    assert all(s.at.block_time.tzinfo is not None and not s.at.pending for s in version.steps)
    assert version.status == "finalized"
    assert trace.commitment.matches and trace.commitment.anchor_ids == story.anchor_ids[11]
    assert [a.anchor_id for a in trace.anchors] == story.anchor_ids[11] and all(a.sql_matches for a in trace.anchors)
    assert len(trace.readings) == 4 and all(r.proof_valid for r in trace.readings)
    assert [s.level for s in trace.readings[0].subtotals] == ["device", "workshop", "facility", "enterprise"]
    assert len(trace.devices) == 4 and all(d.registered is not None and d.active_on_chain for d in trace.devices)
    assert [n.at.tx_hash for n in trace.notarizations] == [story.tx["notarize"]]
    assert trace.verified


def test_a_report_whose_meter_data_was_altered_in_sql_no_longer_verifies(story, session):
    batch_id = session.query(MeterBatch.id).filter(MeterBatch.anchor_id == story.anchor_ids[11][0]).scalar()
    session.execute(update(MeterBatch).where(MeterBatch.id == batch_id).values(total_mg=MeterBatch.total_mg + 1))
    session.commit()
    trace = trace_report(session, story.report_id)
    assert trace.commitment.matches
    assert [a.sql_matches for a in trace.anchors] == [False, True]
    assert not trace.verified


def test_an_allowance_year_is_traced_from_allocation_to_its_holders(ledger, story, session):
    a, b, trader = (ledger.address(n) for n in ("enterprise_a", "enterprise_b", "trader"))
    trace = trace_asset(session, "AllowanceRegistry", YEAR)
    assert [(h.kind, h.from_address[-4:] if h.kind != "allocation" else "", h.to_address, h.amount)
            for h in trace.hops][:4] == [
        ("allocation", "", a, 1000), ("allocation", "", b, 500), ("transfer", b[-4:], trader, 200),
        ("transfer", trader[-4:], a, 150)]
    surrender = trace.hops[4]
    assert (surrender.kind, surrender.from_address, surrender.amount, surrender.compliance_year) == (
        "surrender", a, story.obligation_tonnes, YEAR)
    assert [h.at.tx_hash for h in trace.hops] == [story.tx[k] for k in (
        "allocate", "allocate", "b_to_trader", "trader_to_a", "surrender")]
    assert (trace.issued, trace.surrendered) == (1500, story.obligation_tonnes)
    assert {h.holder: (h.org_id, h.amount) for h in trace.holders} == {
        a: (11, 1150 - story.obligation_tonnes), b: (12, 300), trader: (30, 50)}
    assert trace.outstanding == trace.issued - trace.surrendered


def test_the_park_drills_down_to_devices_with_totals_matching_the_anchored_sums(story, session):
    park = drill_down_year(session, 10, YEAR, verify_roots=True)
    assert [e.label for e in park.children] == ["11", "12"]
    assert park.matches_anchored and park.count == 8 * 120
    for enterprise in park.children:
        assert enterprise.matches_anchored and enterprise.sum_mg == enterprise.anchored_mg
        assert enterprise.sum_mg == sum(f.sum_mg for f in enterprise.children)
        devices = [d for f in enterprise.children for w in f.children for d in w.children]
        assert len(devices) == 4 and all(d.matches_anchored for d in devices)
        assert sum(d.count for d in devices) == enterprise.count == 4 * 120


def test_a_tampered_device_subtotal_is_flagged_on_that_device(story, session):
    node = session.query(CommittedNode).filter(CommittedNode.level == 1).first()
    org = session.get(MeterBatch, node.batch_id).enterprise_org_id
    node.sum_mg += 7
    session.commit()
    park = drill_down_year(session, 10, YEAR, verify_roots=True)
    enterprise = next(e for e in park.children if e.label == str(org))
    other = next(e for e in park.children if e.label != str(org))
    below = [n for f in enterprise.children for n in (f, *f.children, *(d for w in f.children for d in w.children))]
    assert enterprise.matches_anchored  # its total comes from the facility nodes, which still add up
    # The readings rebuild the anchored root: only the row that no longer agrees with them is marked.
    assert [(n.level, n.label) for n in below if not n.matches_anchored] == [("device", node.label)]
    assert all(f.matches_anchored for f in other.children)
    device = next(d for f in enterprise.children for w in f.children for d in w.children if d.label == node.label)
    assert device.sum_mg == sum(
        n.sum_mg for n in session.query(CommittedNode).filter(CommittedNode.label == node.label))


def test_a_regulator_sees_everything_and_a_member_only_its_own_organisation(ledger, story, session):
    regulator = viewer_of(session, ledger.address("regulator"))
    cement = viewer_of(session, ledger.address("enterprise_b"))
    steel = viewer_of(session, ledger.address("enterprise_a2"))
    trace = trace_report(session, story.report_id)
    assert report_trace_for(regulator, trace) is trace and report_trace_for(steel, trace) is trace
    with pytest.raises(AccessDenied):
        report_trace_for(cement, trace)
    park = drill_down_year(session, 10, YEAR)
    assert [e.label for e in drill_down_for(cement, park).children] == ["12"]
    assert drill_down_for(regulator, park) is park
    asset = asset_trace_for(cement, trace_asset(session, "AllowanceRegistry", YEAR), member_orgs(session))
    assert [(h.kind, h.amount) for h in asset.hops] == [("allocation", 500), ("transfer", 200)]
    assert [h.amount for h in asset.holders] == [300]
    with pytest.raises(AccessDenied):
        viewer_of(session, ledger.address("stranger"))


def test_a_rejected_report_and_its_resubmission_are_traced_as_versions(ledger, session, index_engine):
    story = anchor_meter_data(ledger, session, hours=1)
    batch = session.query(MeterBatch).filter(MeterBatch.anchor_id == story.anchor_ids[12][0]).one()
    period = period_node(12, [ms.Node(batch.root, batch.total_mg, batch.reading_count)])
    submit = ("enterprise_b", "EmissionRegistry", "submitReport", YEAR)
    ledger.tx(*submit, keccak(text="v1"), 1, b"\x07" * 32, period.sum, period.count)
    ledger.tx("verifier", "EmissionRegistry", "rejectReport", 1, keccak(text="root does not match"))
    ledger.tx(*submit, keccak(text="v2"), period.sum // 10**6, period.hash, period.sum, period.count)
    indexer_for(ledger, index_engine).sync()

    first, second = (trace_report(session, report_id) for report_id in (1, 2))
    assert not first.commitment.matches and second.commitment.matches
    assert [(v.report_id, v.version, v.previous_report_id, v.status) for v in second.versions] == [
        (1, 1, 0, "rejected"), (2, 2, 1, "submitted")]
    assert [s.kind for s in second.versions[0].steps] == ["submitted", "rejected"]
    assert second.versions[0].steps[1].statement_or_reason == "0x" + keccak(text="root does not match").hex()
