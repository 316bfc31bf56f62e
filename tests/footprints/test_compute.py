"""The footprint arithmetic against a hand-worked example, and the inputs it refuses.

The worked example: a steel plant's facility STEEL-F1 in the first quarter of 2026.

Site emissions (three anchored monthly subtotals of the facility):
    anchor 11, January   700 000 000 000 mg
    anchor 12, February  600 000 000 000 mg
    anchor 13, March     700 000 000 000 mg
    total              2 000 000 000 000 mg = 2 000 tCO2e

Output in the quarter (declared unit: 1 tonne):
    hot-rolled coil  1 500 t   mass 1 500 000 kg   value 6 300 000 CNY (4 200 CNY/t)
    slab               500 t   mass   500 000 kg   value 1 200 000 CNY (2 400 CNY/t)
    total            2 000 t   mass 2 000 000 kg   value 7 500 000 CNY

Allocation shares of hot-rolled coil:
    by mass      1 500 000 / 2 000 000 = 3/4
    by value     6 300 000 / 7 500 000 = 21/25 = 0.84
and of slab: 1/4 by mass, 4/25 = 0.16 by value.

Site emissions per tonne of coil:
    by mass      2 000 t x 3/4   = 1 500 t over 1 500 t = 1 000 kg/t
    by value     2 000 t x 21/25 = 1 680 t over 1 500 t = 1 120 kg/t
and per tonne of slab: 2 000 t x 1/4 / 500 = 1 000 kg/t by mass, 2 000 t x 4/25 / 500 = 640 kg/t by value.

Upstream inputs per tonne of coil:
    ferroalloy         0.025 t x 7 500 kgCO2e/t (supplier EPD, primary)     = 187.5 kg
    iron ore pellets   1.25  t x    50 kgCO2e/t (factor database, secondary) =  62.5 kg
    upstream                                                                = 250   kg

Footprint per tonne of coil:
    by mass      1 000 + 250 = 1 250 kgCO2e/t = 1 250 000 000 mg;
                 primary share (1 000 + 187.5) / 1 250 = 0.95 = 95 %
    by value     1 120 + 250 = 1 370 kgCO2e/t = 1 370 000 000 mg;
                 primary share (1 120 + 187.5) / 1 370 = 1 307.5 / 1 370 = 523/548
                 = 95.437956204379562043795620437956204379562... % (60/137 repeats "43795620")
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest

from ledger_service.footprints.canonical import NotCanonical, canonical_bytes, commitment
from ledger_service.footprints.compute import (
    Allocation,
    CutOff,
    FootprintInputInvalid,
    FootprintRequest,
    Input,
    Output,
    Period,
    Rule,
    SecondaryFactor,
    SiteSubtotal,
    SupplierFootprint,
    compute,
)

SITE = "STEEL-F1"
Q1 = Period(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
SUBTOTALS = (
    SiteSubtotal(11, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC), SITE, 700_000_000_000),
    SiteSubtotal(12, datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC), SITE, 600_000_000_000),
    SiteSubtotal(13, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), SITE, 700_000_000_000),
)
COIL = Output("urn:carbonledger:product:steel:HRC", 1_500_000, 1_500_000_000, 630_000_000, "output-hrc-2026q1")
SLAB = Output("urn:carbonledger:product:steel:SLAB", 500_000, 500_000_000, 120_000_000, "output-slab-2026q1")
FERROALLOY = Input("ferroalloy", Decimal("0.025"), "t",
                   SupplierFootprint("EPD", "epd:7", Decimal("7500"), bytes.fromhex("aa" * 32)))
ORE = Input("iron ore pellets", Decimal("1.25"), "t",
            SecondaryFactor("CLCD", "2024.1", "iron-ore-pellets", Decimal("50")))
STRAPPING = Input("steel strapping", Decimal("0.5"), "kg", SecondaryFactor("CLCD", "2024.1", "strapping", Decimal("2")))


def rule(allocation: Allocation, cut_off: CutOff | None = None) -> Rule:
    return Rule("PCR-STEEL-2026", 1, allocation, cut_off or CutOff())


def coil(allocation: Allocation, inputs: tuple[Input, ...] = (FERROALLOY, ORE), cut_off: CutOff | None = None,
         subtotals: tuple[SiteSubtotal, ...] = SUBTOTALS, outputs: tuple[Output, ...] = (COIL, SLAB),
         product: str = COIL.product_id) -> FootprintRequest:
    return FootprintRequest(product, SITE, Q1, rule(allocation, cut_off), subtotals, outputs, inputs)


def test_coil_by_mass_matches_the_hand_worked_figures():
    footprint = compute(coil(Allocation.MASS))
    assert footprint.site_mg == 2_000_000_000_000
    assert footprint.share == Fraction(3, 4)
    assert footprint.share_decimal == Decimal("0.75")
    assert footprint.allocated_mg == 1_500_000_000_000
    assert footprint.site_kg_per_unit == Decimal("1000")
    assert footprint.upstream_kg_per_unit == Decimal("250")
    assert footprint.kg_per_unit == Decimal("1250")
    assert footprint.mg_per_unit == 1_250_000_000
    assert footprint.primary_data_share == Fraction(95, 100)
    assert footprint.primary_data_share_percent == Decimal("95")


def test_coil_by_economic_value_matches_the_hand_worked_figures():
    footprint = compute(coil(Allocation.ECONOMIC))
    assert footprint.share == Fraction(21, 25)
    assert footprint.share_decimal == Decimal("0.84")
    assert footprint.allocated_mg == 1_680_000_000_000
    assert footprint.site_kg_per_unit == Decimal("1120")
    assert footprint.upstream_kg_per_unit == Decimal("250")
    assert footprint.kg_per_unit == Decimal("1370")
    assert footprint.mg_per_unit == 1_370_000_000
    assert footprint.primary_data_share == Fraction(523, 548)
    assert footprint.primary_data_share_percent == Decimal("95.43795620437956204379562043795620437956")


def test_slab_by_mass_and_by_value_and_the_two_products_share_the_whole_site():
    by_mass = compute(coil(Allocation.MASS, inputs=(), product=SLAB.product_id))
    by_value = compute(coil(Allocation.ECONOMIC, inputs=(), product=SLAB.product_id))
    assert (by_mass.kg_per_unit, by_value.kg_per_unit) == (Decimal("1000"), Decimal("640"))
    assert by_mass.primary_data_share == 1  # the site's anchored data only
    assert compute(coil(Allocation.ECONOMIC)).allocated_mg + by_value.allocated_mg == 2_000_000_000_000


def test_physical_output_allocation_shares_by_quantity():
    footprint = compute(coil(Allocation.PHYSICAL_OUTPUT, inputs=()))
    assert footprint.share == Fraction(3, 4)  # 1 500 t of 2 000 t
    assert footprint.kg_per_unit == Decimal("1000")


def test_the_stored_milligrams_round_half_up_and_the_decimal_keeps_forty_digits():
    """5 mg over 2 units is 2.5 mg: half-up gives 3 (half-even would give 2); 2 000 mg over 3 units is
    666.67 mg: 667."""
    one_product = Output("p", 2000, 1, 1, "r")
    tiny = (SiteSubtotal(1, Q1.start, Q1.end, SITE, 5),)
    assert compute(FootprintRequest("p", SITE, Q1, rule(Allocation.MASS), tiny, (one_product,))).mg_per_unit == 3
    thirds = compute(FootprintRequest("p", SITE, Q1, rule(Allocation.MASS),
                                      (SiteSubtotal(1, Q1.start, Q1.end, SITE, 2000),),
                                      (Output("p", 3000, 1, 1, "r"),)))
    assert thirds.mg_per_unit == 667
    assert thirds.kg_per_unit == Decimal("0.000" + "6" * 39 + "7")


def test_cut_off_leaves_out_a_small_input_within_the_rule():
    """Strapping adds 0.5 kg x 2 kgCO2e/kg = 1 kg to 1 251 kg: below 1 % (12.51 kg) and within the 5 % total,
    so it is left out; the ore (62.5 kg, 5.0 %) is above 1 % and stays."""
    inputs = (FERROALLOY, ORE, STRAPPING)
    kept = compute(coil(Allocation.MASS, inputs=inputs))
    assert kept.kg_per_unit == Decimal("1251")  # no cut-off in the rule: everything counts
    cut = compute(coil(Allocation.MASS, inputs=inputs, cut_off=CutOff(Decimal("0.01"), Decimal("0.05"))))
    assert cut.kg_per_unit == Decimal("1250")
    assert cut.exempted_mg_per_unit == 1_000_000
    assert cut.exempted_percent == Decimal("0.07993605115907274180655475619504396482814")  # 100/1251
    assert [i["cut_off"] for i in cut.provenance.record["inputs"]] == [False, False, True]


def test_cut_off_never_exceeds_its_total():
    """Both the strapping (1 kg) and a second 1 kg input are below 1 %, but a 0.1 % total (1.251 kg) has room for
    one of them only: the first in the bill of materials of equal size."""
    twin = Input("wire", Decimal("1"), "kg", SecondaryFactor("CLCD", "2024.1", "wire", Decimal("1")))
    cut = compute(coil(Allocation.MASS, inputs=(FERROALLOY, ORE, STRAPPING, twin),
                       cut_off=CutOff(Decimal("0.01"), Decimal("0.001"))))
    assert cut.exempted_mg_per_unit == 1_000_000
    assert cut.kg_per_unit == Decimal("1251")


def test_a_cut_off_of_the_whole_footprint_is_refused():
    with pytest.raises(FootprintInputInvalid) as refused:
        CutOff(Decimal("0.01"), Decimal("1"))
    assert refused.value.reason == "CutOffTooLarge"


def test_zero_output_is_refused():
    idle = Output(COIL.product_id, 0, 0, 0, "idle")
    with pytest.raises(FootprintInputInvalid) as refused:
        compute(coil(Allocation.MASS, outputs=(idle, SLAB)))
    assert refused.value.reason == "ZeroOutput"


def test_a_product_not_made_at_the_site_is_refused():
    with pytest.raises(FootprintInputInvalid) as refused:
        compute(coil(Allocation.MASS, product="urn:carbonledger:product:steel:WIRE"))
    assert refused.value.reason == "NotMadeAtSite"


def test_a_subtotal_outside_the_reference_period_is_refused():
    december = SiteSubtotal(10, datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), SITE, 1)
    with pytest.raises(FootprintInputInvalid) as refused:
        compute(coil(Allocation.MASS, subtotals=(*SUBTOTALS, december)))
    assert refused.value.reason == "PeriodMismatch"


def test_an_anchor_counted_twice_or_of_another_site_is_refused():
    with pytest.raises(FootprintInputInvalid) as twice:
        compute(coil(Allocation.MASS, subtotals=(*SUBTOTALS, SUBTOTALS[0])))
    other = SiteSubtotal(14, Q1.start, Q1.end, "STEEL-F2", 1)
    with pytest.raises(FootprintInputInvalid) as elsewhere:
        compute(coil(Allocation.MASS, subtotals=(*SUBTOTALS, other)))
    assert (twice.value.reason, elsewhere.value.reason) == ("AnchorTwice", "OtherSite")


def test_overlapping_windows_are_refused():
    """A quarter's anchor beside the monthly ones would count January to March twice."""
    quarter = SiteSubtotal(20, Q1.start, Q1.end, SITE, 2_000_000_000_000)
    with pytest.raises(FootprintInputInvalid) as refused:
        compute(coil(Allocation.MASS, subtotals=(*SUBTOTALS, quarter)))
    assert refused.value.reason == "WindowsOverlap"


