"""Footprints published on the ledger, as the index would feed them: the steel plant's hot-rolled coil (version 1,
superseded, and version 2) and the auto-parts maker's bracket."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from ledger_service.footprints.pact import EpdRef, EpdStatus, PublishedFootprint

CHAIN_ID = 1337
REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
STEEL_COMPANY = "urn:carbonledger:org:11"
PARTS_COMPANY = "urn:carbonledger:org:12"
COIL_ID = "urn:carbonledger:product:11:HRC"
BRACKET_ID = "urn:carbonledger:product:12:BRACKET-7"

COIL_V1 = PublishedFootprint(
    chain_id=CHAIN_ID, contract=REGISTRY, epd_id=1, version=1, company_name="Park Steel Co.",
    company_id=STEEL_COMPANY, product_ids=(COIL_ID,), cpc_code="41231", product_name="Hot-rolled coil",
    product_description="Hot-rolled steel coil, per tonne", declared_unit="kilogram",
    declared_unit_amount=Decimal("1000"), mass_kg_per_declared_unit=Decimal("1000"),
    kg_per_declared_unit=Decimal("1250"), reference_start=datetime(2026, 1, 1, tzinfo=UTC),
    reference_end=datetime(2026, 4, 1, tzinfo=UTC), valid_from=datetime(2026, 4, 15, tzinfo=UTC),
    valid_until=datetime(2027, 4, 15, tzinfo=UTC), status=EpdStatus.SUPERSEDED, preceding=(),
    primary_data_share_percent=Decimal("95"), exempted_percent=Decimal("0"), pcr_id="PCR-STEEL-2026", pcr_version=1,
    created=datetime(2026, 4, 15, 9, 30, tzinfo=UTC), updated=datetime(2026, 6, 1, tzinfo=UTC),
    tx_hash=bytes.fromhex("11" * 32), provenance_commitment=bytes.fromhex("22" * 32),
    document_hash=bytes.fromhex("33" * 32), geography_country="CN", verifier="Park Verification Ltd.",
    verified_at=datetime(2026, 4, 14, tzinfo=UTC))
COIL_V2 = replace(COIL_V1, version=2, kg_per_declared_unit=Decimal("1237.5"), status=EpdStatus.PUBLISHED,
                  preceding=(EpdRef(1, 1),), valid_from=datetime(2026, 6, 1, tzinfo=UTC),
                  valid_until=datetime(2027, 6, 1, tzinfo=UTC), created=datetime(2026, 6, 1, tzinfo=UTC),
                  updated=None, tx_hash=bytes.fromhex("44" * 32))
BRACKET = PublishedFootprint(
    chain_id=CHAIN_ID, contract=REGISTRY, epd_id=2, version=1, company_name="Park Auto Parts Co.",
    company_id=PARTS_COMPANY, product_ids=(BRACKET_ID,), cpc_code="49129", product_name="Seat bracket 7",
    product_description="Stamped steel seat bracket", declared_unit="piece", declared_unit_amount=Decimal("1"),
    mass_kg_per_declared_unit=Decimal("0.85"), kg_per_declared_unit=Decimal("1.43125"),
    reference_start=datetime(2026, 4, 1, tzinfo=UTC), reference_end=datetime(2026, 7, 1, tzinfo=UTC),
    valid_from=datetime(2026, 7, 10, tzinfo=UTC), valid_until=datetime(2027, 7, 10, tzinfo=UTC),
    status=EpdStatus.PUBLISHED, preceding=(), primary_data_share_percent=Decimal("88.5"),
    exempted_percent=Decimal("0.4"), pcr_id="PCR-AUTOPARTS-2026", pcr_version=2,
    created=datetime(2026, 7, 10, tzinfo=UTC), updated=None, tx_hash=bytes.fromhex("55" * 32),
    provenance_commitment=bytes.fromhex("66" * 32), document_hash=bytes.fromhex("77" * 32), geography_country="CN")
PUBLISHED = (COIL_V1, COIL_V2, BRACKET)
