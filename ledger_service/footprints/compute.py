"""A product's cradle-to-gate carbon footprint from anchored site emissions, under a PCR (pure: no I/O).

ISO 14067 / GHG Protocol Product Standard, as a product category rule (PCR) fixes it:

1. **Site emissions.** The facility's or workshop's anchored emissions for the reference period: the Merkle-sum
   subtotals already on chain (`SiteSubtotal`, exact integers in mgCO2e), summed. Every subtotal's window must lie
   inside the reference period, no two windows overlap and no anchor is counted twice (a window without a
   subtotal is one in which the site had no reading).
2. **Allocation.** The site's emissions are shared among every product made there in the period (`Output`) by the
   PCR's rule: by mass (`mass_milli_kg`), by economic value (`value_fen`) or by physical output
   (`quantity_milli_units`). The product's share is an exact fraction: its basis over the site's total basis.
3. **Per declared unit.** The allocated emissions divided by the product's output in declared units
   (`quantity_milli_units / 1000`).
4. **Upstream.** Each purchased input of the bill of materials per declared unit adds `quantity x kgCO2e per unit`
   of its source: a supplier's footprint (primary data: an EPD or a PACT footprint, with its hash) or a secondary
   factor (a versioned factor database).
5. **Cut-off.** Inputs whose share of the footprint (before cut-off) is below the PCR's `per_input` share may be
   left out, smallest first, while the left-out total stays within `total_max` of the footprint; what is left
   out is stated (`exempted_percent`).
6. **Primary data share** (the PACT definition): the share of the footprint from primary data. The site's own
   anchored emissions are primary, so are supplier footprints; secondary factors are not.

Arithmetic: every figure is kept exact as a `Fraction` of mgCO2e; a `Decimal` shown is that fraction rounded to
`CONTEXT` (40 significant digits, half-even); the integer mgCO2e per declared unit the chain stores is the exact
figure rounded **half-up to 1 mg**. Floats are refused wherever a quantity enters.

The result carries its `Provenance`: everything above that it used, in the canonical JSON of
`ledger_service.footprints.canonical`, whose keccak-256 is the footprint's provenance commitment
(`contracts/COMMITMENTS.md`, "Product footprints").
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from itertools import pairwise
from typing import Any, Literal

from ledger_service.footprints.canonical import commitment

CONTEXT = decimal.Context(prec=40, rounding=decimal.ROUND_HALF_EVEN, Emin=-999999, Emax=999999,
                          traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])
MG_PER_KG = 1_000_000
MILLI = 1000
PROVENANCE_KIND = "carbonledger.footprint.provenance/1"


class FootprintInputInvalid(ValueError):
    """The inputs cannot give a footprint; `reason` names the rule they break."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Allocation(StrEnum):
    MASS = "MASS"
    ECONOMIC = "ECONOMIC"
    PHYSICAL_OUTPUT = "PHYSICAL_OUTPUT"


