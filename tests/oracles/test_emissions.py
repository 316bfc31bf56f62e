"""Emissions of a reading: exact valuation against hand-computed figures, rounded once to the milligram."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from oracles.emissions import kg_co2e, round_half_even, value_reading
from oracles.factors import get_factor_set, load_factor_sets
from oracles.quarantine import QuarantineReason, Refused


def test_electricity_uses_the_2023_national_grid_factor_and_is_scope_2(factor_set):
    """12.5 kWh x 0.5306 kgCO2/kWh = 6.6325 kgCO2 = 6,632,500 mg."""
    assert value_reading("12.50", "kWh", "electricity", factor_set) == ("12.5", 2, 6_632_500)


def test_megawatt_hours_convert_to_kilowatt_hours(factor_set):
    """0.001 MWh = 1 kWh; x 0.5306 = 0.5306 kg = 530,600 mg."""
    assert value_reading("0.001", "MWh", "electricity", factor_set).value_mg == 530_600


def test_grid_factor_follows_the_factor_set_year():
    """100 kWh: 2021 x 0.5568 = 55.68 kg; 2022 x 0.5366 = 53.66 kg; 2023 x 0.5306 = 53.06 kg."""
    sets = [get_factor_set(f"CN-{year}-v1") for year in (2021, 2022, 2023)]
    values = [value_reading("100", "kWh", "electricity", fs).value_mg for fs in sets]
    assert values == [55_680_000, 53_660_000, 53_060_000]


def test_natural_gas_is_ncv_times_carbon_content_times_oxidation_times_44_over_12(factor_set):
    """EF = 389.31/10^4 GJ/m3 x 0.0153 tC/GJ x 0.99 x 44/12 x 1000
         = 0.038931 x 0.0153 = 0.0005956443; x 0.99 = 0.000589687857; x 44/12 = 0.002162188809 t
         = 2.162188809 kgCO2/m3.
    100 m3 -> 216.2188809 kg -> 216,218,880.9 mg -> 216,218,881 mg (scope 1)."""
    assert factor_set.factors["natural_gas"].value == Fraction("2.162188809")
    assert value_reading("100", "m3", "natural_gas", factor_set) == ("100", 1, 216_218_881)


def test_coal_and_diesel_use_ipcc_emission_factor_times_net_calorific_value(factor_set):
    """Coal: 94,600 kgCO2/TJ x 25.8 TJ/Gg / 1000 = 2,440.68 kgCO2/t; 0.5 t -> 1,220.34 kg.
    Diesel: 74,100 x 43.0 / 1000 = 3,186.3 kgCO2/t; 250 kg = 0.25 t -> 796.575 kg."""
    assert value_reading("0.5", "t", "coal", factor_set).value_mg == 1_220_340_000
    assert value_reading("250", "kg", "diesel", factor_set).value_mg == 796_575_000


def test_purchased_heat_is_scope_2_and_accepts_megawatt_hours(factor_set):
    """1 MWh = 3.6 GJ; x 110 kgCO2/GJ = 396 kg."""
    assert value_reading("1", "MWh", "heat", factor_set) == ("1", 2, 396_000_000)


def test_methane_and_nitrous_oxide_are_weighted_by_the_sets_gwp(factor_set):
    """AR5: 2 kg CH4 x 28 = 56 kgCO2e; 0.1 kg N2O x 265 = 26.5 kgCO2e.
    AR6: 2 kg CH4 x 27.9 = 55.8 kgCO2e."""
    assert value_reading("2", "kg", "ch4", factor_set) == ("2", 1, 56_000_000)
    assert value_reading("0.1", "kg", "n2o", factor_set).value_mg == 26_500_000
    assert value_reading("2", "kg", "ch4", get_factor_set("CN-2023-AR6-v1")).value_mg == 55_800_000


def test_measured_co2_is_its_own_mass(factor_set):
    """1.25 t CO2 = 1,250 kg."""
    assert value_reading("1.25", "t", "co2", factor_set).value_mg == 1_250_000_000


def test_each_reading_is_rounded_half_even_at_the_milligram(factor_set):
    """0.0000005 kWh x 0.5306 = 0.2653 mg -> 0 mg; 0.000001 kWh -> 0.5306 mg -> 1 mg;
    0.0000000025 t CO2 = 2.5 mg -> 2 mg (tie, to even); 0.0000000035 t = 3.5 mg -> 4 mg (tie, to even)."""
    assert value_reading("0.0000005", "kWh", "electricity", factor_set).value_mg == 0
    assert value_reading("0.000001", "kWh", "electricity", factor_set).value_mg == 1
    assert value_reading("0.0000000025", "t", "co2", factor_set).value_mg == 2
    assert value_reading("0.0000000035", "t", "co2", factor_set).value_mg == 4


def test_round_half_even():
    assert [round_half_even(n, 2) for n in (1, 3, 5, 7)] == [0, 2, 2, 4]
    assert round_half_even(7, 3) == 2 and round_half_even(8, 3) == 3


def test_exact_kg_co2e_matches_the_committed_value_before_rounding(factor_set):
    """1 m3 of natural gas is exactly 2.162188809 kg."""
    assert kg_co2e("1", "m3", "natural_gas", factor_set) == Fraction("2.162188809")
    assert Decimal("12.5") * Decimal("0.5306") == Decimal(6_632_500) / 10**6


def test_factor_sets_carry_provenance_and_the_gwp_set():
    sets = load_factor_sets()
    assert {"CN-2021-v1", "CN-2022-v1", "CN-2023-v1", "CN-2023-AR6-v1"} <= set(sets)
    electricity = sets["CN-2022-v1"].factors["electricity"]
    assert (electricity.series, electricity.region, electricity.year, electricity.unit) == (
        "CN national grid average", "CN", 2022, "kgCO2/kWh")
    assert electricity.value == Fraction("0.5366") and electricity.source
    assert sets["CN-2023-v1"].gwp_name == "AR5" and sets["CN-2023-v1"].gwp["N2O"] == 265
    assert sets["CN-2023-AR6-v1"].gwp["CH4"] == Fraction("27.9")


@pytest.mark.parametrize(
    ("quantity", "unit", "carrier", "reason"),
    [
        ("1", "kWh", "plutonium", QuarantineReason.UNKNOWN_CARRIER),
        ("1", "m3", "electricity", QuarantineReason.INVALID_UNIT),
        ("abc", "kWh", "electricity", QuarantineReason.INVALID_QUANTITY),
        ("1e3", "kWh", "electricity", QuarantineReason.INVALID_QUANTITY),
        ("NaN", "kWh", "electricity", QuarantineReason.NON_FINITE_QUANTITY),
        ("-Infinity", "kWh", "electricity", QuarantineReason.NON_FINITE_QUANTITY),
        ("-0.5", "kWh", "electricity", QuarantineReason.NEGATIVE_QUANTITY),
        ("99999999999999999999", "t", "co2", QuarantineReason.QUANTITY_OUT_OF_RANGE),
    ],
)
def test_readings_that_cannot_be_valued_are_refused_with_a_reason(factor_set, quantity, unit, carrier, reason):
    with pytest.raises(Refused) as info:
        value_reading(quantity, unit, carrier, factor_set)
    assert info.value.reason == reason
