"""Product footprints along the park's supply chain: the regulator registers the product category rules for
hot-rolled coil; the steel plant records its output and computes the coil's footprint per tonne from its site's
anchored meter data; a verifier of another organisation attests it and the plant publishes it as an EPD; the
auto-parts maker buys coil and publishes the footprint of its bracket citing the steel EPD; the regulator traces the
bracket down to one meter reading in the steel plant; the plant then publishes a new version of its EPD and the
bracket's footprint is flagged. Every step is a use case the API calls."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from eth_utils import keccak

from ledger_service.demo.cast import Cast, caller
from ledger_service.demo.meters import WEEK, Period
from ledger_service.demo.printing import chapter, say, show, table
from ledger_service.epd import Allocation, OutputInput, PcrInput, ProductInput, hex32, pcr_id, product_id
from ledger_service.footprints.compute import SecondaryFactor
from ledger_service.runtime import Runtime
from ledger_service.services.caller import Caller
from ledger_service.services.footprints import BomLine, Computed, FootprintAsk
from ledger_service.services.wiring import Services, build_services
from oracles.simulator import ParkLayout

PCR_CODE = "PCR-STEEL-HRC"
VALID = (1_735_689_600, 1_893_456_000)  # 2025-01-01 .. 2030-01-01 UTC
REFERENCE_WEEKS = 4
TONNE = 1000  # milli-units of a tonne; grams in a kilogram
FACTORS = "CLCD"  # the secondary factor database the demo cites (China Life Cycle Database), by version


@dataclass(frozen=True)
class FootprintOutcome:
    steel_epd: int
    part_epd: int
    new_steel_epd: int
    flagged: tuple[int, ...]


def _doc(text: str) -> bytes:
    return keccak(text=text)


def _site(layout: ParkLayout, org: int) -> str:
    return next(d.facility for d in layout.devices if d.enterprise_org_id == org)


def _factor(factor_id: str, kg: str) -> SecondaryFactor:
    return SecondaryFactor(FACTORS, "2024", factor_id, Decimal(kg))


def _publish(use: Services, owner: Caller, verifier: Caller, computed: Computed, what: str) -> int:
    draft = computed.draft
    statement = f"Verification statement: {what}, draft {draft.draft_id}, {draft.draft_commitment}"
    use.footprints.attest(verifier, draft.draft_id, _doc(statement))
    published = use.footprints.publish(owner, draft.draft_id).value
    assert published is not None, "the demo waits for every transaction"
    return published.epd.epd_id


def _output(use: Services, owner: Caller, product: bytes, start: int, end: int, tonnes: int, value_cny: int,
            pieces: int = 0) -> None:
    """An output record from the enterprise's ERP extract (its hash on chain; the extract stays with it)."""
    extract = json.dumps({"product": hex32(product), "start": start, "end": end, "tonnes": tonnes,
                          "pieces": pieces, "value_cny": value_cny}, sort_keys=True).encode()
    quantity = pieces * TONNE if pieces else tonnes * TONNE
    use.footprints.record_output(owner, product, OutputInput(start, end, quantity, tonnes * TONNE * TONNE,
                                                             value_cny * 100, keccak(extract)))


