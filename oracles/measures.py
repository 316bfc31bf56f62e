"""What an anchor measures, and which devices feed which measure.

An emission meter's readings are valued in mgCO2e with a factor set and anchored as *emissions*
(measure 0); a generation meter's readings are the electricity it produced, committed in whole Wh
without any factor set and anchored as *production* (measure 1); a product counter's readings are
units of one product (carrier `product`, the product's declared unit), committed in whole milli declared
units and anchored as *product counts* (measure 2), the production output a footprint divides by. The
Merkle-sum tree and the record encoding are the same for all; a production or count record carries
`factorSetId = 0` and scope 0. An enterprise has one chain of windows per measure.
"""

from __future__ import annotations

import re
from enum import StrEnum
from fractions import Fraction

MEASURE_EMISSIONS = 0
MEASURE_PRODUCTION = 1
MEASURE_PRODUCT_COUNT = 2
MEASURES = {MEASURE_EMISSIONS: "emissions", MEASURE_PRODUCTION: "production",
            MEASURE_PRODUCT_COUNT: "product_count"}
MEASURE_UNITS = {MEASURE_EMISSIONS: "mgCO2e", MEASURE_PRODUCTION: "Wh", MEASURE_PRODUCT_COUNT: "milli unit"}

# The factor set "id" of production records and windows: none. Its `factorSetId` is 32 zero bytes.
NO_FACTOR_SET = ""
SCOPE_NONE = 0

GENERATED_CARRIER = "electricity"
COUNTED_CARRIER = "product"  # a product counter's readings: units of the product it counts
MILLI = 1000
_UNIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._/-]{0,15}")  # a declared unit as products name it ("t", "piece")
WH_PER_UNIT: dict[str, Fraction] = {"Wh": Fraction(1), "kWh": Fraction(1000), "MWh": Fraction(1_000_000)}


class DeviceKind(StrEnum):
    EMISSION_METER = "emission_meter"
    GENERATION_METER = "generation_meter"
    PRODUCT_COUNTER = "product_counter"


def measure_of(kind: str) -> int:
    """The measure a device's readings are anchored under."""
    return {DeviceKind.GENERATION_METER: MEASURE_PRODUCTION,
            DeviceKind.PRODUCT_COUNTER: MEASURE_PRODUCT_COUNT}.get(DeviceKind(kind), MEASURE_EMISSIONS)


def value_production(quantity: str, unit: str, carrier: str) -> tuple[str, int]:
    """Check a generation meter's reading; returns its canonical quantity and the whole Wh it commits.

    `Wh = round_half_even(quantity x Wh per unit)`, exact, as emissions are valued in mg. Raises
    `Refused` with the quarantine reason.
    """
    from oracles.emissions import MAX_VALUE_MG, parse_quantity, round_half_even
    from oracles.quarantine import QuarantineReason, Refused

    if carrier != GENERATED_CARRIER:
        raise Refused(QuarantineReason.UNKNOWN_CARRIER,
                      f"a generation meter measures electricity, not {carrier[:40]!r}")
    rate = WH_PER_UNIT.get(unit)
    if rate is None:
        raise Refused(QuarantineReason.INVALID_UNIT, f"{unit[:20]!r} does not measure electricity produced")
    canonical = parse_quantity(quantity)
    whole, _, fraction = canonical.partition(".")
    wh = round_half_even(int(whole + fraction) * rate.numerator, 10 ** len(fraction) * rate.denominator)
    if wh > MAX_VALUE_MG:
        raise Refused(QuarantineReason.QUANTITY_OUT_OF_RANGE, f"{canonical} {unit} exceeds the committed range")
    return canonical, wh


def value_count(quantity: str, unit: str, carrier: str) -> tuple[str, int]:
    """Check a product counter's reading; returns its canonical quantity and the whole milli units it commits.

    `milli = round_half_even(quantity x 1000)`, exact. The unit is the product's declared unit, checked when the
    count is recorded as a product's output (the oracle does not know which product a counter counts). Raises
    `Refused` with the quarantine reason.
    """
    from oracles.emissions import MAX_VALUE_MG, parse_quantity, round_half_even
    from oracles.quarantine import QuarantineReason, Refused

    if carrier != COUNTED_CARRIER:
        raise Refused(QuarantineReason.UNKNOWN_CARRIER,
                      f"a product counter counts {COUNTED_CARRIER!r}, not {carrier[:40]!r}")
    if _UNIT.fullmatch(unit) is None:
        raise Refused(QuarantineReason.INVALID_UNIT, f"{unit[:20]!r} is not a declared unit")
    canonical = parse_quantity(quantity)
    whole, _, fraction = canonical.partition(".")
    milli = round_half_even(int(whole + fraction) * MILLI, 10 ** len(fraction))
    if milli > MAX_VALUE_MG:
        raise Refused(QuarantineReason.QUANTITY_OUT_OF_RANGE, f"{canonical} {unit} exceeds the committed range")
    return canonical, milli
