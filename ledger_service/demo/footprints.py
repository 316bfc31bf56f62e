"""Product footprints along the park's supply chain: the regulator registers the product category rules for
hot-rolled coil; the steel plant records its coil output from its coil line's production counter (signed counts,
anchored) and its slab output from a sealed ERP extract, and computes the coil's footprint per tonne from its
site's anchored meter data; a verifier of another organisation attests it and the plant publishes it as an EPD;
the auto-parts maker buys coil and publishes the footprint of its bracket citing the steel EPD, checking first that
the steel EPD's site totals are committed by the plant's anchors (without its readings); the regulator traces the
bracket down to one meter reading in the steel plant; the plant then publishes a new version of its EPD and the
bracket's footprint is flagged. Every step is a use case the API calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from eth_utils import keccak

from ledger_service.demo.cast import Cast, caller
from ledger_service.demo.meters import WEEK, Period
from ledger_service.demo.printing import chapter, say, show, table
from ledger_service.epd import Allocation, PcrInput, ProductInput, pcr_id, product_id
from ledger_service.footprints.compute import SecondaryFactor
from ledger_service.runtime import Runtime
from ledger_service.services.caller import Caller
from ledger_service.services.footprints import BomLine, Computed, FootprintAsk
from ledger_service.services.product_output import CountedOutput, CounterAsk
from ledger_service.services.wiring import Services, build_services
from oracles.canonical import MessageReading
from oracles.devices import DeviceInfo
from oracles.factors import factor_choice
from oracles.ingest import ingest_messages
from oracles.measures import COUNTED_CARRIER, DeviceKind
from oracles.simulator import ParkLayout, device_signing_key, sign_message

PCR_CODE = "PCR-STEEL-HRC"
VALID = (1_735_689_600, 1_893_456_000)  # 2025-01-01 .. 2030-01-01 UTC
REFERENCE_WEEKS = 4
COILS, COIL_TONNES = 50, 24  # the coil line's counts over the reference weeks: 1,200 t
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


def _utc(moment: int) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _extract(use: Services, owner: Caller, start: int, end: int,
             rows: tuple[tuple[str, int, int, int], ...]) -> str:
    """The output of a period as the enterprise's ERP extract states it (product, quantity in declared units, mass
    in t, value in CNY), sealed and recorded: each output record commits to the extract's SHA-256."""
    lines = ["product,period_start,period_end,quantity,mass_kg,value_cny"]
    lines += [f"{own_id},{_utc(start)},{_utc(end)},{quantity},{tonnes * TONNE},{value_cny}"
              for own_id, quantity, tonnes, value_cny in rows]
    recorded = use.product_output.record_extract(owner, ("\n".join(lines) + "\n").encode(), "erp-extract.csv").value
    assert recorded is not None, "the demo waits for every transaction"
    return recorded.extract_hash.hex()[:16]


def _counted_coil(runtime: Runtime, use: Services, cast: Cast, layout: ParkLayout, steel_org: int, site: str,
                  start: int, end: int) -> tuple[str, CountedOutput]:
    """The coil line's production counter: registered, its signed counts of coils through the oracle pipeline and
    anchored as product-count windows, then recorded as the coil's output for the period."""
    steel = caller(runtime, cast[cast.enterprise(steel_org)])
    device_id = f"ENT{steel_org}-HRC-CTR1"
    key = device_signing_key(layout.seed, device_id)
    use.meters.register_devices(steel, [DeviceInfo(device_id, steel_org, site, f"{site}-HRC",
                                                   key.public_key().public_bytes_raw(), DeviceKind.PRODUCT_COUNTER)])
    every = (end - start) // COILS
    counts = tuple(MessageReading(i + 1, start + i * every, str(COIL_TONNES), "t", COUNTED_CARRIER)
                   for i in range(COILS))
    with runtime.sessions() as session:
        ingest_messages(session, [sign_message(key, device_id, counts)],
                        factor_set=factor_choice(runtime.settings.factor_set),
                        window_seconds=runtime.settings.window_seconds,
                        future_skew_seconds=runtime.settings.future_skew_seconds, source="demo: coil line counter")
        session.commit()
    use.meters.build_and_anchor(caller(runtime, cast["oracle"]), steel_org, until=end)
    counted = use.product_output.record_counted(steel, CounterAsk(
        product_id(steel_org, "HRC-2MM"), start, end, (device_id,), COILS * COIL_TONNES * 4_100 * 100)).value
    assert counted is not None, "the demo waits for every transaction"
    return device_id, counted


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
    coil = product_id(steel_org, "HRC-2MM")
    for own_id in ("HRC-2MM", "SLAB-200"):
        use.footprints.register_product(steel, ProductInput(own_id, "4121", "t", steel_site))
    counter, counted = _counted_coil(runtime, use, cast, layout, steel_org, steel_site, start, end)
    sealed = _extract(use, steel, start, end, (("SLAB-200", 800, 800, 800 * 3_600),))
    windows = {c["anchorId"] for c in counted.evidence["counts"]}
    say(f"{cast.names[steel_org]} registered coil and slab made in {steel_site}; for the first {REFERENCE_WEEKS} "
        f"weeks its coil line counter {counter} counted {counted.evidence['quantityMilli'] // TONNE:,} t of coil "
        f"({COILS} signed counts anchored in {len(windows)} product-count windows, the output committing to them: "
        f"evidence SHA-256 {counted.evidence_hash.hex()[:16]}...), and its ERP extract states 800 t of slab "
        f"(sealed; SHA-256 {sealed}... on chain)")

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
    _extract(use, parts, start, end, (("BRACKET-7", 200_000, 560, 5_600_000),))
    part_ask = FootprintAsk(bracket, pcr_id(PCR_CODE), 1, start, end, VALID[0], VALID[1], _doc("bracket EPD v1"), (
        BomLine("hot-rolled coil", Decimal("0.0028"), "t", epd_id=steel_epd),
        BomLine("powder coating", Decimal("0.00004"), "t", factor=_factor("powder-coating", "4200"))))
    part = use.footprints.compute_draft(parts, part_ask)
    checked = use.supplier_proofs.supplier_proof(parts, steel_epd)  # a customer now: its draft cites the EPD
    say(f"{cast.names[parts_org]} checked steel EPD {steel_epd}'s {len(checked.sites)} site totals against "
        f"{cast.names[steel_org]}'s anchors (Merkle-sum paths, no reading): "
        f"{'verified' if checked.verified else 'NOT VERIFIED'}")
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
