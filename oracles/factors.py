"""Versioned emission factor sets (`oracles/data/factor_sets.json`) and exact valuation of readings.

A factor is kept as an exact fraction: a published value, or a derivation such as
NCV x carbon content x oxidation x 44/12, whose 44/12 has no finite decimal form.
The emissions of a reading are `quantity x unit conversion x factor x GWP` evaluated
exactly, rounded once, half-even, to the milligram (COMMITMENTS.md).

A set may be *dated*: `valid_from` <= t < `valid_until` (UTC). By default a reading is valued
with the dated set of its time (`FactorChoice.by_date`); a configured set id overrides the
choice for every reading (`FactorChoice.fixed`). Dated sets of one region never overlap.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from oracles.canonical import factor_set_hash
from oracles.carriers import CARRIERS, Carrier

FACTOR_SETS_FILE = Path(__file__).resolve().parent / "data" / "factor_sets.json"
MG_PER_KG = 1_000_000
CO2_PER_C = Fraction(44, 12)


class UnknownFactorSet(KeyError):
    pass


class NoValidFactorSet(LookupError):
    """No dated factor set is valid at a reading's time."""


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
    placeholder: bool = False  # "status": "placeholder" in the file: example data, not confirmed

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
    source: str = ""
    valid_from: int | None = None  # seconds since the epoch, UTC, inclusive; None: undated
    valid_until: int | None = None  # exclusive
    # (carrier, unit) -> (numerator, denominator) of mgCO2e per unit, fixed at load.
    _mg_per_unit: dict[tuple[str, str], tuple[int, int]] = field(repr=False, default_factory=dict)

    def mg_per_unit(self, carrier: str, unit: str) -> tuple[int, int] | None:
        """mgCO2e per `unit` of `carrier` as an exact (numerator, denominator); None if not valued."""
        return self._mg_per_unit.get((carrier, unit))

    def kg_co2e_per_unit(self, carrier: str, unit: str) -> Fraction:
        n, d = self._mg_per_unit[(carrier, unit)]
        return Fraction(n, d * MG_PER_KG)

    @property
    def dated(self) -> bool:
        return self.valid_from is not None

    def valid_at(self, timestamp: int) -> bool:
        return self.valid_from is not None and self.valid_from <= timestamp < (self.valid_until or 0)


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
        placeholder=spec.get("status") == "placeholder",
    )


def _mg_table(factors: dict[str, EmissionFactor], gwp: dict[str, Fraction]) -> dict[tuple[str, str], tuple[int, int]]:
    table = {}
    for name, factor in factors.items():
        carrier: Carrier = CARRIERS[name]
        for unit, to_base in carrier.units.items():
            mg = to_base * factor.value * gwp[carrier.gas] * MG_PER_KG
            table[(name, unit)] = (mg.numerator, mg.denominator)
    return table


def parse_utc_instant(text: str, what: str) -> int:
    """An ISO 8601 instant that states UTC (`Z` or `+00:00`), as whole seconds since the epoch."""
    if not isinstance(text, str):
        raise ValueError(f"{what} is not an ISO 8601 string: {text!r}")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what} is not an ISO 8601 instant: {text!r}") from None
    offset = moment.utcoffset()
    if offset is None or offset.total_seconds() != 0:
        raise ValueError(f"{what} must be UTC (end in Z or +00:00): {text!r}")
    if moment.microsecond:
        raise ValueError(f"{what} must be whole seconds: {text!r}")
    return int(moment.timestamp())


def format_utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _validity(spec: dict[str, Any]) -> tuple[int | None, int | None]:
    set_id = spec["id"]
    has_from, has_until = spec.get("valid_from") is not None, spec.get("valid_until") is not None
    if has_from != has_until:
        raise ValueError(f"factor set {set_id}: give both valid_from and valid_until, or neither (undated)")
    if not has_from:
        return None, None
    start = parse_utc_instant(spec["valid_from"], f"factor set {set_id} valid_from")
    end = parse_utc_instant(spec["valid_until"], f"factor set {set_id} valid_until")
    if end <= start:
        raise ValueError(f"factor set {set_id}: valid_until is not after valid_from")
    return start, end


def _check_no_overlap(sets: dict[str, FactorSet]) -> None:
    """Two dated sets of the same region may not both be valid at any instant."""
    by_region: dict[str, list[FactorSet]] = {}
    for fs in sets.values():
        if fs.dated:
            by_region.setdefault(fs.region, []).append(fs)
    for region, dated in by_region.items():
        dated.sort(key=lambda f: (f.valid_from, f.id))
        for earlier, later in pairwise(dated):
            assert earlier.valid_until is not None and later.valid_from is not None
            if later.valid_from < earlier.valid_until:
                raise ValueError(
                    f"factor sets {earlier.id} and {later.id} of region {region} overlap: "
                    f"{earlier.id} is valid until {format_utc(earlier.valid_until)}, "
                    f"{later.id} from {format_utc(later.valid_from)}")


