"""Computed product footprints for traces, straight on the test ledger: the footprint of a workshop's only product
from the workshop's anchored subtotals (`site_data.site_subtotals`), and the draft kept with its provenance record
as a computed draft keeps it (canonical JSON decoded)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from ledger_service.epd import Draft, EpdDraft, store_draft
from ledger_service.footprints import compute
from ledger_service.footprints.canonical import canonical_bytes
from ledger_service.footprints.site_data import site_subtotals


def utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def footprint_of(session: Session, org_id: int, product: str, facility: str, workshop: str,
                 period: tuple[int, int], pcr: str, inputs: tuple[compute.Input, ...] = ()) -> compute.Footprint:
    """The product's footprint: the only product of its workshop (all of the site's emissions allocated to it)."""
    return compute.compute(compute.FootprintRequest(
        product, workshop, compute.Period(utc(period[0]), utc(period[1])),
        compute.Rule(pcr, 1, compute.Allocation.MASS),
        tuple(site_subtotals(session, org_id, facility, workshop, *period)),
        (compute.Output(product, 40_000, 40_000_000, 18_000_000, "erp extract"),), inputs))


def keep_computed_draft(session: Session, draft: EpdDraft, org_id: int, created_by: str,
                        footprint: compute.Footprint) -> Draft:
    return store_draft(session, draft, org_id, created_by, json.loads(canonical_bytes(footprint.provenance.record)))


def supplier_input(name: str, quantity: str, unit: str, epd_id: int, draft: EpdDraft) -> compute.Input:
    """A bill-of-materials line from a supplier's EPD of this ledger, referenced as a computed draft references it."""
    return compute.Input(name, Decimal(quantity), unit, compute.SupplierFootprint(
        "EPD", str(epd_id), Decimal(draft.mg_co2e_per_unit) / compute.MG_PER_KG, draft.commitment()))