def _whole(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FootprintInputInvalid("NotAnInteger", f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise FootprintInputInvalid("Negative", f"{name} must not be negative ({value})")
    return value


def _decimal(name: str, value: object) -> Decimal:
    if not isinstance(value, Decimal):
        raise FootprintInputInvalid("NotADecimal", f"{name} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite() or value < 0:
        raise FootprintInputInvalid("Negative", f"{name} must be a finite, non-negative Decimal ({value})")
    return value


def _utc(name: str, value: datetime) -> None:
    offset = value.utcoffset()
    if offset is None or offset.total_seconds() != 0:
        raise FootprintInputInvalid("NotUtc", f"{name} must be a UTC datetime")


@dataclass(frozen=True)
class Period:
    """The reference period, [start, end)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _utc("period start", self.start)
        _utc("period end", self.end)
        if self.end <= self.start:
            raise FootprintInputInvalid("EmptyPeriod", "a period ends after it starts")


@dataclass(frozen=True)
class SiteSubtotal:
    """One anchored window's subtotal of the site (the facility or workshop node of the anchor's Merkle-sum tree)."""

    anchor_id: int
    window_start: datetime
    window_end: datetime
    label: str  # the facility or workshop label the subtotal belongs to
    mg: int

    def __post_init__(self) -> None:
        _whole("anchor id", self.anchor_id)
        _whole(f"subtotal of anchor {self.anchor_id}", self.mg)
        _utc("window start", self.window_start)
        _utc("window end", self.window_end)


@dataclass(frozen=True)
class Output:
    """A product's recorded output at the site in the period (a production-counter total or a sealed ERP extract)."""

    product_id: str
    quantity_milli_units: int  # thousandths of the product's declared unit
    mass_milli_kg: int  # grams
    value_fen: int  # economic value at the gate, in fen
    record_id: str

    def __post_init__(self) -> None:
        _whole(f"output of {self.product_id}", self.quantity_milli_units)
        _whole(f"mass of {self.product_id}", self.mass_milli_kg)
        _whole(f"value of {self.product_id}", self.value_fen)

    def basis(self, rule: Allocation) -> int:
        if rule is Allocation.MASS:
            return self.mass_milli_kg
        if rule is Allocation.ECONOMIC:
            return self.value_fen
        return self.quantity_milli_units


@dataclass(frozen=True)
class SupplierFootprint:
    """Primary data: a supplier's published footprint (an EPD on this ledger, or an imported PACT footprint)."""

    kind: Literal["EPD", "PACT"]
    reference: str  # the EPD id or the PACT footprint id
    kg_per_unit: Decimal
    content_hash: bytes

    def __post_init__(self) -> None:
        _decimal(f"footprint of {self.reference}", self.kg_per_unit)

    def record(self) -> dict[str, Any]:
        return {"type": "supplier", "kind": self.kind, "id": self.reference, "kg_per_unit": self.kg_per_unit,
                "hash": self.content_hash}


@dataclass(frozen=True)
class SecondaryFactor:
    """Secondary data: an emission factor from a versioned, sourced factor database."""

    database: str
    version: str
    factor_id: str
    kg_per_unit: Decimal

    def __post_init__(self) -> None:
        _decimal(f"factor {self.factor_id}", self.kg_per_unit)

    def record(self) -> dict[str, Any]:
        return {"type": "factor", "database": self.database, "version": self.version, "factor_id": self.factor_id,
                "kg_per_unit": self.kg_per_unit}


@dataclass(frozen=True)
class Input:
    """A purchased input per declared unit of the product."""

    name: str
    quantity: Decimal  # per declared unit of the product, in `unit`
    unit: str
    source: SupplierFootprint | SecondaryFactor

    def __post_init__(self) -> None:
        _decimal(f"quantity of {self.name}", self.quantity)

    @property
    def primary(self) -> bool:
        return isinstance(self.source, SupplierFootprint)

    def mg(self) -> Fraction:
        return Fraction(self.quantity) * Fraction(self.source.kg_per_unit) * MG_PER_KG


@dataclass(frozen=True)
class CutOff:
    """Shares of the footprint (Decimal("0.01") is 1 %): an input below `per_input` may be left out while the
    left-out inputs together stay within `total_max`."""

    per_input: Decimal = Decimal(0)
    total_max: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        _decimal("cut-off per input", self.per_input)
        _decimal("cut-off total", self.total_max)
        if self.per_input >= 1 or self.total_max >= 1:  # a cut-off leaves out a part of the footprint, never all
            raise FootprintInputInvalid("CutOffTooLarge", "a cut-off is a share below 1")


@dataclass(frozen=True)
class Rule:
    """What the footprint takes from its PCR."""

    pcr_id: str
    pcr_version: int
    allocation: Allocation
    cut_off: CutOff = field(default_factory=CutOff)


@dataclass(frozen=True)
class FootprintRequest:
    product_id: str
    site: str  # the facility or workshop label
    period: Period
    rule: Rule
    subtotals: tuple[SiteSubtotal, ...]
    outputs: tuple[Output, ...]
    inputs: tuple[Input, ...] = ()


@dataclass(frozen=True)
class Provenance:
    """Everything the footprint was computed from, and what it came to; `commitment` is keccak256 of its canonical
    JSON."""

    record: dict[str, Any]

    @property
    def commitment(self) -> bytes:
        return commitment(self.record)


@dataclass(frozen=True)
class Footprint:
    product_id: str
    period: Period
    site_mg: int  # the site's anchored emissions in the period
    share: Fraction  # of the site's emissions allocated to the product
    allocated_mg: Fraction
    site_mg_per_unit: Fraction
    upstream_mg_per_unit: Fraction  # after cut-off
    exempted_mg_per_unit: Fraction  # left out by the cut-off
    total_mg_per_unit: Fraction
    primary_data_share: Fraction
    provenance: Provenance

    @property
    def mg_per_unit(self) -> int:
        """What the chain stores: mgCO2e per declared unit, rounded half-up to 1 mg."""
        return half_up(self.total_mg_per_unit)

    @property
    def kg_per_unit(self) -> Decimal:
        return to_decimal(self.total_mg_per_unit / MG_PER_KG)

    @property
    def site_kg_per_unit(self) -> Decimal:
        return to_decimal(self.site_mg_per_unit / MG_PER_KG)

    @property
    def upstream_kg_per_unit(self) -> Decimal:
        return to_decimal(self.upstream_mg_per_unit / MG_PER_KG)

    @property
    def share_decimal(self) -> Decimal:
        return to_decimal(self.share)

    @property
    def primary_data_share_percent(self) -> Decimal:
        """As PACT states it: a percentage, 0 to 100."""
        return to_decimal(self.primary_data_share * 100)

    @property
    def exempted_percent(self) -> Decimal:
        before = self.total_mg_per_unit + self.exempted_mg_per_unit
        return to_decimal(self.exempted_mg_per_unit / before * 100)


def to_decimal(value: Fraction) -> Decimal:
    return CONTEXT.divide(Decimal(value.numerator), Decimal(value.denominator))


def half_up(value: Fraction) -> int:
    """The nearest integer, a half rounded away from zero (values here are never negative)."""
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


def _check_subtotals(request: FootprintRequest) -> int:
    if not request.subtotals:
        raise FootprintInputInvalid("NoSiteData", f"no anchored subtotal of {request.site} in the period")
    seen: set[int] = set()
    for subtotal in request.subtotals:
        if subtotal.anchor_id in seen:
            raise FootprintInputInvalid("AnchorTwice", f"anchor {subtotal.anchor_id} is counted twice")
        seen.add(subtotal.anchor_id)
        if subtotal.label != request.site:
            raise FootprintInputInvalid("OtherSite", f"anchor {subtotal.anchor_id}'s subtotal is of {subtotal.label}"
                                        f", not {request.site}")
        if subtotal.window_start < request.period.start or subtotal.window_end > request.period.end:
            raise FootprintInputInvalid("PeriodMismatch", f"anchor {subtotal.anchor_id}'s window "
                                        f"{subtotal.window_start.isoformat()} to {subtotal.window_end.isoformat()} "
                                        "lies outside the reference period")
    windows = sorted((s.window_start, s.window_end, s.anchor_id) for s in request.subtotals)
    for (_, end, earlier), (start, _, later) in pairwise(windows):
        if start < end:  # the same emissions would count twice
            raise FootprintInputInvalid("WindowsOverlap", f"the windows of anchors {earlier} and {later} overlap")
    return sum(s.mg for s in request.subtotals)


def _product_output(request: FootprintRequest) -> Output:
    products = [o.product_id for o in request.outputs]
    if len(set(products)) != len(products):
        raise FootprintInputInvalid("OutputTwice", "a product's output is listed twice")
    found = next((o for o in request.outputs if o.product_id == request.product_id), None)
    if found is None:
        raise FootprintInputInvalid("NotMadeAtSite", f"{request.product_id} has no output at {request.site} in "
                                    "the period")
    if found.quantity_milli_units == 0:
        raise FootprintInputInvalid("ZeroOutput", f"{request.product_id}'s output in the period is zero")
    if found.basis(request.rule.allocation) == 0:
        raise FootprintInputInvalid("ZeroBasis", f"{request.product_id}'s {request.rule.allocation.value} "
                                    "allocation basis is zero")
    return found


def _cut_off(contributions: list[Fraction], before: Fraction, rule: CutOff) -> set[int]:
    """The inputs (by index) left out: below `per_input`, smallest first, while the total stays within
    `total_max` (ties in order of the bill of materials)."""
    per_input, total_max = Fraction(rule.per_input) * before, Fraction(rule.total_max) * before
    left_out: set[int] = set()
    excluded = Fraction(0)
    for mg, index in sorted((mg, i) for i, mg in enumerate(contributions) if mg < per_input):
        if excluded + mg > total_max:
            break
        excluded += mg
        left_out.add(index)
    return left_out


def compute(request: FootprintRequest) -> Footprint:
    """The product's footprint per declared unit (see the module's description); raises FootprintInputInvalid."""
    site_mg = _check_subtotals(request)
    product = _product_output(request)
    rule = request.rule
    basis_total = sum(o.basis(rule.allocation) for o in request.outputs)
    shares = {o.product_id: Fraction(o.basis(rule.allocation), basis_total) for o in request.outputs}
    share = shares[request.product_id]
    allocated = site_mg * share
    site_per_unit = allocated / Fraction(product.quantity_milli_units, MILLI)
    contributions = [i.mg() for i in request.inputs]
    before = site_per_unit + sum(contributions, Fraction(0))
    if before == 0:
        raise FootprintInputInvalid("ZeroFootprint", "the site's emissions and the inputs come to zero")
    left_out = _cut_off(contributions, before, rule.cut_off)
    upstream = sum((mg for i, mg in enumerate(contributions) if i not in left_out), Fraction(0))
    exempted = before - site_per_unit - upstream
    total = site_per_unit + upstream
    primary = site_per_unit + sum((mg for i, (mg, item) in enumerate(zip(contributions, request.inputs, strict=True))
                                   if item.primary and i not in left_out), Fraction(0))
    primary_share = primary / total
    record = _provenance(request, site_mg, shares, contributions, left_out, total, primary_share)
    return Footprint(request.product_id, request.period, site_mg, share, allocated, site_per_unit, upstream, exempted,
                     total, primary_share, Provenance(record))


def _provenance(request: FootprintRequest, site_mg: int, shares: dict[str, Fraction], contributions: list[Fraction],
                left_out: set[int], total: Fraction, primary_share: Fraction) -> dict[str, Any]:
    rule = request.rule
    return {
        "kind": PROVENANCE_KIND,
        "product": request.product_id,
        "site": request.site,
        "period": {"start": request.period.start, "end": request.period.end},
        "pcr": {"id": rule.pcr_id, "version": rule.pcr_version, "allocation": rule.allocation.value,
                "cut_off": {"per_input": rule.cut_off.per_input, "total_max": rule.cut_off.total_max}},
        "subtotals": [{"anchor_id": s.anchor_id, "window_start": s.window_start, "window_end": s.window_end,
                       "label": s.label, "mg": s.mg} for s in sorted(request.subtotals, key=lambda s: s.anchor_id)],
        "site_mg": site_mg,
        "outputs": [{"product_id": o.product_id, "quantity_milli_units": o.quantity_milli_units,
                     "mass_milli_kg": o.mass_milli_kg, "value_fen": o.value_fen, "record_id": o.record_id}
                    for o in sorted(request.outputs, key=lambda o: o.product_id)],
        "shares": dict(sorted(shares.items())),
        "inputs": [{"name": i.name, "quantity": i.quantity, "unit": i.unit, "source": i.source.record(),
                    "mg_per_unit": mg, "cut_off": index in left_out}
                   for index, (i, mg) in enumerate(zip(request.inputs, contributions, strict=True))],
        "result": {"mg_per_unit": half_up(total), "mg_per_unit_exact": total, "primary_data_share": primary_share},
    }
