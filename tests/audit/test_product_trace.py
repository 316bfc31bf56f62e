"""Tracing a product footprint: the parts maker's bracket EPD down to a proved meter reading in the steel plant's
workshop, across the two companies, with what each viewer may see of each tier."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select, update

from ledger_core.db.models import CommittedNode, EpdDraftRecord, MeterBatch
from ledger_service.audit.access import viewer_of
from ledger_service.audit.product_trace import UnknownEpd, trace_product
from ledger_service.epd import EPDS, EpdDraft, ProductInput, hex32
from ledger_service.footprints import compute
from oracles.simulator import ParkLayout
from tests.indexer.conftest import indexer_for
from tests.support.footprints import HRC, PARTS_ORG, STEEL_ORG, a_pcr, attested_and_published, doc, register_pcr
from tests.support.footprints import register_product as register_product_on_chain
from tests.support.product_chain import footprint_of, keep_computed_draft, supplier_input
from tests.support.story import START

DAY = 86_400
PERIOD = (START, START + DAY)  # the story's anchored hours lie in its first day
VALID = (START, 1_893_456_000)  # 2024-01-01 .. 2030-01-01


@dataclass
class SupplyChain:
    steel_epd: int
    part_epd: int
    steel_draft: EpdDraft
    steel_site: str


def computed_epd(ledger, session, index_engine, park: ParkLayout, org_id: int, sender: str, own_id: str, unit: str,
                 inputs: tuple[compute.Input, ...] = (), cited: tuple[int, ...] = ()) -> tuple[int, EpdDraft, str]:
    """A product of `org_id` made in one of its workshops, its footprint computed from the workshop's anchored
    subtotals, kept as a draft with its provenance record, attested and published."""
    device = next(d for d in park.devices if d.enterprise_org_id == org_id)
    product = register_product_on_chain(ledger, ProductInput(own_id, "4121", unit, device.facility, device.workshop),
                                        sender=sender)
    indexer_for(ledger, index_engine).sync()
    footprint = footprint_of(session, org_id, hex32(product), device.facility, device.workshop, PERIOD, hex32(HRC),
                             inputs)
    draft = EpdDraft(product, HRC, 1, unit, footprint.mg_per_unit, PERIOD[0], PERIOD[1], VALID[0], VALID[1],
                     doc(f"epd {own_id}"), footprint.provenance.commitment,
                     compute.half_up(footprint.primary_data_share * 1000), cited)
    keep_computed_draft(session, draft, org_id, ledger.address(sender), footprint)
    session.commit()
    epd_id = attested_and_published(ledger, draft, org_id, sender=sender)
    indexer_for(ledger, index_engine).sync()
    return epd_id, draft, device.workshop


@pytest.fixture
def chain(ledger, story, session, index_engine) -> SupplyChain:
    register_pcr(ledger, a_pcr(valid=VALID))
    steel_epd, steel_draft, steel_site = computed_epd(ledger, session, index_engine, story.park, STEEL_ORG,
                                                      "enterprise_a", "HRC-2MM", "t")
    coil = supplier_input("hot-rolled coil", "0.0021", "t", steel_epd, steel_draft)
    part_epd, _, _ = computed_epd(ledger, session, index_engine, story.park, PARTS_ORG, "enterprise_b",
                                  "BRACKET-7", "piece", (coil,), (steel_epd,))
    return SupplyChain(steel_epd, part_epd, steel_draft, steel_site)


def test_the_regulator_traces_a_part_down_to_a_proved_reading_in_the_steel_plant(ledger, chain, session):
    trace = trace_product(session, chain.part_epd, viewer_of(session, ledger.address("regulator")))
    assert [(h.tier, h.epd_id, h.epd.owner_org_id) for h in trace.hops] == [
        (0, chain.part_epd, PARTS_ORG), (1, chain.steel_epd, STEEL_ORG)]
    part, steel = trace.hops
    assert all(h.access.shown and h.provenance_matches and h.epd.status == "published" and h.current
               for h in trace.hops)
    assert steel.cited_by == chain.part_epd and steel.covers_citing_period
    assert steel.epd.mg_co2e_per_unit == chain.steel_draft.mg_co2e_per_unit
    assert steel.epd.provenance_commitment == hex32(chain.steel_draft.provenance_commitment)
    (coil,) = part.inputs
    assert (coil.kind, coil.reference, coil.cited_on_chain, coil.hash_matches) == ("EPD", str(chain.steel_epd), True,
                                                                                  True)
    assert part.citations_match
    assert steel.subtotals and all(s.anchored and s.sql_matches for s in steel.subtotals)
    reading = steel.subtotals[0].readings[0]
    assert reading.proof_valid and reading.matches
    assert reading.site_mg_on_path == steel.subtotals[0].mg
    assert reading.proof is not None and reading.proof["root"] == steel.subtotals[0].anchor_root
    assert trace.tiers == 2 and trace.verified and trace.failed_checks == []


def test_the_customer_sees_the_suppliers_published_epd_but_not_its_provenance(ledger, chain, session):
    trace = trace_product(session, chain.part_epd, viewer_of(session, ledger.address("enterprise_b")))
    part, steel = trace.hops
    assert part.access.shown and part.provenance_matches and part.subtotals
    assert not steel.access.shown
    assert "organisation 11 is not organisation 12" in steel.access.rule
    assert steel.access.subject == "product footprint drafts and output"
    assert (steel.provenance_stored, steel.provenance_matches, steel.subtotals) == (None, None, [])
    assert steel.epd.provenance_commitment == hex32(chain.steel_draft.provenance_commitment)
    assert (steel.epd.status, steel.epd.at.tx_hash[:2]) == ("published", "0x")
    assert trace.verified


def test_a_tampered_provenance_record_no_longer_matches_its_commitment(ledger, chain, session):
    row = session.scalar(select(EpdDraftRecord).where(
        EpdDraftRecord.draft_commitment == chain.steel_draft.commitment()))
    record = dict(row.content["provenance"])
    record["subtotals"] = [{**record["subtotals"][0], "mg": record["subtotals"][0]["mg"] - 1}, *record["subtotals"][1:]]
    row.content = {**row.content, "provenance": record}
    session.commit()
    trace = trace_product(session, chain.part_epd, viewer_of(session, ledger.address("regulator")))
    steel = trace.hop(chain.steel_epd)
    assert steel.provenance_matches is False
    assert not steel.subtotals[0].sql_matches and not steel.subtotals[0].readings[0].matches
    assert not trace.verified
    assert any("is not the on-chain" in f for f in trace.failed_checks)


def test_a_stored_provenance_replaced_by_a_malformed_record_fails_without_breaking_the_trace(ledger, chain, session):
    row = session.scalar(select(EpdDraftRecord).where(
        EpdDraftRecord.draft_commitment == chain.steel_draft.commitment()))
    row.content = {**row.content, "provenance": {"subtotals": [{"anchor_id": "first"}, 7], "inputs": ["coke"]}}
    session.commit()
    trace = trace_product(session, chain.part_epd, viewer_of(session, ledger.address("regulator")))
    steel = trace.hop(chain.steel_epd)
    assert (steel.provenance_stored, steel.provenance_matches, steel.subtotals, steel.inputs) == (True, False, [], [])
    assert not trace.verified


def test_a_tampered_stored_site_node_fails_the_subtotal_check(ledger, chain, session):
    first = trace_product(session, chain.steel_epd, viewer_of(session, ledger.address("regulator"))).hops[0]
    batch_id = session.scalar(select(MeterBatch.id).where(MeterBatch.anchor_id == first.subtotals[0].anchor_id))
    session.execute(update(CommittedNode).where(CommittedNode.batch_id == batch_id,
                                                CommittedNode.label == chain.steel_site)
                    .values(sum_mg=CommittedNode.sum_mg + 1))
    session.commit()
    trace = trace_product(session, chain.steel_epd, viewer_of(session, ledger.address("regulator")))
    assert trace.hops[0].provenance_matches
    assert not trace.hops[0].subtotals[0].sql_matches
    assert not trace.verified


def test_a_withdrawn_supplier_epd_shows_withdrawn_and_the_customers_flagged(ledger, chain, session, index_engine):
    ledger.tx("enterprise_a", EPDS, "withdraw", chain.steel_epd, doc("furnace data restated"))
    ledger.tx("enterprise_b", EPDS, "flag", chain.part_epd, [chain.steel_epd])
    indexer_for(ledger, index_engine).sync()
    trace = trace_product(session, chain.part_epd, viewer_of(session, ledger.address("enterprise_b")))
    part, steel = trace.hops
    assert (steel.epd.status, steel.current) == ("withdrawn", False)
    assert steel.epd.withdrawal_reason == hex32(doc("furnace data restated"))
    assert (part.epd.status, part.epd.flagged, part.flagged_citations, part.current) == (
        "published", True, [chain.steel_epd], False)
    assert trace.verified  # the evidence still holds: what changed is the supplier's standing


def test_the_depth_bound_lists_what_it_did_not_trace(ledger, chain, session):
    trace = trace_product(session, chain.part_epd, viewer_of(session, ledger.address("regulator")), max_tiers=0)
    assert [h.epd_id for h in trace.hops] == [chain.part_epd]
    assert trace.hops[0].not_traced == [chain.steel_epd]


def test_an_unknown_epd_is_refused(ledger, chain, session):
    with pytest.raises(UnknownEpd):
        trace_product(session, 999, viewer_of(session, ledger.address("regulator")))