def parse_factor_sets(data: dict[str, Any]) -> dict[str, FactorSet]:
    gwp_sets = {
        name: {gas: Fraction(Decimal(v)) for gas, v in values.items() if gas != "source"}
        for name, values in data["gwp_sets"].items()
    }
    raw: dict[str, dict[str, Any]] = {}
    for spec in data["factor_sets"]:
        if spec["id"] in raw:
            raise ValueError(f"factor set {spec['id']} is defined twice")
        raw[spec["id"]] = spec
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
        valid_from, valid_until = _validity(spec)
        if valid_from is not None and not spec.get("source"):
            raise ValueError(f"factor set {set_id}: a dated set names its source")
        result[set_id] = FactorSet(
            id=set_id,
            description=spec["description"],
            region=spec["region"],
            year=int(spec["year"]),
            gwp_name=spec["gwp"],
            gwp=gwp,
            factors=factors,
            hash=factor_set_hash(set_id),
            source=spec.get("source", ""),
            valid_from=valid_from,
            valid_until=valid_until,
            _mg_per_unit=_mg_table(factors, gwp),
        )
    _check_no_overlap(result)
    return result


@lru_cache(maxsize=4)
def load_factor_sets(path: Path = FACTOR_SETS_FILE) -> dict[str, FactorSet]:
    return parse_factor_sets(json.loads(path.read_text()))


def get_factor_set(set_id: str, path: Path = FACTOR_SETS_FILE) -> FactorSet:
    sets = load_factor_sets(path)
    if set_id not in sets:
        raise UnknownFactorSet(f"no factor set {set_id!r}; known: {', '.join(sorted(sets))}")
    return sets[set_id]


@dataclass(frozen=True)
class FactorChoice:
    """Which factor set values a reading: the dated set valid at its time, or one fixed set for all.

    `fixed` is the override (`CARBONLEDGER_FACTOR_SET`, `--factor-set`); without it the choice is by
    date among the dated sets of `region`. `for_time` raises `NoValidFactorSet` for a time no set covers.
    """

    fixed: FactorSet | None = None
    dated: tuple[FactorSet, ...] = ()  # sorted by valid_from, not overlapping
    _starts: tuple[int, ...] = field(default=(), repr=False)

    @classmethod
    def of(cls, factor_set: FactorSet) -> FactorChoice:
        return cls(fixed=factor_set)

    @classmethod
    def by_date(cls, sets: dict[str, FactorSet], region: str = "CN") -> FactorChoice:
        dated = tuple(sorted((f for f in sets.values() if f.dated and f.region == region),
                             key=lambda f: f.valid_from or 0))
        return cls(None, dated, tuple(f.valid_from or 0 for f in dated))

    @property
    def description(self) -> str:
        if self.fixed is not None:
            return f"fixed: {self.fixed.id}"
        return "by date: " + ", ".join(
            f"{f.id} [{format_utc(f.valid_from or 0)}, {format_utc(f.valid_until or 0)})" for f in self.dated)

    def at(self, timestamp: int) -> FactorSet | None:
        """The set that values a reading stamped `timestamp`, or None."""
        if self.fixed is not None:
            return self.fixed
        i = bisect_right(self._starts, timestamp) - 1
        if i >= 0 and self.dated[i].valid_at(timestamp):
            return self.dated[i]
        return None

    def no_set_detail(self, timestamp: int) -> str:
        """Why no set values a reading stamped `timestamp` (the quarantine detail)."""
        return (f"no factor set is valid at {format_utc(timestamp)} ({timestamp}); dated sets: "
                + (", ".join(f"{f.id} [{format_utc(f.valid_from or 0)}, {format_utc(f.valid_until or 0)})"
                             for f in self.dated) or "none"))

    def for_time(self, timestamp: int) -> FactorSet:
        found = self.at(timestamp)
        if found is None:
            raise NoValidFactorSet(self.no_set_detail(timestamp))
        return found


def factor_choice(override: str | None = None, path: Path = FACTOR_SETS_FILE, region: str = "CN") -> FactorChoice:
    """The configured choice: the set `override` for every reading if given, else by date."""
    if override:
        return FactorChoice.of(get_factor_set(override, path))
    return FactorChoice.by_date(load_factor_sets(path), region)


def as_choice(factor_set: FactorSet | FactorChoice) -> FactorChoice:
    return factor_set if isinstance(factor_set, FactorChoice) else FactorChoice.of(factor_set)
