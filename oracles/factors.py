"""Versioned emission factor sets (`oracles/data/factor_sets.json`) and exact valuation of readings.

A factor is kept as an exact fraction: a published value, or a derivation such as
NCV x carbon content x oxidation x 44/12, whose 44/12 has no finite decimal form.
The emissions of a reading are `quantity x unit conversion x factor x GWP` evaluated
exactly, rounded once, half-even, to the milligram (COMMITMENTS.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

from oracles.canonical import factor_set_hash
from oracles.carriers import CARRIERS, Carrier

FACTOR_SETS_FILE = Path(__file__).resolve().parent / "data" / "factor_sets.json"
MG_PER_KG = 1_000_000
CO2_PER_C = Fraction(44, 12)


class UnknownFactorSet(KeyError):
    pass


@dataclass(frozen=True)
class EmissionFactor:
    """One factor with its provenance: kg of the carrier's gas per base unit of the carrier."""

    carrier: str
    series: str
    region: str
    year: int
    value: Fraction
    unit: str
    source: str
    derivation: dict[str, str] | None = None

    @property
    def value_decimal(self) -> Decimal:
        """The value for display (34 significant digits where the fraction does not terminate)."""
        return Decimal(self.value.numerator) / Decimal(self.value.denominator)


@dataclass(frozen=True)
class FactorSet:
    """A versioned set of factors and the GWP set that weights non-CO2 gases."""

    id: str
    description: str
    region: str
    year: int
    gwp_name: str
    gwp: dict[str, Fraction]
    factors: dict[str, EmissionFactor]
    hash: bytes = field(repr=False)
    # (carrier, unit) -> (numerator, denominator) of mgCO2e per unit, fixed at load.
    _mg_per_unit: dict[tuple[str, str], tuple[int, int]] = field(repr=False, default_factory=dict)

    def mg_per_unit(self, carrier: str, unit: str) -> tuple[int, int] | None:
        """mgCO2e per `unit` of `carrier` as an exact (numerator, denominator); None if not valued."""
        return self._mg_per_unit.get((carrier, unit))

    def kg_co2e_per_unit(self, carrier: str, unit: str) -> Fraction:
        n, d = self._mg_per_unit[(carrier, unit)]
        return Fraction(n, d * MG_PER_KG)


def _derive(spec: dict[str, Any]) -> tuple[Fraction, dict[str, str] | None]:
    if "value" in spec:
        return Fraction(Decimal(spec["value"])), None
    d = spec["derivation"]
    method = d["method"]
    if method == "ipcc_ncv":
        # kgCO2/TJ x TJ/Gg = kgCO2/Gg; per tonne divide by 1000.
        value = Fraction(Decimal(d["ef_kgco2_per_tj"])) * Fraction(Decimal(d["ncv_tj_per_gg"])) / 1000
    elif method == "ncv_carbon_oxidation":
        # GJ per unit x tC/GJ x oxidation x 44/12 = tCO2 per unit; x 1000 for kg.
        ncv = Fraction(Decimal(d["ncv_gj"])) / Fraction(Decimal(d.get("ncv_per_units", "1")))
        value = ncv * Fraction(Decimal(d["carbon_content_tc_per_gj"])) * Fraction(Decimal(d["oxidation"]))
        value = value * CO2_PER_C * 1000
    else:
        raise ValueError(f"unknown factor derivation {method!r}")
    return value, dict(d)


def _factor(spec: dict[str, Any]) -> EmissionFactor:
    carrier = CARRIERS.get(spec["carrier"])
    if carrier is None:
        raise ValueError(f"factor for unknown carrier {spec['carrier']!r}")
    if not spec["unit"].endswith("/" + carrier.base_unit):
        raise ValueError(f"factor unit {spec['unit']} is not per {carrier.base_unit} for {carrier.name}")
    value, derivation = _derive(spec)
    return EmissionFactor(
        carrier=carrier.name,
        series=spec["series"],
        region=spec["region"],
        year=int(spec["year"]),
        value=value,
        unit=spec["unit"],
        source=spec["source"],
        derivation=derivation,
    )


def _mg_table(factors: dict[str, EmissionFactor], gwp: dict[str, Fraction]) -> dict[tuple[str, str], tuple[int, int]]:
    table = {}
    for name, factor in factors.items():
        carrier: Carrier = CARRIERS[name]
        for unit, to_base in carrier.units.items():
            mg = to_base * factor.value * gwp[carrier.gas] * MG_PER_KG
            table[(name, unit)] = (mg.numerator, mg.denominator)
    return table


def parse_factor_sets(data: dict[str, Any]) -> dict[str, FactorSet]:
    gwp_sets = {
        name: {gas: Fraction(Decimal(v)) for gas, v in values.items() if gas != "source"}
        for name, values in data["gwp_sets"].items()
    }
    raw = {s["id"]: s for s in data["factor_sets"]}
    result: dict[str, FactorSet] = {}

    def factors_of(set_id: str, seen: tuple[str, ...] = ()) -> dict[str, EmissionFactor]:
        if set_id in seen:
            raise ValueError(f"factor sets extend each other in a cycle: {seen}")
        spec = raw[set_id]
        inherited = factors_of(spec["extends"], (*seen, set_id)) if "extends" in spec else {}
        return {**inherited, **{f["carrier"]: _factor(f) for f in spec["factors"]}}

    for set_id, spec in raw.items():
        factors = factors_of(set_id)
        gwp = gwp_sets[spec["gwp"]]
        result[set_id] = FactorSet(
            id=set_id,
            description=spec["description"],
            region=spec["region"],
            year=int(spec["year"]),
            gwp_name=spec["gwp"],
            gwp=gwp,
            factors=factors,
            hash=factor_set_hash(set_id),
            _mg_per_unit=_mg_table(factors, gwp),
        )
    return result


@lru_cache(maxsize=4)
def load_factor_sets(path: Path = FACTOR_SETS_FILE) -> dict[str, FactorSet]:
    return parse_factor_sets(json.loads(path.read_text()))


def get_factor_set(set_id: str, path: Path = FACTOR_SETS_FILE) -> FactorSet:
    sets = load_factor_sets(path)
    if set_id not in sets:
        raise UnknownFactorSet(f"no factor set {set_id!r}; known: {', '.join(sorted(sets))}")
    return sets[set_id]
