"""Energy carriers and measured gases: their scope, the gas they emit, and the units that measure them.

Each carrier has a base unit (the denominator of its emission factor); every accepted unit
converts to it by an exact factor.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

SCOPE_DIRECT = 1  # fuel combustion and directly measured emissions
SCOPE_PURCHASED_ENERGY = 2  # purchased electricity, heat and steam (location based)


class Carrier(NamedTuple):
    name: str
    scope: int
    gas: str  # the greenhouse gas its factor yields: CO2, CH4 or N2O
    base_unit: str
    units: dict[str, Fraction]  # unit -> amount of base unit per unit


_MASS_T = {"t": Fraction(1), "kg": Fraction(1, 1000)}

CARRIERS: dict[str, Carrier] = {
    c.name: c
    for c in (
        Carrier("electricity", SCOPE_PURCHASED_ENERGY, "CO2", "kWh", {"kWh": Fraction(1), "MWh": Fraction(1000)}),
        Carrier("heat", SCOPE_PURCHASED_ENERGY, "CO2", "GJ", {"GJ": Fraction(1), "MWh": Fraction(36, 10)}),
        Carrier("natural_gas", SCOPE_DIRECT, "CO2", "m3", {"m3": Fraction(1)}),
        Carrier("coal", SCOPE_DIRECT, "CO2", "t", _MASS_T),
        Carrier("diesel", SCOPE_DIRECT, "CO2", "t", _MASS_T),
        Carrier("co2", SCOPE_DIRECT, "CO2", "t", _MASS_T),
        Carrier("ch4", SCOPE_DIRECT, "CH4", "t", _MASS_T),
        Carrier("n2o", SCOPE_DIRECT, "N2O", "t", _MASS_T),
    )
}
