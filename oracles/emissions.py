"""Emissions of a reading: parse its quantity, check carrier and unit, value it in mgCO2e.

`value_mg = round_half_even(quantity x unit conversion x factor x GWP x 10^6)`, computed
with exact integers (the factor set precomputes mgCO2e per unit as a fraction), so the
same reading and factor set always give the same committed integer.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import NamedTuple

from oracles.canonical import canonical_decimal, is_plain_decimal
from oracles.carriers import CARRIERS
from oracles.factors import MG_PER_KG, FactorSet
from oracles.quarantine import QuarantineReason, Refused

MAX_VALUE_MG = (1 << 63) - 1  # the storage limit (SQL BIGINT); well inside the contract's uint128
MAX_QUANTITY_CHARS = 40


class Valuation(NamedTuple):
    quantity: str  # canonical decimal
    scope: int
    value_mg: int


def parse_quantity(text: str) -> str:
    """The canonical decimal of a quantity; refuses garbage, NaN, infinities and negatives."""
    if len(text) <= MAX_QUANTITY_CHARS and is_plain_decimal(text):
        return canonical_decimal(text)
    try:
        number = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        raise Refused(QuarantineReason.INVALID_QUANTITY, f"not a decimal number: {text[:60]!r}") from None
    if not number.is_finite():
        raise Refused(QuarantineReason.NON_FINITE_QUANTITY, f"not a finite number: {text[:60]!r}")
    if number.is_signed():
        raise Refused(QuarantineReason.NEGATIVE_QUANTITY, f"negative quantity: {text[:60]!r}")
    raise Refused(QuarantineReason.INVALID_QUANTITY, f"not a plain decimal (digits and one point): {text[:60]!r}")


def round_half_even(numerator: int, denominator: int) -> int:
    """`numerator / denominator` (both positive) rounded to an integer, ties to even."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def _decimal_ratio(canonical: str) -> tuple[int, int]:
    whole, _, fraction = canonical.partition(".")
    return int(whole + fraction), 10 ** len(fraction)


def value_reading(quantity: str, unit: str, carrier: str, factor_set: FactorSet) -> Valuation:
    """Check and value one reading; raises `Refused` with the quarantine reason."""
    known = CARRIERS.get(carrier)
    if known is None:
        raise Refused(QuarantineReason.UNKNOWN_CARRIER, f"unknown carrier {carrier[:40]!r}")
    if unit not in known.units:
        raise Refused(QuarantineReason.INVALID_UNIT, f"{unit[:20]!r} does not measure {carrier}")
    rate = factor_set.mg_per_unit(carrier, unit)
    if rate is None:
        raise Refused(QuarantineReason.NO_EMISSION_FACTOR, f"factor set {factor_set.id} has no factor for {carrier}")
    canonical = parse_quantity(quantity)
    q_num, q_den = _decimal_ratio(canonical)
    value = round_half_even(q_num * rate[0], q_den * rate[1])
    if value > MAX_VALUE_MG:
        raise Refused(QuarantineReason.QUANTITY_OUT_OF_RANGE, f"{canonical} {unit} exceeds the committed range")
    return Valuation(canonical, known.scope, value)


def kg_co2e(quantity: str, unit: str, carrier: str, factor_set: FactorSet) -> Fraction:
    """The exact (unrounded) kgCO2e of a quantity, for reports and checks."""
    q_num, q_den = _decimal_ratio(parse_quantity(quantity))
    return Fraction(q_num, q_den) * factor_set.kg_co2e_per_unit(carrier, unit)


def mg_to_kg(value_mg: int) -> Decimal:
    return Decimal(value_mg) / MG_PER_KG