def test_a_float_is_refused_wherever_a_quantity_enters():
    with pytest.raises(FootprintInputInvalid, match="Decimal"):
        Input("ferroalloy", 0.025, "t", FERROALLOY.source)  # type: ignore[arg-type]
    with pytest.raises(FootprintInputInvalid, match="Decimal"):
        SecondaryFactor("CLCD", "2024.1", "ore", 50.0)  # type: ignore[arg-type]
    with pytest.raises(FootprintInputInvalid, match="int"):
        SiteSubtotal(1, Q1.start, Q1.end, SITE, 7e11)  # type: ignore[arg-type]
    with pytest.raises(NotCanonical):
        canonical_bytes({"kg": 1.5})


def test_provenance_records_every_input_and_its_commitment_is_pinned():
    footprint = compute(coil(Allocation.MASS))
    record = footprint.provenance.record
    assert [s["anchor_id"] for s in record["subtotals"]] == [11, 12, 13]
    assert [o["record_id"] for o in record["outputs"]] == ["output-hrc-2026q1", "output-slab-2026q1"]
    assert record["shares"] == {COIL.product_id: Fraction(3, 4), SLAB.product_id: Fraction(1, 4)}
    assert record["inputs"][0]["source"] == {"type": "supplier", "kind": "EPD", "id": "epd:7",
                                             "kg_per_unit": Decimal("7500"), "hash": bytes.fromhex("aa" * 32)}
    assert record["inputs"][1]["source"]["factor_id"] == "iron-ore-pellets"
    assert record["result"]["mg_per_unit"] == 1_250_000_000
    assert footprint.provenance.commitment == commitment(record)
    assert footprint.provenance.commitment.hex() == PINNED_PROVENANCE
    assert compute(coil(Allocation.ECONOMIC)).provenance.commitment != footprint.provenance.commitment


# The commitment of the worked example by mass: a change to the encoding or the record shows here first.
PINNED_PROVENANCE = "0959805e8b6fe38f4285861e35c053ecc92ad6e5db7d545138b2f9069896fcb8"


def test_canonical_encoding_vectors():
    """COMMITMENTS.md, "Product footprints": the test vectors."""
    value = {"b": Decimal("1250.500"), "a": [1, Fraction(3, 4), datetime(2026, 1, 1, tzinfo=UTC)], "c": b"\x01\xab",
             "\u00e9": None, "d": Decimal("1E+3"), "e": Decimal("-0.00")}
    expected = '{"a":[1,"3/4","2026-01-01T00:00:00Z"],"b":"1250.5","c":"0x01ab","d":"1000","e":"0","\u00e9":null}'
    assert canonical_bytes(value) == expected.encode("utf-8")
    assert commitment(value).hex() == "32bc6950c37f7c75a8c3d3ea8adb55c80f4241f3a22935c06cf85c2990f5419b"
    assert commitment({}).hex() == "b48d38f93eaa084033fc5970bf96e559c33c4cdc07d889ab00b4d63f9590739d"
