"""The indexer's rows of green electricity certificates: a batch with one row per anchor it cites, and a claim."""

from __future__ import annotations

from ledger_service.indexer.catalog import ChainEvent
from ledger_service.indexer.handlers import rows_of

GENERATOR = "0x" + "11" * 20
CONSUMER = "0x" + "22" * 20


def event(name: str, **args: object) -> ChainEvent:
    return ChainEvent("GreenCertificates", name, dict(args), 7, b"\x01" * 32, "0x" + "ab" * 32, 3)


def test_an_issuance_is_a_batch_row_and_one_row_per_anchor_in_the_order_cited():
    rows = rows_of(event("CertificatesIssued", batchId=2, generator=GENERATOR, generatorOrgId=11,
                         periodStart=100, periodEnd=200, amount=101, serialStart=1_000, serialEnd=1_100,
                         anchoredWh=101_100_000, anchorIds=[9, 7]))

    assert rows == [
        ("chain_gec_batches", {"batch_id": 2, "generator": GENERATOR, "generator_org_id": 11, "period_start": 100,
                               "period_end": 200, "amount": 101, "serial_start": 1_000, "serial_end": 1_100,
                               "anchored_wh": 101_100_000}),
        ("chain_gec_batch_anchors", {"batch_id": 2, "anchor_id": 9, "sub_index": 0}),
        ("chain_gec_batch_anchors", {"batch_id": 2, "anchor_id": 7, "sub_index": 1}),
    ]


def test_a_consumption_is_a_claim_row_for_the_beneficiary_organisation():
    rows = rows_of(event("CertificatesConsumed", batchId=2, holder=CONSUMER, beneficiaryOrgId=12, amount=15,
                         serialStart=1_000, serialEnd=1_014, consumptionStart=300, consumptionEnd=400))

    assert rows == [("chain_gec_consumptions", {
        "batch_id": 2, "holder": CONSUMER, "beneficiary_org_id": 12, "amount": 15, "serial_start": 1_000,
        "serial_end": 1_014, "consumption_start": 300, "consumption_end": 400})]


def test_the_scope_2_rule_event_is_kept_as_an_other_event():
    ((table, row),) = rows_of(event("MarketBasedScope2Set", counts=True))
    assert (table, row["event"], row["args"]) == ("chain_other_events", "MarketBasedScope2Set", {"counts": True})
