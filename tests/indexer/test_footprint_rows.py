"""The indexer's rows of product footprints, from the contracts' real events: every PCR version with every field
(its struct argument decoded by name), products, output records, attestations, EPDs with one citation row per
cited EPD (citing -> cited), and the later steps (superseded, withdrawn, flagged), each with its transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_core.db.models import (
    ChainEpd,
    ChainEpdAttestation,
    ChainEpdCitation,
    ChainEpdEvent,
    ChainPcr,
    ChainProduct,
    ChainProductOutput,
)
from ledger_service.epd import EPDS, Allocation, Status
from ledger_service.indexer.catalog import ChainEvent
from ledger_service.indexer.handlers import rows_of
from tests.indexer.conftest import MakeIndexer
from tests.support.footprints import (
    PARTS_ORG,
    Q1,
    STEEL_ORG,
    VALID,
    a_draft,
    a_pcr,
    an_output,
    attested_and_published,
    doc,
    record_output,
    register_pcr,
    supply_chain,
)
from tests.support.ledger import Ledger


def test_pcr_versions_products_and_output_records_are_rows_with_every_field(
        ledger: Ledger, make_indexer: MakeIndexer, session: Session) -> None:
    chain = supply_chain(ledger)
    register_pcr(ledger, a_pcr(2, allocation=Allocation.ECONOMIC))
    receipt_output = an_output(Q1)
    event = record_output(ledger, chain["steel"], receipt_output)

    make_indexer().sync()

    pcrs = session.scalars(select(ChainPcr).order_by(ChainPcr.version)).all()
    assert [(p.version, p.allocation, p.declared_unit, p.valid_from, p.valid_until) for p in pcrs] == [
        (1, Allocation.MASS, "t", *VALID), (2, Allocation.ECONOMIC, "t", *VALID)]
    assert pcrs[1].commitment == a_pcr(2, allocation=Allocation.ECONOMIC).commitment()
    assert pcrs[0].tx_hash.startswith("0x") and pcrs[0].block_number > 0
    products = {p.own_product_id: p for p in session.scalars(select(ChainProduct))}
    assert (products["HRC-2MM"].owner_org_id, products["HRC-2MM"].facility, products["HRC-2MM"].workshop) == (
        STEEL_ORG, "ENT11-F1", "ENT11-F1-W2")
    assert (products["BRACKET-7"].owner_org_id, products["BRACKET-7"].declared_unit) == (PARTS_ORG, "piece")
    (output,) = session.scalars(select(ChainProductOutput)).all()
    assert (output.product_id, output.record_index, output.quantity_milli, output.mass_grams, output.value_fen,
            output.commitment) == (chain["steel"], 1, 120_000_000, 120_000_000_000, 54_000_000_000,
                                   event["commitment"])


def test_epds_their_citations_and_their_later_steps_are_rows(
        ledger: Ledger, make_indexer: MakeIndexer, session: Session) -> None:
    chain = supply_chain(ledger)
    steel_epd, part_epd = chain["steel_epd"], chain["part_epd"]
    new_steel = attested_and_published(ledger, a_draft(chain["steel"], mg=1_700_000_000, supersedes=steel_epd))
    ledger.tx("stranger", EPDS, "flag", part_epd, [steel_epd])
    ledger.tx("enterprise_a", EPDS, "withdraw", new_steel, doc("recalled"))

    make_indexer().sync()

    epds = {e.epd_id: e for e in session.scalars(select(ChainEpd))}
    assert sorted(epds) == [steel_epd, part_epd, new_steel]
    part = epds[part_epd]
    draft = chain["part_draft"]
    assert (part.owner_org_id, part.declared_unit, part.mg_per_unit, part.draft_commitment,
            part.provenance_commitment, part.primary_share_per_mille) == (
        PARTS_ORG, "piece", 3_400_000, draft.commitment(), draft.provenance_commitment, 620)
    assert epds[new_steel].supersedes == steel_epd
    citations = session.scalars(select(ChainEpdCitation)).all()
    assert [(c.citing_epd_id, c.cited_epd_id, c.sub_index) for c in citations] == [(part_epd, steel_epd, 0)]
    attestations = session.scalars(select(ChainEpdAttestation).order_by(ChainEpdAttestation.block_number)).all()
    assert [a.owner_org_id for a in attestations] == [STEEL_ORG, PARTS_ORG, STEEL_ORG]
    assert {a.verifier_org_id for a in attestations} == {20}
    steps = session.scalars(select(ChainEpdEvent).order_by(ChainEpdEvent.block_number)).all()
    assert [(s.epd_id, s.kind, s.owner_org_id) for s in steps] == [
        (steel_epd, "superseded", STEEL_ORG), (part_epd, "flagged", PARTS_ORG), (new_steel, "withdrawn", STEEL_ORG)]
    assert (steps[0].by_epd_id, steps[1].cited_epd_id, steps[1].cited_status) == (
        new_steel, steel_epd, Status.SUPERSEDED)
    assert steps[1].actor == ledger.address("stranger") and steps[2].reason_hash == doc("recalled")


def test_an_epd_citing_several_suppliers_gives_one_citation_row_each_in_order() -> None:
    epd = {"pcrId": b"\x01" * 32, "pcrVersion": 1, "declaredUnit": "t", "mgCO2ePerUnit": 5, "periodStart": 1,
           "periodEnd": 2, "validFrom": 1, "validUntil": 3, "documentHash": b"\x02" * 32,
           "provenanceCommitment": b"\x03" * 32, "primaryDataSharePerMille": 0, "citedEpdIds": [9, 4, 7],
           "supersedes": 0}
    event = ChainEvent(EPDS, "EpdPublished", {"epdId": 12, "productId": b"\x04" * 32, "ownerOrgId": 11,
                                             "publisher": "0x" + "11" * 20, "draftCommitment": b"\x05" * 32,
                                             "epd": epd}, 7, b"\x01" * 32, "0x" + "ab" * 32, 3)

    rows = rows_of(event)

    assert [table for table, _ in rows] == ["chain_epds", *["chain_epd_citations"] * 3]
    assert [row for _, row in rows[1:]] == [{"citing_epd_id": 12, "cited_epd_id": c, "sub_index": i}
                                            for i, c in enumerate((9, 4, 7))]


def test_an_event_without_a_handler_keeps_its_struct_argument_as_json() -> None:
    event = ChainEvent(EPDS, "SomethingNew", {"record": {"hash": b"\x01" * 32, "big": 2**60, "ids": [1, 2]}}, 7,
                       b"\x01" * 32, "0x" + "ab" * 32, 3)

    ((table, row),) = rows_of(event)

    assert (table, row["args"]) == ("chain_other_events", {"record": {"hash": "0x" + "01" * 32, "big": str(2**60),
                                                                      "ids": [1, 2]}})
