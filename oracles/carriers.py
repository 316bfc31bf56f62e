"""Energy carriers and measured gases: their scope, the gas they emit, and the units that measure them.

Each carrier has a base unit (the denominator of its emission factor); every accepted unit
converts to it by an exact factor. A unit may be a synonym of another (natural gas: `m3` for
`Nm3`, the normal cubic metre at 0 degC and 101.325 kPa that China's accounting guidelines use):
the committed record carries the canonical unit, so both spellings give the same record.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from types import MappingProxyType
from typing import NamedTuple

SCOPE_DIRECT = 1  # fuel combustion and directly measured emissions
SCOPE_PURCHASED_ENERGY = 2  # purchased electricity, heat and steam (location based)


class Carrier(NamedTuple):
    name: str
    scope: int
    gas: str  # the greenhouse gas its factor yields: CO2, CH4 or N2O
    base_unit: str
    units: dict[str, Fraction]  # unit -> amount of base unit per unit
    synonyms: Mapping[str, str] = MappingProxyType({})  # accepted spelling -> canonical unit (committed)

    def canonical_unit(self, unit: str) -> str:
        return self.synonyms.get(unit, unit)


_MASS_T = {"t": Fraction(1), "kg": Fraction(1, 1000)}

CARRIERS: dict[str, Carrier] = {
    c.name: c
    for c in (
        Carrier("electricity", SCOPE_PURCHASED_ENERGY, "CO2", "kWh", {"kWh": Fraction(1), "MWh": Fraction(1000)}),
        Carrier("heat", SCOPE_PURCHASED_ENERGY, "CO2", "GJ", {"GJ": Fraction(1), "MWh": Fraction(36, 10)}),
        # Nm3: normal cubic metre (0 degC, 101.325 kPa); `m3` is accepted as its synonym.
        Carrier("natural_gas", SCOPE_DIRECT, "CO2", "Nm3", {"Nm3": Fraction(1), "m3": Fraction(1)},
                MappingProxyType({"m3": "Nm3"})),
        Carrier("coal", SCOPE_DIRECT, "CO2", "t", _MASS_T),
        Carrier("diesel", SCOPE_DIRECT, "CO2", "t", _MASS_T),
        Carrier("co2", SCOPE_DIRECT, "CO2", "t", _MASS_T),
        Carrier("ch4", SCOPE_DIRECT, "CH4", "t", _MASS_T),
        Carrier("n2o", SCOPE_DIRECT, "N2O", "t", _MASS_T),
    )
}