def product_footprints(runtime: Runtime, cast: Cast, layout: ParkLayout, period: Period) -> FootprintOutcome:
    chapter("Product footprints: from PCR to a verified EPD, cited down the supply chain")
    use = build_services(runtime)
    regulator, verifier = caller(runtime, cast["regulator"]), caller(runtime, cast["verifier"])
    steel_org, parts_org = cast.enterprises[0], cast.enterprises[3]
    steel, parts = caller(runtime, cast[cast.enterprise(steel_org)]), caller(runtime, cast[cast.enterprise(parts_org)])
    start, end = period.start, period.start + REFERENCE_WEEKS * WEEK

    use.footprints.register_pcr(regulator, PcrInput(
        pcr_id(PCR_CODE), 1, "Hot-rolled steel coil", "4121", "t", "cradle-to-gate", Allocation.MASS, 10,
        "primary data for core processes; secondary data from a named, versioned database", VALID[0], VALID[1],
        _doc("PCR for hot-rolled steel coil, version 1")))
    say(f"the regulator (program operator) registered {PCR_CODE} v1: per tonne, cradle to gate, co-products "
        "allocated by mass, 1 % cut-off per input")

    steel_site, parts_site = _site(layout, steel_org), _site(layout, parts_org)
    coil, slab = product_id(steel_org, "HRC-2MM"), product_id(steel_org, "SLAB-200")
    for own_id in ("HRC-2MM", "SLAB-200"):
        use.footprints.register_product(steel, ProductInput(own_id, "4121", "t", steel_site))
    _output(use, steel, coil, start, end, 1_200, 4_100)
    _output(use, steel, slab, start, end, 800, 3_600)
    say(f"{cast.names[steel_org]} registered coil and slab made in {steel_site} and recorded 1,200 t and 800 t for "
        f"the first {REFERENCE_WEEKS} weeks (ERP extracts, their hashes on chain)")

    coil_ask = FootprintAsk(coil, pcr_id(PCR_CODE), 1, start, end, VALID[0], VALID[1], _doc("coil EPD v1"), (
        BomLine("iron ore pellets", Decimal("1.55"), "t", factor=_factor("iron-ore-pellets", "120")),
        BomLine("coking coal", Decimal("0.62"), "t", factor=_factor("coking-coal-mining", "150")),
        BomLine("refractories", Decimal("0.004"), "t", factor=_factor("refractory-bricks", "900"))))
    computed = use.footprints.compute_draft(steel, coil_ask)
    steel_epd = _publish(use, steel, verifier, computed, "hot-rolled coil")
    fp = computed.footprint
    t = table("EPD", "product", "site kgCO2e", "upstream kgCO2e", "kgCO2e per unit", "allocation", "primary data",
              "cut off", "provenance")
    t.add_row(str(steel_epd), "hot-rolled coil, per t", f"{fp.site_kg_per_unit:.3f}", f"{fp.upstream_kg_per_unit:.3f}",
              f"{fp.kg_per_unit:.3f}", f"{fp.share_decimal:.4f} of {Decimal(fp.site_mg) / 10**9:,.1f} t (mass)",
              f"{fp.primary_data_share_percent:.1f} %", f"{fp.exempted_percent:.2f} %",
              computed.draft.fields.provenance_commitment.hex()[:16])

    bracket = product_id(parts_org, "BRACKET-7")
    use.footprints.register_product(parts, ProductInput("BRACKET-7", "4291", "piece", parts_site))
    _output(use, parts, bracket, start, end, 560, 5_600_000, pieces=200_000)
    part_ask = FootprintAsk(bracket, pcr_id(PCR_CODE), 1, start, end, VALID[0], VALID[1], _doc("bracket EPD v1"), (
        BomLine("hot-rolled coil", Decimal("0.0028"), "t", epd_id=steel_epd),
        BomLine("powder coating", Decimal("0.00004"), "t", factor=_factor("powder-coating", "4200"))))
    part = use.footprints.compute_draft(parts, part_ask)
    part_epd = _publish(use, parts, verifier, part, "bracket BRACKET-7")
    pf = part.footprint
    t.add_row(str(part_epd), "bracket, per piece", f"{pf.site_kg_per_unit:.3f}", f"{pf.upstream_kg_per_unit:.3f}",
              f"{pf.kg_per_unit:.3f}", f"{pf.share_decimal:.4f} (mass)", f"{pf.primary_data_share_percent:.1f} %",
              f"{pf.exempted_percent:.2f} %", part.draft.fields.provenance_commitment.hex()[:16])
    show(t)
    say(f"{cast.names[parts_org]}'s bracket cites steel EPD {steel_epd}: the chain checked it is published and valid "
        "for the period; the steel plant's readings stay with it, its EPD commits to their anchored totals")

    traced = use.audit.product_trace(regulator, part_epd, readings=1)
    supplier_hop = traced.hop(steel_epd)
    proved = [r for s in supplier_hop.subtotals for r in s.readings if r.matches]
    say(f"the regulator traced bracket EPD {part_epd} across {traced.tiers} tiers: "
        + "; ".join(f"tier {h.tier} EPD {h.epd_id} of {h.owner}, provenance "
                    f"{'matches' if h.provenance_matches else 'DOES NOT MATCH'} its commitment, "
                    f"{len(h.subtotals)} anchored subtotals" for h in traced.hops)
        + f"; {len(proved)} of the steel plant's readings proved against their anchors (reading "
        f"{proved[0].reading_id if proved else '-'}, device {proved[0].device_id if proved else '-'}); "
        f"verified: {traced.verified}")
    seen_by_customer = use.audit.product_trace(parts, part_epd).hop(steel_epd)
    say(f"the auto-parts maker's own trace shows the steel EPD's on-chain facts but not its provenance "
        f"({seen_by_customer.access.rule})")

    renewed = use.footprints.compute_draft(steel, FootprintAsk(
        coil, pcr_id(PCR_CODE), 1, start, end, VALID[0], VALID[1], _doc("coil EPD v2: coal use re-measured"),
        (coil_ask.inputs[0], BomLine("coking coal", Decimal("0.60"), "t", factor=_factor("coking-coal-mining", "150")),
         coil_ask.inputs[2]), supersedes=steel_epd))
    new_steel_epd = _publish(use, steel, verifier, renewed, "hot-rolled coil, version 2")
    flagged, _ = use.footprints.flagged(parts, 0, 100)
    say(f"{cast.names[steel_org]} published EPD {new_steel_epd} superseding {steel_epd}; the service flagged every "
        f"footprint citing it: {cast.names[parts_org]} sees {[e.epd_id for e in flagged]} flagged")
    return FootprintOutcome(steel_epd, part_epd, new_steel_epd, tuple(e.epd_id for e in flagged))
